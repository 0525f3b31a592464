"""Memoised shape resolution for the hot path of `estimate` (the search calls it thousands
of times per second with networks that differ in a few layers' choices).

Each non-`add` layer's resolution depends only on the layer, its input shape and its
input bits, so it is cached on exactly that key; the result is the same `ResolvedLayer`
that `costmodels.network.resolve` returns (it runs the same per-layer function). Any
problem falls back to `resolve` itself, which raises its canonical one-line error.
"""

from __future__ import annotations

import functools
import math
from math import ceil, gcd, log2

from costmodels.arith import dsp_per_lane, lane_luts, product_bits, stored_weight_bits
from costmodels.dataflow import STREAM_FIFO_DEPTH, shell_resources
from costmodels.errors import DseError
from costmodels.memory import fifo_cost, fifo_numbers, memory_blocks
from costmodels.mvau import (
    MAX_THRESHOLD_BITS,
    MVAU_BASE_FF,
    MVAU_BASE_LUT,
    MVAU_PIPELINE_DEPTH,
    THRESHOLD_STAGE_COMPARATORS,
    adder_tree_luts,
    popcount_luts,
)
from costmodels.network import MAX_BITS, _resolve_one, resolve
from costmodels.pool import add_cost, pool_cost
from costmodels.swu import SWU_BASE_FF, SWU_BASE_LUT
from costmodels.types import (
    Arith,
    Device,
    LayerChoice,
    LayerCost,
    LayerSpec,
    Network,
    NetworkCost,
    Op,
    ResolvedLayer,
    Resources,
    WType,
)
from costmodels.util import new_layer_cost, new_resources


@functools.lru_cache(maxsize=16384)
def _resolve_layer(layer: LayerSpec, shape: tuple[int, ...], bits: int) -> ResolvedLayer:
    return _resolve_one(layer, shape, bits, {}, True)


def resolve_cached(network: Network) -> tuple[ResolvedLayer, ...]:
    """`resolve(network)` with per-layer memoisation (identical results and errors)."""
    shape = tuple(network.input_shape)
    bits = network.input_bits
    if network.input_type is not None or any(
        la.choice is not None and not la.choice.is_default_impl for la in network.layers
    ):
        return resolve(network)  # data types flow between layers: the canonical way
    if (
        not network.layers
        or len(shape) not in (1, 3)
        or min(shape) < 1
        or not 1 <= bits <= MAX_BITS
    ):
        return resolve(network)  # raises the canonical error
    seen: dict[str, ResolvedLayer] = {}
    out: list[ResolvedLayer] = []
    for layer in network.layers:
        if layer.name in seen:
            return resolve(network)  # duplicate name: canonical error
        if layer.op is Op.ADD:
            rl = _resolve_one(layer, shape, bits, seen, True)
        else:
            rl = _resolve_layer(layer, shape, bits)
        seen[layer.name] = rl
        out.append(rl)
        shape, bits = rl.out_shape, rl.out_bits
    return tuple(out)


# --- the dataflow estimate without intermediate objects -----------------------------------

DeviceKey = tuple[str, int, int]  # dsp_block, URAM total, BRAM18 total
#: What a compute unit leaves for the next layer: its cost, output shape, output bits,
#: output lanes, and its cost again as plain numbers (LUT, FF, DSP, BRAM18, URAM, cycles,
#: fill cycles) for the caller's sums.
UnitResult = tuple[
    LayerCost, tuple[int, ...], int, int, float, float, float, float, float, int, int
]

_CONV, _DENSE, _ADD = Op.CONV, Op.DENSE, Op.ADD
_AUTO, _LUT, _DSP, _XNOR = Arith.AUTO, Arith.LUT, Arith.DSP, Arith.XNOR
_BIPOLAR, _TERNARY, _INT = WType.BIPOLAR, WType.TERNARY, WType.INT
_CANONICAL_ARITH = frozenset({Arith.TABLE, Arith.BITPLANE})
_WINDOW_1X1 = SWU_BASE_LUT / 3, SWU_BASE_FF / 3  # swu_resources' 1x1 pass-through


@functools.lru_cache(maxsize=16384)
def _lane_cost(
    w_bits: int, wtype: WType, arith: Arith, in_bits: int, simd: int, dsp_block: str
) -> tuple[float, float, int, float, int]:
    """(LUTs, DSPs, product bits, adder-tree LUTs over SIMD products, stored weight bits)
    of one multiplier lane and its PE's tree, for a concrete (never AUTO) arithmetic:
    `lane_luts`, `dsp_per_lane`, `product_bits`, `stored_weight_bits` of
    `costmodels.arith` and the tree choice of `costmodels.mvau.mvau_parts`."""
    choice = LayerChoice(w_bits=w_bits, w_type=wtype, arith=arith)
    dsp = dsp_per_lane(w_bits, in_bits, dsp_block) if arith is _DSP else 0.0
    pbits = product_bits(choice, arith, in_bits)
    if arith is _XNOR:
        tree = popcount_luts(simd)
    elif arith is _DSP:
        tree = 0.0
    else:
        tree = adder_tree_luts(simd, pbits)
    return lane_luts(choice, arith, in_bits), dsp, pbits, tree, stored_weight_bits(choice, arith)


def compute_unit_numbers(
    layer: LayerSpec, shape: tuple[int, ...], bits: int, lanes: int, dev: DeviceKey
) -> UnitResult | None:
    """One conv/dense unit of the dataflow template (resolution, sliding window, MVAU and
    input FIFO) computed from plain numbers: the same figures as `resolve` followed by
    `costmodels.dataflow.compute_unit_cost`, in the same order of floating-point sums, but
    with no intermediate `ResolvedLayer`/`Resources` (this is the search's hot path).

    Returns None for anything `resolve` or the MVAU would reject (the caller then runs the
    canonical path, which raises the canonical error). The formulas and their sources are
    those of `costmodels.network` (`_resolve_one`, `kept_channels`, `acc_bits`),
    `costmodels.swu`, `costmodels.mvau` and `costmodels.memory`;
    tests/costmodels/test_cm_speed_golden.py holds both paths equal.
    """
    ch = layer.choice
    if ch is None or not ch.is_default_impl:
        return None  # FINN attributes (ram_style, types, ...): the canonical path
    w_bits, a_bits, pe, simd, mmv = ch.w_bits, ch.a_bits, ch.pe, ch.simd, ch.mmv
    op, out, k, stride, pad = (
        layer.op,
        layer.out_channels,
        layer.kernel,
        layer.stride,
        layer.padding,
    )
    # network._check_bits and _resolve_one's structural checks
    if not (1 <= w_bits <= MAX_BITS and pe >= 1 and simd >= 1 and mmv >= 1 and out >= 1):
        return None
    if a_bits is not None and not 1 <= a_bits <= MAX_BITS:
        return None
    wtype = ch.w_type
    if ch.a_type is not None or wtype is WType.LQ or ch.arith in _CANONICAL_ARITH:
        return None  # LQ codes and the table/bit-plane arithmetics: canonical path only
    if wtype is None:
        wtype = _BIPOLAR if w_bits == 1 else _TERNARY if w_bits == 2 else _INT
    elif (
        (wtype is _BIPOLAR and w_bits != 1)
        or (wtype is _TERNARY and w_bits != 2)
        or (wtype is _INT and w_bits < 2)
    ):
        return None
    if k < 1 or (stride is not None and stride < 1) or pad < 0:
        return None
    prune = ch.prune

    # shapes (network._resolve_one, kept_channels, _finish_compute)
    if op is _CONV:
        if len(shape) != 3:
            return None
        c, h, w = shape
        g = layer.groups
        if g < 1 or c % g or out % g:
            return None
        s = stride or 1
        oh = (h + 2 * pad - k) // s + 1
        ow = (w + 2 * pad - k) // s + 1
        if oh < 1 or ow < 1:
            return None
        dw = g > 1 and g == c
        if dw:
            if out != c or prune or c % pe or (k * k) % simd:
                return None
            mh = c
            mw = k**2
        else:
            if out % pe or (c // g) % simd or not 0.0 <= prune < 1.0:
                return None
            mh = pe * round(out * (1.0 - prune) / pe)  # kept_channels
            mh = pe if pe >= mh else mh
            mh = out if out <= mh else mh
            mw = (c // g) * k * k
        if ow % mmv:
            return None
        nv = oh * ow
        out_shape: tuple[int, ...] = (mh, oh, ow)
    elif op is _DENSE:
        mw = math.prod(shape)
        if out % pe or mw % simd or mmv != 1 or not 0.0 <= prune < 1.0:
            return None
        mh = pe * round(out * (1.0 - prune) / pe)  # kept_channels
        mh = pe if pe >= mh else mh
        mh = out if out <= mh else mh
        nv = 1
        out_shape = (mh,)
    else:
        return None
    acc = bits + w_bits + ceil(log2(mw if mw > 2 else 2))  # acc_bits (fan-in >= 2: >= 1)

    # arithmetic (arith.resolve_arith)
    arith = ch.arith
    if arith is _AUTO:
        if wtype is _BIPOLAR and bits == 1:
            arith = _XNOR
        elif wtype is _BIPOLAR or wtype is _TERNARY:
            arith = _LUT
        else:
            arith = _LUT if w_bits + bits <= 8 else _DSP
    elif arith is _XNOR and not (wtype is _BIPOLAR and bits == 1):
        return None
    dsp_block, uram_total, bram18_total = dev
    lane_lut, lane_dsp, pbits, tree_luts, wbits = _lane_cost(
        w_bits, wtype, arith, bits, simd, dsp_block
    )

    # MVAU (mvau.mvau_parts): multipliers, adder trees, accumulators, activation, weights
    trees = pe * mmv
    n_lanes = trees * simd
    mult_lut = n_lanes * lane_lut
    mult_ff = float(n_lanes * pbits)
    tree = trees * tree_luts
    if arith is _DSP:
        dsp = float(ceil(n_lanes * lane_dsp))
        acc_luts = 0.0
    else:
        dsp = 0.0
        acc_luts = float(trees * acc)
    if a_bits is None:
        act_lut = act_ff = act_bram = act_uram = 0.0
    elif a_bits <= MAX_THRESHOLD_BITS:
        t_lut, t_bram, t_uram = memory_blocks(
            (2**a_bits - 1) * acc, mh // pe, uram_total, bram18_total
        )
        comps = 2**a_bits - 1  # threshold_comparators: min(2^B - 1, 4B)
        if comps > THRESHOLD_STAGE_COMPARATORS * a_bits:
            comps = THRESHOLD_STAGE_COMPARATORS * a_bits
        act_lut = trees * comps * acc + t_lut * pe
        act_ff = float(trees * a_bits)
        act_bram = t_bram * pe
        act_uram = t_uram * pe
    else:
        act_lut = float(trees * (acc + 2 * a_bits))
        act_ff = float(trees * a_bits)
        act_bram = act_uram = 0.0
    m_lut, m_bram, m_uram = memory_blocks(
        simd * wbits, (mw * mh) // (pe * simd), uram_total, bram18_total
    )
    f_lut, f_ff, f_bram, f_uram = fifo_numbers(
        lanes * bits, STREAM_FIFO_DEPTH, uram_total, bram18_total
    )
    per_pixel = (mh // pe) * (mw // simd)
    mv_cycles = per_pixel * ceil(nv / mmv)

    # sums in the order of dataflow._unit_parts (window, base, multipliers, adder tree,
    # accumulator, activation, weights, input FIFO); adding a part's 0.0 is exact
    if op is _CONV:
        # sliding window (swu.swu_resources, swu.swu_cycles) and fill (mvau_fill_cycles)
        words = gcd(c, pe) * simd if dw else simd
        if k == 1 and s == 1:
            win_lut, win_ff = _WINDOW_1X1
            win_bram = win_uram = 0.0
        else:
            width = words * bits * mmv
            b_lut, win_bram, win_uram = memory_blocks(
                width, ceil(k * (w + 2 * pad) * c / (words * mmv)), uram_total, bram18_total
            )
            win_lut = b_lut + width + SWU_BASE_LUT
            win_ff = 0.0 + width + SWU_BASE_FF
        hw = h * w
        reads = ceil(hw * c / words)
        writes = ceil(ceil(nv * k * k * (c if dw else c // g) / words) / mmv)
        cycles = reads if reads > writes else writes
        if mv_cycles > cycles:
            cycles = mv_cycles
        rows_needed = (k - 1) * w + k
        if hw < rows_needed:
            rows_needed = hw
        fill = int(mv_cycles * rows_needed / hw) + per_pixel + MVAU_PIPELINE_DEPTH
        if fill > cycles + 16:
            fill = cycles + 16
        lut = win_lut + MVAU_BASE_LUT + mult_lut + tree + acc_luts + act_lut + m_lut * pe + f_lut
        ff = win_ff + MVAU_BASE_FF + mult_ff + tree + acc_luts + act_ff + f_ff
        bram18 = win_bram + act_bram + m_bram * pe + f_bram
        uram = win_uram + act_uram + m_uram * pe + f_uram
        out_lanes = pe * mmv
    else:
        cycles = mv_cycles
        fill = mv_cycles + MVAU_PIPELINE_DEPTH  # below cycles + 16
        lut = MVAU_BASE_LUT + mult_lut + tree + acc_luts + act_lut + m_lut * pe + f_lut
        ff = MVAU_BASE_FF + mult_ff + tree + acc_luts + act_ff + f_ff
        bram18 = 0.0 + act_bram + m_bram * pe + f_bram
        uram = 0.0 + act_uram + m_uram * pe + f_uram
        out_lanes = pe
    dsp = 0.0 + dsp
    res = new_resources(lut, ff, dsp, bram18, uram)
    return (
        new_layer_cost(layer.name, op, res, cycles, fill),
        out_shape,
        a_bits if a_bits is not None else acc,
        out_lanes,
        lut,
        ff,
        dsp,
        bram18,
        uram,
        cycles,
        fill,
    )


#: The last unit computed per (network name, layer name), with everything it depends on
#: (see `estimate_dataflow_fast`). One entry per layer name: bounded by the networks in
#: use, and emptied past `RECENT_UNITS_MAX` entries.
_RECENT_UNITS: dict[
    tuple[str, str], tuple[LayerSpec, tuple[int, ...], int, int, DeviceKey, UnitResult]
] = {}
RECENT_UNITS_MAX = 4096


def clear_recent_units() -> None:
    """Forget the remembered units (for benchmarks that time the uncached path)."""
    _RECENT_UNITS.clear()


def estimate_dataflow_fast(
    network: Network, device: Device, clock_mhz: float
) -> NetworkCost | None:
    """`estimate_dataflow(network.name, resolve(network), ...)` (no breakdown), computed unit
    by unit from plain numbers (`compute_unit_numbers`).

    Each unit's result is remembered per (network name, layer name) with everything it
    depends on (layer, input shape, input bits, input lanes, device) and reused while
    those are equal, so that a search's next design pays only for the units that changed.
    Only the last unit per layer is kept: an LRU memo of every unit ever seen measured
    slower on new designs and on local moves alike (benchmarks/costmodel_speed.py,
    docs/costmodels.md).
    Returns None when the network needs the canonical path (any error, so that the
    canonical path raises its canonical message)."""
    shape = tuple(network.input_shape)
    bits = network.input_bits
    layers = network.layers
    if network.input_type is not None:
        return None
    if not layers or len(shape) not in (1, 3) or min(shape) < 1 or not 1 <= bits <= MAX_BITS:
        return None
    first = next((la for la in layers if la.op is _CONV or la.op is _DENSE), None)
    lanes = 1
    if first is not None:
        if first.choice is None:
            return None
        lanes = first.choice.simd
    dev: DeviceKey = (device.dsp_block, device.uram, device.bram18)
    recent = _RECENT_UNITS
    if len(recent) > RECENT_UNITS_MAX:
        recent.clear()
    net_name = network.name
    costs: list[LayerCost] = []
    seen: dict[str, tuple[tuple[int, ...], int, int, int]] = {}  # shape, bits, fill, lanes
    fill = ii = slack = 0
    lut = ff = dsp = bram18 = uram = 0.0
    for layer in layers:
        name = layer.name
        if name in seen:
            return None
        op = layer.op
        if op is _CONV or op is _DENSE:
            key = (net_name, name)
            last = recent.get(key)
            if (
                last is not None
                and (last[0] is layer or (last[0].choice == layer.choice and last[0] == layer))
                and last[1] == shape
                and last[2] == bits
                and last[3] == lanes
                and last[4] == dev
            ):
                unit = last[5]
            else:
                new = compute_unit_numbers(layer, shape, bits, lanes, dev)
                if new is None:
                    return None
                recent[key] = (layer, shape, bits, lanes, dev, new)
                unit = new
            cost, shape, bits, lanes, r_lut, r_ff, r_dsp, r_bram18, r_uram, cycles, lat = unit
        else:
            if op is _ADD:
                src = layer.source
                other = seen.get(src) if src else None
                if (
                    other is None
                    or other[0] != shape
                    or len(shape) != 3  # add_cost would fail: the canonical path decides
                    or layer.kernel < 1
                    or (layer.stride is not None and layer.stride < 1)
                    or layer.padding < 0
                ):
                    return None
                rl = ResolvedLayer(
                    spec=layer,
                    in_shape=shape,
                    out_shape=shape,
                    in_bits=bits,
                    out_bits=min(max(bits, other[1]) + 1, 32),
                )
                width = max(1, gcd(shape[0], other[3])) * bits
                depth = max(STREAM_FIFO_DEPTH, fill - other[2])
                cost = add_cost(rl, device, lanes, fifo_cost(width, depth, device))
            else:
                try:
                    rl = _resolve_layer(layer, shape, bits)
                except DseError:
                    return None
                cost = pool_cost(rl, device, lanes)
            shape, bits = rl.out_shape, rl.out_bits
            lanes = max(1, gcd(shape[0], lanes))
            r = cost.resources
            r_lut, r_ff, r_dsp, r_bram18, r_uram = r.lut, r.ff, r.dsp, r.bram18, r.uram
            cycles, lat = cost.cycles, cost.latency_cycles
        costs.append(cost)
        lut += r_lut
        ff += r_ff
        dsp += r_dsp
        bram18 += r_bram18
        uram += r_uram
        fill += lat
        if cycles > ii:
            ii = cycles
        if cycles - lat > slack:
            slack = cycles - lat
        seen[name] = (shape, bits, fill, lanes)
    # totals: the units then the shell, as util.sum_resources adds them
    shell = shell_resources(device)
    latency = fill + slack
    return NetworkCost(
        network=network.name,
        device=device,
        clock_mhz=clock_mhz,
        layers=tuple(costs),
        shell=shell,
        total=Resources(
            lut + shell.lut,
            ff + shell.ff,
            dsp + shell.dsp,
            bram18 + shell.bram18,
            uram + shell.uram,
        ),
        cycles_per_frame=ii,
        latency_cycles=latency if latency > ii else ii,
    )
