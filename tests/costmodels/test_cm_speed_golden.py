"""Golden outputs of the cost models over a few hundred random designs, recorded before the
hot path was optimised (tests/fixtures/costmodel_speed_golden.json): any speed-up must
leave every number identical.

The fixture stores each design (per compute layer: PE, SIMD, MMV, w_bits, a_bits, w_type,
arith, prune) on one of several base networks, and what `estimate` (dataflow and
engines, with and without `detail`), `estimate_finn` and `resolve` returned, or the error
they raised. Regenerate (only when a model's numbers are meant to change) with
`python tests/costmodels/test_cm_speed_golden.py --write`.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from costmodels import (
    Arith,
    Device,
    DseError,
    LayerChoice,
    LayerSpec,
    Network,
    NetworkCost,
    Op,
    Template,
    WType,
    estimate,
    estimate_finn,
    get_device,
    resolve,
    valid_mmv,
    valid_pe,
    valid_simd,
)
from costmodels.zoo import (
    alexnet_thesis_network,
    cnv_network,
    fifty_layer_network,
    resnet18_main_path,
    tfc_network,
)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "costmodel_speed_golden.json"
DEVICES = ("pynq-z2", "ultra96", "zcu104", "u250", "xcku115")
SEED = 20261122


def residual_network() -> Network:
    """A small network with every layer kind: grouped and depthwise convs, strided 1x1
    conv, residual adds, max and average pooling, dense layers."""
    c = LayerChoice(w_bits=4, a_bits=4)
    layers = (
        LayerSpec("stem", Op.CONV, out_channels=16, kernel=3, padding=1, choice=c),
        LayerSpec("dw", Op.CONV, out_channels=16, kernel=3, padding=1, groups=16, choice=c),
        LayerSpec("pw", Op.CONV, out_channels=16, kernel=1, choice=c),
        LayerSpec("res1", Op.ADD, source="stem"),
        LayerSpec("grp", Op.CONV, out_channels=32, kernel=3, padding=1, groups=2, choice=c),
        LayerSpec("pool", Op.MAXPOOL, kernel=2),
        LayerSpec("down", Op.CONV, out_channels=32, kernel=1, stride=2, choice=c),
        LayerSpec("c2", Op.CONV, out_channels=32, kernel=3, padding=1, choice=c),
        LayerSpec("res2", Op.ADD, source="down"),
        LayerSpec("gap", Op.AVGPOOL, kernel=4),
        LayerSpec("fc1", Op.DENSE, out_channels=24, choice=c),
        LayerSpec("fc2", Op.DENSE, out_channels=10, choice=replace(c, a_bits=None)),
    )
    return Network("residual", (3, 16, 16), 8, layers)


def base_networks() -> dict[str, Network]:
    return {
        "fifty": fifty_layer_network(),
        "cnv11": cnv_network(1, 1),
        "cnv22": cnv_network(2, 2),
        "tfc": tfc_network(),
        "alex_dsp": alexnet_thesis_network(Arith.DSP),
        "alex_rccm3": alexnet_thesis_network(Arith.RCCM3),
        "resnet18c": resnet18_main_path(4, 4, imagenet=False),
        "residual": residual_network(),
    }


# --- designs as compact lists -------------------------------------------------------------

Design = list[list[Any]]  # per compute layer: pe, simd, mmv, w, a, w_type, arith, prune


def _choice(row: list[Any]) -> LayerChoice:
    pe, simd, mmv, w, a, wtype, arith, prune = row
    return LayerChoice(
        w_bits=w,
        a_bits=a,
        w_type=None if wtype is None else WType(wtype),
        pe=pe,
        simd=simd,
        mmv=mmv,
        arith=Arith(arith),
        prune=prune,
    )


def apply_design(net: Network, design: Design) -> Network:
    compute = net.compute_layers
    return net.with_choices({la.name: _choice(r) for la, r in zip(compute, design, strict=True)})


def _random_row(
    net: Network, prefix: list[LayerSpec], layer: LayerSpec, rng: random.Random, last: bool
) -> list[Any]:
    c = layer.choice
    assert c is not None
    probe = replace(layer, choice=replace(c, pe=1, simd=1, mmv=1, prune=0.0))
    rl = resolve(replace(net, layers=(*prefix, probe)))[-1]
    pe = rng.choice(valid_pe(rl))
    simd = rng.choice(valid_simd(rl))
    mmv = rng.choice(valid_mmv(rl)) if rng.random() < 0.3 else 1
    w = rng.randint(1, 8) if rng.random() < 0.9 else rng.randint(9, 16)
    a = None
    if c.a_bits is not None and rng.random() < 0.95:
        a = 1 if rng.random() < 0.25 else rng.randint(1, 8)
    wtype = None
    if rng.random() < 0.2:
        wtype = {1: "bipolar", 2: "ternary"}.get(w, "int") if rng.random() < 0.7 else "int"
    if wtype == "int" and w == 1:
        wtype = "int" if rng.random() < 0.05 else None  # a few invalid designs on purpose
    arith = "auto"
    if rng.random() < 0.4:
        arith = rng.choice(("lut", "dsp", "rccm2", "rccm3", "rccm4", "xnor"))
    if arith == "xnor" and rl.in_bits == 1:
        w, wtype = 1, None
    elif arith == "xnor" and rng.random() < 0.9:
        arith = "lut"  # xnor on wide inputs is invalid: keep a few
    prune = 0.0
    # pruning must keep the two inputs of a residual add the same shape
    prunable = layer.name in ("grp", "fc1") or all(la.op is not Op.ADD for la in net.layers)
    if prunable and not last and not rl.is_depthwise and rng.random() < 0.25:
        prune = rng.choice((0.1, 0.25, 0.5, 0.7))
    return [pe, simd, mmv, w, a, wtype, arith, prune]


def random_design(net: Network, rng: random.Random) -> Design:
    """A random design; built layer by layer so that folding fits the pruned shapes (a few
    designs are still invalid on purpose: int 1-bit weights, xnor on wide inputs)."""
    prefix: list[LayerSpec] = []
    design: Design = []
    compute = net.compute_layers
    for layer in net.layers:
        if layer.op.is_compute:
            row = _random_row(net, prefix, layer, rng, layer is compute[-1])
            design.append(row)
            # the prefix only shapes later layers: keep its bits valid for the probe
            layer = replace(layer, choice=replace(_choice(row), w_type=None, arith=Arith.AUTO))
        prefix.append(layer)
    return design


# --- outputs as compact lists ------------------------------------------------------------


def _res(r: Any) -> list[float]:
    return [r.lut, r.ff, r.dsp, r.bram18, r.uram]


def _cost(net: Network, cost: NetworkCost, detail: bool) -> dict[str, Any]:
    units = [(la.name, la.op) for la in net.layers]
    out: dict[str, Any] = {
        "network": cost.network,
        "clock": cost.clock_mhz,
        "total": _res(cost.total),
        "shell": _res(cost.shell),
        "ii": cost.cycles_per_frame,
        "lat": cost.latency_cycles,
        # names and ops of the units, in order: every layer, or the compute layers only
        "units": "all"
        if [(lc.name, lc.op) for lc in cost.layers] == units
        else "compute"
        if [(lc.name, lc.op) for lc in cost.layers] == [u for u in units if u[1].is_compute]
        else "other",
        "layers": [[*_res(lc.resources), lc.cycles, lc.latency_cycles] for lc in cost.layers],
    }
    if detail:
        out["breakdown"] = [[[name, *_res(r)] for name, r in lc.breakdown] for lc in cost.layers]
    return out


def _guard(fn: Any) -> Any:
    try:
        return fn()
    except DseError as e:
        return {"error": f"{type(e).__name__}: {e}"}


def outputs(net: Network, device: Device, k: int) -> dict[str, Any]:
    """Everything recorded for design number `k` (detail, engines and FINN on a subset)."""
    out: dict[str, Any] = {
        "dataflow": _guard(lambda: _cost(net, estimate(net, device), False)),
    }
    if k % 3 == 0:
        out["resolve"] = _guard(
            lambda: [
                [list(rl.out_shape), rl.out_bits, rl.mw, rl.mh, rl.num_vectors, rl.acc_bits]
                for rl in resolve(net)
            ]
        )
    if k % 12 == 0:
        out["detail"] = _guard(lambda: _cost(net, estimate(net, device, detail=True), True))
    if k % 5 == 0:
        out["engines"] = _guard(
            lambda: _cost(net, estimate(net, device, template=Template.ENGINES), False)
        )
    if k % 6 == 0:
        out["finn"] = _guard(lambda: _cost(net, estimate_finn(net, device), False))
    return out


def generate() -> dict[str, Any]:
    rng = random.Random(SEED)
    nets = base_networks()
    plan = [("fifty", 80)] + [(name, 20) for name in nets if name != "fifty"]
    cases: list[dict[str, Any]] = []
    for name, n in plan:
        for _ in range(n):
            design = random_design(nets[name], rng)
            dev = rng.choice(DEVICES)
            cases.append({"net": name, "device": dev, "design": design})
    for k, case in enumerate(cases):
        net = apply_design(nets[case["net"]], case["design"])
        case["expect"] = outputs(net, get_device(case["device"]), k)
    return {"seed": SEED, "cases": cases}


def _load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return data


def test_fixture_covers_every_path() -> None:
    """The designs exercise errors, detail, engines, FINN, and every arithmetic."""
    cases = _load()["cases"]
    assert len(cases) >= 200
    kinds = [c["expect"]["dataflow"] for c in cases]
    assert sum("error" in k for k in kinds) >= 5
    assert sum("error" not in k for k in kinds) >= 150
    ariths = {row[6] for c in cases for row in c["design"]}
    # the LQ-Nets arithmetics take the canonical path only (fastpath declines them)
    assert ariths == {a.value for a in Arith} - {Arith.TABLE.value, Arith.BITPLANE.value}


@pytest.mark.parametrize("rounds", [2])
def test_outputs_match_golden(rounds: int) -> None:
    """Every recorded output is reproduced exactly, cold and again with warm caches."""
    data = _load()
    nets = base_networks()
    for _ in range(rounds):
        for k, case in enumerate(data["cases"]):
            net = apply_design(nets[case["net"]], case["design"])
            got = json.loads(json.dumps(outputs(net, get_device(case["device"]), k)))
            assert got == case["expect"], f"case {k} ({case['net']} on {case['device']})"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: test_cm_speed_golden.py --write")
    FIXTURE.write_text(
        "{\n"
        + f'"seed": {SEED},\n"cases": [\n'
        + ",\n".join(json.dumps(c, separators=(",", ":")) for c in generate()["cases"])
        + "\n]}\n"
    )


def test_fast_path_equals_canonical_path() -> None:
    """The hot path (`estimate_dataflow_fast`, used by `estimate` without `detail`) returns
    exactly what resolving the network and running `estimate_dataflow` returns, down to
    the float/int types (repr), and declines exactly the designs the canonical path
    rejects."""
    from costmodels.dataflow import estimate_dataflow
    from costmodels.fastpath import estimate_dataflow_fast

    data = _load()
    nets = base_networks()
    for k, case in enumerate(data["cases"][::3]):
        net = apply_design(nets[case["net"]], case["design"])
        dev = get_device(case["device"])
        fast = estimate_dataflow_fast(net, dev, 150.0)
        try:
            slow = estimate_dataflow(net.name, resolve(net), dev, 150.0)
        except DseError:
            assert fast is None, f"case {3 * k}"
            continue
        assert fast is not None and repr(fast) == repr(slow), f"case {3 * k}"


def test_fast_constructors_build_equal_objects() -> None:
    """The hot path's `new_resources`/`new_layer_cost` (no field-by-field __setattr__) give
    objects indistinguishable from the dataclass constructors, and stay valid only while
    the classes have no __post_init__ or slots."""
    import pickle

    from costmodels import LayerCost, Resources
    from costmodels.util import new_layer_cost, new_resources

    for cls in (Resources, LayerCost):
        assert not hasattr(cls, "__post_init__") and not hasattr(cls, "__slots__")
    r, ref = new_resources(1.0, 2.5, 3.0, 4.0, 0.0), Resources(1.0, 2.5, 3.0, 4.0, 0.0)
    assert r == ref and hash(r) == hash(ref) and repr(r) == repr(ref)
    assert pickle.loads(pickle.dumps(r)) == ref and r + ref == ref * 2
    c, cref = new_layer_cost("c", Op.CONV, r, 7, 3), LayerCost("c", Op.CONV, ref, 7, 3)
    assert c == cref and hash(c) == hash(cref) and repr(c) == repr(cref)
    assert replace(c, cycles=8) == replace(cref, cycles=8)


def test_remembered_units_follow_device_and_input() -> None:
    """A unit remembered for one device or input is not reused for another: the same
    design on two devices, then with other input bits, matches the canonical path."""
    from costmodels.dataflow import estimate_dataflow

    net = cnv_network(2, 2)
    for variant, dev_name in (
        (net, "zcu104"),
        (net, "pynq-z2"),
        (replace(net, input_bits=4), "pynq-z2"),
        (replace(net, input_shape=(3, 36, 36)), "pynq-z2"),
        (net, "zcu104"),
    ):
        dev = get_device(dev_name)
        slow = estimate_dataflow(variant.name, resolve(variant), dev, 100.0)
        assert repr(estimate(variant, dev)) == repr(slow)


def _fuzz_network(rng: random.Random) -> Network:
    """A small network with random structure and choices: mostly plausible values, and
    with some probability one odd value per field (zero, negative, out of range)."""

    def pick(good: tuple[Any, ...], odd: tuple[Any, ...]) -> Any:
        return rng.choice(odd) if rng.random() < 0.04 else rng.choice(good)

    layers: list[LayerSpec] = []
    conv = rng.random() < 0.8
    for i in range(rng.randint(1, 6)):
        kind = rng.choice((Op.CONV, Op.CONV, Op.CONV, Op.DENSE, Op.MAXPOOL, Op.AVGPOOL, Op.ADD))
        if not conv and kind is not Op.DENSE:
            kind = Op.DENSE
        choice = LayerChoice(
            w_bits=pick((1, 2, 3, 4, 8, 9, 16), (0, 17)),
            a_bits=pick((None, 1, 2, 4, 5, 8), (0, 17)),
            w_type=pick((None, None, None, WType.INT), tuple(WType)),
            pe=pick((1, 1, 2, 4), (0, 3)),
            simd=pick((1, 1, 2, 4), (0, 3, 9)),
            mmv=pick((1, 1, 1, 2), (0, 3)),
            arith=pick((Arith.AUTO,) * 4 + tuple(Arith), (Arith.XNOR,)),
            prune=pick((0.0, 0.0, 0.0, 0.5), (1.0, -0.1)),
        )
        layers.append(
            LayerSpec(
                pick((f"l{i}",), ("l0",)),
                kind,
                out_channels=pick((4, 8, 16), (0, 6)),
                kernel=pick((1, 2, 3), (0, 9)),
                stride=pick((None, None, 1, 2), (0,)),
                padding=pick((0, 1), (-1,)),
                groups=pick((1, 1, 1, 2, 4), (0, 3)),
                source=pick(("l0", "l1"), (None, "x")) if kind is Op.ADD else None,
                choice=pick((choice,), (None,)) if kind in (Op.CONV, Op.DENSE) else None,
            )
        )
    shape = (rng.choice((4, 8)), rng.choice((6, 8)), 8) if conv else (rng.choice((8, 12)),)
    return Network("fuzz", shape, pick((1, 2, 8), (0, 17)), tuple(layers))


def test_fast_path_agrees_on_fuzzed_networks() -> None:
    """On random small networks, mostly invalid, `estimate` either raises exactly what the
    canonical path raises or returns exactly what it returns."""
    from costmodels.dataflow import estimate_dataflow

    rng = random.Random(7)
    dev = get_device("zcu104")
    outcomes = {"ok": 0, "error": 0}
    for _ in range(3000):
        net = _fuzz_network(rng)
        try:
            slow: Any = estimate_dataflow(net.name, resolve(net), dev, 100.0)
        except DseError as e:
            slow = f"{type(e).__name__}: {e}"
        except (ValueError, ZeroDivisionError) as e:  # the canonical path's own crashes
            slow = f"{type(e).__name__}: {e}"
        try:
            fast: Any = estimate(net, dev, clock_mhz=100.0)
        except DseError as e:
            fast = f"{type(e).__name__}: {e}"
        except (ValueError, ZeroDivisionError) as e:
            fast = f"{type(e).__name__}: {e}"
        outcomes["error" if isinstance(slow, str) else "ok"] += 1
        assert repr(fast) == repr(slow), net
    assert outcomes["ok"] >= 100 and outcomes["error"] >= 100, outcomes
