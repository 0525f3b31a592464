"""The streaming matrix-vector(-activation) unit of a dataflow accelerator (FINN MVTU/MVAU,
Faraone thesis ch. 4, ELB-NN's computing engines): one per conv/dense layer.

PE rows of SIMD multiplier lanes each, replicated MMV times for MMV output pixels in
parallel; per PE an adder tree over its SIMD products, an accumulator and an activation
(threshold) unit; weights in a per-PE memory (the HLS array partition of FINN-hlslib's
`FixedPointWeights<SIMD,T,PE,TILES>`, which is also what the thesis Table 6.7 buffers show).
"""

from __future__ import annotations

import functools
import math

from costmodels.arith import (
    dsp_per_lane,
    lane_luts,
    lut_multiplier_luts,
    product_bits,
    resolve_arith,
    stored_weight_bits,
)
from costmodels.errors import SpecError
from costmodels.lqarith import (
    LQ_BASIS_BITS,
    bitplane_planes,
    is_lq,
    popcount_bits,
    table_memory,
)
from costmodels.memory import memory_blocks, place_memory_as
from costmodels.sparse import sparse_cycles, sparse_memory_parts
from costmodels.syq import syq_parts
from costmodels.types import (
    Arith,
    Device,
    Impl,
    LayerChoice,
    LayerCost,
    MemMode,
    NumType,
    Op,
    RamStyle,
    ResolvedLayer,
    Resources,
    Scaling,
    WType,
)
from costmodels.util import new_resources

#: Fixed LUTs of one MVAU (control, stream interfaces): FINN-R's c0 = 300 (Blott et al.
#: 2018; FINN `MVAU_hls.lut_estimation`).
MVAU_BASE_LUT = 300.0
#: Fixed FFs of one MVAU (control and stream registers); assumption, half the LUT base.
MVAU_BASE_FF = 150.0
#: Pipeline stages of one MVAU from input to output (read, multiply, adder tree,
#: accumulate, threshold); FINN-hlslib MVAU pipelines at II=1 with depth about 5-10.
MVAU_PIPELINE_DEPTH = 8
#: Above this many output bits, thresholds are searched in B pipelined stages (FINN
#: `Thresholding_rtl` binary search) instead of 2^B - 1 parallel comparators; each stage
#: costs about 4 comparators (comparator plus threshold selection mux). Assumption that
#: keeps the cost monotone in B: comparators = min(2^B - 1, 4B).
THRESHOLD_STAGE_COMPARATORS = 4
#: Output activations of at most this many bits use thresholds (FINN MVTU: 2^B - 1
#: thresholds per channel absorb batch norm and scale; Faraone thesis ch. 4-5 designs are
#: 1-3 bit); wider ones use a fixed-point requantizer: a rounding adder of the accumulator
#: width, a constant shift and a saturation compare/mux of 2 LUT per output bit (the 8-bit
#: fixed-point layers of the thesis ch. 6 AlphaData library and of ELB-NN). FINN would
#: still use 255 thresholds at 8 bits, whose memory (255 x acc bits per channel) does not
#: match the published 8-bit designs. The switch at 5 bits lowers the activation's LUTs:
#: the one place where more bits can cost less.
MAX_THRESHOLD_BITS = 4
# hot-path constants (see costmodels.types)
_SPARSE, _TABLE, _BITPLANE, _DSP, _XNOR = (
    Arith.SPARSE, Arith.TABLE, Arith.BITPLANE, Arith.DSP, Arith.XNOR,
)  # fmt: skip
_LQ_IN = NumType.LQ
_EXTERNAL, _AUTO_RAM, _DENSE = MemMode.EXTERNAL, RamStyle.AUTO, Op.DENSE
_BASE_PART = ("base", MVAU_BASE_LUT, MVAU_BASE_FF, 0.0, 0.0, 0.0)
_ROW, _PIXEL = Scaling.ROW, Scaling.PIXEL  # the SYQ scales that need multipliers


@functools.lru_cache(maxsize=4096)
def adder_tree_luts(inputs: int, in_bits: int) -> float:
    """A balanced adder tree over `inputs` operands of `in_bits` bits: level l has
    ceil(n / 2^l) two-input adders of in_bits + l - 1 bits, one LUT per bit on the carry
    chain (UG474 / UG574 CARRY4/CARRY8)."""
    total = 0
    n = inputs
    width = in_bits
    while n > 1:
        pairs = n // 2
        width += 1
        total += pairs * width
        n = n - pairs
    return float(total)


def popcount_luts(inputs: int) -> float:
    """Popcount of `inputs` XNOR bits: about one LUT per input for the 6:3 compressor
    tree plus the final adder tree on the partial counts (FINN-R Sec. 4: binary dot
    products cost ~1 LUT per bit); modelled as an adder tree of 1-bit operands."""
    return adder_tree_luts(inputs, 1)


def bitplane_tree_luts(choice: LayerChoice, in_bits: int, simd: int, in_lq: bool = False) -> float:
    """Per PE: the popcounts of every plane pair over SIMD bits, the scaling of each count
    by its basis product, and the adder tree over the scaled counts (see the
    `costmodels.lqarith` docstring)."""
    planes = bitplane_planes(choice, in_bits)
    pc = popcount_bits(simd)
    counts = planes * popcount_luts(simd)
    if is_lq(choice, in_lq):
        scale = planes * lut_multiplier_luts(LQ_BASIS_BITS, pc)
        width = pc + LQ_BASIS_BITS
    else:
        scale = 0.0  # powers of two: shifts
        width = pc + choice.w_bits + in_bits
    return counts + scale + adder_tree_luts(planes, width)


def threshold_comparators(out_bits: int) -> int:
    """Comparators per PE of a B-bit threshold activation: 2^B - 1 in parallel (FINN-hlslib
    `ThresholdsActivation`), capped at 4B for the binary-search form (see
    `THRESHOLD_STAGE_COMPARATORS`)."""
    return min(2**out_bits - 1, THRESHOLD_STAGE_COMPARATORS * out_bits)


#: (thresholds 2^B - 1, `threshold_comparators(B)`) per output width B = 0..32, read by
#: the MVAU for every unit with a threshold activation (a tuple index instead of a call).
_THRESHOLDS = tuple((2**b - 1, threshold_comparators(b)) for b in range(33))


def mvau_cycles(layer: ResolvedLayer) -> int:
    """Cycles per frame: (MH/PE) * (MW/SIMD) * (vectors/MMV) (FINN `get_exp_cycles`;
    Faraone thesis Eq. 4.1 with MMV); a `sparse` unit steps through non-zeros only
    (`costmodels.sparse.sparse_cycles`). See `mvau_timing`."""
    return mvau_timing(layer)[0]


def mvau_timing(layer: ResolvedLayer) -> tuple[int, int]:
    """(cycles per frame, fill cycles) of the MVAU, in one pass (the composer asks both of
    every new unit).

    Cycles per frame: (MH/PE) * (MW/SIMD) * (vectors/MMV) (FINN `get_exp_cycles`; Faraone
    thesis Eq. 4.1 with MMV); a `sparse` unit steps through non-zeros only
    (`costmodels.sparse.sparse_cycles`).

    Fill, the cycles from this unit's first input to its first output: for a conv, the
    input rows the sliding window needs before the first output pixel ((K-1) rows plus K
    pixels) at the unit's input rate, plus one output pixel's compute; a dense layer needs
    its whole input vector first, so its fill is its full cycle count."""
    spec = layer.spec
    c = spec.choice
    assert c is not None  # a compute layer (resolve refuses one without its choice)
    if c.arith is _SPARSE:
        cycles = sparse_cycles(layer)
    else:
        cycles = (layer.mh // c.pe) * (layer.mw // c.simd) * math.ceil(layer.num_vectors / c.mmv)
    in_shape = layer.in_shape
    if spec.op is _DENSE or len(in_shape) != 3:
        return cycles, cycles + MVAU_PIPELINE_DEPTH
    _, h, w = in_shape
    k = spec.kernel
    per_pixel = (layer.mh // c.pe) * (layer.mw // c.simd)
    rows_needed = (k - 1) * w + k
    if h * w < rows_needed:  # min(h * w, ...), without the builtin's call (dataflow.py)
        rows_needed = h * w
    return cycles, int(cycles * rows_needed / (h * w)) + per_pixel + MVAU_PIPELINE_DEPTH


Part = tuple[str, float, float, float, float, float]  # name, lut, ff, dsp, bram18, uram


#: What one lane and one PE's adder tree cost for a choice's arithmetic: (concrete
#: arithmetic, product bits, LUTs per lane, DSPs per lane, adder-tree LUTs per PE and MMV
#: lane, bits of the adder tree's output, stored bits per weight).
LaneFigures = tuple[Arith, int, float, float, float, int, int]


@functools.lru_cache(maxsize=8192)
def lane_figures(
    w_bits: int,
    w_type: WType | None,
    arith: Arith,
    impl: Impl,
    simd: int,
    in_bits: int,
    in_type: NumType | None,
    dsp_block: str,
) -> LaneFigures:
    """The arithmetic of a layer's lanes (`resolve_arith`, `product_bits`, `lane_luts`,
    `dsp_per_lane`, the adder tree or popcount per PE, `stored_weight_bits`) on exactly the
    choice fields they read (weights, arithmetic, backend, SIMD) and the input's bits and
    type: memoised on these small values, which repeat across the layers and designs of a
    search far more often than whole choices do. Raises `SpecError` (without a layer
    name; `mvau_parts` names it) for an arithmetic the weights or inputs cannot use."""
    c = LayerChoice(w_bits=w_bits, w_type=w_type, arith=arith, impl=impl, simd=simd)
    concrete = resolve_arith(c, in_bits, "", in_type)
    in_lq = in_type is _LQ_IN
    pbits = product_bits(c, concrete, in_bits, in_lq)
    # adder tree (in the DSP cascade for DSP lanes: PCIN/PCOUT, UG579 ch. 2)
    if concrete is _XNOR:
        tree_luts = popcount_luts(simd)
    elif concrete is _BITPLANE:
        tree_luts = bitplane_tree_luts(c, in_bits, simd, in_lq)
    elif concrete is _DSP:
        tree_luts = 0.0
    else:
        tree_luts = adder_tree_luts(simd, pbits)
    dsp = dsp_per_lane(w_bits, in_bits, dsp_block) if concrete is _DSP else 0.0
    tree_out = pbits + max(0, math.ceil(math.log2(simd)))
    return (
        concrete,
        pbits,
        lane_luts(c, concrete, in_bits),
        dsp,
        tree_luts,
        tree_out,
        stored_weight_bits(c, concrete),
    )


#: Five running sums: LUT, FF, DSP, BRAM18, URAM.
Sums = tuple[float, float, float, float, float]


def mvau_parts(layer: ResolvedLayer, device: Device) -> tuple[Part, ...]:
    """The MVAU's components as plain tuples (name, LUT, FF, DSP, BRAM18, URAM): base,
    multipliers, adder trees, accumulators, activation (thresholds) and weight memory
    (`mvau_sums` computes them)."""
    parts: list[Part] = []
    mvau_sums(layer, device, 0.0, 0.0, 0.0, 0.0, 0.0, parts)
    return tuple(parts)


def mvau_sums(
    layer: ResolvedLayer,
    device: Device,
    lut: float,
    ff: float,
    dsp: float,
    bram18: float,
    uram: float,
    parts: list[Part] | None = None,
) -> Sums:
    """The running sums `lut` ... `uram` plus the MVAU's components, added in their order
    (base, multipliers, adder trees, accumulators, activation, weight memory, then SYQ
    scales): the numbers `mvau_parts` lists, appended to `parts` when given. The composer
    asks for the sums alone (every new unit a search costs) without building the parts.

    The sums skip adding a component's literal 0.0 fields: a running sum that starts at
    +0.0 (or at a sum of parts from it) is never -0.0, so adding +0.0 changes no bit."""
    c = layer.spec.choice
    assert c is not None  # a compute layer (resolve refuses one without its choice)
    pe, simd, mmv = c.pe, c.simd, c.mmv
    a_in = layer.in_bits
    in_type = layer.in_type
    try:
        arith, pbits, lane_lut, lane_dsp, tree_luts, tree_out, wbits = lane_figures(
            c.w_bits, c.w_type, c.arith, c.impl, simd, a_in, in_type, device.dsp_block
        )
    except SpecError:
        resolve_arith(c, a_in, layer.name, in_type)  # the same error, naming the layer
        raise
    lanes = pe * simd * mmv
    in_lq = in_type is _LQ_IN
    acc = layer.acc_bits
    if arith is _TABLE or arith is _BITPLANE:  # products wider than w + a bits
        acc = max(acc, pbits + math.ceil(math.log2(max(2, layer.mw))))

    # multipliers
    m_dsp = 0.0
    table_lut = table_bram = 0.0
    if arith is _DSP:
        m_dsp = float(math.ceil(lanes * lane_dsp))
    elif arith is _TABLE:
        table_lut, table_bram = table_memory(c, a_in, lanes, in_lq)
    m_lut = lanes * lane_lut + table_lut
    m_ff = float(lanes * pbits)

    # adder tree and accumulator
    trees = pe * mmv
    tree = trees * tree_luts
    # DSP lanes accumulate in the DSP's P register (UG479/UG579 MAC mode)
    acc_luts = 0.0 if arith is _DSP else float(trees * acc)

    # activation: thresholds for few output bits (comparators and threshold memory per PE),
    # a fixed-point requantizer (round, shift, saturate) for more
    act_lut = act_ff = act_bram18 = act_uram = 0.0
    a_bits = c.a_bits
    # LQ-Nets codes are non-uniform: only thresholds (at the midpoints between levels)
    # produce them, at any width
    if a_bits is not None and (a_bits <= MAX_THRESHOLD_BITS or c.a_type is _LQ_IN):
        if 0 <= a_bits < len(_THRESHOLDS):
            n_thr, comps = _THRESHOLDS[a_bits]
        else:
            n_thr, comps = 2**a_bits - 1, threshold_comparators(a_bits)
        # `place_memory` of the thresholds, on the device's totals (memoised on ints)
        t_lut, t_bram18, t_uram = memory_blocks(
            n_thr * acc, layer.mh // pe, device.uram, device.bram18
        )
        act_lut = trees * comps * acc + t_lut * pe
        act_ff = float(trees * a_bits)
        act_bram18 = t_bram18 * pe
        act_uram = t_uram * pe
    elif a_bits is not None:
        act_lut = float(trees * (acc + 2 * a_bits))
        act_ff = float(trees * a_bits)

    lut = lut + MVAU_BASE_LUT + m_lut + tree + acc_luts + act_lut  # left to right
    ff = ff + MVAU_BASE_FF + m_ff + tree + acc_luts + act_ff
    dsp += m_dsp
    bram18 = bram18 + table_bram + act_bram18
    uram += act_uram
    if parts is not None:
        parts += (
            _BASE_PART,
            ("multipliers", m_lut, m_ff, m_dsp, table_bram, 0.0),
            ("adder_tree", tree, tree, 0.0, 0.0, 0.0),
            ("accumulator", acc_luts, acc_luts, 0.0, 0.0, 0.0),
            ("activation", act_lut, act_ff, 0.0, act_bram18, act_uram),
        )

    # SYQ row/pixel-wise scales: a scaling multiplier per PE on the sub-dot-product
    # (channel- and layer-wise scales, the usual case, have none: no call)
    scaling = c.scaling
    if scaling is _ROW or scaling is _PIXEL:
        syq = syq_parts(layer, tree_out, 0.0 if arith is _DSP else float(acc), device)
    else:
        syq = ()
    if arith is _SPARSE:
        # compressed weights, decompressors and input copies (costmodels.sparse)
        extra = (*sparse_memory_parts(layer, device), *syq)
    else:
        # weight memory: one memory per PE, SIMD weights wide (shared by the MMV lanes),
        # where ram_style puts it; none on chip for mem_mode external (FINN streams them in)
        depth = (layer.mw * layer.mh) // (pe * simd)
        if c.mem_mode is _EXTERNAL:
            w_lut = w_ff = w_bram18 = w_uram = 0.0
        elif c.ram_style is _AUTO_RAM:  # `place_memory`, on the device's totals
            b_lut, b_bram18, b_uram = memory_blocks(simd * wbits, depth, device.uram, device.bram18)
            w_lut, w_ff, w_bram18, w_uram = b_lut * pe, 0.0, b_bram18 * pe, b_uram * pe
        else:
            w = place_memory_as(simd * wbits, depth, device, c.ram_style)
            w_lut, w_ff, w_bram18, w_uram = w.lut * pe, w.ff * pe, w.bram18 * pe, w.uram * pe
        lut += w_lut
        ff += w_ff
        bram18 += w_bram18
        uram += w_uram
        if parts is not None:
            parts.append(("weights", w_lut, w_ff, 0.0, w_bram18, w_uram))
        extra = syq
    for _, a, b, d, e, f in extra:
        lut += a
        ff += b
        dsp += d
        bram18 += e
        uram += f
    if parts is not None:
        parts += extra
    return lut, ff, dsp, bram18, uram


def parts_total(parts: tuple[Part, ...]) -> Resources:
    """The sum of `parts` as one `Resources`."""
    lut = ff = dsp = bram18 = uram = 0.0
    for _, a, b, d, e, f in parts:
        lut += a
        ff += b
        dsp += d
        bram18 += e
        uram += f
    return new_resources(lut, ff, dsp, bram18, uram)


def parts_breakdown(parts: tuple[Part, ...]) -> tuple[tuple[str, Resources], ...]:
    """`parts` as (name, Resources) pairs, for `LayerCost.breakdown`."""
    return tuple((p[0], Resources(*p[1:])) for p in parts)


def mvau_cost(layer: ResolvedLayer, device: Device) -> LayerCost:
    """The dataflow MVAU of one conv/dense layer: LUT, FF, DSP, BRAM18/URAM, cycles
    (without a breakdown, for speed; see `mvau_breakdown`)."""
    cycles, fill = mvau_timing(layer)
    return LayerCost(layer.name, layer.op, parts_total(mvau_parts(layer, device)), cycles, fill)


def mvau_breakdown(layer: ResolvedLayer, device: Device) -> tuple[tuple[str, Resources], ...]:
    """The MVAU's cost per component (base, multipliers, adder_tree, accumulator,
    activation, weights)."""
    return parts_breakdown(mvau_parts(layer, device))
