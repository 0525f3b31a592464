"""The arithmetic of one multiplier lane: which kind a layer gets, its LUT/DSP cost, the
width of its product and how many bits each stored weight takes.

One `match` arm per `Arith` member; a new arithmetic is one enum member and one arm here.
"""

from __future__ import annotations

import math

from costmodels.errors import SpecError
from costmodels.lqarith import (
    bitplane_lane_luts,
    bitplane_product_bits,
    table_entry_bits,
)
from costmodels.types import Arith, Impl, LayerChoice, NumType, WType

#: Arithmetics that can multiply LQ-Nets codes (a code times a learned basis is no
#: integer: only a table of basis products or bit planes scaled by them work).
LQ_ARITHS = (Arith.TABLE, Arith.BITPLANE)
#: AUTO picks a table for LQ weights while 2^(Kw+Ka) fits one LUT6 ROM (64 entries,
#: thesis Listing 4.1 uses 2 x 2 bits), bit planes beyond.
LQ_TABLE_AUTO_BITS = 6

#: LUTs per input (activation) bit of a generic LUT multiplier with 8-bit coefficients:
#: Faraone thesis Sec. 6.7.1 / Fig. 6.8 ("grows at about 7.4 LUTs/bit"); seed_results row 60.
LUT_MULT_PER_INPUT_BIT_W8 = 7.4
#: LUTs per input bit of AddNet RCCMs with 2, 3, 4 adders: thesis Sec. 6.7.1 / Fig. 6.8
#: ("2-Add, 3-Add, 4-Add grow at 2, 3, 4 LUTs/bit"); seed_results rows 61-63.
RCCM_LUT_PER_INPUT_BIT = {Arith.RCCM2: 2.0, Arith.RCCM3: 3.0, Arith.RCCM4: 4.0}
#: Bits stored per weight: the RCCM coefficient index, thesis Table 6.2 (15, 59 and 207
#: coefficients -> 4, 6, 8 index bits); Table 6.5 "4 (index; 15 coeffs)" etc.
RCCM_INDEX_BITS = {Arith.RCCM2: 4, Arith.RCCM3: 6, Arith.RCCM4: 8}
#: Product width of an RCCM: it multiplies by coefficients of up to 8 bits (thesis ch. 6).
RCCM_COEFF_BITS = 8
#: Fixed LUTs per lane of an RCCM and of an 8-bit generic LUT multiplier inside a layer
#: (coefficient-index decode, operand/output registers), fitted by
#: benchmarks/calibration.py on the thesis Table 6.5 single layer (seed_results rows
#: 29-33, post place-and-route, 10 PEs, 8-bit inputs): per-PE LUT of each variant minus the
#: DSP variant's, minus the slope term (2/3/4/7.4 LUT per input bit x 8) and the
#: accumulator the DSP absorbs (26 bits for the assumed 1,024-input neuron):
#: 2-Add (818-238)/10 - 16 - 26 = 16; 3-Add 69 - 24 - 26 = 19; 4-Add 94 - 32 - 26 = 36;
#: generic (1407-238)/10 - 59.2 - 26 = 31.7.
RCCM_LANE_OVERHEAD = {Arith.RCCM2: 16.0, Arith.RCCM3: 19.0, Arith.RCCM4: 36.0}
LUT_MULT_OVERHEAD_W8A8 = 31.7
#: Operand widths of one DSP multiplier: DSP48E1 25x18 (UG479 ch. 2), DSP48E2 27x18
#: (UG579 ch. 2), DSP58 27x24 (AM004).
DSP_PORTS = {"DSP48E1": (25, 18), "DSP48E2": (27, 18), "DSP58": (27, 24)}


def resolve_arith(
    choice: LayerChoice, in_bits: int, layer: str = "", in_type: NumType | None = None
) -> Arith:
    """The concrete arithmetic of a layer (never `AUTO`).

    `AUTO` picks what a FINN-like flow would: XNOR-popcount for bipolar weights x 1-bit
    inputs (FINN `binaryXnorMode`), add/sub multiplexers for binary/ternary weights (ELB-NN
    Fig. 4, TwinDNN 3.2: no multiplier needed), LUT multipliers for small integer products
    (W + A <= 8 bits, FINN HLS `resType=lut`), DSPs for anything wider (FINN's RTL MVU is
    DSP-only and is chosen for wider operands). XNOR needs bipolar inputs: a 1-bit input
    is bipolar unless `in_type` says otherwise (`NumType.default`). `impl: rtl` (FINN's
    `MVAU_rtl`, DSP multipliers only) makes `AUTO` a DSP and refuses any other arithmetic.
    """
    wtype = choice.weight_type
    arith = choice.arith
    if wtype is WType.LQ or in_type is NumType.LQ:
        if arith is Arith.AUTO:
            tbl = choice.w_bits + in_bits <= LQ_TABLE_AUTO_BITS
            return Arith.TABLE if tbl else Arith.BITPLANE
        if arith not in LQ_ARITHS:
            raise SpecError(
                f"layer {layer!r}: lq weights or inputs need arith table or bitplane "
                f"(got {arith.value})"
            )
        return arith
    bipolar_in = NumType.of(in_type, in_bits) is NumType.BIPOLAR
    if choice.impl is Impl.RTL:
        if arith not in (Arith.AUTO, Arith.DSP):
            raise SpecError(
                f"layer {layer!r}: impl rtl (FINN MVAU_rtl) uses DSP multipliers; "
                f"arith {arith.value} needs impl hls or auto"
            )
        return Arith.DSP
    if arith is Arith.AUTO:
        if wtype is WType.BIPOLAR and bipolar_in:
            return Arith.XNOR
        if wtype in (WType.BIPOLAR, WType.TERNARY):
            return Arith.LUT
        return Arith.LUT if choice.w_bits + in_bits <= 8 else Arith.DSP
    if arith is Arith.SPARSE and wtype is not WType.TERNARY:
        raise SpecError(
            f"layer {layer!r}: arith sparse needs ternary weights (w_bits 2), got "
            f"w_bits={choice.w_bits}"
        )
    if arith is Arith.XNOR and not (wtype is WType.BIPOLAR and bipolar_in):
        raise SpecError(
            f"layer {layer!r}: arith xnor needs bipolar 1-bit weights and 1-bit inputs "
            f"(got w_bits={choice.w_bits}, input bits={in_bits}"
            + (f", input type {in_type.value})" if in_type is not None else ")")
        )
    return arith


def stored_weight_bits(choice: LayerChoice, arith: Arith) -> int:
    """Bits of weight memory per weight: the RCCM index for RCCMs (thesis Table 6.2), the
    weight itself otherwise."""
    if arith.is_rccm:
        return RCCM_INDEX_BITS[arith]
    return choice.w_bits


def product_bits(choice: LayerChoice, arith: Arith, in_bits: int, in_lq: bool = False) -> int:
    """Width of one lane's product, the input width of the adder tree (`in_lq`: the inputs
    are LQ-Nets codes)."""
    match arith:
        case Arith.XNOR:
            return 1
        case Arith.RCCM2 | Arith.RCCM3 | Arith.RCCM4:
            return in_bits + RCCM_COEFF_BITS
        case Arith.TABLE:
            return table_entry_bits(choice, in_bits, in_lq)
        case Arith.BITPLANE:
            return bitplane_product_bits(choice, in_bits, choice.simd, in_lq)
        case _:
            if choice.weight_type in (WType.BIPOLAR, WType.TERNARY):
                return in_bits + 1
            return in_bits + choice.w_bits


def lut_multiplier_luts(w_bits: int, in_bits: int) -> float:
    """A generic LUT multiplier of `w_bits x in_bits` inside a layer.

    When both operands fit one LUT6 (w + a <= 6), every product bit is one LUT:
    w + a LUTs. Otherwise the thesis slope (Sec. 6.7.1: 7.4 LUT per input bit at 8-bit
    coefficients) plus the in-layer overhead fitted on Table 6.5 (31.7 LUT at 8 x 8), both
    scaled with the partial-product count w * a / 64: (7.4 * 8 + 31.7) * w * a / 64,
    i.e. about 1.42 LUT per partial-product bit.
    """
    if w_bits + in_bits <= 6:
        return float(w_bits + in_bits)
    per_pp = (LUT_MULT_PER_INPUT_BIT_W8 * 8 + LUT_MULT_OVERHEAD_W8A8) / 64.0
    return max(float(w_bits + in_bits), per_pp * in_bits * w_bits)


def lane_luts(choice: LayerChoice, arith: Arith, in_bits: int) -> float:
    """LUTs of one multiplier lane (not the adder tree)."""
    match arith:
        case Arith.XNOR:
            # XNOR of weight and input bit, one LUT (merged into the popcount compressor
            # in practice; FINN-R Sec. 4, Umuroglu et al. FINN 2017).
            return 1.0
        case Arith.DSP:
            return 0.0
        case Arith.TABLE:
            return 0.0  # the table memory is priced per lane by mvau (lqarith.table_memory)
        case Arith.BITPLANE:
            return bitplane_lane_luts(choice, in_bits)
        case Arith.SPARSE:
            # only non-zero weights reach the lane: +/-A, one LUT per input bit (thesis
            # 3.4.1: the decompressor outputs the sign, ELB-NN Fig. 4's add/sub)
            return float(in_bits)
        case Arith.RCCM2 | Arith.RCCM3 | Arith.RCCM4:
            return RCCM_LUT_PER_INPUT_BIT[arith] * in_bits + RCCM_LANE_OVERHEAD[arith]
        case _:
            wtype = choice.weight_type
            if wtype is WType.BIPOLAR:
                # +/-A: conditional negation, one LUT per input bit (ELB-NN Fig. 4).
                return float(in_bits)
            if wtype is WType.TERNARY:
                # -A/0/+A: negation plus zero gating, one LUT per bit and one for the
                # carry-in/enable (ELB-NN Fig. 4, TwinDNN 3.2).
                return float(in_bits + 1)
            return lut_multiplier_luts(choice.w_bits, in_bits)


def dsp_per_lane(w_bits: int, in_bits: int, dsp_block: str, pack: bool = False) -> float:
    """DSP slices per multiplier lane.

    With `pack`, two products of <= 8-bit operands share one DSP48E2 (Xilinx WP486, INT8
    packing on the 27x18 multiplier, as TwinDNN's engines do, Table 1) and three share a
    DSP58; a DSP48E1's 25-bit port cannot hold the shifted second operand (UG479), so one
    product each. Without it (FINN's HLS MVAU, the thesis Table 6.5/6.6 layers: one DSP
    per multiplier) every <= 18-bit product takes one slice. Wider operands take
    ceil(a/port_a) * ceil(b/port_b) slices.
    """
    port_a, port_b = DSP_PORTS.get(dsp_block, DSP_PORTS["DSP48E2"])
    if pack and max(w_bits, in_bits) <= 8:
        if dsp_block == "DSP48E2":
            return 0.5
        if dsp_block == "DSP58":
            return 1.0 / 3.0
        return 1.0
    wide, narrow = max(w_bits, in_bits), min(w_bits, in_bits)
    return float(math.ceil(wide / port_a) * math.ceil(narrow / port_b))
