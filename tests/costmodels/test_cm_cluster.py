"""Multi-FPGA placement: the partition DP against brute force, crossing streams, the
cluster parser."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from costmodels import estimate, get_device
from costmodels.cluster import (
    DEFAULT_LINK_GBPS,
    Cluster,
    Link,
    crossing_bits,
    estimate_cluster,
    parse_cluster,
    partition,
    partition_brute_force,
)
from costmodels.errors import DeviceError
from costmodels.network import resolve
from costmodels.types import Device, LayerChoice, LayerSpec, Network, Op, Resources


def chain(n: int, residual: bool = False) -> Network:
    layers: list[LayerSpec] = []
    for i in range(n):
        layers.append(
            LayerSpec(f"c{i}", Op.CONV, out_channels=8, kernel=3, padding=1,
                      choice=LayerChoice(w_bits=4, a_bits=4))
        )  # fmt: skip
        if residual and i % 3 == 2:
            layers.append(LayerSpec(f"add{i}", Op.ADD, source=f"c{i - 2}"))
    return Network("chain", (8, 8, 8), 4, tuple(layers))


def small_board(part: str, lut: int) -> Device:
    return Device(part, (), "Zynq UltraScale+", lut, 0, 400, 0, 400, "DSP48E2", 200.0)


@pytest.mark.parametrize("seed", range(40))
def test_dp_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    net = chain(rng.randint(2, 7), residual=rng.random() < 0.5)
    layers = resolve(net)
    nb = rng.randint(1, 4)
    boards = tuple(small_board(f"B{rng.randint(0, 1)}", rng.choice([20_000, 30_000, 50_000]))
                   for _ in range(nb))  # fmt: skip
    cluster = Cluster(boards, Link(gbps=rng.choice([0.001, 0.01, 34.0])))
    per_dev = {
        d: [Resources(lut=rng.uniform(2_000, 20_000), bram18=rng.uniform(0, 50)) for _ in layers]
        for d in set(boards)
    }
    unit_costs = [per_dev[d] for d in boards]
    plan = partition(layers, unit_costs, cluster, 85.0)
    brute = partition_brute_force(layers, unit_costs, cluster, 85.0)
    if brute is None:
        assert plan is None
        return
    assert plan is not None
    assert len(plan.cuts) + 1 == brute[0]
    assert plan.link_fps == pytest.approx(brute[1]) or plan.link_fps == brute[1] == math.inf


def test_crossing_bits_by_hand() -> None:
    # c0, c1, c2, add2 (from c0), c3: every tensor 8x8x8 at 4 bits = 2048 bits
    layers = resolve(chain(4, residual=True))
    assert [rl.name for rl in layers] == ["c0", "c1", "c2", "add2", "c3"]
    bits = crossing_bits(layers)
    t = 8 * 8 * 8 * 4
    # cut before c1: c0's output (read by c1 and by add2) = 1 tensor
    # cut before c2: c1's output + c0's (still needed by add2) = 2 tensors
    # cut before add2: c2's output + c0's = 2; cut before c3: add2's output (8 bits wide)
    assert bits[1:] == [t, 2 * t, 2 * t, 8 * 8 * 8 * layers[3].out_bits]


def test_network_too_big_for_one_board_fits_on_two() -> None:
    # 8-bit weights of 4 conv layers 512 -> 512 at 3x3 (2.4M weights each, 18.9 Mbit): about
    # 1,160 BRAM18 per layer - more than one XCKU115 (4,320) holds at 85 %, less than two
    layers = tuple(
        LayerSpec(f"c{i}", Op.CONV, out_channels=512, kernel=3, padding=1,
                  choice=LayerChoice(w_bits=8, a_bits=4, pe=4, simd=4))
        for i in range(4)
    )  # fmt: skip
    net = Network("big", (512, 13, 13), 8, layers)
    dev = get_device("XCKU115")
    single = estimate(net, dev)
    assert not single.fits(85.0)
    cluster = parse_cluster("2xXCKU115")
    mc = estimate_cluster(resolve(net), [single, single], cluster, 85.0)
    assert mc.fits and mc.n_boards == 2
    for b in mc.boards:
        assert b.resources.fits(dev, 85.0)
    (bits,) = mc.cut_bits
    assert bits == 512 * 13 * 13 * 4  # the 4-bit activations crossing the one cut
    assert mc.fps == pytest.approx(min(single.fps, DEFAULT_LINK_GBPS * 1e9 / bits))
    assert mc.link_load_pct()[0] == pytest.approx(100 * bits * single.fps / 34e9)
    # a slower link caps the throughput
    slow = Cluster(cluster.boards, Link(gbps=0.001))
    ms = estimate_cluster(resolve(net), [single, single], slow, 85.0)
    assert ms.fps == pytest.approx(0.001e9 / bits)
    assert ms.fps < single.fps
    # one board only: no placement
    assert not estimate_cluster(resolve(net), [single], parse_cluster("XCKU115"), 85.0).fits


def test_parse_cluster(tmp_path: Path) -> None:
    c = parse_cluster("2xXCKU115")
    assert [b.part for b in c.boards] == ["XCKU115", "XCKU115"] and c.label == "2xXCKU115"
    c = parse_cluster("xcku095+2*XCKU115")
    assert c.label == "XCKU095+2xXCKU115"
    assert c.aggregate().bram18 == 3360 + 2 * 4320
    f = tmp_path / "fic.yaml"
    f.write_text("boards: [XCKU095, {part: XCKU115, count: 3}]\nlink: {gbps: 9.9, latency_us: 1}\n")
    c = parse_cluster(str(f))
    assert len(c.boards) == 4 and c.link == Link(9.9, 1.0)
    for bad, msg in [
        ("0xXCKU115", "board count 0"),
        ("2xNOPE", "unknown device"),
        ("", "at least"),
    ]:
        with pytest.raises(DeviceError, match=msg):
            parse_cluster(bad)
    f.write_text("boards: [XCKU115\n")
    with pytest.raises(DeviceError, match="not valid YAML"):
        parse_cluster(str(f))
    f.write_text("boards: [XCKU115]\nlink: {gbps: -1}\n")
    with pytest.raises(DeviceError, match=r"link\.gbps"):
        parse_cluster(str(f))


def test_crossing_bits_of_a_branching_graph() -> None:
    # c0 -> (c1, c2 both read c0) -> concat(c1, c2) -> c3
    def conv(name: str, src: str | None = None) -> LayerSpec:
        return LayerSpec(name, Op.CONV, out_channels=8, kernel=3, padding=1, source=src,
                         choice=LayerChoice(w_bits=4, a_bits=4))  # fmt: skip

    net = Network(
        "branches",
        (8, 8, 8),
        4,
        (
            conv("c0"),
            conv("c1"),
            conv("c2", "c0"),
            LayerSpec("cat", Op.CONCAT, inputs=("c1", "c2")),
            conv("c3"),
        ),
    )
    layers = resolve(net)
    t = 8 * 8 * 8 * 4
    # before c1: c0; before c2: c1 (for cat) + c0 (for c2); before cat: c1 + c2; before c3: cat
    assert crossing_bits(layers)[1:] == [t, 2 * t, 2 * t, 2 * t]
