"""Properties every estimate must keep: more PE/SIMD never lowers LUTs and never raises
cycles; more bits never cost less (within an activation form: the threshold unit gives way
to a requantizer above `MAX_THRESHOLD_BITS` output bits); pruning never costs more (except
LUTs that replace freed BRAM when a memory drops to LUTRAM); MMV divides cycles."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from costmodels import (
    Arith,
    LayerChoice,
    LayerSpec,
    Network,
    NetworkCost,
    Op,
    estimate,
    get_device,
)
from costmodels.mvau import MAX_THRESHOLD_BITS

ULTRA96 = get_device("ultra96")  # no URAM: no BRAM/URAM trade to muddy the comparison


def _net(
    c_in: int, c_out: int, choice: LayerChoice, dense: bool, k: int = 3, next_simd: int = 1
) -> Network:
    if dense:
        first = LayerSpec("l0", Op.DENSE, out_channels=c_out, choice=choice)
        shape: tuple[int, ...] = (c_in * 16,)
    else:
        first = LayerSpec("l0", Op.CONV, out_channels=c_out, kernel=k, padding=1, choice=choice)
        shape = (c_in, 8, 8)
    nxt = LayerSpec(
        "l1", Op.DENSE, out_channels=8, choice=LayerChoice(w_bits=2, a_bits=2, simd=next_simd)
    )
    return Network("p", shape, 4, (first, nxt))


def _cost(net: Network) -> NetworkCost:
    return estimate(net, ULTRA96)


pow2 = st.sampled_from([1, 2, 4, 8])
arith = st.sampled_from([Arith.AUTO, Arith.LUT, Arith.DSP, Arith.RCCM2, Arith.RCCM4])
bits = st.integers(min_value=1, max_value=8)


@settings(max_examples=60, deadline=None)
@given(pe=pow2, simd=pow2, w=bits, a=bits, ar=arith, dense=st.booleans())
def test_doubling_pe_or_simd(pe: int, simd: int, w: int, a: int, ar: Arith, dense: bool) -> None:
    base = LayerChoice(w_bits=w, a_bits=a, pe=pe, simd=simd, arith=ar)
    before = _cost(_net(16, 16, base, dense))
    for bigger in (replace(base, pe=2 * pe), replace(base, simd=2 * simd)):
        after = _cost(_net(16, 16, bigger, dense))
        assert after.total.lut >= before.total.lut
        assert after.total.dsp >= before.total.dsp
        assert after.layers[0].cycles <= before.layers[0].cycles
        assert after.cycles_per_frame <= before.cycles_per_frame


@settings(max_examples=60, deadline=None)
@given(
    w=st.integers(min_value=1, max_value=11),
    a=st.integers(min_value=1, max_value=11),
    ar=st.sampled_from([Arith.LUT, Arith.DSP]),
    dense=st.booleans(),
)
def test_more_bits_never_cost_less(w: int, a: int, ar: Arith, dense: bool) -> None:
    base = LayerChoice(w_bits=w, a_bits=a, pe=4, simd=4, arith=ar)
    before = _cost(_net(16, 16, base, dense)).total
    more_a = [] if a == MAX_THRESHOLD_BITS else [replace(base, a_bits=a + 1)]
    for more in (replace(base, w_bits=w + 1), *more_a):
        after = _cost(_net(16, 16, more, dense)).total
        for key in ("lut", "ff", "dsp", "bram18", "uram"):
            assert getattr(after, key) >= getattr(before, key), key


@settings(max_examples=60, deadline=None)
@given(
    r1=st.floats(min_value=0.0, max_value=0.9),
    r2=st.floats(min_value=0.0, max_value=0.9),
    w=bits,
    dense=st.booleans(),
)
def test_pruning_never_costs_more(r1: float, r2: float, w: int, dense: bool) -> None:
    lo, hi = sorted((r1, r2))
    base = LayerChoice(w_bits=w, a_bits=2, pe=4, simd=4)
    light = _cost(_net(16, 64, replace(base, prune=lo), dense))
    heavy = _cost(_net(16, 64, replace(base, prune=hi), dense))
    a, b = light.total, heavy.total
    assert b.dsp <= a.dsp and b.bram18 + b.uram <= a.bram18 + a.uram
    assert heavy.cycles_per_frame <= light.cycles_per_frame
    assert sum(lc.cycles for lc in heavy.layers) <= sum(lc.cycles for lc in light.layers)
    if b.bram18 == a.bram18:  # no memory moved from BRAM to LUTRAM
        assert b.lut <= a.lut


def test_pruning_rounds_to_pe_multiples() -> None:
    # 64 filters, PE=16, prune 0.3 -> 44.8 kept -> rounded to 48 (N % PE == 0)
    net = _net(16, 64, LayerChoice(w_bits=2, a_bits=2, pe=16, simd=4, prune=0.3), dense=True)
    cost = _cost(net)
    full = _cost(_net(16, 64, LayerChoice(w_bits=2, a_bits=2, pe=16, simd=4), dense=True))
    # fc cycles: (MH/PE) * (MW/SIMD) = (48/16) * (256/4) = 192 vs (64/16) * 64 = 256
    assert cost.layers[0].cycles == 192
    assert full.layers[0].cycles == 256


def test_mmv_divides_conv_cycles() -> None:
    one = _cost(_net(16, 16, LayerChoice(w_bits=2, a_bits=2, pe=16, simd=16), dense=False))
    two = _cost(_net(16, 16, LayerChoice(w_bits=2, a_bits=2, pe=16, simd=16, mmv=2), dense=False))
    assert two.layers[0].cycles * 2 == one.layers[0].cycles
    assert two.total.lut > one.total.lut


def test_lut_vs_dsp_vs_rccm_tradeoff() -> None:
    """The same 8-bit layer: DSP lanes spend DSPs and few LUTs, LUT multipliers spend the
    most LUTs, RCCMs sit in between (thesis Table 6.5/6.6 ordering) with half the weight
    bits at 2-Add (4-bit index)."""

    def net(ar: Arith) -> Network:
        layer = LayerSpec(
            "c",
            Op.CONV,
            out_channels=64,
            kernel=3,
            choice=LayerChoice(w_bits=8, a_bits=2, pe=8, simd=8, arith=ar),
        )
        return Network("t", (64, 8, 8), 8, (layer,))

    costs = {
        ar: _cost(net(ar)) for ar in (Arith.DSP, Arith.LUT, Arith.RCCM2, Arith.RCCM3, Arith.RCCM4)
    }
    lut = {ar: c.layers[0].resources.lut for ar, c in costs.items()}
    assert costs[Arith.DSP].layers[0].resources.dsp > 0
    assert all(costs[ar].layers[0].resources.dsp == 0 for ar in lut if ar is not Arith.DSP)
    assert lut[Arith.DSP] < lut[Arith.RCCM2] < lut[Arith.RCCM3] < lut[Arith.RCCM4] < lut[Arith.LUT]
