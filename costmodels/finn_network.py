"""A resolved dse network as the FINN nodes a FINN build would make of it, costed per
node with a calibration profile (`costmodels.finn_units`).

Per layer (what FINN's streamlining and `InsertFIFO`/`InsertDWC` produce):

- conv: `FMPadding` when padded, `ConvolutionInputGenerator` unless 1x1 stride 1, the
  `MVAU` (`VVAU` when depthwise) with its thresholds fused (reported inside it), its
  input `StreamingFIFO` (depth 32, FINN's default before FIFO sizing) and a
  `StreamingDataWidthConverter` when the producer's stream is not SIMD values wide;
- dense: `MVAU`, input FIFO, width converter as above;
- maxpool: `StreamingMaxPool`; avgpool: `ConvolutionInputGenerator` + `Pool`;
- add / concat: `AddStreams` / `StreamingConcat` and a `StreamingFIFO` per input that
  waits for the latest (as deep as the fill difference, like the dataflow model);
- a layer whose output feeds several layers: a `DuplicateStreams` charged to it.

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
    MAX_QSRL_DEPTH,
    DwcNode,
    FifoNode,
    FmPadNode,
    MvauNode,
    Node,
    StreamNode,
    SwuNode,
    unit_resources,
)
from costmodels.network import INPUT, layer_inputs, resolve
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


def layer_nodes(
    rl: ResolvedLayer,
    in_lanes: int,
    branches: tuple[tuple[int, int, int], ...] = (),
    duplicate: tuple[int, int, int] | None = None,
) -> tuple[Node, ...]:
    """The FINN nodes of one resolved layer whose input stream carries `in_lanes` values
    per word. `branches`: for an add or concat, (lanes, channels, FIFO depth) of every
    input that must wait for the latest one (depth 0: none). `duplicate`: (lanes, outputs)
    when this layer's output stream feeds several layers (a `DuplicateStreams` charged to
    it, as the dataflow composer does)."""
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
    elif rl.op is Op.MAXPOOL:
        lanes = max(1, math.gcd(rl.in_channels, in_lanes))
        buf = math.ceil(rl.out_shape[2] * rl.in_channels / lanes)
        nodes.append(StreamNode("StreamingMaxPool", lanes, bits, buf, rl.spec.kernel))
    elif rl.op is Op.AVGPOOL:
        lanes = max(1, math.gcd(rl.in_channels, in_lanes))
        cin, h, w = rl.in_shape
        _, oh, ow = rl.out_shape
        k, s = rl.spec.kernel, rl.spec.stride or rl.spec.kernel
        nodes.append(SwuNode(cin, (h, w), (oh, ow), k, s, lanes, bits))
        nodes.append(StreamNode("Pool", lanes, bits, 0, k))
    else:  # add / concat: the joining unit and a FIFO per waiting branch
        lanes = max(1, math.gcd(rl.out_channels, in_lanes))
        op = "AddStreams" if rl.op is Op.ADD else "StreamingConcat"
        nodes.append(StreamNode(op, lanes, rl.out_bits))
        for b_lanes, b_channels, depth in branches:
            if depth > 0:
                width = max(1, math.gcd(b_channels, b_lanes)) * bits
                depth = max(STREAM_FIFO_DEPTH, depth)
                style = "vivado" if depth > MAX_QSRL_DEPTH else "rtl"
                nodes.append(FifoNode(width, depth, style))
    if duplicate is not None:
        d_lanes, outputs, d_bits = duplicate
        # one register and handshake per output bit of every copy
        nodes.append(StreamNode("DuplicateStreams", d_lanes * outputs, d_bits))
    return tuple(nodes)


Unit = tuple[str, Resources]


@functools.lru_cache(maxsize=4096)
def layer_units(
    rl: ResolvedLayer,
    in_lanes: int,
    branches: tuple[tuple[int, int, int], ...],
    duplicate: tuple[int, int, int] | None,
    profile: Profile,
) -> tuple[Unit, ...]:
    """(FINN op, resources) per node of one layer (memoised: the search re-scores layers)."""
    coef = profile.coefficients
    return tuple(
        (n.finn_op, unit_resources(n, coef)) for n in layer_nodes(rl, in_lanes, branches, duplicate)
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
    units under `profile`; each layer's breakdown lists its units by FINN op name. The
    graph walk follows `costmodels.dataflow._compose`: a unit reads its first input's
    stream, an add/concat's earlier inputs wait in FIFOs as deep as the fill difference,
    a stream read by k > 1 layers gets a `DuplicateStreams` charged to its producer (the
    network input's to the first layer)."""
    base = estimate_dataflow(network, device, clock_mhz)
    layers = resolve(network)
    inputs = layer_inputs(network.layers)
    readers: dict[str, int] = {}
    for ins in inputs:
        for name in ins:
            readers[name] = readers.get(name, 0) + 1
    first = next((rl for rl in layers if rl.op.is_compute), None)
    lanes_at = {INPUT: first.choice.simd if first is not None else 1}
    channels_at = {INPUT: network.input_shape[0]}
    fill_at = {INPUT: 0}
    costs: list[LayerCost] = []
    for i, (rl, lc, ins) in enumerate(zip(layers, base.layers, inputs, strict=True)):
        start = max(fill_at[n] for n in ins)
        in_lanes = lanes_at[ins[0]]
        branches: tuple[tuple[int, int, int], ...] = ()
        if rl.op in (Op.ADD, Op.CONCAT):
            latest = max(ins, key=lambda n: fill_at[n])
            in_lanes = lanes_at[latest]
            branches = tuple(
                (lanes_at[n], channels_at[n], start - fill_at[n]) for n in ins if n != latest
            )
        duplicate = None
        if readers.get(rl.name, 0) > 1:
            duplicate = (_out_lanes(rl, in_lanes), readers[rl.name], rl.out_bits)
        elif i == 0 and readers.get(INPUT, 0) > 1:
            duplicate = (lanes_at[INPUT], readers[INPUT], network.input_bits)
        units = layer_units(rl, in_lanes, branches, duplicate, profile)
        res = sum_resources(r for _, r in units)
        costs.append(replace(lc, resources=res, breakdown=units))
        fill_at[rl.name] = start + lc.latency_cycles
        lanes_at[rl.name] = _out_lanes(rl, in_lanes)
        channels_at[rl.name] = rl.out_channels
    total = sum_resources([*(c.resources for c in costs), base.shell])
    return replace(base, layers=tuple(costs), total=total)
