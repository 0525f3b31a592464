"""The LQ-Nets arithmetics (Pan thesis 4.1.1): table multiplier and bit-plane form, by
hand, and through the canonical estimate."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from costmodels import estimate, get_device
from costmodels.arith import lut_multiplier_luts, resolve_arith
from costmodels.errors import SpecError
from costmodels.lqarith import LQ_BASIS_BITS, LQ_VALUE_BITS
from costmodels.mvau import adder_tree_luts, mvau_breakdown, popcount_luts
from costmodels.network import resolve
from costmodels.types import Arith, LayerChoice, LayerSpec, Network, NumType, Op, WType

DEV = get_device("XCKU115")


def dense(choice: LayerChoice, in_bits: int = 2, mw: int = 64, mh: int = 16) -> Network:
    return Network(
        "t", (mw,), in_bits, (LayerSpec("fc", Op.DENSE, out_channels=mh, choice=choice),)
    )


def parts(net: Network) -> dict[str, tuple[float, float, float]]:
    (rl,) = resolve(net)
    return {n: (r.lut, r.bram18, r.dsp) for n, r in mvau_breakdown(rl, DEV)}


def test_table_by_hand_lutrom_per_lane() -> None:
    # LQ 2-bit weights x 2-bit inputs: 2^(2+2) = 16 entries of 16 bits (LQ_VALUE_BITS);
    # 16 <= 128 entries: a LUT ROM per lane, 16 bits x ceil(16/64) = 16 LUT per lane.
    c = LayerChoice(w_bits=2, a_bits=2, w_type=WType.LQ, pe=4, simd=8, arith=Arith.TABLE)
    p = parts(dense(c))
    lanes = 4 * 8
    assert LQ_VALUE_BITS == 16
    assert p["multipliers"] == (lanes * 16 * 1, 0.0, 0.0)
    # adder tree per PE over 8 products of 16 bits: 4*17 + 2*18 + 1*19 = 123 LUT
    assert adder_tree_luts(8, 16) == 4 * 17 + 2 * 18 + 19 == 123
    assert p["adder_tree"][0] == 4 * 123
    # accumulator widened to the table width: 16 + log2(64) = 22 bits per PE
    assert p["accumulator"][0] == 4 * 22


def test_table_by_hand_bram_shared_by_two_lanes() -> None:
    # int 4-bit weights x 4-bit inputs: 256 entries of 8 bits (exact products) > 128:
    # RAMB18 tables (one 2Kx9 block holds 256 x 8) shared by two lanes: 32 lanes -> 16
    c = LayerChoice(w_bits=4, a_bits=4, w_type=WType.INT, pe=4, simd=8, arith=Arith.TABLE)
    p = parts(dense(c, in_bits=4))
    assert p["multipliers"][:2] == (0.0, 16.0)
    assert p["adder_tree"][0] == 4 * adder_tree_luts(8, 8)


def test_bitplane_by_hand() -> None:
    # LQ 2-bit weights x 2-bit inputs, SIMD 8: 2*2 plane pairs + 2 activation-plane
    # counts (+-1 weight codes) = 6 popcounts of 8 bits, each count (4 bits) times an
    # 8-bit basis product, then an adder tree of 6 terms of 12 bits.
    c = LayerChoice(w_bits=2, a_bits=2, w_type=WType.LQ, pe=4, simd=8, arith=Arith.BITPLANE)
    p = parts(dense(c))
    assert popcount_luts(8) == 4 * 2 + 2 * 3 + 1 * 4 == 18
    mult = lut_multiplier_luts(LQ_BASIS_BITS, 4)
    assert mult == pytest.approx((7.4 * 8 + 31.7) / 64 * 4 * 8)  # 45.45 LUT
    assert adder_tree_luts(6, 12) == 3 * 13 + 1 * 14 + 1 * 15 == 68
    per_pe = 6 * 18 + 6 * mult + 68
    assert p["adder_tree"][0] == pytest.approx(4 * per_pe)
    # AND gates: one LUT per plane pair per lane
    assert p["multipliers"] == (32 * 4.0, 0.0, 0.0)
    # the scaled sum is 4 + 8 + ceil(log2 6) = 15 bits; accumulator 15 + 6 = 21
    assert p["accumulator"][0] == 4 * 21
    # integer codes: the basis products are powers of two (shifts): no scaling LUTs, no
    # activation-plane counts (two's complement)
    ci = replace(c, w_type=WType.INT)
    pi = parts(dense(ci))
    assert pi["adder_tree"][0] == pytest.approx(4 * (4 * 18 + adder_tree_luts(4, 4 + 4)))


def test_weights_stay_code_wide_and_no_dsp() -> None:
    for arith in (Arith.TABLE, Arith.BITPLANE):
        c = LayerChoice(w_bits=2, a_bits=2, w_type=WType.LQ, pe=1, simd=4, arith=arith)
        net = dense(c, mw=512, mh=64)
        cost = estimate(net, DEV, detail=True)
        assert cost.total.dsp == estimate(net, DEV).total.dsp == 48  # the PCIe shell's DSPs only
        w8 = estimate(dense(replace(c, w_bits=8, w_type=WType.INT), mw=512, mh=64), DEV)
        assert estimate(net, DEV).total.bram18 < w8.total.bram18


def test_auto_and_invalid_arith_for_lq() -> None:
    c = LayerChoice(w_bits=2, a_bits=2, w_type=WType.LQ)
    assert resolve_arith(c, 2) is Arith.TABLE  # 16 entries: one LUT6 ROM per bit
    assert resolve_arith(replace(c, w_bits=4), 4) is Arith.BITPLANE
    with pytest.raises(SpecError, match="table or bitplane"):
        resolve_arith(replace(c, arith=Arith.DSP), 2)


def test_lq_activations_use_thresholds_at_any_width() -> None:
    # 6-bit uniform outputs use the requantizer (no memory); LQ codes are non-uniform, so
    # thresholds: min(63, 24) comparators per PE and a threshold memory
    base = LayerChoice(w_bits=4, a_bits=6, w_type=WType.INT, pe=2, simd=4)
    uni = parts(dense(base, in_bits=4))["activation"]
    lq = parts(dense(replace(base, a_type=NumType.LQ), in_bits=4))["activation"]
    acc = 4 + 4 + math.ceil(math.log2(64))
    assert uni[0] == 2 * (acc + 12)
    assert lq[0] > uni[0]


def test_more_bits_never_cheaper() -> None:
    for arith in (Arith.TABLE, Arith.BITPLANE):
        prev = None
        for bits in (1, 2, 3, 4):
            c = LayerChoice(w_bits=bits, a_bits=2, w_type=WType.LQ, pe=2, simd=8, arith=arith)
            t = estimate(dense(c, in_bits=bits), DEV).total
            key = t.lut + 1000 * t.bram18
            assert prev is None or key >= prev
            prev = key


def test_lq_inputs_need_the_lq_arithmetics() -> None:
    # fc1 emits LQ codes; fc2 has int weights but multiplies LQ levels: AUTO -> table with
    # 16-bit basis products; an integer LUT multiplier is refused
    fc1 = LayerChoice(w_bits=4, a_bits=2, w_type=WType.INT, a_type=NumType.LQ, pe=1, simd=4)
    fc2 = LayerChoice(w_bits=2, a_bits=None, w_type=WType.INT, pe=2, simd=4)
    net = Network(
        "t",
        (64,),
        4,
        (
            LayerSpec("fc1", Op.DENSE, out_channels=32, choice=fc1),
            LayerSpec("fc2", Op.DENSE, out_channels=10, choice=fc2),
        ),
    )
    rl = resolve(net)[1]
    assert rl.in_type is NumType.LQ
    assert resolve_arith(fc2, 2, "fc2", rl.in_type) is Arith.TABLE
    p = dict(mvau_breakdown(rl, DEV))
    assert p["multipliers"].lut == 2 * 4 * LQ_VALUE_BITS  # 16-entry LUT ROM of 16 bits
    bad = net.with_choices({"fc2": replace(fc2, arith=Arith.LUT)})
    with pytest.raises(SpecError, match="table or bitplane"):
        estimate(bad, DEV)
