"""Both halves' hardware from the exact folding solver (`dse search --mode twin --hardware
solve`): the twin study samples only what changes accuracy (both halves' bits, pruning,
weight formats) and the threshold T; the two accelerators' foldings come from here.

The halves share one device: the pair's resources are both accelerators plus the Table 1
overhead (`dse.twin.resources.pair_resources`), every resource within the cap. For fixed
accuracy choices of both halves and a threshold T, `PairSolver.front` returns the pair
designs that are Pareto-optimal in (twin speed, pair resource):

1. Each half's exact front (`costmodels.solver.solve`) of its service time against the
   resource objective, under the device budget: its latency when an accelerator serves
   one input at a time (the default, the paper's software driver: the service time is the
   latency), its cycles per frame when `pipelined` (the initiation interval then sets how
   fast it drains a stream available at t = 0).
2. A design of one half that cannot fit even beside the other half's cheapest resources
   (per resource) and the overhead is dropped. A half front still longer than
   `MAX_HALF_POINTS` is thinned to that many evenly spaced designs, both ends kept.
3. The 2-way merge: every pair of designs of the two fronts that fits the shared budget
   is scored by the scheduler simulation at T on both halves' outputs
   (`dse.twin.schedule.simulate`, the one twin model: the accurate network re-checks the
   inputs whose margin is below T and takes fresh inputs when idle); the pairs not
   dominated in (latency per input, or throughput, against the pair resource) are the
   front, fewest resources first. The costs come first: the outputs (torch) are computed
   only when some pair fits.

What is exact: step 3 scores every pair of the two (thinned) half fronts, so it returns
the exact pair front over those designs. That equals the front over *all* foldings of both
halves when (a) no half front is thinned, (b) the twin's speed never improves when one
half gets slower, and (c) no budget but the objective's resource binds across the pair (a
design off its half's front, lighter in BRAM, could otherwise let the other half be
faster; DSPs are never shared: the compressed half computes in LUTs). (b) holds for the
cascade schedule (`Policy.CASCADE`: every event only moves later when a service time
grows), and there `tests/twin/test_twin_solve.py` finds the merge equal to brute force
over every folding of a tiny pair. Under the paper's scheduler (the default) it does not
hold in general (docs/twin.md: which inputs each accelerator takes depends on the timing),
and on that tiny pair brute force finds one more front pair, a half slower at equal LUTs
that makes the pair faster; the merged front's hypervolume is 0.99997 of the brute-force
one there (the test asks for >= 0.999).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from costmodels.errors import DseError
from costmodels.solver import FrontPoint, HardwareLimits, solve
from costmodels.types import Device, LayerChoice, Network, Resources
from dse.twin.resources import OverheadModel, pair_resources
from dse.twin.schedule import Policy, ServiceTime, TwinResult, TwinStream, simulate

logger = logging.getLogger(__name__)

#: Designs per half merged at most (a merge scores |front_c| x |front_a| pairs, 0.2 ms each
#: on digits-cnn's 359 validation inputs).
MAX_HALF_POINTS = 24
#: Half fronts kept per solver (keyed by the half's accuracy choices; T changes per trial).
HALF_MEMO = 256


@dataclass(frozen=True)
class PairPoint:
    """One pair design of the merged front: both halves (the solver's designs with their
    canonical costs), the pair's resources (overhead included) and its simulation at T."""

    compressed: FrontPoint
    accurate: FrontPoint
    total: Resources
    result: TwinResult


def pair_speed(objectives: Sequence[str]) -> str:
    """The twin speed the merge optimizes: `latency_ms` unless only `fps` is asked."""
    return "fps" if "fps" in objectives and "latency_ms" not in objectives else "latency_ms"


def pair_resource(objectives: Sequence[str]) -> str:
    """The resource the merge trades speed against: the first asked, else LUT."""
    return next((o for o in objectives if o in ("lut", "dsp", "bram18")), "lut")


def service_time(point: FrontPoint, *, pipelined: bool) -> ServiceTime:
    """A half design's service time per input, as `dse.twin.evaluate.pair_cost` has it."""
    c = point.cost
    return ServiceTime.from_cycles(
        c.cycles_per_frame, c.latency_cycles, c.clock_mhz, pipelined=pipelined
    )


def thin(points: Sequence[FrontPoint], k: int) -> list[FrontPoint]:
    """At most `k` (>= 2) evenly spaced points, the first and last kept."""
    n = len(points)
    if n <= k:
        return list(points)
    keep = sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})
    return [points[i] for i in keep]


def _lightest(points: Sequence[FrontPoint]) -> Resources:
    """Per resource, the least any of `points` uses (a lower bound of a half's share)."""
    totals = [p.cost.total for p in points]
    return Resources(
        lut=min(t.lut for t in totals),
        ff=min(t.ff for t in totals),
        dsp=min(t.dsp for t in totals),
        bram18=min(t.bram18 for t in totals),
        uram=min(t.uram for t in totals),
    )


def pareto_order(values: np.ndarray) -> list[int]:
    """Indices of the rows of `values` (columns: speed to minimize, resource to minimize)
    not dominated by another row, one of equal rows kept, sorted by resource ascending."""
    order = np.lexsort((values[:, 0], values[:, 1]))  # resource, then speed
    out: list[int] = []
    best = np.inf
    for i in order:
        if values[i, 0] < best:
            out.append(int(i))
            best = values[i, 0]
    return out


class PairSolver:
    """The twin pair's hardware front for fixed accuracy choices and T (module docstring).

    `stream(compressed, accurate)` gives both halves' outputs on the evaluation split as
    a `TwinStream` (torch, cached by the caller per accuracy configuration)."""

    def __init__(
        self,
        device: Device,
        *,
        cap_pct: float,
        clock_mhz: float | None,
        compressed_limits: HardwareLimits,
        accurate_limits: HardwareLimits,
        overhead: OverheadModel,
        pipelined: bool,
        objectives: Sequence[str],
        stream: Callable[[Network, Network], TwinStream],
        max_half_points: int = MAX_HALF_POINTS,
        policy: Policy = Policy.TWIN,
    ) -> None:
        self.device = device
        self.cap_pct = cap_pct
        self.clock_mhz = clock_mhz
        self.limits = {"compressed": compressed_limits, "accurate": accurate_limits}
        self.overhead = overhead
        self.pipelined = pipelined
        self.speed = pair_speed(objectives)
        self.resource = pair_resource(objectives)
        self.stream = stream
        self.max_half_points = max(2, max_half_points)
        self.policy = policy
        self._halves: OrderedDict[str, tuple[FrontPoint, ...]] = OrderedDict()

    def half_front(self, network: Network, half: str) -> tuple[FrontPoint, ...]:
        """One half's exact front of service time against the resource (memoised on its
        choices); empty when not even its cheapest folding fits the device."""
        key = half + repr([(la.name, la.choice) for la in network.compute_layers])
        hit = self._halves.get(key)
        if hit is not None:
            self._halves.move_to_end(key)
            return hit
        speed = "fps" if self.pipelined else "latency_ms"
        try:
            res = solve(
                network,
                self.device,
                cap_pct=self.cap_pct,
                objectives=(speed, self.resource),
                limits=self.limits[half],
                clock_mhz=self.clock_mhz,
            )
            points = res.points
        except DseError as exc:
            logger.info("twin solver, %s half: %s", half, exc)
            points = ()
        self._halves[key] = points
        if len(self._halves) > HALF_MEMO:
            self._halves.popitem(last=False)
        return points

    def _fits(self, cmp: Resources, acc: Resources) -> tuple[bool, Resources]:
        total = pair_resources(cmp, acc, self.device, self.overhead)
        return total.fits(self.device, self.cap_pct), total

    def front(self, compressed: Network, accurate: Network, threshold: float) -> list[PairPoint]:
        """The pair front (fewest resources first, fastest last) for both halves' accuracy
        choices (any folding: the solver refolds them) and T; empty when no pair fits."""
        cmp_all = self.half_front(compressed, "compressed")
        acc_all = self.half_front(accurate, "accurate")
        if not cmp_all or not acc_all:
            return []
        light_c, light_a = _lightest(cmp_all), _lightest(acc_all)
        cmp_pts = [p for p in cmp_all if self._fits(p.cost.total, light_a)[0]]
        acc_pts = [p for p in acc_all if self._fits(light_c, p.cost.total)[0]]
        cmp_pts = thin(cmp_pts, self.max_half_points)
        acc_pts = thin(acc_pts, self.max_half_points)
        pairs: list[tuple[FrontPoint, FrontPoint, Resources]] = []
        for c in cmp_pts:
            for a in acc_pts:
                ok, total = self._fits(c.cost.total, a.cost.total)
                if ok:
                    pairs.append((c, a, total))
        if not pairs:
            return []
        stream = self.stream(compressed, accurate)  # only now: some pair fits
        times = {id(p): service_time(p, pipelined=self.pipelined) for p in (*cmp_pts, *acc_pts)}
        scored: list[PairPoint] = []
        for c, a, total in pairs:
            result = simulate(stream, threshold, times[id(c)], times[id(a)], policy=self.policy)
            scored.append(PairPoint(c, a, total, result))
        values = np.array(
            [
                [
                    p.result.latency_ms if self.speed == "latency_ms" else -p.result.throughput_fps,
                    getattr(p.total, self.resource),
                ]
                for p in scored
            ]
        )
        return [scored[i] for i in pareto_order(values)]

    def __call__(
        self, compressed: Network, accurate: Network, threshold: float
    ) -> list[tuple[Mapping[str, LayerChoice], Mapping[str, LayerChoice]]]:
        """The front as both halves' choices (what `search_spaces.twin.TwinSolvedSpace`
        takes)."""
        return [
            (p.compressed.choices, p.accurate.choices)
            for p in self.front(compressed, accurate, threshold)
        ]
