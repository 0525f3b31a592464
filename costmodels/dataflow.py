"""The streaming dataflow template (FINN, Faraone thesis ch. 4, ELB-NN): one hardware unit
per layer, all running concurrently on a stream; FIFOs between units; a fixed shell.

Throughput = clock / the slowest unit's cycles per frame; latency = the units' pipeline
fill plus what remains of the bottleneck's frame time (FINN's convention of summing
unit cycles for layers that need their whole input, like dense layers).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from costmodels.errors import DseError, SpecError
from costmodels.memory import fifo_cost, fifo_numbers
from costmodels.mvau import (
    Part,
    mvau_parts,
    mvau_sums,
    mvau_timing,
    parts_breakdown,
)
from costmodels.network import (
    INPUT,
    Value,
    _resolve_one,
    check_all_read,
    check_input,
    check_reads,
    layer_inputs,
    resolve,
    resolve_joint,
    resolve_layer,
)
from costmodels.pool import add_cost, pool_cost
from costmodels.streams import concat_cost, duplicate_cycles, duplicate_resources
from costmodels.swu import swu_numbers
from costmodels.types import (
    Device,
    LayerCost,
    LayerSpec,
    Network,
    NetworkCost,
    NumType,
    Op,
    ResolvedLayer,
    Resources,
)
from costmodels.util import new_layer_cost, new_resources

#: Depth of the FIFO between two units: FINN's default shallow FIFOs (InsertFIFO; depth
#: 32 before FIFO sizing), one SRLC32E deep.
STREAM_FIFO_DEPTH = 32
_CONV = Op.CONV  # hot-path constant (see costmodels.types)


def shell_resources(device: Device) -> Resources:
    """The infrastructure around the accelerator, per device family.

    - Zynq-7000 / Zynq UltraScale+ (PYNQ-style shell: PS, AXI DMA or FINN IODMA, AXI
      interconnect): 4,000 LUT, 5,000 FF, 4 BRAM18. ASSUMPTION: no seed row isolates the
      shell; the order of magnitude of a Xilinx AXI DMA plus SmartConnect (PG021, PG247
      resource tables: a few thousand LUTs).
    - Kintex UltraScale PCIe card (Faraone thesis Table 6.6: "PCIe uses 48 DSP + 100
      BRAM"): 48 DSP, 200 BRAM18, and 15,000 LUT (ASSUMPTION; Table 6.6's smallest design,
      a whole 8-bit DSP layer, totals 36.2k LUT, which bounds it).
    - Alveo (XDMA shell): 48 DSP, 200 BRAM18, 15,000 LUT as for the PCIe card
      (ASSUMPTION; the static region itself is excluded from the user-visible totals).
    """
    family = device.family.lower()
    if "zynq" in family or device.family == "user":
        return Resources(lut=4000.0, ff=5000.0, bram18=4.0)
    return Resources(lut=15000.0, ff=20000.0, dsp=48.0, bram18=200.0)


def _unit_parts(
    layer: ResolvedLayer, device: Device, in_lanes: int
) -> tuple[int, tuple[Part, ...]]:
    """(the window's cycles, 0 for a dense layer; the unit's parts)."""
    f_lut, f_ff, f_bram18, f_uram = fifo_numbers(
        in_lanes * layer.in_bits, STREAM_FIFO_DEPTH, device.uram, device.bram18
    )
    mvau = mvau_parts(layer, device)
    fifo: Part = ("fifo_in", f_lut, f_ff, 0.0, f_bram18, f_uram)
    if layer.spec.op is _CONV:
        cycles, w_lut, w_ff, w_bram18, w_uram = swu_numbers(layer, device.uram, device.bram18)
        return cycles, (("window", w_lut, w_ff, 0.0, w_bram18, w_uram), *mvau, fifo)
    return 0, (*mvau, fifo)


def compute_unit_cost(layer: ResolvedLayer, device: Device, in_lanes: int) -> tuple[LayerCost, int]:
    """A conv layer's sliding window + MVAU, or a dense layer's MVAU, with its input FIFO
    (`in_lanes` values of the input width per word): (cost without a breakdown, output
    lanes PE x MMV; PE for a dense layer).

    The totals add the numbers `_unit_parts` lists for the breakdown (`swu_numbers`,
    `mvau_parts`, `fifo_numbers`) in its order (window, MVAU parts, FIFO), without
    building that list (`mvau_sums` adds the MVAU's parts without building them): this
    runs for every new unit a search costs."""
    spec = layer.spec
    c = spec.choice
    assert c is not None  # a compute layer (resolve refuses one without its choice)
    uram_total, bram18_total = device.uram, device.bram18
    mv_cycles, mv_fill = mvau_timing(layer)
    if spec.op is _CONV:
        window_cycles, w_lut, w_ff, w_bram18, w_uram = swu_numbers(layer, uram_total, bram18_total)
        # 0.0 + x: the first addition of `parts_total`'s loop (same bits for -0.0)
        lut, ff, dsp, bram18, uram = 0.0 + w_lut, 0.0 + w_ff, 0.0, 0.0 + w_bram18, 0.0 + w_uram
        out_lanes = c.pe * c.mmv
    else:
        window_cycles = 0
        lut = ff = dsp = bram18 = uram = 0.0
        out_lanes = c.pe
    lut, ff, dsp, bram18, uram = mvau_sums(layer, device, lut, ff, dsp, bram18, uram)
    f_lut, f_ff, f_bram18, f_uram = fifo_numbers(
        in_lanes * layer.in_bits, STREAM_FIFO_DEPTH, uram_total, bram18_total
    )
    # max/min as conditionals: CPython 3.11's builtin min/max parse keywords on every
    # call, about 4% of a cold estimate's instructions (callgrind)
    cycles = mv_cycles if mv_cycles >= window_cycles else window_cycles
    fill = mv_fill if mv_fill <= cycles + 16 else cycles + 16
    return (
        new_layer_cost(
            spec.name,
            spec.op,
            new_resources(lut + f_lut, ff + f_ff, dsp + 0.0, bram18 + f_bram18, uram + f_uram),
            cycles,
            fill,
        ),
        out_lanes,
    )


def compute_unit_breakdown(
    layer: ResolvedLayer, device: Device, in_lanes: int
) -> tuple[tuple[str, Resources], ...]:
    """Per-component cost of a compute unit (window, MVAU parts, input FIFO)."""
    return parts_breakdown(_unit_parts(layer, device, in_lanes)[1])


@dataclass
class Stream:
    """What the composer knows when it reaches a unit: the values per word of the stream
    entering it (`lanes`), the pipeline fill when its latest input arrives (`fill`), the
    layers it reads (`inputs`), and per earlier unit its fill and output lanes and
    channels (an `add` or `concat` sizes the FIFOs of its earlier inputs from them)."""

    lanes: int
    fill: int = 0
    inputs: tuple[str, ...] = ()
    fill_at: dict[str, int] = field(default_factory=dict)
    lanes_at: dict[str, int] = field(default_factory=dict)
    channels_at: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class UnitKind:
    """The dataflow unit of one layer kind: `cost(rl, device, lanes)` -> (cost, output
    lanes) for a unit that depends only on its layer and input stream (memoised per unit),
    or `streamed(rl, device, lanes, stream)` for one that depends on the stream before it
    (a residual `add`'s skip FIFO); `breakdown` lists a unit's components for reports."""

    cost: Callable[[ResolvedLayer, Device, int], tuple[LayerCost, int]] | None = None
    breakdown: Callable[[ResolvedLayer, Device, int], tuple[tuple[str, Resources], ...]] | None = (
        None
    )
    streamed: Callable[[ResolvedLayer, Device, int, Stream], tuple[LayerCost, int]] | None = None


UNIT_KINDS: dict[Op, UnitKind] = {}


def register_unit(op: Op, kind: UnitKind) -> None:
    """Register the dataflow unit of a layer kind (a new kind: one unit module and one
    call here). Refuses a second registration for the same kind."""
    if op in UNIT_KINDS:
        raise ValueError(f"a dataflow unit for {op.value!r} is already registered")
    if (kind.cost is None) == (kind.streamed is None):
        raise ValueError(f"the {op.value!r} unit needs exactly one of cost and streamed")
    UNIT_KINDS[op] = kind


def unit_kind(rl: ResolvedLayer) -> UnitKind:
    """The registered unit of `rl`'s kind; `SpecError` naming the layer and kind when there
    is none (never a silent fallback to another kind's formulas)."""
    kind = UNIT_KINDS.get(rl.op)
    if kind is None:
        raise SpecError(
            f"layer {rl.name!r}: no dataflow estimator for op {rl.op.value!r} "
            f"(estimators exist for {', '.join(o.value for o in UNIT_KINDS)})"
        )
    return kind


def _pool_unit(rl: ResolvedLayer, device: Device, lanes: int) -> tuple[LayerCost, int]:
    return pool_cost(rl, device, lanes), max(1, math.gcd(rl.out_channels, lanes))


def _add_unit(
    rl: ResolvedLayer, device: Device, lanes: int, stream: Stream
) -> tuple[LayerCost, int]:
    """The later input streams straight in; the skip FIFO holds the earlier one for the
    fill of the branch in between."""
    late, early = sorted(stream.inputs, key=lambda n: stream.fill_at.get(n, 0), reverse=True)
    lanes = stream.lanes_at.get(late, lanes)
    branch_fill = stream.fill_at.get(late, 0) - stream.fill_at.get(early, 0)
    src_lanes = stream.lanes_at.get(early, lanes)
    width = max(1, math.gcd(rl.out_channels, src_lanes)) * rl.in_bits
    depth = max(STREAM_FIFO_DEPTH, branch_fill)
    cost = add_cost(rl, device, lanes, fifo_cost(width, depth, device))
    return cost, max(1, math.gcd(rl.out_channels, lanes))


def _concat_unit(
    rl: ResolvedLayer, device: Device, lanes: int, stream: Stream
) -> tuple[LayerCost, int]:
    """`StreamingConcat` (costmodels.streams): words of gcd(input lanes, channels) values;
    each input that arrives before the latest waits in a FIFO as deep as the difference."""
    channels = tuple(stream.channels_at[n] for n in stream.inputs)
    lanes = functools.reduce(
        math.gcd, (*(stream.lanes_at.get(n, 1) for n in stream.inputs), *channels)
    )
    lanes = max(1, lanes)
    fifos = Resources()
    for name, c in zip(stream.inputs, channels, strict=True):
        depth = stream.fill - stream.fill_at.get(name, 0)
        if depth > 0:
            width = max(1, math.gcd(c, stream.lanes_at.get(name, 1))) * rl.in_bits
            fifos = fifos + fifo_cost(width, max(STREAM_FIFO_DEPTH, depth), device)
    return concat_cost(rl, device, channels, lanes, fifos), lanes


register_unit(Op.CONV, UnitKind(compute_unit_cost, compute_unit_breakdown))
register_unit(Op.DENSE, UnitKind(compute_unit_cost, compute_unit_breakdown))
register_unit(Op.MAXPOOL, UnitKind(_pool_unit))
register_unit(Op.AVGPOOL, UnitKind(_pool_unit))
register_unit(Op.ADD, UnitKind(streamed=_add_unit))
register_unit(Op.CONCAT, UnitKind(streamed=_concat_unit))


@functools.lru_cache(maxsize=4096)
def unit(
    layer: LayerSpec,
    shape: tuple[int, ...],
    bits: int,
    dtype: NumType | None,
    lanes: int,
    device: Device,
) -> tuple[tuple[int, ...], int, NumType | None, LayerCost, int]:
    """One unit resolved and costed on an input stream of `shape`, `bits`, number type and
    `lanes` values per word: (output shape, bits and number type, cost, output lanes).
    Memoised on exactly these, so a search's next design pays only for the units that
    changed (its other layers are equal values: one lookup each). The entry keeps the
    resolved layer's output only (one object fewer per memoised unit for the garbage
    collector); `resolve_layer` gives the layer itself."""
    rl = _resolve_one(layer, shape, bits, {}, True, dtype)
    kind = UNIT_KINDS.get(layer.op) or unit_kind(rl)  # unit_kind: the error without one
    est = kind.cost
    assert est is not None  # only add/concat are streamed, and they are never memoised
    cost, out_lanes = est(rl, device, lanes)
    return rl.out_shape, rl.out_bits, rl.out_type, cost, out_lanes


def estimate_dataflow(
    network: Network, device: Device, clock_mhz: float, detail: bool = False
) -> NetworkCost:
    """The dataflow accelerator of `network` on `device` at `clock_mhz`: the one composer
    of the unit estimators (`UNIT_KINDS`), each unit memoised (`unit`). `detail` fills
    each compute unit's per-component breakdown (for reports).

    Throughput = clock / the slowest unit's cycles per frame; latency = the units'
    pipeline fill plus what remains of the bottleneck's frame time. Errors are those of
    `resolve` (checked first when anything fails, so a network with several problems
    reports the one `resolve` finds).

    The same design again is one lookup (`network_cost`); a network that cannot be hashed
    (a list where a tuple belongs) is composed without it."""
    try:
        hash(network)
    except TypeError:
        return _compose_checked(network, device, clock_mhz, detail)
    return network_cost(network, device, clock_mhz, detail, len(UNIT_KINDS))


@functools.lru_cache(maxsize=256)
def network_cost(
    network: Network, device: Device, clock_mhz: float, detail: bool, kinds: int
) -> NetworkCost:
    """`estimate_dataflow`'s result, memoised on everything it depends on: the design, the
    device, the clock, `detail`, and the number of registered unit kinds `kinds` (a kind
    registered later, or removed by a test, never serves a stale network; the per-unit
    memo `unit` covers the units of a design that differs)."""
    del kinds  # part of the memo key only
    return _compose_checked(network, device, clock_mhz, detail)


def _compose_checked(
    network: Network, device: Device, clock_mhz: float, detail: bool
) -> NetworkCost:
    try:
        return _compose(network, device, clock_mhz, detail)
    except DseError:
        resolve(network)  # raises resolution's own error first, when there is one
        raise


#: A network's graph as the composer walks it: per layer the names it reads and how many
#: layers read its output, how many read the network input, and the index of the first
#: compute layer (None without one).
Graph = tuple[tuple[tuple[str, ...], ...], tuple[int, ...], int, int | None]
#: A layer's fields that make the graph: name, op, `from` (source), inputs.
GraphNode = tuple[str, Op, "str | None", tuple[str, ...]]


@functools.lru_cache(maxsize=64)
def graph_of(structure: tuple[GraphNode, ...]) -> Graph:
    """The graph of layers given as (name, op, source, inputs), the only fields
    `layer_inputs` and the graph checks read; memoised, since every design of a search
    has the same graph. Raises what the checks raise: a duplicate or reserved name, a
    read of no earlier layer, an output nobody reads (`check_reads`, `check_all_read`)."""
    layers = tuple(
        LayerSpec(name, op, source=source, inputs=ins) for name, op, source, ins in structure
    )
    inputs = layer_inputs(layers)
    readers: dict[str, int] = {}
    known: dict[str, Value] = {INPUT: ((), 0, None)}
    for layer, ins in zip(layers, inputs, strict=True):
        if layer.name in known and layer.name != INPUT:
            raise SpecError(f"duplicate layer name {layer.name!r}")
        check_reads(layer, ins, known)
        known[layer.name] = ((), 0, None)
        for name in ins:
            readers[name] = readers.get(name, 0) + 1
    check_all_read([la.name for la in layers], set(readers))
    first = next((i for i, la in enumerate(layers) if la.op.is_compute), None)
    fanouts = tuple(readers.get(la.name, 0) for la in layers)
    return inputs, fanouts, readers.get(INPUT, 0), first


def _graph(layers: tuple[LayerSpec, ...]) -> Graph:
    """`graph_of` the layers (unmemoised when a field cannot be hashed, e.g. a list)."""
    structure = tuple([(la.name, la.op, la.source, la.inputs) for la in layers])
    try:
        return graph_of(structure)
    except TypeError:
        return graph_of.__wrapped__(structure)


def _compose(network: Network, device: Device, clock_mhz: float, detail: bool) -> NetworkCost:
    """Layers form a graph (`layer_inputs`): each unit starts when its latest input's first
    output arrives (the pipeline fill runs along the longest path); a stream read by k > 1
    units goes through a `DuplicateStreams` unit with k outputs, charged to the layer
    producing it (the network input's: to the first layer; `costmodels.streams`).

    This loop runs once per layer of every design a search proposes: it keeps its state in
    local dicts and sums the totals as it goes (in the order `sum_resources` would)."""
    check_input(network)
    layers = network.layers
    inputs, fanouts, input_readers, first = _graph(layers)
    choice = layers[first].choice if first is not None else None
    lanes = choice.simd if choice is not None else 1
    stream = Stream(lanes=lanes)
    fill_at, lanes_at, channels_at = stream.fill_at, stream.lanes_at, stream.channels_at
    fill_at[INPUT] = 0
    lanes_at[INPUT] = lanes
    channels_at[INPUT] = network.input_shape[0]
    values: dict[str, Value] = {
        INPUT: (tuple(network.input_shape), network.input_bits, network.input_type)
    }
    kinds = UNIT_KINDS
    costs: list[LayerCost] = []
    lut = ff = dsp = bram18 = uram = 0.0
    ii = 0  # the slowest unit's cycles per frame
    slack = 0  # the most cycles any unit spends after its first output
    fill = 0
    for layer, ins, fanout in zip(layers, inputs, fanouts, strict=True):
        name = layer.name
        src = ins[0]
        fill = fill_at[src] if len(ins) == 1 else max(fill_at[n] for n in ins)
        in_lanes = lanes_at[src]
        kind = kinds.get(layer.op)
        if kind is not None and kind.streamed is not None:
            stream.inputs = ins
            stream.fill = fill
            rl = resolve_joint(layer, ins, values)
            cost, out_lanes = kind.streamed(rl, device, in_lanes, stream)
            out_shape, out_bits, out_type = rl.out_shape, rl.out_bits, rl.out_type
        else:
            shape, bits, dtype = values[src]
            out_shape, out_bits, out_type, cost, out_lanes = unit(
                layer, shape, bits, dtype, in_lanes, device
            )
        if detail and kind is not None and kind.breakdown is not None:
            if kind.streamed is None:  # the memo keeps no resolved layer
                rl = resolve_layer(layer, shape, bits, dtype)
            cost = replace(cost, breakdown=kind.breakdown(rl, device, in_lanes))
        if fanout > 1 or (not costs and input_readers > 1):
            shape = out_shape if fanout > 1 else values[INPUT][0]
            dup_lanes = out_lanes if fanout > 1 else lanes_at[INPUT]
            dup = duplicate_resources(
                shape, out_bits if fanout > 1 else network.input_bits, dup_lanes,
                fanout if fanout > 1 else input_readers,
            )  # fmt: skip
            cost = replace(
                cost,
                resources=cost.resources + dup,
                cycles=max(cost.cycles, duplicate_cycles(shape, dup_lanes)),
                breakdown=(*cost.breakdown, ("duplicate", dup)) if detail else cost.breakdown,
            )
        costs.append(cost)
        r = cost.resources
        lut += r.lut
        ff += r.ff
        dsp += r.dsp
        bram18 += r.bram18
        uram += r.uram
        cycles, latency = cost.cycles, cost.latency_cycles
        if cycles > ii:
            ii = cycles
        if cycles - latency > slack:
            slack = cycles - latency
        values[name] = (out_shape, out_bits, out_type)
        fill_at[name] = fill + latency
        lanes_at[name] = out_lanes
        channels_at[name] = out_shape[0]
    fill = fill_at[layers[-1].name]
    shell = shell_resources(device)
    latency = fill + slack
    return NetworkCost(
        network=network.name,
        device=device,
        clock_mhz=clock_mhz,
        layers=tuple(costs),
        shell=shell,
        total=new_resources(
            lut + shell.lut,
            ff + shell.ff,
            dsp + shell.dsp,
            bram18 + shell.bram18,
            uram + shell.uram,
        ),
        cycles_per_frame=ii,
        latency_cycles=max(latency, ii),
    )
