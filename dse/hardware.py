"""The exact folding solver (`costmodels.solver`) inside a study: a thin layer that turns a
single problem's space into solver limits and the solver's designs into candidates.

Two uses (`HardwareMode`, config `hardware:`, `dse search --hardware`):

- `solve` (default): a cost-only study stores the exact hardware Pareto front directly (one
  trial per front design, plus the baselines) instead of sampling; a study with accuracy
  objectives samples only the accuracy choices and takes each trial's hardware from the
  solver (`dse.decomposed`).
- `sample`: the per-layer PE/SIMD/arithmetic parameters are sampled as before.

Every baseline set also gains `solver-fastest`: the fastest design that fits (fewest LUTs
among those), what a FINN user targeting throughput would build at the network's bits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from costmodels.errors import DseError
from costmodels.solver import (
    HardwareLimits,
    SolverError,
    SolverResult,
    fastest,
    is_graph,
    solve,
)
from costmodels.types import Arith, Device, LayerChoice, Network, RamStyle
from search_spaces import Candidate, SearchSpace, SpaceLimits
from search_spaces import baselines as bl


class SingleProblem(Protocol):
    """What the solver needs of `dse.problem.SingleProblem` (a protocol: that module
    imports this one)."""

    device: Device
    cap_pct: float
    clock_mhz: float | None
    objectives: tuple[str, ...]
    calibration: Any
    n_boards: int
    solver_applies: bool

    @property
    def space(self) -> SearchSpace: ...


logger = logging.getLogger(__name__)

#: The trial attribute naming the solver's designs (`front` or `fastest`).
ATTR_SOLVER = "solver"


def solver_limits(space: SearchSpace, *, keep_rccm: bool) -> HardwareLimits:
    """The space's folding caps and arithmetics as solver limits (MMV stays off unless the
    space's `max_mmv` allows it: FINN does not implement MMV > 1)."""
    lim = space.limits
    return HardwareLimits(
        max_pe=lim.max_pe,
        max_simd=lim.max_simd,
        max_mmv=lim.max_mmv,
        # sparse arithmetic costs what the density measured on the weights says: not an
        # option the solver can cost before any accuracy evaluation
        arith=tuple(a for a in lim.arith if a is not Arith.SPARSE),
        keep_rccm=keep_rccm,
    )


def held_ram_styles(styles: tuple[RamStyle, ...], device: Device) -> tuple[RamStyle, ...]:
    """The weight memory styles of `styles` that `device` has memory for (`ultra` needs
    URAM: on a part without it a URAM-placed layer could never fit)."""
    kept = tuple(s for s in styles if s is not RamStyle.ULTRA or device.uram > 0)
    return kept or (RamStyle.AUTO,)


def decomposed_limits(limits: SpaceLimits, device: Device) -> HardwareLimits:
    """What the decomposed search's solver chooses per layer: PE/SIMD/MMV under the space's
    caps, every non-sparse arithmetic of the space (an RCCM set stays the sampled accuracy
    choice), and where the weights live: the space's `ram_style` list when it has several,
    else every style the device holds (auto, block, distributed, ultra with URAM). The
    solver's front is exact over these options, so a larger option set never loses a
    design; the sampler never sees them."""
    styles = limits.ram_style if len(limits.ram_style) > 1 else tuple(RamStyle)
    return HardwareLimits(
        max_pe=limits.max_pe,
        max_simd=limits.max_simd,
        max_mmv=limits.max_mmv,
        # a sparse layer's cost depends on the density its weights have after the
        # threshold, measured in torch after the solve: not a solver option
        arith=tuple(a for a in limits.arith if a is not Arith.SPARSE),
        keep_rccm=True,
        ram_style=held_ram_styles(styles, device),
    )


def front_speed(objectives: Sequence[str]) -> str:
    """The speed objective of the decomposed search's fronts: `latency_ms` when the study
    asks for latency and not FPS, else `fps` (a study without a speed objective still
    gets designs from slowest to fastest)."""
    return "latency_ms" if "latency_ms" in objectives and "fps" not in objectives else "fps"


def front_solver(
    device: Device,
    *,
    cap_pct: float,
    clock_mhz: float | None,
    limits: HardwareLimits,
    speed: str = "fps",
) -> Callable[[Network], list[Mapping[str, LayerChoice]]]:
    """The decomposed space's solver (`search_spaces.decomposed`): a network at fixed
    accuracy choices to its exact (`speed`, LUT) front, fewest LUTs first (`front_speed`
    picks `speed` from the study's objectives). Its designs are re-scored on every
    objective of the study. A graph network (concats, branches) gets its FPS/LUT front
    whatever `speed` says: its exact latency front can take the graph DP tens of seconds
    to solve or to refuse (docs/costmodels.md), once per accuracy configuration. A
    network the solver refuses gets an empty front."""

    def run(network: Network) -> list[Mapping[str, LayerChoice]]:
        front_of = "fps" if speed == "latency_ms" and is_graph(network) else speed
        try:
            res = solve(network, device, cap_pct=cap_pct, objectives=(front_of, "lut"),
                        limits=limits, clock_mhz=clock_mhz)  # fmt: skip
        except DseError as exc:
            logger.info("solver: %s", exc)
            return []
        return [p.choices for p in reversed(res.points)]

    return run


def why_not_solvable(problem: SingleProblem) -> str | None:
    """Why the solver cannot stand in for sampling the hardware of `problem` (None: it
    can). The solver knows the analytical dataflow model of one device."""
    if problem.calibration is not None:
        return "a calibration profile is in use (the solver knows the analytical model)"
    if not problem.solver_applies or problem.n_boards != 1:
        return "the design is spread over several boards"
    for o in problem.objectives:
        if o not in ("accuracy", "fps", "latency_ms", "lut", "dsp", "bram18"):
            return f"objective {o!r}"
    return None


def solve_network(
    problem: SingleProblem, network: Network, *, keep_rccm: bool, objectives: tuple[str, ...]
) -> SolverResult:
    """The solver's front for `network` (accuracy choices fixed) under `problem`'s device,
    cap, clock and space limits."""
    return solve(
        network,
        problem.device,
        cap_pct=problem.cap_pct,
        objectives=objectives,
        limits=solver_limits(problem.space, keep_rccm=keep_rccm),
        clock_mhz=problem.clock_mhz,
    )


def given_bits_network(space: SearchSpace) -> Network:
    """The network at its own bits and pruning projected onto the space (what the cost-only
    front and the `solver-fastest` baseline fold)."""
    return bl.fully_folded(space, bl.default_bits(space)).network


def exact_front(problem: SingleProblem) -> list[tuple[str, Candidate]] | None:
    """A cost-only study's exact front as labelled candidates (`solver-fastest` first, then
    `solver`), or None when the solver cannot stand in for sampling here (logged)."""
    space = problem.space
    reason = why_not_solvable(problem)
    if reason is None and (space.search_bits or space.search_prune):
        reason = "bits or pruning are searched in a cost-only study"
    if reason is not None:
        logger.warning("hardware solver not used (%s): sampling instead", reason)
        return None
    try:
        res = solve_network(
            problem, given_bits_network(space), keep_rccm=False, objectives=problem.objectives
        )
    except SolverError as exc:
        logger.warning("hardware solver not used (%s): sampling instead", exc)
        return None
    out = [(("solver-fastest" if i == 0 else "solver"), _candidate(space, p.choices))
           for i, p in enumerate(res.points)]  # fmt: skip
    logger.info("exact front: %d designs in %.2f s", len(out), res.seconds)
    if not res.exact:  # a bound: the notes say why and give the certified gap
        logger.warning("hardware solver: %s", "; ".join(res.notes))
    return out


def fastest_baseline(problem: SingleProblem) -> Candidate | None:
    """`solver-fastest` at the network's own bits (None when the solver does not apply or
    nothing fits)."""
    if why_not_solvable(problem) is not None:
        return None
    try:
        point = fastest(
            given_bits_network(problem.space),
            problem.device,
            cap_pct=problem.cap_pct,
            limits=solver_limits(problem.space, keep_rccm=True),
            clock_mhz=problem.clock_mhz,
        )
    except DseError as exc:
        logger.info("no solver-fastest baseline: %s", exc)
        return None
    return _candidate(problem.space, point.choices) if point is not None else None


def _candidate(space: SearchSpace, choices: Mapping[str, LayerChoice]) -> Candidate:
    """The solver's design as a candidate of the space (a study enqueues its parameters,
    `space.params_for`, and the trial rebuilds the same design)."""
    return Candidate(space.network.with_choices(choices), dict(choices))
