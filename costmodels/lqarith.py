"""The two arithmetics of the LQ-Nets thesis (Pan, ch. 4.1.1) for a matrix-vector unit:
a table multiplier and the bit-plane (AND/XNOR + popcount) form. Both work for LQ-Nets
codes (a K-bit code times a learned basis) and for uniform integers (basis 2^i).

**Table** (`Arith.TABLE`; thesis Fig. 4.1-4.3, Listing 4.1): the product of a Kw-bit
weight code and a Ka-bit activation code is read from a precomputed table indexed by the
two codes concatenated (`sh.range(3,2) = window; sh.range(1,0) = filter; res =
table[sh]`): 2^(Kw+Ka) entries of the product width P. Every lane needs a read port:
- up to `LUTRAM_MAX_DEPTH` entries the table is a distributed ROM per lane, P LUT6 per 64
  entries (ROM64X1, UG574 ch. 5: one LUT6 is a 64 x 1 ROM);
- deeper, a RAMB18 table shared by two lanes (its two read ports, UG573 ch. 1), in the
  cheapest aspect ratio (`memory.bram18_blocks`).
P is Kw + Ka for integer codes (the exact product) and `LQ_VALUE_BITS` for LQ-Nets weights
(fixed-point basis products; the thesis table holds 32-bit floats, "4-bit to 32-bit
floating point results", Listing 4.1 text).

**Bit-plane** (`Arith.BITPLANE`; thesis Fig. 4.4 and the eq. after Fig. 3.7,
Q(w)^T Q(a) = sum_i sum_j v_i^w v_j^a (b_i^w . b_j^a)): per PE and SIMD group, each of
the Kw x Ka pairs of bit planes is ANDed (XNOR for +-1 codes) bit by bit, one LUT per
bit pair (FINN-R sec. 4: a binary dot product costs about one LUT per bit), and
popcounted over the SIMD bits (`mvau.popcount_luts`); +-1 weight codes with {0, 1}
activation codes need one more popcount per activation plane (sum b_w b_a = 2 pop(a AND
w) - pop(a)). The Kw x Ka counts are then scaled by the basis products v_i^w v_j^a and
summed: for integer codes the products are powers of two (shifts, no LUTs); for LQ
weights each is a constant multiplier of `LQ_BASIS_BITS` x the count width
(`arith.lut_multiplier_luts`). The scaled counts go through one adder tree per PE.
"""

from __future__ import annotations

import math

from costmodels.memory import LUTRAM_MAX_DEPTH, bram18_blocks, lutram_luts
from costmodels.types import LayerChoice, WType

#: Fixed-point width of one LQ-Nets table entry (a basis product): 16 bits. ASSUMPTION:
#: the thesis stores 32-bit floats (Listing 4.1 text) and accumulates in FP32; 16-bit
#: fixed point is this project's choice for a dataflow MVAU with integer adder trees.
LQ_VALUE_BITS = 16
#: Fixed-point width of one basis product v_i^w v_j^a in the bit-plane scaling (8 bits,
#: ASSUMPTION: the products are per-layer constants; 8-bit constants match the
#: coefficient width of the thesis' other constant multipliers, Faraone Table 6.2).
LQ_BASIS_BITS = 8


def signed_codes(choice: LayerChoice) -> bool:
    """Whether the weight codes are +-1 per bit (LQ-Nets, bipolar) rather than two's
    complement bits (integers) or ternary."""
    return choice.weight_type in (WType.LQ, WType.BIPOLAR)


def is_lq(choice: LayerChoice, in_lq: bool = False) -> bool:
    """Whether the products involve LQ-Nets codes: LQ weights, or LQ input activations
    (the previous layer's `a_type: lq`)."""
    return in_lq or choice.weight_type is WType.LQ


def table_entry_bits(choice: LayerChoice, in_bits: int, in_lq: bool = False) -> int:
    """P, the width of one table entry (module docstring)."""
    if is_lq(choice, in_lq):
        return LQ_VALUE_BITS
    return choice.w_bits + in_bits


def table_depth(choice: LayerChoice, in_bits: int) -> int:
    """2^(Kw + Ka) entries (thesis 4.1.1: 2-bit x 2-bit codes, 16 entries)."""
    return 2 ** (choice.w_bits + in_bits)


def table_memory(
    choice: LayerChoice, in_bits: int, lanes: int, in_lq: bool = False
) -> tuple[float, float]:
    """(LUT, BRAM18) of the tables of `lanes` lanes: a LUT ROM per lane when the table is
    at most LUTRAM_MAX_DEPTH deep, else one RAMB18 table per two lanes."""
    width = table_entry_bits(choice, in_bits, in_lq)
    depth = table_depth(choice, in_bits)
    if depth <= LUTRAM_MAX_DEPTH:
        return float(lanes * lutram_luts(width, depth)), 0.0
    return 0.0, float(math.ceil(lanes / 2) * bram18_blocks(width, depth))


def popcount_bits(simd: int) -> int:
    """Width of a popcount over `simd` bits: ceil(log2(simd + 1))."""
    return max(1, math.ceil(math.log2(simd + 1)))


def bitplane_planes(choice: LayerChoice, in_bits: int) -> int:
    """Popcounts per PE: Kw x Ka plane pairs, plus Ka activation-plane counts for +-1
    weight codes."""
    pairs = choice.w_bits * in_bits
    return pairs + (in_bits if signed_codes(choice) else 0)


def bitplane_product_bits(choice: LayerChoice, in_bits: int, simd: int, in_lq: bool = False) -> int:
    """Width of one PE's scaled sum over a SIMD group (what the accumulator adds)."""
    scale = LQ_BASIS_BITS if is_lq(choice, in_lq) else choice.w_bits + in_bits
    return (
        popcount_bits(simd) + scale + math.ceil(math.log2(max(2, bitplane_planes(choice, in_bits))))
    )


def bitplane_lane_luts(choice: LayerChoice, in_bits: int) -> float:
    """AND/XNOR gates of one lane: one LUT per pair of bit planes."""
    return float(choice.w_bits * in_bits)
