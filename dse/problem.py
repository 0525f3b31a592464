"""What a study optimizes: a network's search space on a device, its objectives and
constraints, and the evaluation of one candidate (no Optuna types here).

    workload -> LoadedWorkload -> Problem (network, device, space, evaluator)
        -> Problem.evaluate(candidate) -> Outcome (objectives, constraints, user attrs)

`Problem.evaluate` runs the cheap cost model first and pays for the accuracy evaluation
(torch) only when the design fits the device (STYLE.md: budgets are constraints, and an
infeasible candidate never pays for a torch evaluation). Also here: the hand-style
baseline designs that seed a study, the feasibility check made before any trial, the
hypervolume bounds and the Pareto mask.
"""

from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optuna.study import StudyDirection

from costmodels.errors import ConfigError, DseError
from costmodels.types import Arith, Device, Network, NetworkCost
from dse.config import OBJECTIVES, Direction, HardwareMode, StudyConfig
from dse.records import ATTR_COST, ATTR_LAYERS, RESOURCE_KEYS, LayerCostRow, TrialAttrs
from search_spaces import Candidate, SearchSpace, Space
from search_spaces import baselines as bl

if TYPE_CHECKING:
    from costmodels.calibration.profile import Profile
    from dse.nn import AccuracyEvaluator

logger = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- problem


@dataclass(frozen=True)
class Outcome:
    """One evaluated candidate: objective values (None: the trial failed), constraint
    values (> 0 violated, Optuna's convention), and the attributes a report needs
    (`dse.records.TrialAttrs`)."""

    values: tuple[float, ...] | None
    constraints: Mapping[str, float]
    attrs: TrialAttrs
    fits: bool
    feasible: bool


class Problem(ABC):
    """What a study optimizes, the protocol every study mode implements (`dse.modes`): a
    space on a device, objectives and their directions, constraints, how one candidate is
    evaluated, the baselines that seed a study, the check that anything fits at all, and
    the hypervolume bounds stored with the study. `dse.study` calls only these."""

    def __init__(
        self,
        network: Network,
        device: Device,
        space: Space,
        objectives: Sequence[str],
        *,
        cap_pct: float,
        min_accuracy: float | None = None,
        evaluator: Any = None,
        clock_mhz: float | None = None,
        calibration: Profile | None = None,
    ) -> None:
        self.network = network
        self.calibration = calibration
        self.device = device
        self.space = space
        self.objectives = tuple(objectives)
        self.cap_pct = cap_pct
        self.min_accuracy = min_accuracy
        self.evaluator = evaluator
        self.clock_mhz = clock_mhz
        needs_acc = "accuracy" in self.objectives or min_accuracy is not None
        if needs_acc and evaluator is None:
            raise ConfigError(
                "accuracy (objective or --min-accuracy) needs a trainable workload, not a "
                "hardware-only spec"
            )

    @abstractmethod
    def evaluate(self, candidate: Candidate) -> Outcome:
        """Objectives, constraints and report attributes of one candidate; the cost model
        first, the accuracy evaluation only for a design that fits."""

    @abstractmethod
    def baselines(self) -> list[tuple[str, Candidate]]:
        """Labelled hand-style designs that seed a new study."""

    @abstractmethod
    def check_feasible(self) -> None:
        """Raise `ConfigError` before any trial when even the smallest design cannot fit."""

    @abstractmethod
    def hv_bounds(self) -> dict[str, list[Any]]:
        """Per objective (worst, best, scale) of a normalized hypervolume."""

    def exact_front(self) -> list[tuple[str, Candidate]] | None:
        """A cost-only study's exact hardware front as labelled candidates (`dse.hardware`),
        or None when this problem has no solver (then the study samples)."""
        return None

    @property
    def directions(self) -> list[StudyDirection]:
        return [
            StudyDirection.MAXIMIZE
            if OBJECTIVES[o] is Direction.MAXIMIZE
            else StudyDirection.MINIMIZE
            for o in self.objectives
        ]


class SingleProblem(Problem):
    """One network's search (`Mode.SINGLE`): `SearchSpace` choices, the dataflow cost model,
    the quick accuracy evaluation when accuracy matters."""

    space: SearchSpace

    def estimate(self, candidate: Candidate) -> NetworkCost:
        from costmodels import estimate

        candidate = self.measured(candidate)
        return estimate(
            candidate.network, self.device, clock_mhz=self.clock_mhz, calibration=self.calibration
        )

    def measured(self, candidate: Candidate) -> Candidate:
        """The candidate with the measured non-zero ratio of every `sparse` layer's
        quantized weights filled in (Faraone thesis 3.4.4's gamma, which the cost model
        needs; measured by the accuracy evaluator on the trained model, never guessed)."""
        if self.evaluator is None or not any(
            c.arith is Arith.SPARSE and c.density is None for c in candidate.choices.values()
        ):
            return candidate
        found = self.evaluator.densities(candidate.network)
        choices = {
            name: replace(c, density=found[name]) if name in found else c
            for name, c in candidate.choices.items()
        }
        return Candidate(candidate.network.with_choices(choices), choices)

    def fits(self, cost: NetworkCost) -> bool:
        return cost.fits(self.cap_pct)

    def baselines(self) -> list[tuple[str, Candidate]]:
        return _single_baselines(self)

    #: whether `dse.hardware`'s solver models this problem's cost (a variant with its own
    #: cost, `dse.multi.MultiProblem`, sets it False)
    solver_applies = True

    def exact_front(self) -> list[tuple[str, Candidate]] | None:
        from dse.hardware import exact_front

        return exact_front(self) if self.solver_applies else None

    def check_feasible(self) -> None:
        _single_check_feasible(self)

    def hv_bounds(self) -> dict[str, list[Any]]:
        return _single_hv_bounds(self)

    def evaluate(self, candidate: Candidate) -> Outcome:
        t0 = time.perf_counter()
        try:
            candidate = self.measured(candidate)
            cost = self.estimate(candidate)
        except DseError as exc:
            return Outcome(None, {}, TrialAttrs(candidate.as_dict(), error=str(exc)), False, False)
        cost_s = time.perf_counter() - t0
        constraints = self.cost_constraints(cost)
        fits = all(v <= 0 for v in constraints.values())
        reported = self.cost_attrs(cost)
        accuracy: float | None = None
        timing: dict[str, Any] = {"cost_s": round(cost_s, 6)}
        if self.evaluator is not None and fits:
            result = self.evaluator.evaluate(candidate.network)
            accuracy = float(result.accuracy)
            timing["eval_s"] = round(float(result.seconds), 3)
            timing["eval_cached"] = bool(result.cached)
        if self.min_accuracy is not None:
            constraints["accuracy"] = self.min_accuracy - accuracy if accuracy is not None else 0.0
        feasible = fits and all(v <= 0 for v in constraints.values())
        attrs = TrialAttrs(
            candidate.as_dict(),
            cost=reported[ATTR_COST],
            layers=tuple(reported[ATTR_LAYERS]),
            accuracy=accuracy,
            timing=timing,
            status=status(fits, feasible),
        )
        values = tuple(self.objective_value(o, cost, accuracy) for o in self.objectives)
        return Outcome(values, constraints, attrs, fits, feasible)

    # hooks a variant of the problem (dse.multi.MultiProblem) implements for its own cost

    #: boards the design is spread over (1 here; the `boards` objective)
    n_boards = 1

    def cost_constraints(self, cost: Any) -> dict[str, float]:
        """Per resource: utilization minus the cap (> 0 violated)."""
        util = cost.utilization
        return {k: getattr(util, k) - self.cap_pct for k in RESOURCE_KEYS}

    def cost_attrs(self, cost: Any) -> dict[str, Any]:
        """What a report needs of the cost: the summary and the per-unit rows."""
        return {ATTR_COST: cost_summary(cost), ATTR_LAYERS: layer_rows(cost)}

    def objective_value(self, name: str, cost: Any, accuracy: float | None) -> float:
        if name == "boards":
            return float(self.n_boards)
        return objective_value(name, cost, accuracy)


def objective_value(name: str, cost: NetworkCost, accuracy: float | None) -> float:
    """One objective's value. An infeasible design's accuracy is unknown (never evaluated)
    and recorded as 0.0, the worst value; its constraints mark it infeasible anyway."""
    match name:
        case "accuracy":
            return accuracy if accuracy is not None else 0.0
        case "lut":
            return cost.total.lut
        case "dsp":
            return cost.total.dsp
        case "bram18":
            return cost.total.bram18
        case "fps":
            return cost.fps
        case "latency_ms":
            return cost.latency_ms
    raise ConfigError(f"unknown objective {name!r}")  # pragma: no cover


def cost_summary(cost: NetworkCost) -> dict[str, Any]:
    util = cost.utilization
    return {
        **{k: round(v, 3) for k, v in cost.total.as_dict().items()},
        "util": {k: round(getattr(util, k), 3) for k in RESOURCE_KEYS},
        "fps": cost.fps,
        "latency_ms": cost.latency_ms,
        "clock_mhz": cost.clock_mhz,
        "cycles_per_frame": cost.cycles_per_frame,
    }


def layer_rows(cost: NetworkCost) -> tuple[LayerCostRow, ...]:
    """Per unit, its cost as a trial stores it."""
    return tuple(LayerCostRow.of(lc) for lc in cost.layers)


def status(fits: bool, feasible: bool) -> str:
    """A trial's status line: feasible, infeasible (does not fit), or low-accuracy."""
    return "feasible" if feasible else ("infeasible" if not fits else "low-accuracy")


# ----------------------------------------------------------------------------- workloads


@dataclass
class LoadedWorkload:
    network: Network
    cost_only: bool
    workload: Any = None  # dse.nn Workload when trainable


def is_cost_only(workload: str) -> bool:
    """Whether `workload` names a hardware-only spec file (a cost-only study) rather than
    something `dse.nn.load_workload` trains: the one test, used by `load_workload`."""
    lower = workload.lower()
    return lower.endswith((".yaml", ".yml", ".json", ".onnx")) or (
        Path(workload).is_file() and not lower.endswith(".npz")
    )


def load_workload(name: str, *, seed: int, cache_dir: Path | None = None) -> LoadedWorkload:
    """A hardware-only spec file or QONNX/ONNX model (cost-only search), or anything
    `dse.nn.load_workload` takes: a built-in name, `FILE.npz` or `pkg.module:factory`."""
    if is_cost_only(name):
        from dse.spec import load_network

        return LoadedWorkload(load_network(name), cost_only=True)
    from dse import nn as dnn

    wl = dnn.load_workload(name, cache_dir=cache_dir, seed=seed)
    return LoadedWorkload(wl.network, cost_only=False, workload=wl)


def accuracy_evaluator(
    cfg: StudyConfig, loaded: LoadedWorkload, *, storage: str
) -> AccuracyEvaluator:
    """The quick accuracy evaluation of `loaded`'s trainable workload with the study's
    fine-tuning budget and seed, its results cached next to the trials in `storage` (so a
    resumed study or another worker never re-trains a design). Single and twin problems
    both use it."""
    from dse import nn as dnn  # lazy: torch only when a study evaluates accuracy

    if loaded.workload is None:
        raise ConfigError(
            f"accuracy needs a trainable workload; {cfg.workload!r} is a hardware-only spec"
        )
    return dnn.AccuracyEvaluator(
        loaded.workload,
        finetune_steps=cfg.finetune_steps,
        seed=cfg.seed,
        val_subset=cfg.val_subset,
        cache=dnn.AccuracyCache(storage),
    )


def build_single_problem(
    cfg: StudyConfig, loaded: LoadedWorkload, *, storage: str
) -> SingleProblem:
    """The `SingleProblem` of a `StudyConfig` in `Mode.SINGLE`."""
    from costmodels.devices import get_device

    device = get_device(cfg.device)
    cost_only = loaded.cost_only
    objectives = cfg.objectives_for(cost_only=cost_only)
    limits = cfg.space
    evaluator = None
    if not cost_only and ("accuracy" in objectives or cfg.min_accuracy is not None):
        evaluator = accuracy_evaluator(cfg, loaded, storage=storage)
    search_bits = limits.search_bits if limits.search_bits is not None else not cost_only
    search_prune = limits.search_prune if limits.search_prune is not None else not cost_only
    calibration = cfg.calibration_profile()
    from dse.hardware import held_ram_styles

    # a part without URAM never holds URAM-placed weights: not a sampled option there
    space_limits = replace(limits, ram_style=held_ram_styles(limits.ram_style, device))
    space: SearchSpace = SearchSpace(
        loaded.network,
        space_limits,
        search_bits=search_bits,
        search_prune=search_prune,
        measures_density=evaluator is not None,
    )
    if (
        not cost_only
        and cfg.hardware_for(cost_only=False) is HardwareMode.SOLVE
        and calibration is None
    ):  # dse.hardware: sample the accuracy choices, solve the hardware
        from dse.hardware import decomposed_limits, front_solver, front_speed
        from search_spaces.decomposed import DecomposedSpace

        solver = front_solver(
            device,
            cap_pct=cfg.cap_pct,
            clock_mhz=cfg.clock_mhz,
            limits=decomposed_limits(limits, device),
            speed=front_speed(objectives),
        )
        decomposed = DecomposedSpace(
            loaded.network, space_limits, search_bits=search_bits, search_prune=search_prune,
            solver=solver,
        )  # fmt: skip
        if decomposed.unsolved_dims():
            logger.warning(
                "hardware solver not used (%s searched): sampling",
                ", ".join(decomposed.unsolved_dims()),
            )
        else:
            space = decomposed
    return SingleProblem(
        loaded.network,
        device,
        space,
        objectives,
        cap_pct=cfg.cap_pct,
        min_accuracy=cfg.min_accuracy,
        evaluator=evaluator,
        clock_mhz=cfg.clock_mhz,
        calibration=calibration,
    )


def check_feasible(problem: Problem) -> None:
    """Refuse, before any trial, a space whose smallest design does not fit."""
    problem.check_feasible()


def _single_check_feasible(problem: SingleProblem) -> None:
    best: tuple[float, str] | None = None
    for arith in problem.space.arith_options() or (Arith.LUT,):
        cost = problem.estimate(problem.space.smallest(arith))
        if problem.fits(cost):
            return
        util = cost.utilization
        worst = max(RESOURCE_KEYS, key=lambda k: getattr(util, k))
        pct = getattr(util, worst)
        if best is None or pct < best[0]:
            best = (pct, f"{worst.upper()} {pct:.0f}%")
    assert best is not None
    raise ConfigError(
        f"impossible constraints: even the smallest design in the space (fewest bits, most "
        f"pruning, PE=SIMD=1) needs {best[1]} of {problem.device.part}, over the "
        f"{problem.cap_pct:g}% cap"
    )


def baseline_candidates(problem: Problem) -> list[tuple[str, Candidate]]:
    """The designs that seed a new study (`Problem.baselines`)."""
    return problem.baselines()


def _single_baselines(problem: SingleProblem) -> list[tuple[str, Candidate]]:
    """The network as given; the SetFolding sweep (every halved cycle target that fits,
    the fastest labelled plain `setfolding`) on its own bits and on uniform 8 bits; the
    fully folded designs (see `search_spaces.baselines`). Deduplicated. They seed the first
    generation, so the front is never worse than these hand-style designs. Plus
    `solver-fastest` (`dse.hardware`): the fastest design that fits at the network's bits."""
    space = problem.space
    out: list[tuple[str, Candidate]] = []
    seen: set[str] = set()

    def add(label: str, cand: Candidate | None) -> None:
        if cand is None:
            return
        key = json.dumps(cand.as_dict(), sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append((label, cand))

    given = bl.as_given(space)
    if problem.fits(problem.estimate(given)):
        add("as-given", given)
    bit_sets = [("setfolding", bl.default_bits(space))]
    if space.search_bits:
        bit_sets.append(("uniform-8bit", bl.uniform_bits(space, 8)))
    for label, bits in bit_sets:
        sweep = bl.setfolding_sweep(space, problem.estimate, problem.fits, bits)
        for i, (target, cand) in enumerate(reversed(sweep)):
            add(label if i == 0 else f"{label}@{target}", cand)
        add(f"{label}-min", bl.fully_folded(space, bits))
    if problem.solver_applies:
        from dse.hardware import fastest_baseline

        add("solver-fastest", fastest_baseline(problem))
    return out


def hv_bounds(problem: Problem) -> dict[str, list[Any]]:
    """Per objective (worst, best, scale) of the study's normalized hypervolume."""
    return problem.hv_bounds()


def _single_hv_bounds(problem: SingleProblem) -> dict[str, list[Any]]:
    """Resources from 0 to the capped device total; accuracy 0..1; FPS and latency on a
    log scale between the fully folded unpruned design (the slowest the space holds) and
    one frame per clock cycle: comparable across samplers and runs of one study."""
    space = problem.space
    slow = problem.estimate(bl.fully_folded(space, bl.default_bits(space)))
    clock_hz = slow.clock_mhz * 1e6
    cap = problem.cap_pct / 100.0
    d = problem.device
    out: dict[str, list[Any]] = {}
    for o in problem.objectives:
        match o:
            case "accuracy":
                out[o] = [0.0, 1.0, "lin"]
            case "lut" | "dsp" | "bram18":
                total = float(getattr(d, o)) * cap
                out[o] = [max(total, 1.0), 0.0, "lin"]
            case "boards":
                out[o] = [problem.n_boards + 1.0, 1.0, "lin"]
            case "fps":
                out[o] = [min(slow.fps, clock_hz) / 2, clock_hz, "log"]
            case "latency_ms":
                out[o] = [slow.latency_ms * 2, 1e3 / clock_hz, "log"]
    return out


def pareto_mask(values: Sequence[Sequence[float]], directions: Sequence[Direction]) -> list[bool]:
    """Which points no other point dominates (all objectives as good, one better)."""
    import numpy as np

    if not values:
        return []
    sign = np.array([-1.0 if d is Direction.MAXIMIZE else 1.0 for d in directions])
    pts = np.asarray(values, dtype=float) * sign
    order = np.lexsort(pts.T[::-1])
    mask = np.zeros(len(pts), dtype=bool)
    front: list[int] = []
    for i in order:
        p = pts[i]
        if front:
            f = pts[front]
            if np.any(np.all(f <= p, axis=1) & np.any(f < p, axis=1)):
                continue
            if np.any(np.all(f == p, axis=1)):
                mask[i] = True  # duplicates of a front point are on the front too
                continue
        front.append(int(i))
        mask[i] = True
    return mask.tolist()
