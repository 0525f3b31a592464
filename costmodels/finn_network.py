"""A resolved dse network as the FINN nodes a FINN build would make of it, costed per
node with a calibration profile (`costmodels.finn_units`).

Per layer (what FINN's streamlining and `InsertFIFO`/`InsertDWC` produce):

- conv: `FMPadding` when padded, `ConvolutionInputGenerator` unless 1x1 stride 1, the
  `MVAU` (`VVAU` when depthwise) with its thresholds fused (reported inside it), its
  input `StreamingFIFO` (depth 32, FINN's default before FIFO sizing) and a
  `StreamingDataWidthConverter` when the producer's stream is not SIMD values wide;
- dense: `MVAU`, input FIFO, width converter as above;
- maxpool: `StreamingMaxPool`; avgpool: `ConvolutionInputGenerator` + `Pool`;
- add: `AddStreams`, the `DuplicateStreams` that forks the skip branch and the skip
  branch's `StreamingFIFO` (as deep as the main branch's fill, like the dataflow model).

Cycles and latency are the dataflow model's; only the resources come from the units.
The shell is the dataflow model's (not part of any FINN node).
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace

from costmodels.arith import resolve_arith
from costmodels.calibration.profile import Profile
from costmodels.dataflow import STREAM_FIFO_DEPTH, estimate_dataflow
from costmodels.finn_units import (
    DwcNode,
    FifoNode,
    FmPadNode,
    MvauNode,
    Node,
    StreamNode,
    SwuNode,
    unit_resources,
)
from costmodels.network import resolve
from costmodels.types import (
    Arith,
    Device,
    LayerCost,
    MemMode,
    Network,
    NetworkCost,
    NumType,
    Op,
    ResolvedLayer,
    Resources,
)
from costmodels.util import sum_resources


def finn_acc_bits(mw: int, w_bits: int, in_bits: int, signed_in: bool) -> int:
    """FINN's minimised accumulator (arXiv:2301.13376 bound, as `costmodels.finn`):
    ceil(alpha + log2(1 + 2^-alpha) + 1), alpha = log2(MW) + W + A - 1 - signed(input)."""
    alpha = math.log2(max(mw, 1)) + w_bits + in_bits - 1 - int(signed_in)
    return max(2, math.ceil(alpha + math.log2(1 + 2.0**-alpha) + 1))


def mvau_node(rl: ResolvedLayer) -> MvauNode:
    """The FINN MVAU/VVAU of a conv/dense layer (resType from the resolved arithmetic:
    dsp for DSP lanes, lut otherwise; binaryXnorMode for XNOR)."""
    c = rl.choice
    arith = resolve_arith(c, rl.in_bits, rl.name, rl.in_type)
    signed_in = rl.input_type in (NumType.SIGNED, NumType.BIPOLAR)  # LQ codes are >= 0
    return MvauNode(
        mw=rl.mw,
        mh=rl.mh,
        pe=c.pe,
        simd=c.simd,
        w_bits=c.w_bits,
        in_bits=rl.in_bits,
        out_bits=c.a_bits or 0,
        acc_bits=finn_acc_bits(rl.mw, c.w_bits, rl.in_bits, signed_in),
        xnor=arith is Arith.XNOR,
        res_type="dsp" if arith is Arith.DSP else "lut",
        ram_style=c.ram_style.value,
        mem_mode=(c.mem_mode or MemMode.INTERNAL_DECOUPLED).value,
        impl="rtl" if c.impl.value == "rtl" else "hls",
        mmv=c.mmv if rl.op is Op.CONV else 1,
        depthwise=rl.is_depthwise,
    )


def layer_nodes(rl: ResolvedLayer, in_lanes: int, skip_depth: int = 0) -> tuple[Node, ...]:
    """The FINN nodes of one resolved layer whose input stream carries `in_lanes` values
    per word (`skip_depth`: the skip FIFO's depth for an add)."""
    bits = rl.in_bits
    nodes: list[Node] = []
    if rl.op.is_compute:
        c = rl.choice
        words = c.simd
        if rl.op is Op.CONV:
            cin, h, w = rl.in_shape
            k, s, p = rl.spec.kernel, rl.spec.stride or 1, rl.spec.padding
            _, oh, ow = rl.out_shape
            if rl.is_depthwise:
                words = math.gcd(cin, c.pe) * c.simd
            if p:
                nodes.append(FmPadNode(cin, (h, w), 2 * p, math.gcd(cin, words), bits))
            if not (k == 1 and s == 1):
                nodes.append(
                    SwuNode(
                        cin,
                        (h + 2 * p, w + 2 * p),
                        (oh, ow),
                        k,
                        s,
                        math.gcd(cin, words),
                        bits,
                        depthwise=rl.is_depthwise,
                        mmv=c.mmv,
                    )
                )
        nodes.append(mvau_node(rl))
        nodes.append(FifoNode(in_lanes * bits, STREAM_FIFO_DEPTH))
        if in_lanes != words:
            nodes.append(DwcNode(in_lanes * bits, words * bits))
        return tuple(nodes)
    lanes = max(1, math.gcd(rl.in_channels, in_lanes))
    if rl.op is Op.MAXPOOL:
        ow = rl.out_shape[2]
        buf = math.ceil(ow * rl.in_channels / lanes)
        return (StreamNode("StreamingMaxPool", lanes, bits, buf, rl.spec.kernel),)
    if rl.op is Op.AVGPOOL:
        cin, h, w = rl.in_shape
        _, oh, ow = rl.out_shape
        k, s = rl.spec.kernel, rl.spec.stride or rl.spec.kernel
        swu = SwuNode(cin, (h, w), (oh, ow), k, s, lanes, bits)
        return (swu, StreamNode("Pool", lanes, bits, 0, k))
    # add: the two branches meet; the skip branch waits in its FIFO
    depth = max(STREAM_FIFO_DEPTH, skip_depth)
    return (
        StreamNode("AddStreams", lanes, rl.out_bits),
        StreamNode("DuplicateStreams", lanes, bits),
        FifoNode(lanes * bits, depth),
    )


Unit = tuple[str, Resources]


@functools.lru_cache(maxsize=4096)
def layer_units(
    rl: ResolvedLayer, in_lanes: int, skip_depth: int, profile: Profile
) -> tuple[Unit, ...]:
    """(FINN op, resources) per node of one layer (memoised: the search re-scores layers)."""
    coef = profile.coefficients
    return tuple(
        (n.finn_op, unit_resources(n, coef)) for n in layer_nodes(rl, in_lanes, skip_depth)
    )


def _out_lanes(rl: ResolvedLayer, in_lanes: int) -> int:
    if rl.op.is_compute:
        c = rl.choice
        return c.pe * (c.mmv if rl.op is Op.CONV else 1)
    return max(1, math.gcd(rl.out_channels, in_lanes))


@functools.lru_cache(maxsize=256)
def estimate_calibrated(
    network: Network, device: Device, clock_mhz: float, profile: Profile
) -> NetworkCost:
    """The dataflow estimate with every layer's resources replaced by the sum of its FINN
    units under `profile`; each layer's breakdown lists its units by FINN op name."""
    base = estimate_dataflow(network, device, clock_mhz)
    layers = resolve(network)
    first = next((rl for rl in layers if rl.op.is_compute), None)
    lanes = first.choice.simd if first is not None else 1
    fill = 0
    fill_at: dict[str, int] = {}
    costs: list[LayerCost] = []
    for rl, lc in zip(layers, base.layers, strict=True):
        skip = fill - fill_at.get(rl.spec.source or "", 0) if rl.op is Op.ADD else 0
        units = layer_units(rl, lanes, skip, profile)
        res = sum_resources(r for _, r in units)
        costs.append(replace(lc, resources=res, breakdown=units))
        fill += lc.latency_cycles
        fill_at[rl.name] = fill
        lanes = _out_lanes(rl, lanes)
    total = sum_resources([*(c.resources for c in costs), base.shell])
    return replace(base, layers=tuple(costs), total=total)
