"""Whole-network behaviour of the two templates: dataflow throughput/latency/shell and the
shared engines' cycles, memory bound and arithmetic."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from costmodels import (
    ConfigError,
    EngineConfig,
    LayerChoice,
    LayerSpec,
    Network,
    Op,
    Template,
    estimate,
    get_device,
    resolve,
)
from costmodels.dataflow import shell_resources
from costmodels.zoo import cnv_network, tfc_network

ZU3 = get_device("ultra96")


def test_dataflow_throughput_is_clock_over_slowest_unit() -> None:
    cost = estimate(cnv_network(), get_device("pynq-z2"))
    slowest = max(lc.cycles for lc in cost.layers)
    assert cost.cycles_per_frame == slowest
    assert cost.clock_mhz == 100.0  # from the spec
    assert cost.fps == pytest.approx(100e6 / slowest)
    # latency covers at least one frame through the bottleneck and the units' fill
    assert cost.latency_cycles >= slowest
    assert cost.latency_ms == pytest.approx(cost.latency_cycles / 100e3)
    # totals = units + shell
    shell = shell_resources(cost.device)
    assert cost.shell == shell
    assert cost.total.lut == pytest.approx(sum(lc.resources.lut for lc in cost.layers) + shell.lut)


def test_clock_precedence() -> None:
    net = replace(cnv_network(), clock_mhz=None)
    d = get_device("ultra96")
    assert estimate(net, d).clock_mhz == d.clock_mhz == 150.0
    assert estimate(cnv_network(), d).clock_mhz == 100.0
    assert estimate(cnv_network(), d, clock_mhz=250).clock_mhz == 250.0


def test_dense_latency_sums_units() -> None:
    """TFC: every dense layer needs its whole input vector, so latency is the sum of the
    units' cycles (FINN's convention): fc0..fc3 = 64 + 64 + 64 + 8 cycles, plus 8 pipeline
    stages each."""
    cost = estimate(tfc_network(), ZU3)
    assert [lc.cycles for lc in cost.layers] == [64, 64, 64, 8]
    assert cost.latency_cycles == 64 + 64 + 64 + 8 + 4 * 8


def test_engine_cycles_hand_worked() -> None:
    """One dense layer 100 -> 40 on 16 engines x 16 lanes with a very fast DRAM:
    ceil(40/16) * ceil(100/16) * 1 = 3 * 7 = 21 cycles (padding waste visible)."""
    layer = LayerSpec("fc", Op.DENSE, out_channels=40, choice=LayerChoice(w_bits=8, a_bits=8))
    net = Network("e", (100,), 8, (layer,))
    fast = EngineConfig(dram_bytes_per_cycle=1e9)
    cost = estimate(net, ZU3, template=Template.ENGINES, engines=fast)
    assert cost.cycles_per_frame == 21
    # memory-bound: 1 byte/cycle moves 100*40 weight bytes + 100 input bytes x 3 tiles
    # + 40 output bytes = 4,340 cycles
    slow = estimate(
        net, ZU3, template=Template.ENGINES, engines=EngineConfig(dram_bytes_per_cycle=1)
    )
    assert slow.cycles_per_frame == 4000 + 300 + 40


def test_engine_cycles_sum_over_layers() -> None:
    net = cnv_network()
    cfg = EngineConfig(engines=8, lanes=32, dram_bytes_per_cycle=1e9)
    cost = estimate(net, ZU3, template=Template.ENGINES, engines=cfg)
    expected = sum(
        math.ceil(rl.mh / 8) * math.ceil(rl.mw / 32) * rl.num_vectors
        for rl in resolve(net)
        if rl.op.is_compute
    )
    assert cost.cycles_per_frame == cost.latency_cycles == expected


def test_engine_arithmetic() -> None:
    """k-bit engines multiply in DSPs (16-bit: one per MAC; 8-bit: two per DSP48E2);
    binary/ternary engines use LUT muxes and DSPs only for the weight scale (TwinDNN 3.2:
    16 engines -> 4 DSP binary, 8 ternary)."""

    def net(w: int, a: int) -> Network:
        c = LayerChoice(w_bits=w, a_bits=a)
        return Network(
            "e", (3, 16, 16), 8, (LayerSpec("c", Op.CONV, out_channels=32, kernel=3, choice=c),)
        )

    d16 = estimate(net(16, 16), ZU3, template=Template.ENGINES).total.dsp
    d8 = estimate(net(8, 8), ZU3, template=Template.ENGINES).total.dsp
    bin_ = estimate(net(1, 1), ZU3, template=Template.ENGINES).total
    ter = estimate(net(2, 2), ZU3, template=Template.ENGINES).total
    assert d16 == 256 and d8 == 128
    assert (bin_.dsp, ter.dsp) == (4, 8)
    assert bin_.lut < ter.lut


def test_engine_config_validation() -> None:
    with pytest.raises(ConfigError):
        EngineConfig(engines=0)
    with pytest.raises(ConfigError):
        estimate(cnv_network(), ZU3, engines=EngineConfig())  # dataflow takes no EngineConfig


def test_residual_add_buffers_the_skip_branch() -> None:
    c = LayerChoice(w_bits=2, a_bits=2, pe=4, simd=4)
    layers = (
        LayerSpec("c0", Op.CONV, out_channels=16, kernel=3, padding=1, choice=replace(c, simd=2)),
        LayerSpec("c1", Op.CONV, out_channels=16, kernel=3, padding=1, choice=c),
        LayerSpec("c2", Op.CONV, out_channels=16, kernel=3, padding=1, choice=c),
        LayerSpec("res", Op.ADD, source="c0"),
    )
    cost = estimate(Network("r", (2, 16, 16), 8, layers), ZU3)
    res = cost.layers[-1]
    assert res.name == "res" and res.resources.lut > 0
    skip = dict(res.breakdown)["skip_fifo"]
    assert skip.lut + 64 * skip.bram18 > 0


def test_detail_breakdown_sums_to_each_unit() -> None:
    net = cnv_network()
    d = get_device("pynq-z2")
    fast, detailed = estimate(net, d), estimate(net, d, detail=True)
    assert fast.total == detailed.total
    assert all(lc.breakdown == () for lc in fast.layers if lc.op.is_compute)
    for lc in detailed.layers:
        assert lc.breakdown, lc.name
        for key in ("lut", "ff", "dsp", "bram18", "uram"):
            parts = sum(getattr(r, key) for _, r in lc.breakdown)
            assert parts == pytest.approx(getattr(lc.resources, key)), (lc.name, key)
