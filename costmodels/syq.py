"""SYQ scaling granularity in hardware (Faraone thesis ch. 5.7, Fig. 5.3).

Channel-wise and layer-wise scales cost nothing: they merge with the batch norm into the
per-channel thresholds (thesis 5.7.2: "the layer-wise baseline uses no multiplies, as
these can absorb into quantization thresholds"). Row-wise (K scales) and pixel-wise (K^2
scales) SYQ split each dot product into sub-dot-products of one scale group: per PE (and
MMV lane) the adder tree's output is multiplied by the current group's scale and
accumulated (Fig. 5.3), and a small ring of the K or K^2 scales, advanced by an index
counter, feeds the multiplier. DSPs therefore grow with PE while LUT and BRAM barely move
(thesis Table 5.7). The scale multiplier is a DSP when its operands are too wide for a
LUT multiplier (the `auto` rule of `costmodels.arith`); a DSP's P register then also
takes the accumulator (MAC mode, UG579), which saves the accumulator's LUTs.
"""

from __future__ import annotations

import math

from costmodels.arith import dsp_per_lane, lut_multiplier_luts
from costmodels.memory import SRL_DEPTH
from costmodels.types import Device, ResolvedLayer, Scaling

#: Bits of one SYQ scaling factor in hardware: 8-bit fixed point (assumption; the thesis
#: does not give the width of the Table 5.7 design's scales).
SCALE_BITS = 8
#: Widest product a LUT multiplier takes before the scaling multiplier goes to a DSP
#: (the `auto` rule of `costmodels.arith.resolve_arith`, FINN HLS resType=lut).
LUT_MULT_MAX_BITS = 8

Part = tuple[str, float, float, float, float, float]  # name, lut, ff, dsp, bram18, uram
_ROW, _PIXEL = Scaling.ROW, Scaling.PIXEL  # hot-path constants (see costmodels.types)


def scale_count(scaling: Scaling, kernel: int) -> int:
    """Scaling factors a layer stores: 1 layer-wise, K row-wise, K^2 pixel-wise (thesis
    5.7.1, Table 5.6); channel-wise scales live in the thresholds (0 here)."""
    match scaling:
        case Scaling.LAYER:
            return 1
        case Scaling.ROW:
            return kernel
        case Scaling.PIXEL:
            return kernel * kernel
        case _:
            return 0


def needs_multiplier(scaling: Scaling, kernel: int) -> bool:
    """Whether the scales need a multiplier: row/pixel-wise with more than one group."""
    return (scaling is _ROW or scaling is _PIXEL) and scale_count(scaling, kernel) > 1


def group_size(layer: ResolvedLayer) -> int:
    """Inputs (of MW, FINN order kernel row, kernel column, channel) that share one scale:
    MW / K^2 pixel-wise, MW / K row-wise."""
    n = scale_count(layer.choice.scaling, layer.spec.kernel)
    return max(1, layer.mw // max(n, 1))


def sub_products_per_cycle(simd: int, group: int) -> int:
    """Scale groups one SIMD-wide input chunk can touch, i.e. scaling multipliers per PE:
    1 when the group is a multiple of SIMD (FINN's SIMD divides the input channels, so
    pixel groups of I channels always align), SIMD/group when SIMD is a multiple of the
    group, else ceil(SIMD/group) + 1 (a chunk straddles a boundary)."""
    if group % simd == 0:
        return 1
    if simd % group == 0:
        return simd // group
    return math.ceil(simd / group) + 1


def syq_parts(
    layer: ResolvedLayer, tree_bits: int, acc_luts_per_tree: float, device: Device
) -> tuple[Part, ...]:
    """The scaling multipliers and scale rings of a row/pixel-wise SYQ unit, and the
    accumulator LUTs a DSP multiplier takes over (negative), as parts. `tree_bits` is
    the width of one PE's adder-tree output (the sub-dot-product)."""
    c = layer.spec.choice
    assert c is not None  # a compute layer (resolve refuses one without its choice)
    if not needs_multiplier(c.scaling, layer.spec.kernel):
        return ()
    trees = c.pe * c.mmv
    mults = trees * sub_products_per_cycle(c.simd, group_size(layer))
    if tree_bits + SCALE_BITS > LUT_MULT_MAX_BITS:
        dsp = float(math.ceil(mults * dsp_per_lane(tree_bits, SCALE_BITS, device.dsp_block)))
        mult: Part = ("syq_multipliers", 0.0, 0.0, dsp, 0.0, 0.0)
        saved = -trees * acc_luts_per_tree
        acc: Part = ("syq_accumulator_in_dsp", saved, saved, 0.0, 0.0, 0.0)
    else:
        luts = mults * lut_multiplier_luts(tree_bits, SCALE_BITS)
        mult = ("syq_multipliers", luts, float(mults * (tree_bits + SCALE_BITS)), 0.0, 0.0, 0.0)
        acc = ("syq_accumulator_in_dsp", 0.0, 0.0, 0.0, 0.0, 0.0)
    n = scale_count(c.scaling, layer.spec.kernel)
    # ring of n scales per PE in shift-register LUTs (SRLC32E, UG574) + index counter
    counter = max(1, math.ceil(math.log2(n)))
    ring_lut = c.pe * (SCALE_BITS * math.ceil(n / SRL_DEPTH) + counter)
    ring: Part = ("syq_scales", float(ring_lut), float(c.pe * (SCALE_BITS + counter)), 0.0,
                  0.0, 0.0)  # fmt: skip
    return (mult, acc, ring)
