"""The exact hardware Pareto set of a network whose accuracy-relevant choices are fixed.

Given a network (per compute layer: weight bits and type, RCCM set, activation bits and
pruning fixed), a device, a utilization cap and the hardware objectives, `solve` returns
every design on the Pareto front of (FPS or latency) against (LUT, DSP, BRAM18) among the
foldings (PE, SIMD, MMV) and multiplier arithmetics the `HardwareLimits` allow, under the
per-resource budgets (LUT, DSP, BRAM18, URAM each within the cap). No Optuna, no torch.

How (a multiple-choice knapsack solved by dynamic programming with dominance pruning):

1. Per compute layer, an option table: every (PE, SIMD, MMV, arithmetic) the limits allow
   and the layer's fixed kept channels admit, costed with the canonical unit estimators
   (each unit through the composer's own memoised `dataflow.unit`; `pool.add_cost`,
   `memory.fifo_cost`, `streams.duplicate_resources` where the composer adds them).
2. Separability: the dataflow estimate is a sum of unit resources plus the shell, the
   bottleneck (max of unit cycles) and the latency (sum of unit fills plus the largest
   `cycles - fill`, at least 0). Every unit's cost depends on its own choice and on the
   width of the stream entering it, which the *feeding* compute layer decides (PE x MMV,
   reduced by gcd through pools and adds). So a compute layer's *segment* is charged with
   its own unit without its input FIFO, the pooling/add units that follow it up to the next
   compute layer, and that layer's input FIFO; the first segment also carries the units in
   front of the first compute layer and its own input FIFO (whose width is its own SIMD).
   Segment vectors combine exactly: resources and fills by `+`, cycles and slack by `max`.
   `segment_sums` re-adds a design's segments; tests check it equals `estimate`.
3. One coupling term is not separable: a residual add's skip FIFO, whose depth is the fill
   latency of the branch it bypasses and whose width is its source's stream. For layer
   chains with residual adds `_dp_coupled` carries it in the DP state (per open branch:
   the source stream's lanes and the branch fill so far, compared only for equality) and
   costs each FIFO exactly when its add is reached: exact. Past `MAX_COUPLED_STATES` it
   falls back to charging each FIFO at `fifo_floor` (per resource the least any FIFO of
   the narrowest stream costs at depth >= 32: a lower bound; the earlier depth-32 FIFO was
   not one in LUTs from 7 bits on), with every returned design re-estimated with
   `estimate` (any that no longer fits dropped): then `exact` is False and `gap` /
   `notes` give the certified gap (`certified_gap`).
3b. Graph networks (`is_graph`: a concat, explicit `inputs`, a layer reading an earlier
   layer other than through an add): `_dp_graph` walks the layers in order (a
   topological order) and carries, per value still to be read, its stream's lanes and
   its fill; pooling/add/concat units are costed by the composer's own functions from
   them, DuplicateStreams and every compute reader's input FIFO at the producer. Partial
   designs are compared only at equal keys (lanes a later unit reads, fills relative to
   the latest): exact, equal to brute force on four graph networks (tests). Past
   `MAX_GRAPH_STATES` partial designs (or `MAX_GRAPH_CANDIDATES` pairs in one step) a
   relaxed DP (fills out of the key, branch FIFOs at their floor) gives a lower bound and
   `exact` False with the certified gap; when that too outgrows the limit, `SolverError`
   (the search then samples hardware, `dse.hardware`).
4. A DP over the segments in network order keeps, after each segment, the partial designs
   not dominated in the dimensions that matter: the objectives (cycles per frame for FPS;
   summed fill and largest slack for latency; the resources asked for) and every budgeted
   resource that can bind (one whose largest possible total exceeds its budget). Partial
   designs that exceed a budget even with the cheapest remaining segments are dropped.
   Dominance pruning is exact because every later segment adds the same amounts to both
   designs and `+`/`max` are monotone. The last step keeps the designs non-dominated in
   the objectives. FPS against one resource is walked point by point instead (`_walk`:
   two multiple-choice knapsacks per front point, `scipy.optimize.milp` when a budget
   binds).
5. Latency (`_latency_fronts`) is a sum plus a max, so it is solved per bound S on the
   largest slack: with each layer's options of slack <= S, latency <= fill + S and every
   column left is a sum; a DP keeps the partial designs non-dominated in (summed fill,
   the resources asked for, the budgets enforced), and the front is the non-dominated
   (fill + S, resources) over all S (a design is found with its own latency at S = its
   largest slack). Budgets enter lazily: only those a returned design exceeds become DP
   dimensions, and the passes repeat until every returned design fits (then nothing
   feasible is missing: the pass's front is that of a superset of the feasible designs).
   Partial designs whose every completion a design already found (one that fits) weakly
   dominates are dropped, using the cheapest remaining layers as the bound.

Every returned point is one concrete design, re-estimated with `estimate` (its numbers are
the canonical ones). MMV > 1 is off by default (`max_mmv=1`): FINN does not implement it.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from costmodels.arith import resolve_arith
from costmodels.dataflow import STREAM_FIFO_DEPTH, UNIT_KINDS, Stream, shell_resources, unit
from costmodels.errors import ConfigError, DseError
from costmodels.estimate import estimate
from costmodels.memory import fifo_cost
from costmodels.network import (
    INPUT,
    divisors,
    kept_channels,
    layer_inputs,
    mmv_dim,
    pe_dim,
    resolve,
    simd_dim,
)
from costmodels.pool import add_cost
from costmodels.streams import concat_cost, duplicate_cycles, duplicate_resources
from costmodels.types import (
    Arith,
    Device,
    LayerChoice,
    MemMode,
    Network,
    NetworkCost,
    Op,
    RamStyle,
    ResolvedLayer,
    Resources,
)

#: The objectives the solver optimizes (accuracy is fixed by the network it is given).
HARDWARE_OBJECTIVES = ("fps", "latency_ms", "lut", "dsp", "bram18")
#: Budgeted resources, as `Resources.fits` checks them.
BUDGETED = ("lut", "dsp", "bram18", "uram")
#: Per-segment vector columns: summed resources and fill, max cycles and slack.
_COLS = ("cycles", "fill", "slack", "lut", "dsp", "bram18", "uram")
_MAX_COLS = frozenset({"cycles", "slack"})


class SolverError(ConfigError):
    """The exact front could not be computed within the solver's limits."""


@dataclass(frozen=True)
class HardwareLimits:
    """What the solver may choose per compute layer: PE/SIMD/MMV up to these caps (divisors
    of what they fold, as `search_spaces` offers them) and the arithmetics in `arith`.

    With `keep_rccm` (the decomposed search: an RCCM set changes the weights, so it is an
    accuracy choice) a layer whose given arithmetic is an RCCM keeps it and the others pick
    among the non-RCCM members of `arith`; without it (cost-only) every member is a
    hardware option. An arithmetic a layer cannot use (XNOR without 1-bit bipolar operands,
    RCCM on 1-bit weights) is skipped; a layer left with none keeps `auto`. `ram_style`
    lists where weights may live (FINN `ram_style`); None keeps each layer's own.
    """

    max_pe: int = 64
    max_simd: int = 64
    max_mmv: int = 1
    arith: tuple[Arith, ...] = (Arith.LUT, Arith.DSP, Arith.XNOR)
    keep_rccm: bool = True
    ram_style: tuple[RamStyle, ...] | None = None

    def __post_init__(self) -> None:
        if min(self.max_pe, self.max_simd, self.max_mmv) < 1:
            raise ConfigError("max_pe, max_simd and max_mmv must be >= 1")


@dataclass(frozen=True)
class FrontPoint:
    """One design of the exact front: its per-layer choices, network and canonical cost."""

    choices: Mapping[str, LayerChoice]
    network: Network
    cost: NetworkCost


@dataclass(frozen=True)
class SolverResult:
    """The front (sorted by its first objective, best first) and what the solve took."""

    points: tuple[FrontPoint, ...]
    objectives: tuple[str, ...]
    options: int  # per-layer options enumerated, summed over layers
    states_max: int  # largest partial front the DP kept
    seconds: float
    exact: bool  # False when the branch FIFOs were bounded (see module doc)
    notes: tuple[str, ...] = field(default=())
    #: With `exact` False: the largest relative excess of the returned designs' resource
    #: over the bound's at the bound's speed points (`certified_gap`); 0.0 when exact.
    gap: float = 0.0


@dataclass(frozen=True)
class _Option:
    choice: LayerChoice
    vector: tuple[float, ...]  # in _COLS order
    trace: tuple[tuple[int, int, int], ...] = ()  # (unit position, latency, lanes): adds


@dataclass(frozen=True)
class _Segment:
    layer: str
    options: tuple[_Option, ...]


def _objective_check(objectives: Sequence[str]) -> tuple[str, ...]:
    hw = tuple(o for o in objectives if o != "accuracy")
    bad = [o for o in hw if o not in HARDWARE_OBJECTIVES]
    if bad:
        raise ConfigError(
            f"the solver cannot optimize {bad[0]!r} (hardware objectives: "
            f"{', '.join(HARDWARE_OBJECTIVES)})"
        )
    return hw


def _arith_options(layer: ResolvedLayer, limits: HardwareLimits) -> tuple[Arith, ...]:
    given = layer.choice.arith
    if limits.keep_rccm and given.is_rccm:
        return (given,)
    wanted = [a for a in limits.arith if not (limits.keep_rccm and a.is_rccm)]
    out: list[Arith] = []
    for a in wanted:
        try:
            resolve_arith(replace(layer.choice, arith=a), layer.in_bits, layer.name)
        except DseError:
            continue
        if a.is_rccm and layer.choice.w_bits < 2:
            continue  # binary weights: a sign flip, nothing for an RCCM to do
        out.append(a)
    return tuple(out) or (Arith.AUTO,)


def _fold_options(layer: ResolvedLayer, limits: HardwareLimits) -> list[tuple[int, int, int]]:
    """(PE, SIMD, MMV) the layer admits with its kept channels unchanged (pruning keeps a
    multiple of PE, `kept_channels`, and the kept count is an accuracy choice)."""
    c = layer.choice
    pes = [p for p in divisors(pe_dim(layer)) if p <= limits.max_pe] or [1]
    if not layer.is_depthwise:
        n = layer.spec.out_channels
        pes = [p for p in pes if kept_channels(n, c.prune, p) == layer.mh]
    simds = [s for s in divisors(simd_dim(layer)) if s <= limits.max_simd] or [1]
    mmvs = [m for m in divisors(mmv_dim(layer)) if m <= limits.max_mmv] or [1]
    return [(p, s, m) for p in pes for s in simds for m in mmvs]


def _vector(res: Resources, cycles: int, fill: int, slack: int) -> list[float]:
    return [float(cycles), float(fill), float(slack), res.lut, res.dsp, res.bram18, res.uram]


def _merge(a: list[float], b: list[float]) -> list[float]:
    return [max(x, y) if c in _MAX_COLS else x + y for c, x, y in zip(_COLS, a, b, strict=True)]


def _check_shape(network: Network) -> None:
    """The solver's separability holds for layer chains with residual adds (each unit fed
    by the layer before it); a concat, a branch reading an earlier layer, or an add with
    explicit inputs is refused."""
    for layer in network.layers:
        if layer.op is Op.CONCAT or layer.inputs or (layer.source and layer.op is not Op.ADD):
            raise SolverError(
                f"layer {layer.name!r}: the folding solver handles layer chains with residual "
                "adds, not branches or concats; search this network by sampling "
                "(--hardware sample)"
            )


def _readers(network: Network) -> dict[str, int]:
    out: dict[str, int] = {}
    for ins in layer_inputs(network.layers):
        for name in ins:
            out[name] = out.get(name, 0) + 1
    return out


def _build_segments(
    network: Network, device: Device, limits: HardwareLimits, *, coupled: bool = False
) -> tuple[list[_Segment], tuple[ResolvedLayer, ...], bool]:
    """The per-compute-layer option tables (segment vectors, see the module docstring);
    `coupled`: skip FIFOs left out and each option's unit trace kept (`_dp_coupled`)."""
    _check_shape(network)
    resolved = resolve(network)
    compute_idx = [i for i, r in enumerate(resolved) if r.op.is_compute]
    if not compute_idx:
        raise ConfigError(f"network {network.name!r} has no compute layers to fold")
    has_add = any(r.op is Op.ADD for r in resolved)
    readers = _readers(network)
    segments: list[_Segment] = []
    for k, ci in enumerate(compute_idx):
        rl = resolved[ci]
        start = 0 if k == 0 else ci
        end = compute_idx[k + 1] if k + 1 < len(compute_idx) else len(resolved)
        nxt = resolved[end] if end < len(resolved) else None
        options: list[_Option] = []
        for arith in _arith_options(rl, limits):
            for ram in _ram_options(rl, limits):
                for pe, simd, mmv in _fold_options(rl, limits):
                    choice = replace(
                        rl.choice, pe=pe, simd=simd, mmv=mmv, arith=arith, ram_style=ram
                    )
                    trace: dict[int, tuple[int, int]] | None = {} if coupled else None
                    try:
                        vec = _segment_vector(
                            network, resolved, readers, start, ci, end, choice, device, k == 0,
                            nxt, trace,
                        )  # fmt: skip
                    except DseError:
                        continue
                    tr = tuple((j, a, b) for j, (a, b) in sorted((trace or {}).items()))
                    options.append(_Option(choice, tuple(vec), tr))
        if not options:
            raise ConfigError(f"layer {rl.name!r}: no folding fits its kept channels")
        segments.append(_Segment(rl.name, tuple(options)))
    return segments, resolved, has_add


def _ram_options(layer: ResolvedLayer, limits: HardwareLimits) -> tuple[RamStyle, ...]:
    """Where the layer's weights may live: its own style without `limits.ram_style` or
    with mem_mode external (no weights on chip); URAM only with mem_mode
    internal_decoupled (FINN asserts it for URAM weights, `MVAU.generate_infra_hdl`)."""
    mode = layer.choice.mem_mode
    if limits.ram_style is None or mode is MemMode.EXTERNAL:
        return (layer.choice.ram_style,)
    decoupled = mode in (None, MemMode.INTERNAL_DECOUPLED)
    out = tuple(s for s in limits.ram_style if decoupled or s is not RamStyle.ULTRA)
    return out or (layer.choice.ram_style,)


def _segment_vector(
    network: Network,
    resolved: tuple[ResolvedLayer, ...],
    readers: Mapping[str, int],
    start: int,
    ci: int,
    end: int,
    choice: LayerChoice,
    device: Device,
    first: bool,
    nxt: ResolvedLayer | None,
    trace: dict[int, tuple[int, int]] | None = None,
) -> list[float]:
    """The segment of compute layer `resolved[ci]` with `choice` (see the module docstring):
    every unit through the composer's own memoised `dataflow.unit`. With `trace`, residual
    adds are charged without their skip FIFO and `trace` receives, per unit position, its
    (latency, output lanes) (and -1 the lanes entering the first unit): `_dp_coupled`
    charges the skip FIFOs from those."""
    total = [0.0] * len(_COLS)
    lanes = choice.simd if first else 1
    if trace is not None and first:
        trace[-1] = (0, lanes)
    if first and readers.get(INPUT, 0) > 1:  # the network input read twice (an add)
        dup = duplicate_resources(network.input_shape, network.input_bits, lanes,
                                  readers[INPUT])  # fmt: skip
        cyc = duplicate_cycles(network.input_shape, lanes)
        total = _merge(total, _vector(dup, cyc, 0, cyc))
    for j in range(start, end):
        rl = resolved[j]
        if rl.op is Op.ADD:  # its skip FIFO at its floor (module docstring, point 3)
            skip = fifo_floor(rl.in_bits, device) if trace is None else _ZERO
            cost = add_cost(rl, device, lanes, skip)
            out_lanes = max(1, math.gcd(rl.out_channels, lanes))
            out_shape, out_bits = rl.out_shape, rl.out_bits
        else:
            spec = replace(rl.spec, choice=choice) if j == ci else rl.spec
            out_shape, out_bits, _, cost, out_lanes = unit(
                spec, rl.in_shape, rl.in_bits, rl.in_type, lanes, device
            )
        res = cost.resources
        if j == ci and not first:  # the feeding segment pays for this unit's input FIFO
            res = res + fifo_cost(lanes * rl.in_bits, STREAM_FIFO_DEPTH, device) * -1.0
        vec = _vector(res, cost.cycles, cost.latency_cycles, cost.cycles - cost.latency_cycles)
        fanout = readers.get(rl.name, 0)
        if fanout > 1:  # DuplicateStreams on this unit's output, as the composer charges it
            dup = duplicate_resources(out_shape, out_bits, out_lanes, fanout)
            vec = _vector(
                res + dup,
                max(cost.cycles, duplicate_cycles(out_shape, out_lanes)),
                cost.latency_cycles,
                max(cost.cycles, duplicate_cycles(out_shape, out_lanes)) - cost.latency_cycles,
            )
        total = _merge(total, vec)
        lanes = out_lanes
        if trace is not None:
            trace[j] = (cost.latency_cycles, out_lanes)
    if nxt is not None:
        f = fifo_cost(lanes * nxt.in_bits, STREAM_FIFO_DEPTH, device)
        total = _merge(total, _vector(f, 0, 0, 0))
    return total


_ZERO = Resources()


def _backtrack(
    parents: Sequence[np.ndarray], chosen: Sequence[np.ndarray], n_states: int
) -> list[list[int]]:
    """Each final state's option index per layer, read back through the layer-by-layer
    DP: `chosen[i][j]` is the option layer i took in its state j, `parents[i][j]` the state
    of the layers before it that state j extends."""
    picks: list[list[int]] = []
    for state in range(n_states):
        pick = [0] * len(chosen)
        j = state
        for i in range(len(chosen) - 1, -1, -1):
            pick[i] = int(chosen[i][j])
            j = int(parents[i][j])
        picks.append(pick)
    return picks


def _pareto(points: np.ndarray) -> np.ndarray:
    """Indices of rows of `points` no other row dominates (all columns minimized); of equal
    rows one is kept."""
    n, d = points.shape
    if n <= 1:
        return np.arange(n)
    order = np.lexsort(points.T[::-1])
    p = points[order]
    if d == 1:
        return order[:1]
    if d == 2:
        best = np.minimum.accumulate(p[:, 1])
        keep = np.ones(n, dtype=bool)
        keep[1:] = p[1:, 1] < best[:-1]
        return order[keep]
    alive = np.arange(n)
    kept: list[int] = []
    while alive.size:
        i = int(alive[0])
        kept.append(i)
        rest = alive[1:]
        if not rest.size:
            break
        dominated = np.all(p[rest] >= p[i], axis=1)
        alive = rest[~dominated]
    return order[np.array(kept, dtype=np.int64)]


def _budgets(device: Device, cap_pct: float) -> dict[str, float]:
    """Per budgeted resource, what the units may use: the capped device total minus the
    shell (`dataflow.shell_resources`), as `Resources.fits` checks it."""
    shell = shell_resources(device)
    out = {}
    for r in BUDGETED:
        total = float(getattr(device, r))
        out[r] = total * cap_pct / 100.0 - getattr(shell, r)
    return out


#: Largest partial front the general DP keeps before giving up (see `SolverError`).
MAX_DP_STATES = 200_000
_EPS = 1e-9


def solve(
    network: Network,
    device: Device,
    *,
    cap_pct: float = 85.0,
    objectives: Sequence[str] = ("fps", "lut"),
    limits: HardwareLimits | None = None,
    clock_mhz: float | None = None,
) -> SolverResult:
    """The exact hardware Pareto front of `network` on `device` (see the module docstring).

    `objectives` may name `accuracy` (ignored: it is fixed by the network's choices) and
    any of fps, latency_ms, lut, dsp, bram18. With fps and at most one resource (the usual
    case) the front is walked point by point with exact multiple-choice knapsacks
    (`_walk`); with latency_ms (and not fps) a DP per bound on the largest slack
    (`_latency_fronts`); otherwise a DP over partial fronts (`_dp`). A graph network
    (`is_graph`: concats, branches, explicit inputs) goes to the graph DP (`_solve_graph`).
    Returns an empty front when not even the cheapest folding fits. Raises `ConfigError`
    for an objective the solver cannot handle, `SolverError` when a DP's partial front
    grows too large (a graph network's: its relaxed DP's), `SpecError`/`FoldingError` for
    an inconsistent network.
    """
    t0 = time.perf_counter()
    limits = limits or HardwareLimits()
    hw = _objective_check(objectives)
    budgets = _budgets(device, cap_pct)
    notes_extra: tuple[str, ...] = ()
    relaxed: np.ndarray | None = None  # the bound's objective values, when not exact
    designs: list[dict[str, LayerChoice]] = []
    if is_graph(network):
        designs, relaxed, n_options, states_max, notes_extra = _solve_graph(
            network, device, limits, hw, budgets
        )
    else:
        segments, resolved, has_add = _build_segments(network, device, limits)
        n_options = sum(len(s.options) for s in segments)
        picks: list[list[int]] | None = None
        if has_add:  # the skip FIFOs carried in the DP state, while the state stays small
            coupled, _, _ = _build_segments(network, device, limits, coupled=True)
            try:
                picks, states_max = _dp_coupled(network, resolved, coupled, hw, budgets, device)
                segments = coupled
            except SolverError as exc:
                notes_extra = (
                    f"residual adds: the exact DP gave up ({exc})",
                    "residual adds: skip FIFOs charged at their least possible cost "
                    "(fifo_floor: per resource the minimum over depths >= 32, one lane) in "
                    "the search and at their real size in every returned design",
                )
        if picks is None:
            vectors = tuple(tuple(o.vector for o in s.options) for s in segments)
            picks, states_max = _front_picks(vectors, hw, tuple(sorted(budgets.items())))
            if has_add:
                relaxed = _chain_values(segments, picks, hw)
        designs = [
            {seg.layer: seg.options[j].choice for seg, j in zip(segments, pick, strict=True)}
            for pick in picks
        ]
    exact = relaxed is None

    clock = next(c for c in (clock_mhz, network.clock_mhz, device.clock_mhz) if c is not None)
    points: list[FrontPoint] = []
    seen: set[tuple[tuple[str, LayerChoice], ...]] = set()
    for chosen in designs:
        key = tuple(sorted(chosen.items(), key=lambda kv: kv[0]))
        if key in seen:
            continue
        seen.add(key)
        net = network.with_choices(chosen)
        cost = estimate(net, device, clock_mhz=clock)
        if not cost.fits(cap_pct):
            continue  # only under a bound (the FIFOs' floor) or at a rounding edge
        points.append(FrontPoint(chosen, net, cost))
    points = _canonical_front(points, hw)
    gap = 0.0
    notes: tuple[str, ...] = notes_extra
    if relaxed is not None:
        shell = shell_resources(device)
        gap, gap_note = certified_gap(relaxed, points, hw, shell)
        notes = (*notes, gap_note)
    return SolverResult(
        tuple(points), tuple(hw), n_options, states_max, time.perf_counter() - t0,
        exact, notes, gap,
    )  # fmt: skip


_COL = {c: i for i, c in enumerate(_COLS)}


#: The (option tables, budgets) whose FPS/LUT front `_front_picks` has solved, newest
#: last, as many as its memo holds: `fastest` then reads the front's first point from the
#: memo instead of searching for it again.
_FPS_LUT_SOLVED: dict[
    tuple[tuple[tuple[tuple[float, ...], ...], ...], tuple[tuple[str, float], ...]], None
] = {}


@functools.lru_cache(maxsize=64)
def _front_picks(
    vectors: tuple[tuple[tuple[float, ...], ...], ...],
    hw: tuple[str, ...],
    budget_items: tuple[tuple[str, float], ...],
) -> tuple[list[list[int]], int]:
    """The front's option indices per layer for these option tables, objectives and
    budgets, memoised on exactly those: the same tables solved again are one lookup (an
    FPS/LUT front is also noted in `_FPS_LUT_SOLVED` for `fastest`)."""
    if hw == ("fps", "lut"):
        _FPS_LUT_SOLVED[(vectors, budget_items)] = None
        while len(_FPS_LUT_SOLVED) > 64:  # the memo's size: older ones may be evicted
            del _FPS_LUT_SOLVED[next(iter(_FPS_LUT_SOLVED))]
    budgets = dict(budget_items)
    tables = [np.array(v, dtype=float) for v in vectors]
    binding = _binding(tables, budgets)
    speed = [o for o in hw if o in ("fps", "latency_ms")]
    resources = [o for o in hw if o not in ("fps", "latency_ms")]
    if speed == ["latency_ms"]:
        return _latency_fronts(tables, resources, budgets, binding)
    if len(speed) <= 1 and len(resources) <= 1:
        return _walk(
            tables, speed[0] if speed else None, resources[0] if resources else None,
            budgets, binding,
        )  # fmt: skip
    return _dp(tables, hw, budgets, binding)


def _binding(tables: list[np.ndarray], budgets: Mapping[str, float]) -> list[str]:
    """The budgets that can bind: the largest total over all designs exceeds the budget."""
    return [
        r for r in BUDGETED if sum(float(t[:, _COL[r]].max()) for t in tables) > budgets[r] + _EPS
    ]


def _walk(
    tables: list[np.ndarray],
    speed: str | None,
    resource: str | None,
    budgets: Mapping[str, float],
    binding: Sequence[str],
) -> tuple[list[list[int]], int]:
    """The bi-objective front (FPS vs one resource) point by point, from the slowest
    design to the fastest: (1) the fewest resources with cycles per frame <= T; (2) the
    fewest cycles per frame with at most those resources; then T drops just below that.
    Every point is a Pareto point and every Pareto point's speed is reached, so the walk
    is exact; each step is a multiple-choice knapsack under the binding budgets
    (`_knapsack`), solved per layer when no budget binds. Latency: `_latency_fronts`."""
    res_col = _COL[resource] if resource is not None else None
    picks: list[list[int]] = []
    bound = math.inf
    steps = 0
    while True:
        steps += 1
        phase1 = _knapsack(tables, res_col, speed, bound, budgets, binding, None)
        if phase1 is None:
            break
        value = _total(tables, phase1, res_col) if res_col is not None else 0.0
        pick = phase1
        if speed is not None:
            cap = (res_col, value) if res_col is not None else None
            phase2 = _knapsack(tables, None, speed, bound, budgets, binding, cap, best_speed=True)
            pick = phase2 if phase2 is not None else phase1
        picks.append(pick)
        if speed is None:
            break
        achieved = _speed_of(tables, pick, speed)
        bound = min(achieved, bound) - 1.0  # cycles are whole
        if bound < 0:
            break
    return picks, steps


def _latency_fronts(
    tables: list[np.ndarray],
    resources: Sequence[str],
    budgets: Mapping[str, float],
    binding: Sequence[str],
) -> tuple[list[list[int]], int]:
    """The exact front of latency against `resources` (none, one or more) under the budgets.

    Latency is the summed fill plus the largest slack, at least 0 (`dataflow`, module
    docstring point 2): a max inside a sum, which no dominance over partial designs orders.
    So for every bound S on the slack (each distinct `max(slack, 0)` of an option, from the
    smallest every layer can meet) the layers keep only their options of slack <= S, and
    `_latency_pass` solves the resulting sum-only problem; a design of largest slack s is
    found at S = s with its true latency and at every larger S with a larger one, so the
    non-dominated (fill + S, resources) over all S is the front.

    Budgets are added lazily: the first pass enforces only the budgets that are objectives;
    any other budget that a returned design exceeds becomes a DP dimension and the passes
    run again. Exact: a pass returns the front of the designs within its enforced budgets,
    a superset of the feasible ones; when all its designs fit every budget, nothing
    feasible dominates them and every feasible design is dominated by one of them.
    """
    enforced = [r for r in resources if r in binding]
    states_max = 0
    incumbents: tuple[np.ndarray, list[list[int]]] = (np.zeros((0, 1 + len(resources))), [])
    while True:
        picks, pass_max, incumbents = _latency_pass(
            tables, resources, budgets, enforced, incumbents
        )
        states_max = max(states_max, pass_max)
        over = {
            r: sum(_total(tables, p, _COL[r]) > budgets[r] + _EPS for p in picks)
            for r in binding if r not in enforced
        }  # fmt: skip
        worst = max(over, key=lambda r: over[r], default=None)
        if worst is None or not over[worst]:
            return picks, states_max
        enforced.append(worst)  # one at a time: each dimension costs partial designs


def _latency_pass(
    tables: list[np.ndarray],
    resources: Sequence[str],
    budgets: Mapping[str, float],
    enforced: Sequence[str],
    incumbents: tuple[np.ndarray, list[list[int]]],
) -> tuple[list[list[int]], int, tuple[np.ndarray, list[list[int]]]]:
    """One pass of `_latency_fronts`: per slack bound S a DP over the layers keeping the
    partial designs not dominated in (summed fill, the resources, the enforced budgets),
    all sums (exact: every later layer adds the same to both designs), dropping those that
    exceed an enforced budget even with the cheapest remaining layers, and those whose
    every completion an incumbent (a design found so far that fits every budget) weakly
    dominates: their objectives plus the cheapest remaining layers' (and S) are no better
    than it. Then the non-dominated (fill + S, resources) over all S and the incumbents, as
    option indices per layer; also the incumbents, grown by the designs found that fit.

    Layers whose allowed options change at fewer bounds come first and their DP steps are
    kept from the previous bound while their options stay the same (the cheapest remaining
    layers are taken over all options, so what a kept step dropped stays dropped)."""
    dims = ["fill", *resources, *(r for r in enforced if r not in resources)]
    cols = dims + [r for r in BUDGETED if r not in dims]  # the rest: carried, not compared
    col_idx = [_COL[c] for c in cols]
    nd, n_obj = len(dims), 1 + len(resources)
    bud = np.array([budgets[c] if c in enforced else math.inf for c in cols])
    full = np.array([budgets[c] if c in BUDGETED else math.inf for c in cols])
    slack = [np.maximum(t[:, _COL["slack"]], 0.0) for t in tables]
    floor = max(float(s.min()) for s in slack)
    bounds = sorted({float(v) for s in slack for v in s if v >= floor})
    changes = [len({float(v) for v in s if v > floor}) for s in slack]
    order = sorted(range(len(tables)), key=lambda i: (changes[i], i))
    suffix = np.zeros((len(order) + 1, len(cols)))
    for k in range(len(order) - 1, -1, -1):
        suffix[k] = suffix[k + 1] + tables[order[k]][:, col_idx].min(axis=0)
    inc_vals, inc_picks = incumbents
    found_vals: list[np.ndarray] = [inc_vals]
    found_picks: list[list[int]] = list(inc_picks)
    prev: list[np.ndarray] = []  # the allowed options per layer (in `order`) at the last S
    steps: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # states, parents, chosen
    states_max = 1
    for sb in bounds:
        allowed = []
        for i in order:
            idx = np.nonzero(slack[i] <= sb)[0]
            allowed.append(idx[_pareto(tables[i][idx][:, col_idx[:nd]])])
        cheapest = np.sum([tables[i][a][:, col_idx].min(axis=0) for i, a in
                           zip(order, allowed, strict=True)], axis=0)  # fmt: skip
        if np.any(cheapest > bud + _EPS):
            continue  # nothing within this bound fits
        same = 0
        while same < min(len(prev), len(steps)) and np.array_equal(prev[same], allowed[same]):
            same += 1
        prev = allowed
        del steps[same:]
        states = steps[-1][0] if steps else np.zeros((1, len(cols)))
        shift = np.zeros(n_obj)
        shift[0] = sb
        for k in range(len(steps), len(order)):
            opts = tables[order[k]][allowed[k]][:, col_idx]
            m = len(opts)
            cand = (states[:, None, :] + opts[None, :, :]).reshape(-1, len(cols))
            ok = np.all(cand + suffix[k + 1] <= bud + _EPS, axis=1)
            ok[ok] = ~_weakly_dominated(cand[ok, :n_obj] + suffix[k + 1, :n_obj] + shift,
                                        inc_vals)  # fmt: skip
            idx = np.nonzero(ok)[0]
            keep = idx[_undominated(cand[idx, :nd])]
            states = cand[keep]
            steps.append((states, keep // m, allowed[k][keep % m]))
            states_max = max(states_max, len(states))
            if states_max > MAX_DP_STATES:
                raise SolverError(
                    f"the exact latency front grew past {MAX_DP_STATES} partial designs"
                )
        final = _pareto(states[:, :n_obj])
        if not final.size:
            continue
        vals = states[final, :n_obj] + shift
        fits = np.all(states[final] <= full + _EPS, axis=1)
        picks = _backtrack([s[1] for s in steps], [s[2] for s in steps], len(states))
        new = []
        for j in final:
            pick = [0] * len(order)
            for k, i in enumerate(order):
                pick[i] = picks[int(j)][k]
            new.append(pick)
        found_vals.append(vals)
        found_picks += new
        if fits.any():
            both = np.vstack([inc_vals, vals[fits]])
            both_picks = inc_picks + [p for p, f in zip(new, fits, strict=True) if f]
            front = _pareto(both)
            inc_vals, inc_picks = both[front], [both_picks[int(i)] for i in front]
    allv = np.vstack(found_vals)
    keep = _pareto(allv) if len(allv) else np.arange(0)
    return [found_picks[int(i)] for i in keep], states_max, (inc_vals, inc_picks)


def _weakly_dominated(points: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Per row of `points`, whether some row of `front` is <= it in every column."""
    n, d = points.shape
    if not len(front) or not n:
        return np.zeros(n, dtype=bool)
    if d == 1:
        return points[:, 0] >= front[:, 0].min()
    if d == 2:
        order = np.lexsort((front[:, 1], front[:, 0]))
        f0, f1 = front[order, 0], np.minimum.accumulate(front[order, 1])
        pos = np.searchsorted(f0, points[:, 0], side="right") - 1
        return (pos >= 0) & (f1[np.maximum(pos, 0)] <= points[:, 1])
    out = np.zeros(n, dtype=bool)
    chunk = max(1, 2_000_000 // (len(front) * d))
    for s in range(0, n, chunk):
        p = points[s : s + chunk]
        out[s : s + chunk] = np.any(np.all(front[None, :, :] <= p[:, None, :], axis=2), axis=1)
    return out


def _undominated(points: np.ndarray) -> np.ndarray:
    """Indices of rows of `points` (all columns minimized) that no other row dominates, for
    the DP's partial designs: with up to two columns `_pareto`; with three, a sweep over
    the third column's values (ascending) keeping the staircase of the first two seen so
    far, so each row is checked with one binary search (exact, of equal rows one kept);
    with more, the same sweep within each group of equal values in the other columns (a
    superset of the non-dominated rows: rows dominated only across groups are kept, which
    costs states, never exactness). The columns with the fewest distinct values are the
    swept and grouped ones (one Python step per value): dominance does not depend on the
    columns' order."""
    n, d = points.shape
    if d <= 2 or n <= 1:
        return _pareto(points)
    distinct = [len(np.unique(points[:, c])) for c in range(d)]
    points = points[:, sorted(range(d), key=lambda c: -distinct[c])]  # fewest values swept
    if d > 3:
        _, group = np.unique(points[:, 3:], axis=0, return_inverse=True)
        by_group = np.argsort(group.reshape(-1), kind="stable")
        parts = np.split(by_group, np.flatnonzero(np.diff(group.reshape(-1)[by_group])) + 1)
        return np.concatenate([idx[_undominated(points[idx][:, :3])] for idx in parts])
    order = np.lexsort((points[:, 1], points[:, 0], points[:, 2]))
    p = points[order]
    starts = np.flatnonzero(np.r_[True, p[1:, 2] != p[:-1, 2]])
    ends = np.r_[starts[1:], n]
    stair_f = np.empty(0)
    stair_l = np.empty(0)
    kept: list[np.ndarray] = []
    for s, e in zip(starts, ends, strict=True):
        g = p[s:e]
        best = np.minimum.accumulate(g[:, 1])
        ok = np.ones(len(g), dtype=bool)
        ok[1:] = g[1:, 1] < best[:-1]  # 2-D front of this group (sorted by column 0, 1)
        if stair_f.size:
            pos = np.searchsorted(stair_f, g[:, 0], side="right") - 1
            ok &= ~((pos >= 0) & (stair_l[np.maximum(pos, 0)] <= g[:, 1]))
        idx = np.arange(s, e)[ok]
        if not idx.size:
            continue
        kept.append(idx)
        f = np.concatenate([stair_f, p[idx, 0]])
        lut = np.concatenate([stair_l, p[idx, 1]])
        o = np.lexsort((lut, f))
        f, lut = f[o], lut[o]
        lowest = np.minimum.accumulate(lut)
        step = np.ones(len(f), dtype=bool)
        step[1:] = lut[1:] < lowest[:-1]
        stair_f, stair_l = f[step], lut[step]
    return order[np.concatenate(kept)] if kept else np.arange(0)


def _total(tables: list[np.ndarray], pick: Sequence[int], col: int) -> float:
    return float(sum(t[j, col] for t, j in zip(tables, pick, strict=True)))


def _speed_of(tables: list[np.ndarray], pick: Sequence[int], speed: str) -> float:
    """Cycles per frame of a pick (the walk's speed; latency fronts: `_latency_fronts`)."""
    return max(float(t[j, _COL["cycles"]]) for t, j in zip(tables, pick, strict=True))


def _knapsack(
    tables: list[np.ndarray],
    res_col: int | None,
    speed: str | None,
    bound: float,
    budgets: Mapping[str, float],
    binding: Sequence[str],
    cap: tuple[int, float] | None,
    *,
    best_speed: bool = False,
) -> list[int] | None:
    """One option per layer minimizing the summed column `res_col` (or, with
    `best_speed`, the cycles per frame) subject to the binding budgets, the cycles bound
    and `cap` (column, largest total). None when infeasible.

    Cycles per frame <= T is a per-option filter. Per layer, options dominated in every
    column that matters are dropped first. When no budget binds and nothing couples the
    layers (no cap), the optimum is per layer; otherwise `scipy.optimize.milp` (HiGHS
    branch and bound, zero gap)."""
    cols = [_COL[r] for r in binding]
    if res_col is not None and res_col not in cols:
        cols = [res_col, *cols]
    if cap is not None and cap[0] not in cols:
        cols = [cap[0], *cols]
    speed_cols = [_COL["cycles"]] if speed == "fps" else []
    allowed: list[np.ndarray] = []
    for t in tables:
        idx = np.arange(len(t))
        if speed == "fps" and math.isfinite(bound):
            idx = idx[t[:, _COL["cycles"]] <= bound]
        if not idx.size:
            return None
        keep_cols = cols + (speed_cols if best_speed else [])
        if keep_cols:
            idx = idx[_pareto(t[idx][:, keep_cols])]
        allowed.append(idx)

    coupled = bool(binding) or cap is not None
    if not coupled and not best_speed:
        out = []
        for t, idx in zip(tables, allowed, strict=True):
            key = t[idx][:, [res_col] if res_col is not None else []]
            tie = t[idx][:, speed_cols] if speed_cols else np.zeros((len(idx), 0))
            order = np.lexsort(np.hstack([key, tie]).T[::-1]) if key.size or tie.size else [0]
            out.append(int(idx[order[0]]))
        return out
    if not coupled and best_speed:
        return [int(idx[np.argmin(t[idx][:, _COL["cycles"]])]) for t, idx in
                zip(tables, allowed, strict=True)]  # fmt: skip

    # MILP, checked exactly afterwards: HiGHS accepts rows violated within its feasibility
    # tolerance (a cycle in 10^7), so a violated bound is tightened and solved again
    margins = {"speed": 0.0, **{r: 0.0 for r in binding}, "cap": 0.0}
    for _ in range(8):
        pick = _milp(tables, allowed, res_col, speed, bound, budgets, binding, cap,
                     best_speed, margins)  # fmt: skip
        if pick is None:
            return None
        over = _violations(tables, pick, speed, bound, budgets, binding, cap)
        if not over:
            return pick
        for what, amount in over.items():
            margins[what] += amount + 0.5
    return None


@contextlib.contextmanager
def _quiet_native_output() -> Iterator[None]:
    """Silence HiGHS's C++ debug lines (some builds print `HighsMipSolverData::...` on the
    process's stdout, which would corrupt `--json` output): file descriptors 1 and 2 go to
    /dev/null while it runs."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def _violations(
    tables: list[np.ndarray],
    pick: Sequence[int],
    speed: str | None,
    bound: float,
    budgets: Mapping[str, float],
    binding: Sequence[str],
    cap: tuple[int, float] | None,
) -> dict[str, float]:
    out: dict[str, float] = {}
    if speed is not None and math.isfinite(bound):
        got = _speed_of(tables, pick, speed)
        if got > bound:
            out["speed"] = got - bound
    for r in binding:
        got = _total(tables, pick, _COL[r])
        if got > budgets[r] + _EPS:
            out[r] = got - budgets[r]
    if cap is not None:
        got = _total(tables, pick, cap[0])
        if got > cap[1] + max(_EPS, abs(cap[1]) * 1e-12):
            out["cap"] = got - cap[1]
    return out


def _milp(
    tables: list[np.ndarray],
    allowed: list[np.ndarray],
    res_col: int | None,
    speed: str | None,
    bound: float,
    budgets: Mapping[str, float],
    binding: Sequence[str],
    cap: tuple[int, float] | None,
    best_speed: bool,
    margins: Mapping[str, float],
) -> list[int] | None:
    """`_knapsack`'s MILP: x (one binary per allowed option), then z (the bottleneck)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    sizes = [len(i) for i in allowed]
    n = sum(sizes)
    offsets = np.cumsum([0, *sizes])
    stacked = np.vstack([t[i] for t, i in zip(tables, allowed, strict=True)])
    extra = 1 if speed is not None else 0
    nv = n + extra
    c = np.zeros(nv)
    if best_speed:
        c[n] = 1.0
    elif res_col is not None:
        c[:n] = stacked[:, res_col]
    rows: list[np.ndarray] = []
    lo: list[float] = []
    hi: list[float] = []
    for k in range(len(tables)):  # one option per layer
        r = np.zeros(nv)
        r[offsets[k] : offsets[k + 1]] = 1.0
        rows.append(r)
        lo.append(1.0)
        hi.append(1.0)
    for name in binding:
        r = np.zeros(nv)
        r[:n] = stacked[:, _COL[name]]
        rows.append(r)
        lo.append(-np.inf)
        hi.append(budgets[name] + _EPS - margins[name])
    if cap is not None:
        r = np.zeros(nv)
        r[:n] = stacked[:, cap[0]]
        rows.append(r)
        lo.append(-np.inf)
        hi.append(cap[1] + max(_EPS, abs(cap[1]) * 1e-12) - margins["cap"])
    if math.isfinite(bound) and margins["speed"]:
        return None  # the cycles bound is a filter: never violated
    if speed is not None:
        cycles = _COL["cycles"]
        for k in range(len(tables)):  # z >= the chosen option's cycles
            r = np.zeros(nv)
            r[offsets[k] : offsets[k + 1]] = stacked[offsets[k] : offsets[k + 1], cycles]
            r[n] = -1.0
            rows.append(r)
            lo.append(-np.inf)
            hi.append(0.0)
    integrality = np.zeros(nv)
    integrality[:n] = 1
    lb = np.zeros(nv)
    ub = np.ones(nv)
    if extra:
        ub[n] = np.inf
    with _quiet_native_output():
        res = milp(
            c,
            constraints=LinearConstraint(np.array(rows), np.array(lo), np.array(hi)),
            integrality=integrality,
            bounds=Bounds(lb, ub),
            options={"mip_rel_gap": 0.0},
        )
    if res.x is None or not res.success:
        return None
    x = res.x[:n]
    out = []
    for k, idx in enumerate(allowed):
        j = int(np.argmax(x[offsets[k] : offsets[k + 1]]))
        out.append(int(idx[j]))
    return out


def _dp(
    tables: list[np.ndarray],
    hw: Sequence[str],
    budgets: Mapping[str, float],
    binding: Sequence[str],
    max_states: int = MAX_DP_STATES,
) -> tuple[list[list[int]], int]:
    """Any number of objectives: a DP over the layers keeping the partial designs not
    dominated in the objectives' columns and the binding budgets' (exact; see the module
    docstring), pruned by the cheapest remaining layers against the budgets."""
    dims: list[str] = []
    if "fps" in hw:
        dims.append("cycles")
    if "latency_ms" in hw:
        dims += ["fill", "slack"]
    for r in ("lut", "dsp", "bram18"):
        if r in hw and r not in dims:
            dims.append(r)
    dims += [r for r in binding if r not in dims]
    if not dims:
        dims = ["lut"]
    dim_idx = [_COL[c] for c in dims]
    is_max = np.array([c in _MAX_COLS for c in dims])
    bud = np.array([budgets[c] if c in binding else math.inf for c in dims])
    suffix = np.zeros((len(tables) + 1, len(dims)))
    for i in range(len(tables) - 1, -1, -1):
        suffix[i] = suffix[i + 1] + np.where(is_max, 0.0, tables[i][:, dim_idx].min(axis=0))
    if np.any(suffix[0] > bud + _EPS):
        return [], 0
    states = np.zeros((1, len(dims)))
    parents: list[np.ndarray] = []
    chosen: list[np.ndarray] = []
    states_max = 1
    for i, table in enumerate(tables):
        local = _pareto(table[:, dim_idx])  # options dominated within the layer never help
        opts = table[local][:, dim_idx]
        k, m = len(states), len(opts)
        summed = states[:, None, :] + opts[None, :, :]
        maxed = np.maximum(states[:, None, :], opts[None, :, :])
        cand = np.where(is_max, maxed, summed).reshape(k * m, len(dims))
        idx = np.nonzero(np.all(cand + suffix[i + 1] <= bud + _EPS, axis=1))[0]
        if not idx.size:
            return [], states_max
        keep = idx[_pareto(cand[idx])]
        states = cand[keep]
        parents.append(keep // m)
        chosen.append(local[keep % m])
        states_max = max(states_max, len(states))
        if states_max > max_states:
            raise SolverError(
                f"the exact front of {len(hw)} hardware objectives grew past {max_states} "
                "partial designs; ask for one of fps/latency_ms and one resource"
            )
    return _backtrack(parents, chosen, len(states)), states_max


def objective_values(cost: NetworkCost, objectives: Sequence[str]) -> tuple[float, ...]:
    """The hardware objectives of a canonical estimate, all as 'smaller is better'
    (FPS as cycles per frame)."""
    out: list[float] = []
    for o in objectives:
        match o:
            case "fps":
                out.append(float(cost.cycles_per_frame))
            case "latency_ms":
                out.append(float(cost.latency_cycles))
            case _:
                out.append(float(getattr(cost.total, o)))
    return tuple(out)


def _canonical_front(points: list[FrontPoint], objectives: Sequence[str]) -> list[FrontPoint]:
    """The points non-dominated on their canonical numbers, best first objective first."""
    if not points:
        return []
    vals = np.array([objective_values(p.cost, objectives) for p in points], dtype=float)
    keep = sorted(int(i) for i in _pareto(vals))
    kept = [points[i] for i in keep]
    return sorted(kept, key=lambda p: objective_values(p.cost, objectives))


def fastest(
    network: Network,
    device: Device,
    *,
    cap_pct: float = 85.0,
    limits: HardwareLimits | None = None,
    clock_mhz: float | None = None,
) -> FrontPoint | None:
    """FINN's usual target: the highest-throughput design that fits, the fewest LUTs among
    those (None when nothing fits): `solve(objectives=("fps", "lut")).points[0]`, without
    walking the rest of the front (`_fastest_pick`); when that front is solved already (a
    cost-only study's front, then its `solver-fastest` baseline), its first point. A
    network with residual adds (whose skip FIFOs couple the layers) or a graph network
    (`is_graph`) takes the front's own path, as does a design the canonical estimate finds
    over the cap (a rounding edge, where `solve` drops it)."""
    limits = limits or HardwareLimits()
    segments = None
    if not any(layer.op is Op.ADD for layer in network.layers) and not is_graph(network):
        segments, _, _ = _build_segments(network, device, limits)
    if segments is not None:
        vectors = tuple(tuple(o.vector for o in s.options) for s in segments)
        budget_items = tuple(sorted(_budgets(device, cap_pct).items()))
        if (vectors, budget_items) in _FPS_LUT_SOLVED:  # the front is solved: its first point
            segments = None
    if segments is not None:
        pick = _fastest_pick(vectors, budget_items)
        if pick is None:
            return None
        clock = next(c for c in (clock_mhz, network.clock_mhz, device.clock_mhz) if c is not None)
        chosen = {seg.layer: seg.options[j].choice for seg, j in zip(segments, pick, strict=True)}
        net = network.with_choices(chosen)
        cost = estimate(net, device, clock_mhz=clock)
        if cost.fits(cap_pct):
            return FrontPoint(chosen, net, cost)
    res = solve(
        network, device, cap_pct=cap_pct, objectives=("fps", "lut"), limits=limits,
        clock_mhz=clock_mhz,
    )  # fmt: skip
    return res.points[0] if res.points else None


@functools.lru_cache(maxsize=64)
def _fastest_pick(
    vectors: tuple[tuple[tuple[float, ...], ...], ...],
    budget_items: tuple[tuple[str, float], ...],
) -> list[int] | None:
    """The last design `_walk(tables, "fps", "lut", ...)` reaches (the fastest that fits,
    fewest LUTs among those), found from the fast end instead of walking the front.

    The bounds worth trying are the distinct cycles-per-frame values a design can have
    (every option's cycles at least the slowest layer's fastest option, `floor`). Phase 1
    of the walk (fewest LUTs with cycles <= bound) is feasible from some bound T on and its
    LUT total L(bound) never grows with the bound, so two bisections find T, the first
    bound feasible, and P, the first bound with L(P) < L(T): P is the cycles of the front
    point before the fastest, so the walk's last step ran at bound P - 1 (no P: the
    fastest is the front's only point and the walk's one step ran unbounded). That step
    is repeated as the walk runs it (phase 1, then phase 2: the best cycles within phase
    1's LUTs), so ties among equal designs break the same way. The cycles bound is only a
    filter on the options (`_knapsack`), so a bound between two distinct values solves
    the same problem as the lower one."""
    budgets = dict(budget_items)
    tables = [np.array(v, dtype=float) for v in vectors]
    binding = _binding(tables, budgets)
    lut, cyc = _COL["lut"], _COL["cycles"]
    floor = max(float(t[:, cyc].min()) for t in tables)
    bounds = sorted({float(v) for t in tables for v in t[:, cyc] if v >= floor})
    memo: dict[int, list[int] | None] = {}

    def phase1(i: int) -> list[int] | None:
        if i not in memo:
            memo[i] = _knapsack(tables, lut, "fps", bounds[i], budgets, binding, None)
        return memo[i]

    def fewest(i: int) -> float:  # L(bounds[i]), inf when infeasible
        pick = phase1(i)
        return math.inf if pick is None else _total(tables, pick, lut)

    def first(lo: int, hi: int, ok: Callable[[int], bool]) -> int:
        """The first index in [lo, hi) where `ok` holds (`ok` monotone), hi if none."""
        while lo < hi:
            mid = (lo + hi) // 2
            if ok(mid):
                hi = mid
            else:
                lo = mid + 1
        return lo

    n = len(bounds)
    if phase1(n - 1) is None:
        return None
    t = first(0, n - 1, lambda i: fewest(i) < math.inf)
    p = first(t + 1, n, lambda i: fewest(i) < fewest(t))
    bound = bounds[p] - 1.0 if p < n else math.inf
    pick = phase1(p - 1)  # the same options as at `bound`: feasible, since p - 1 >= t
    if pick is None:
        return None
    cap = (lut, _total(tables, pick, lut))
    best = _knapsack(tables, None, "fps", bound, budgets, binding, cap, best_speed=True)
    return best if best is not None else pick


def segment_sums(network: Network, device: Device) -> dict[str, float]:
    """The separable model of `network`'s own design: its segments (see the module
    docstring) re-added, plus the shell: resources, cycles per frame, latency cycles.
    Equal to `estimate` for layer chains without residual adds (tests check it on random
    designs); the solver's DP optimizes exactly these sums. A graph network (`is_graph`)
    is summed by the graph DP on its own design (`_dp_graph` with one option per compute
    layer, no budget): equal to `estimate` on every graph shape (tests)."""
    if is_graph(network):
        return _graph_sums(network, device)
    _check_shape(network)
    resolved = resolve(network)
    readers = _readers(network)
    compute_idx = [i for i, r in enumerate(resolved) if r.op.is_compute]
    total = [0.0] * len(_COLS)
    for k, ci in enumerate(compute_idx):
        end = compute_idx[k + 1] if k + 1 < len(compute_idx) else len(resolved)
        nxt = resolved[end] if end < len(resolved) else None
        vec = _segment_vector(
            network, resolved, readers, 0 if k == 0 else ci, ci, end, resolved[ci].choice,
            device, k == 0, nxt,
        )  # fmt: skip
        total = _merge(total, vec)
    shell = shell_resources(device)
    d = dict(zip(_COLS, total, strict=True))
    return {
        "lut": d["lut"] + shell.lut,
        "dsp": d["dsp"] + shell.dsp,
        "bram18": d["bram18"] + shell.bram18,
        "uram": d["uram"] + shell.uram,
        "cycles_per_frame": d["cycles"],
        "latency_cycles": d["fill"] + max(d["slack"], 0.0),
    }


#: Largest partial front the coupled DP (residual adds) keeps before falling back to the
#: nominal skip FIFOs (`solve`).
MAX_COUPLED_STATES = 5_000
#: Largest number of (partial design, option) pairs one coupled DP step compares.
MAX_COUPLED_CANDIDATES = 200_000


def _pareto_grouped(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """`_pareto` within each group of equal `keys` rows (rows of different keys are never
    compared: a skip FIFO's cost is not monotone in its depth, so neither key orders)."""
    if keys.shape[1] == 0:
        return _pareto(values)
    _, group = np.unique(keys, axis=0, return_inverse=True)
    group = group.reshape(-1)
    out = [np.nonzero(group == g)[0] for g in range(int(group.max()) + 1)]
    return np.concatenate([idx[_pareto(values[idx])] for idx in out])


def _dp_coupled(
    network: Network,
    resolved: tuple[ResolvedLayer, ...],
    segments: list[_Segment],
    hw: Sequence[str],
    budgets: Mapping[str, float],
    device: Device,
) -> tuple[list[list[int]], int]:
    """`_dp` for chains with residual adds, exact: the segments exclude the skip FIFOs;
    each partial design also carries, per add whose skip branch is open, the lanes of the
    stream the FIFO holds (`dataflow._add_unit`: set by the option that produces the
    add's early input) and the branch's fill so far (summed unit latencies after that
    input up to the add's late input). Partial designs are compared only when those keys
    are equal, so the pruning stays exact; when the add is reached its FIFO is costed
    (`memory.fifo_cost` of width gcd(channels, lanes) x bits and depth max(32, fill), as
    the composer does) and added, and the keys are dropped. Every budget is a dimension
    (a FIFO may make any of them bind). Raises `SolverError` past `MAX_COUPLED_STATES`."""
    pos = {r.name: i for i, r in enumerate(resolved)}
    pos[INPUT] = -1
    ins = layer_inputs(network.layers)
    seg_of: dict[int, int] = {-1: 0}
    for k, seg in enumerate(segments):
        for j, _, _ in seg.options[0].trace:
            seg_of[j] = k
    adds: list[tuple[int, int, int]] = []  # (early position, add position, close segment)
    for ai, r in enumerate(resolved):
        if r.op is Op.ADD:
            early = min(pos[n] for n in ins[ai])
            late = max(pos[n] for n in ins[ai])
            if late != ai - 1 or early not in seg_of:
                raise SolverError(f"add {r.name!r} is not a residual add of a layer chain")
            adds.append((early, ai, seg_of[ai]))
    dims: list[str] = []
    if "fps" in hw:
        dims.append("cycles")
    if "latency_ms" in hw:
        dims += ["fill", "slack"]
    dims += [r for r in (*BUDGETED, "dsp", "bram18", "lut") if r not in dims]
    dims = list(dict.fromkeys(dims))
    dim_idx = [_COL[c] for c in dims]
    is_max = np.array([c in _MAX_COLS for c in dims])
    bud = np.array([budgets[c] if c in BUDGETED else math.inf for c in dims])
    res_pos = {c: dims.index(c) for c in BUDGETED}
    tables = [np.array([o.vector for o in seg.options], dtype=float) for seg in segments]
    suffix = np.zeros((len(tables) + 1, len(dims)))
    for i in range(len(tables) - 1, -1, -1):
        suffix[i] = suffix[i + 1] + np.where(is_max, 0.0, tables[i][:, dim_idx].min(axis=0))
    na = len(adds)
    states = np.zeros((1, len(dims)))
    keys = np.zeros((1, 2 * na))  # per add: lanes, branch fill so far
    parents: list[np.ndarray] = []
    chosen: list[np.ndarray] = []
    states_max = 1
    for i, (seg, table) in enumerate(zip(segments, tables, strict=True)):
        okeys = np.zeros((len(seg.options), 2 * na))  # per option: lanes set, fill added
        for o, opt in enumerate(seg.options):
            tr = {j: (lat, lanes) for j, lat, lanes in opt.trace}
            for a, (early, ai, _) in enumerate(adds):
                if early in tr:
                    okeys[o, 2 * a] = tr[early][1]
                okeys[o, 2 * a + 1] = sum(lat for j, (lat, _) in tr.items() if early < j < ai)
        local = _pareto_grouped(table[:, dim_idx], okeys)  # equal couplings: comparable
        opts, okeys = table[local][:, dim_idx], okeys[local]
        k, m = len(states), len(opts)
        if k * m > MAX_COUPLED_CANDIDATES:
            raise SolverError(f"more than {MAX_COUPLED_CANDIDATES} partial designs to compare")
        cand = np.where(
            is_max, np.maximum(states[:, None, :], opts[None]), states[:, None, :] + opts[None]
        ).reshape(k * m, len(dims))
        ck = np.repeat(keys, m, axis=0)
        ok = np.tile(okeys, (k, 1))
        for a, (early, ai, close) in enumerate(adds):
            if seg_of[early] == i:
                ck[:, 2 * a] = ok[:, 2 * a]
            ck[:, 2 * a + 1] += ok[:, 2 * a + 1]
            if close == i:  # the add is in this segment: its skip FIFO, then keys dropped
                rl = resolved[ai]
                pairs = ck[:, 2 * a : 2 * a + 2]
                uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
                add = np.zeros((len(uniq), len(dims)))
                for u, (lanes, fill) in enumerate(uniq):
                    width = max(1, math.gcd(rl.out_channels, int(lanes))) * rl.in_bits
                    f = fifo_cost(width, max(STREAM_FIFO_DEPTH, int(fill)), device)
                    for c in BUDGETED:
                        add[u, res_pos[c]] = getattr(f, c)
                cand = cand + add[inv.reshape(-1)]
                ck[:, 2 * a : 2 * a + 2] = 0.0
        idx = np.nonzero(np.all(cand + suffix[i + 1] <= bud + _EPS, axis=1))[0]
        if not idx.size:
            return [], states_max
        keep = idx[_pareto_grouped(cand[idx], ck[idx])]
        states, keys = cand[keep], ck[keep]
        parents.append(keep // m)
        chosen.append(local[keep % m])
        states_max = max(states_max, len(states))
        if states_max > MAX_COUPLED_STATES:
            raise SolverError(f"more than {MAX_COUPLED_STATES} partial designs")
    return _backtrack(parents, chosen, len(states)), states_max


# --- graphs: concats, branches, explicit inputs (`_dp_graph`) ---------------------------

#: Per-state vector of the graph DP: max columns, then the summed budgeted resources.
_GCOLS = ("cycles", "slack", "lut", "dsp", "bram18", "uram")
_GMAX = 2  # columns before this index combine by max, the rest by +


def fifo_floor(width: int, device: Device) -> Resources:
    """Per resource, the least any stream FIFO of `width` bits and depth >= 32 costs
    (`memory.fifo_cost`; a depth below 32 never occurs: `dataflow` sizes every branch
    FIFO max(32, fill)). Not one FIFO: depth 32 (SRL) has the fewest FFs and no BRAM, but
    a FIFO deeper than 128 moves to BRAM and keeps only its 2*log2(depth)+8 control LUTs,
    fewer than an SRL's `width` + 18 from width 7 on. Within each of `fifo_numbers`'
    regimes (SRL <= 64, LUTRAM <= 128, BRAM/URAM beyond) every column is nondecreasing in
    the depth, and URAM is only considered from depth 1,024 on, so the least is at depths
    32, 33, 65, 129, 1,024 or 4,097; the scan below covers 32..256 and every power of two
    (and one past it) up to 2^24 (a test compares it with every depth up to 70,000).
    Nondecreasing in `width` (tested), so the narrowest stream bounds every wider one."""
    return _fifo_floor(width, device)


@functools.lru_cache(maxsize=1024)
def _fifo_floor(width: int, device: Device) -> Resources:
    depths = {*range(STREAM_FIFO_DEPTH, 257), *(2**k for k in range(8, 25)),
              *(2**k + 1 for k in range(8, 25))}  # fmt: skip
    costs = [fifo_cost(width, d, device) for d in sorted(depths)]
    return Resources(
        lut=min(c.lut for c in costs),
        ff=min(c.ff for c in costs),
        dsp=min(c.dsp for c in costs),
        bram18=min(c.bram18 for c in costs),
        uram=min(c.uram for c in costs),
    )


@dataclass(frozen=True)
class _GraphPlan:
    """A network's graph as the graph DP walks it. Value columns: 0 the network input,
    i + 1 layer i. Per layer: the columns it reads; per column: its (shape, bits, type),
    the compute layers and the other layers reading it, and its last reader (-1: none)."""

    resolved: tuple[ResolvedLayer, ...]
    ins: tuple[tuple[int, ...], ...]
    names: tuple[str, ...]  # per column
    values: tuple[tuple[tuple[int, ...], int, object], ...]  # per column
    compute_readers: tuple[tuple[int, ...], ...]  # per column: positions
    other_readers: tuple[tuple[int, ...], ...]  # per column: positions
    last_read: tuple[int, ...]  # per column
    fanout: tuple[int, ...]  # per layer
    input_readers: int
    first: int  # position of the first compute layer


def _graph_plan(network: Network) -> _GraphPlan:
    resolved = resolve(network)
    col = {INPUT: 0, **{r.name: i + 1 for i, r in enumerate(resolved)}}
    ins = tuple(tuple(col[n] for n in names) for names in layer_inputs(network.layers))
    n = len(resolved) + 1
    comp: list[list[int]] = [[] for _ in range(n)]
    other: list[list[int]] = [[] for _ in range(n)]
    last = [-1] * n
    for i, (r, cols) in enumerate(zip(resolved, ins, strict=True)):
        for c in cols:
            (comp if r.op.is_compute else other)[c].append(i)
            last[c] = i
    values = [(tuple(network.input_shape), network.input_bits, network.input_type)]
    values += [(r.out_shape, r.out_bits, r.out_type) for r in resolved]
    compute = [i for i, r in enumerate(resolved) if r.op.is_compute]
    if not compute:
        raise ConfigError(f"network {network.name!r} has no compute layers to fold")
    readers = [len(comp[c]) + len(other[c]) for c in range(n)]
    return _GraphPlan(
        resolved, ins, (INPUT, *(r.name for r in resolved)), tuple(values),
        tuple(map(tuple, comp)), tuple(map(tuple, other)), tuple(last),
        tuple(readers[1:]), readers[0], compute[0],
    )  # fmt: skip


def _res4(r: Resources) -> list[float]:
    return [r.lut, r.dsp, r.bram18, r.uram]


def _unit_vector(
    plan: _GraphPlan,
    i: int,
    cost_res: Resources,
    cycles: int,
    latency: int,
    out_lanes: int,
    l0: int,
    device: Device,
) -> list[float]:
    """Layer i's unit in the graph DP: its cost, the `DuplicateStreams` the composer
    charges to it (its own fan-out; at the first layer the network input's when the layer
    itself does not fan out, `dataflow._compose`), and the input FIFO of every compute
    layer reading it (charged here, where its width out_lanes x bits is known, and taken
    out of the reader's own vector)."""
    res = _res4(cost_res)
    fanout = plan.fanout[i]
    dup_cycles = 0
    if fanout > 1:
        shape, bits, _ = plan.values[i + 1]
        dup = duplicate_resources(shape, bits, out_lanes, fanout)
        dup_cycles = duplicate_cycles(shape, out_lanes)
    elif i == 0 and plan.input_readers > 1:
        shape, bits, _ = plan.values[0]
        dup = duplicate_resources(shape, bits, l0, plan.input_readers)
        dup_cycles = duplicate_cycles(shape, l0)
    if dup_cycles:
        res = [a + b for a, b in zip(res, _res4(dup), strict=True)]
        cycles = max(cycles, dup_cycles)
    bits = plan.values[i + 1][1]
    for _ in plan.compute_readers[i + 1]:
        f = fifo_cost(out_lanes * bits, STREAM_FIFO_DEPTH, device)
        res = [a + b for a, b in zip(res, _res4(f), strict=True)]
    return [float(cycles), float(cycles - latency), *res]


@dataclass(frozen=True)
class _GraphOption:
    choice: LayerChoice
    vector: tuple[float, ...]  # in _GCOLS order
    latency: int
    lanes: int  # output lanes
    simd: int


def _graph_options(
    plan: _GraphPlan, i: int, choices: Sequence[LayerChoice], device: Device
) -> list[_GraphOption]:
    """Compute layer i's options: its unit (`dataflow.unit`) without its input FIFO (the
    producer's vector carries it), with what `_unit_vector` adds."""
    rl = plan.resolved[i]
    shape, bits, dtype = plan.values[plan.ins[i][0]]
    own_fifo = fifo_cost(rl.in_bits, STREAM_FIFO_DEPTH, device)
    out: list[_GraphOption] = []
    for choice in choices:
        try:
            spec = replace(rl.spec, choice=choice)
            _, _, _, cost, lanes = unit(spec, shape, bits, dtype, 1, device)
        except DseError:
            continue
        vec = _unit_vector(plan, i, cost.resources + own_fifo * -1.0, cost.cycles,
                           cost.latency_cycles, lanes, choice.simd, device)  # fmt: skip
        out.append(_GraphOption(choice, tuple(vec), cost.latency_cycles, lanes, choice.simd))
    if not out:
        raise ConfigError(f"layer {rl.name!r}: no folding fits its kept channels")
    return out


def _layer_choices(rl: ResolvedLayer, limits: HardwareLimits) -> list[LayerChoice]:
    return [
        replace(rl.choice, pe=pe, simd=simd, mmv=mmv, arith=arith, ram_style=ram)
        for arith in _arith_options(rl, limits)
        for ram in _ram_options(rl, limits)
        for pe, simd, mmv in _fold_options(rl, limits)
    ]


def _fixed_unit(
    plan: _GraphPlan,
    i: int,
    lanes: Sequence[int],
    fills: Sequence[int],
    l0: int,
    device: Device,
    relaxed: bool,
) -> list[tuple[list[float], int, int]]:
    """A pooling, add or concat unit on inputs of these lanes and fills (relative): its
    vector (`_unit_vector`), latency and output lanes, through the composer's own unit
    functions. `relaxed`: the branch FIFOs at `fifo_floor` (an add, once per order of its
    inputs, since the later one sets its lanes) or none (a concat): a lower bound
    independent of the fills."""
    rl = plan.resolved[i]
    cols = plan.ins[i]
    if rl.op is Op.ADD and relaxed:
        out = []
        for late, early in ((0, 1), (1, 0)):
            width = max(1, math.gcd(rl.out_channels, lanes[early])) * rl.in_bits
            cost = add_cost(rl, device, lanes[late], fifo_floor(width, device))
            out_lanes = max(1, math.gcd(rl.out_channels, lanes[late]))
            vec = _unit_vector(plan, i, cost.resources, cost.cycles, cost.latency_cycles,
                               out_lanes, l0, device)  # fmt: skip
            out.append((vec, cost.latency_cycles, out_lanes))
        return out
    if rl.op is Op.CONCAT and relaxed:
        channels = tuple(plan.values[c][0][0] for c in cols)
        g = max(1, functools.reduce(math.gcd, (*lanes, *channels)))
        cost = concat_cost(rl, device, channels, g, _ZERO)
        out_lanes = g
    elif rl.op in (Op.ADD, Op.CONCAT):
        names = tuple(plan.names[c] for c in cols)
        stream = Stream(
            lanes=lanes[0], fill=max(fills), inputs=names,
            fill_at=dict(zip(names, fills, strict=True)),
            lanes_at=dict(zip(names, lanes, strict=True)),
            channels_at={n: plan.values[c][0][0] for n, c in zip(names, cols, strict=True)},
        )  # fmt: skip
        streamed = UNIT_KINDS[rl.op].streamed
        assert streamed is not None
        cost, out_lanes = streamed(rl, device, lanes[0], stream)
    else:
        shape, bits, dtype = plan.values[cols[0]]
        _, _, _, cost, out_lanes = unit(rl.spec, shape, bits, dtype, lanes[0], device)
    vec = _unit_vector(plan, i, cost.resources, cost.cycles, cost.latency_cycles, out_lanes,
                       l0, device)  # fmt: skip
    return [(vec, cost.latency_cycles, out_lanes)]


@dataclass(frozen=True)
class _GraphRun:
    """The graph DP's front: per final design the option index of every compute layer (by
    position), its model values (cycles, latency, LUT, DSP, BRAM18, URAM; a lower bound
    when relaxed) and the largest partial front kept."""

    picks: tuple[dict[int, int], ...]
    values: np.ndarray
    states_max: int


def _open_after(plan: _GraphPlan, i: int) -> tuple[list[int], list[int]]:
    """After layer i: the value columns still to be read (the last layer's stays), and
    those of them whose lanes a later unit needs (a pooling/add/concat reader, or the
    network input until the first compute layer, whose SIMD must equal its lanes)."""
    n = len(plan.resolved)
    opened = [c for c in range(min(i + 2, n + 1)) if plan.last_read[c] > i]
    if i == n - 1:
        opened.append(n)
    needed = [c for c in opened if any(j > i for j in plan.other_readers[c])]
    if i < plan.first and 0 not in needed:
        needed.insert(0, 0)
    return opened, needed


def _dp_graph(
    plan: _GraphPlan,
    options: Mapping[int, Sequence[_GraphOption]],
    hw: Sequence[str],
    budgets: Mapping[str, float],
    device: Device,
    *,
    relaxed: bool,
    max_states: int,
) -> _GraphRun:
    """The front of a network of any graph shape (concats, branches, adds), by a DP over
    its layers in order (a topological order: a layer reads earlier ones only).

    A partial design is the layers so far; it carries a vector (largest unit cycles and
    `cycles - fill`, summed LUT/DSP/BRAM18/URAM) and, per value still to be read, the
    lanes of its stream and its fill (the composer's `lanes_at`/`fill_at`). A compute
    layer branches over its options; a pooling/add/concat unit is determined by its
    inputs' lanes and fills and costed by the composer's own function. What a later unit
    can depend on is the key: the lanes of values a pooling/add/concat will read (a
    compute reader's input FIFO is charged at its producer, `_unit_vector`) and, exact,
    every open value's fill relative to the latest (branch FIFO depths, which input of an
    add is late, `dataflow._add_unit`/`_concat_unit`). Partial designs are compared only
    at equal keys, on the objectives' columns (the latest fill for latency) and every
    budget: pruning is exact since later units add the same to both. `relaxed`
    (`_fixed_unit`): the fills leave the key (with latency they become columns, each
    monotone), so the front is a componentwise lower bound. `SolverError` past
    `max_states` partial designs, or past `MAX_GRAPH_CANDIDATES` pairs (or
    `MAX_GRAPH_ENTRIES` per-value entries) in one step."""
    n = len(plan.resolved)
    ncol = n + 1
    lat_obj = "latency_ms" in hw
    sel = ([0] if "fps" in hw else []) + ([1] if lat_obj else []) + [2, 3, 4, 5]
    bud = np.array([budgets[r] for r in BUDGETED])  # _GCOLS[2:] order
    suffix = np.zeros((n + 1, 4))
    for i in range(n - 1, -1, -1):
        low = np.min([o.vector[2:] for o in options[i]], axis=0) if i in options else 0.0
        suffix[i] = suffix[i + 1] + low
    l0s = sorted({o.simd for o in options[plan.first]})
    k = len(l0s)
    V = np.zeros((k, len(_GCOLS)))
    L = np.zeros((k, ncol), dtype=np.int64)
    F = np.zeros((k, ncol), dtype=np.int64)
    L[:, 0] = l0s
    for s, l0 in enumerate(l0s):
        for _ in plan.compute_readers[0]:
            f = fifo_cost(l0 * plan.values[0][1], STREAM_FIFO_DEPTH, device)
            V[s, 2:] += _res4(f)
    parents: list[np.ndarray] = []
    chosen: list[np.ndarray] = []
    states_max = k
    work = [MAX_GRAPH_WORK]
    for i in range(n):
        cols = plan.ins[i]
        opened, needed = _open_after(plan, i)
        if i in options:
            opts = options[i]
            ov = np.array([o.vector for o in opts], dtype=float)
            olat = np.array([o.latency for o in opts], dtype=np.int64)
            olanes = np.array([o.lanes for o in opts], dtype=np.int64)
            osimd = np.array([o.simd for o in opts], dtype=np.int64)
            okey = [olanes] if i + 1 in needed else []
            if i == plan.first:
                okey.append(osimd)
            odims = [ov[:, c] for c in sel]
            if not relaxed and len(opened) >= 2:
                okey.append(olat)
            elif lat_obj:
                odims.append(olat)
            okeys = np.column_stack(okey) if okey else np.zeros((len(opts), 0))
            local = _pareto_grouped(np.column_stack(odims), okeys)  # one layer's options: small
            m = len(local)
            if i == plan.first:
                mask = L[:, 0][:, None] == osimd[local][None, :]
            else:
                mask = np.ones((len(V), m), dtype=bool)
            si, oi = np.nonzero(mask)
            if len(si) > MAX_GRAPH_CANDIDATES or len(si) * ncol > MAX_GRAPH_ENTRIES:
                raise SolverError(
                    f"{len(si)} (partial design, option) pairs of {ncol} values to compare"
                )
            o_idx = local[oi]
            add = ov[o_idx]
            nv = np.concatenate(
                [np.maximum(V[si, :_GMAX], add[:, :_GMAX]), V[si, _GMAX:] + add[:, _GMAX:]], axis=1
            )
            nl, nf = L[si], F[si]
            nl[:, i + 1] = olanes[o_idx]
            nf[:, i + 1] = F[si, cols[0]] + olat[o_idx]
            parent, pick = si, o_idx
        else:
            in_l, in_f = L[:, cols], F[:, cols]
            top = in_f.max(axis=1)
            rel = in_f - top[:, None]
            lanes0 = L[:, 0] if i == 0 else np.zeros(len(V), dtype=np.int64)
            rows = np.column_stack([in_l, rel if not relaxed else np.zeros_like(rel), lanes0])
            uniq, inv = np.unique(rows, axis=0, return_inverse=True)
            inv = inv.reshape(-1)
            nc = len(cols)
            found = [
                _fixed_unit(
                    plan,
                    i,
                    [int(x) for x in u[:nc]],
                    [int(x) for x in u[nc : 2 * nc]],
                    int(u[-1]),
                    device,
                    relaxed,
                )
                for u in uniq
            ]
            parts_v, parts_l, parts_f, parts_p = [], [], [], []
            for var in range(max(len(f) for f in found)):
                vec = np.array([f[min(var, len(f) - 1)][0] for f in found], dtype=float)[inv]
                lat = np.array([f[min(var, len(f) - 1)][1] for f in found], dtype=np.int64)[inv]
                lns = np.array([f[min(var, len(f) - 1)][2] for f in found], dtype=np.int64)[inv]
                parts_v.append(np.concatenate(
                    [np.maximum(V[:, :_GMAX], vec[:, :_GMAX]), V[:, _GMAX:] + vec[:, _GMAX:]],
                    axis=1,
                ))  # fmt: skip
                nl_v, nf_v = L.copy(), F.copy()
                nl_v[:, i + 1] = lns
                nf_v[:, i + 1] = top + lat
                parts_l.append(nl_v)
                parts_f.append(nf_v)
                parts_p.append(np.arange(len(V)))
            nv, nl, nf = np.vstack(parts_v), np.vstack(parts_l), np.vstack(parts_f)
            parent = np.concatenate(parts_p)
            pick = np.full(len(parent), -1, dtype=np.int64)
        closed = [c for c in range(ncol) if c not in opened]
        nf[:, closed] = 0
        nl[:, [c for c in range(ncol) if c not in needed]] = 0
        if relaxed and not lat_obj:
            nf[:] = 0
        dims = [nv[:, c] for c in sel]
        keys = [nl[:, c] for c in needed]
        if opened:
            top = nf[:, opened].max(axis=1)
            if relaxed:
                dims += [nf[:, c] for c in opened] if lat_obj else []
            else:
                keys += [nf[:, c] - top for c in opened] if len(opened) > 1 else []
                dims += [top] if lat_obj else []
        idx = np.nonzero(np.all(nv[:, _GMAX:] + suffix[i + 1] <= bud + _EPS, axis=1))[0]
        if not idx.size:
            return _GraphRun((), np.zeros((0, 6)), states_max)
        dm = np.column_stack(dims)[idx]
        km = np.column_stack(keys)[idx] if keys else np.zeros((len(idx), 0))
        keep = idx[_pareto_capped(dm, km, work)]
        V, L, F = nv[keep], nl[keep], nf[keep]
        parents.append(parent[keep])
        chosen.append(pick[keep])
        states_max = max(states_max, len(V))
        if states_max > max_states:
            raise SolverError(f"more than {max_states} partial designs")
    latency = np.maximum(F[:, n] + np.maximum(V[:, 1], 0.0), V[:, 0])
    values = np.column_stack([V[:, 0], latency, V[:, 2:]])
    obj = {"fps": 0, "latency_ms": 1, "lut": 2, "dsp": 3, "bram18": 4}
    front = _pareto(values[:, [obj[o] for o in hw]]) if hw else np.arange(len(V))
    designs = [
        {i: j for i, j in enumerate(pick) if i in options}
        for pick in _backtrack(parents, chosen, len(V))
    ]
    return _GraphRun(tuple(designs[int(s)] for s in front), values[front], states_max)


def _pareto_capped(values: np.ndarray, keys: np.ndarray, work: list[int]) -> np.ndarray:
    """`_pareto_grouped`, counting the comparisons its filter makes (`_pareto`'s sweep:
    per kept row, one comparison with each remaining row of its group) against the DP's
    remaining allowance `work[0]`; `SolverError` when it runs out. Groups of at most two
    columns are solved by `_pareto`'s sort, counted as their size."""
    if keys.shape[1] == 0:
        groups = [np.arange(len(values))]
    else:
        _, inv = np.unique(keys, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        order = np.argsort(inv, kind="stable")
        bounds = np.nonzero(np.diff(inv[order]))[0] + 1
        groups = np.split(order, bounds)
    out = []
    for idx in groups:
        p = values[idx]
        if p.shape[1] <= 2 or len(idx) <= 1:
            work[0] -= len(idx)
            out.append(idx[_pareto(p)])
            continue
        order = np.lexsort(p.T[::-1])
        q = p[order]
        alive = np.arange(len(idx))
        kept: list[int] = []
        while alive.size:
            i = int(alive[0])
            kept.append(i)
            rest = alive[1:]
            work[0] -= rest.size
            if work[0] < 0:
                raise SolverError(
                    f"the Pareto filter passed {MAX_GRAPH_WORK:,} comparisons (a partial "
                    f"front group of {len(idx)} designs)"
                )
            if not rest.size:
                break
            alive = rest[~np.all(q[rest] >= q[i], axis=1)]
        out.append(idx[order[np.array(kept, dtype=np.int64)]])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def is_graph(network: Network) -> bool:
    """Whether `network` needs the graph DP: a concat, a layer with explicit `inputs`, or
    a layer other than an add reading an earlier layer than the previous one
    (`_check_shape`'s layer chains with residual adds are the rest)."""
    try:
        _check_shape(network)
    except SolverError:
        return True
    return False


#: Largest partial front the exact graph DP keeps before falling back to the relaxed one,
#: and the relaxed one before `SolverError` (the search then samples). Sized by
#: benchmarks/solver_graph.py (figures in docs/costmodels.md): the exact DP on
#: examples/inception-mini.yaml keeps over 100,000 partial designs before its concat.
MAX_GRAPH_STATES = 200_000
MAX_RELAXED_STATES = 200_000
#: One graph DP step compares at most this many (partial design, option) pairs (its Pareto
#: filter is quadratic in the worst case: a step of 362,000 pairs in one key group, the
#: graph fixture's latency front at the search's limits, ran for minutes), and holds at
#: most this many per-value lanes/fills (two int64 arrays: 160 MB).
MAX_GRAPH_CANDIDATES = 250_000
#: Comparisons the graph DP's Pareto filters may make in one solve (`_pareto_capped`):
#: about 5 x 10^8 took 8 s CPU at load 5 (one 50,693-design group keeping 10,236, the
#: relaxed latency front of examples/inception-mini.yaml), so ~30 s.
MAX_GRAPH_WORK = 2_000_000_000
MAX_GRAPH_ENTRIES = 10_000_000
#: The graph DP's final columns (`_GraphRun.values`) per hardware objective.
_GRAPH_OBJ = {"fps": 0, "latency_ms": 1, "lut": 2, "dsp": 3, "bram18": 4}


def _solve_graph(
    network: Network,
    device: Device,
    limits: HardwareLimits,
    hw: Sequence[str],
    budgets: Mapping[str, float],
) -> tuple[list[dict[str, LayerChoice]], np.ndarray | None, int, int, tuple[str, ...]]:
    """`solve` for a graph network (`is_graph`): the exact graph DP, or past
    `MAX_COUPLED_STATES` the relaxed one (its objective values returned as the bound);
    `SolverError` when that too outgrows the limit. Returns (designs, the bound's values
    or None, options, largest partial front, notes)."""
    plan = _graph_plan(network)
    options = {
        i: _graph_options(plan, i, _layer_choices(rl, limits), device)
        for i, rl in enumerate(plan.resolved)
        if rl.op.is_compute
    }
    n_options = sum(len(o) for o in options.values())
    notes: tuple[str, ...] = ()
    bound: np.ndarray | None = None
    try:
        run = _dp_graph(plan, options, hw, budgets, device, relaxed=False,
                        max_states=MAX_GRAPH_STATES)  # fmt: skip
    except SolverError as exc:
        notes = (
            f"graph: the exact DP gave up ({exc})",
            "graph: branch FIFOs charged at their least possible cost in the search (an "
            "add's at fifo_floor for either input late, a concat's none) and at their real "
            "size in every returned design",
        )
        run = _dp_graph(plan, options, hw, budgets, device, relaxed=True,
                        max_states=MAX_RELAXED_STATES)  # fmt: skip
        bound = run.values[:, [_GRAPH_OBJ[o] for o in hw]]
    designs = [
        {plan.resolved[i].name: options[i][j].choice for i, j in pick.items()} for pick in run.picks
    ]
    return designs, bound, n_options, run.states_max, notes


def _chain_values(
    segments: Sequence[_Segment], picks: Sequence[Sequence[int]], hw: Sequence[str]
) -> np.ndarray:
    """The segment model's objective values of `picks` (the skip FIFOs at their floor: a
    lower bound of each design's canonical values, shell excluded)."""
    tables = [np.array([o.vector for o in s.options], dtype=float) for s in segments]
    rows = []
    for pick in picks:
        row = []
        for o in hw:
            if o in ("fps", "latency_ms"):
                row.append(_speed_of(tables, pick, o))
            else:
                row.append(_total(tables, pick, _COL[o]))
        rows.append(row)
    return np.array(rows, dtype=float).reshape(len(rows), len(hw))


def certified_gap(
    bound: np.ndarray, points: Sequence[FrontPoint], hw: Sequence[str], shell: Resources
) -> tuple[float, str]:
    """How far the returned front can be from the exact one, when the search ran on a
    lower bound (`bound`: its front's objective values in `hw` order, shell excluded).

    For each speed point s of the bound's front and each resource objective r: LB(s) =
    the least r among the bound's designs at speed <= s, a lower bound of every design's
    (each design's bound values are at most its canonical ones, and the bound's front is
    exact for the bound); UB(s) = the least canonical r among the returned designs at
    speed <= s. The gap is the largest (UB - LB) / LB: at every s the returned front is
    within it of the optimum. Infinite when at some s no returned design is as fast (one
    that fitted the bound was dropped over budget). Without a resource objective the
    speed itself is compared; without a speed objective one point."""
    sp = next((j for j, o in enumerate(hw) if o in ("fps", "latency_ms")), None)
    targets = [j for j, o in enumerate(hw) if o not in ("fps", "latency_ms")]
    if not targets and sp is not None:
        targets = [sp]
    lb_all = bound.astype(float).copy()
    for j, o in enumerate(hw):
        if o not in ("fps", "latency_ms"):
            lb_all[:, j] += getattr(shell, o)
    true = np.array([objective_values(p.cost, hw) for p in points], dtype=float)
    worst, unmatched = 0.0, 0
    for row in lb_all:
        s = row[sp] if sp is not None else math.inf
        in_lb = lb_all[lb_all[:, sp] <= s] if sp is not None else lb_all
        in_ub = true[true[:, sp] <= s] if sp is not None and len(true) else true
        for j in targets:
            lb = float(in_lb[:, j].min())
            if not len(in_ub):
                unmatched += 1
                continue
            ub = float(in_ub[:, j].min())
            worst = max(worst, (ub - lb) / lb if lb > 0 else (0.0 if ub <= lb else math.inf))
    names = "/".join(hw[j] for j in targets)
    if unmatched:
        return math.inf, (
            f"bound: at {unmatched} of the bound's {len(lb_all)} front points no returned "
            f"design is as fast (dropped over budget); elsewhere {names} within "
            f"{worst:.2%} of the bound"
        )
    return worst, (
        f"bound: at each of the bound's {len(lb_all)} front points the returned {names} is "
        f"within {worst:.2%} of the least any design can reach (certified gap)"
    )


def _graph_sums(network: Network, device: Device) -> dict[str, float]:
    """`segment_sums` of a graph network: its own design through `_dp_graph`."""
    plan = _graph_plan(network)
    options = {
        i: _graph_options(plan, i, [rl.choice], device)
        for i, rl in enumerate(plan.resolved)
        if rl.op.is_compute
    }
    budgets = dict.fromkeys(BUDGETED, math.inf)
    run = _dp_graph(plan, options, HARDWARE_OBJECTIVES, budgets, device, relaxed=False,
                    max_states=1)  # fmt: skip
    cycles, latency, lut, dsp, bram18, uram = (float(x) for x in run.values[0])
    shell = shell_resources(device)
    return {
        "lut": lut + shell.lut,
        "dsp": dsp + shell.dsp,
        "bram18": bram18 + shell.bram18,
        "uram": uram + shell.uram,
        "cycles_per_frame": cycles,
        "latency_cycles": latency,
    }
