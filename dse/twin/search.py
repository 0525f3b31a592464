"""Twin mode of `dse search` (`--mode twin`, config `mode: twin`): what a trial of a twin
study evaluates. `dse.study` stays the only module talking to `optuna.Study`;
`dse.problem` builds a `TwinProblem` instead of a `Problem` and asks it for its own
feasibility check, baselines and hypervolume bounds.

A trial: sample both halves and T (`search_spaces.twin.TwinSpace`; with `--hardware solve`
only their accuracy choices, T and an operating point, the hardware of both from the exact
folding solver under the shared budget: `search_spaces.twin.TwinSolvedSpace`,
`dse.twin.solve`); estimate both halves
and the pair's resources with the Table 1 overhead (`dse.twin.resources`); when the pair
fits, compute both halves' outputs once (cached per half) and simulate the scheduler at T
(`dse.twin.schedule`). Objectives: `accuracy` (the twin's), `latency_ms` (per input, the
simulation's makespan / N), `fps` (its throughput), `lut`/`dsp`/`bram18` (the pair with
overhead). Constraints: the pair within the cap, and `min_accuracy`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from costmodels.errors import ConfigError, DseError
from costmodels.types import Device, Network, NetworkCost
from dse.config import HardwareMode, StudyConfig
from dse.hardware import decomposed_limits
from dse.problem import (
    LoadedWorkload,
    Outcome,
    Problem,
    accuracy_evaluator,
    layer_rows,
    status,
)
from dse.records import RESOURCE_KEYS, LayerCostRow, TrialAttrs
from dse.twin.evaluate import PairCost, pair_cost
from dse.twin.pair import TwinPair, default_pair
from dse.twin.schedule import TwinResult, TwinStream, simulate
from dse.twin.settings import TwinSettings
from dse.twin.solve import PairSolver
from dse.twin.sweep import threshold_sweep
from search_spaces import Candidate
from search_spaces.twin import (
    TwinCandidate,
    TwinSolvedSpace,
    TwinSpace,
    accurate_limits,
    compressed_limits,
)

log = logging.getLogger(__name__)


class HalfOutputs:
    """Both halves' outputs on the validation split, computed once per accuracy
    configuration (the evaluator's `accuracy_key`: never the folding), as a `TwinStream`.
    Shared by the problem and the pair solver (`dse.twin.solve`), which asks for the same
    halves before the trial evaluates them: the seconds every `stream` call takes are kept
    per pair until the problem's evaluation takes them (`take_seconds`), so a trial's
    `eval_s` includes the outputs the solver computed while the trial chose its design."""

    def __init__(self, evaluator: Any, settings: TwinSettings, memo: int = 64) -> None:
        self.evaluator = evaluator
        self.settings = settings
        self._memo = memo
        self._logits: OrderedDict[str, np.ndarray] = OrderedDict()
        self._owed: OrderedDict[tuple[str, str], float] = OrderedDict()

    def _outputs(self, network: Network, key: str) -> np.ndarray:
        if key in self._logits:
            self._logits.move_to_end(key)
            return self._logits[key]
        out = np.asarray(self.evaluator.outputs(network, split="val"))
        self._logits[key] = out
        if len(self._logits) > self._memo:
            self._logits.popitem(last=False)
        return out

    def _pair_key(self, compressed: Network, accurate: Network) -> tuple[str, str]:
        return self.evaluator.accuracy_key(compressed), self.evaluator.accuracy_key(accurate)

    def stream(self, compressed: Network, accurate: Network) -> TwinStream:
        t0 = time.perf_counter()
        key = self._pair_key(compressed, accurate)
        c = self._outputs(compressed, key[0])
        a = self._outputs(accurate, key[1])
        labels = self.evaluator.workload.labels("val")
        out = TwinStream.from_outputs(c, a, labels, margin=self.settings.margin)
        self._owed[key] = self._owed.pop(key, 0.0) + time.perf_counter() - t0
        if len(self._owed) > self._memo:  # a pair the solver scored but no trial evaluated
            self._owed.popitem(last=False)
        return out

    def take_seconds(self, compressed: Network, accurate: Network) -> float:
        """The seconds `stream` spent on this pair since they were last taken (0 after)."""
        return self._owed.pop(self._pair_key(compressed, accurate), 0.0)


class TwinProblem(Problem):
    """A twin study's problem (see the module docstring)."""

    def __init__(
        self,
        network: Network,
        device: Device,
        space: TwinSpace,
        objectives: tuple[str, ...],
        *,
        cap_pct: float,
        settings: TwinSettings,
        min_accuracy: float | None = None,
        evaluator: Any = None,
        clock_mhz: float | None = None,
        outputs: HalfOutputs | None = None,
    ) -> None:
        if evaluator is None:
            raise ConfigError(
                "twin mode needs a trainable workload (both halves' outputs), not a "
                "hardware-only spec"
            )
        super().__init__(
            network,
            device,
            space,
            objectives,
            cap_pct=cap_pct,
            min_accuracy=min_accuracy,
            evaluator=evaluator,
            clock_mhz=clock_mhz,
        )
        self.twin_space = space
        self.settings = settings
        self.overhead = settings.overhead_model
        self.outputs = outputs or HalfOutputs(evaluator, settings)

    # ------------------------------------------------------------------ costs

    def pair_cost(self, cand: TwinCandidate) -> PairCost:
        pair = TwinPair(cand.compressed.network, cand.accurate.network)
        return pair_cost(
            pair,
            self.device,
            clock_mhz=self.clock_mhz,
            pipelined=self.settings.pipelined,
            overhead=self.overhead,
        )

    def fits(self, cost: NetworkCost | PairCost) -> bool:
        return cost.fits(self.cap_pct)

    def check_feasible(self) -> None:
        """Refuse, before any trial, a space whose smallest pair does not fit."""
        cost = self.pair_cost(self.twin_space.smallest())
        if not self.fits(cost):
            util = cost.utilization
            worst = max(RESOURCE_KEYS, key=lambda k: getattr(util, k))
            raise ConfigError(
                f"impossible constraints: even the smallest twin pair (fewest bits, PE=SIMD=1, "
                f"with the {self.overhead.describe()} overhead) needs {worst.upper()} "
                f"{getattr(util, worst):.0f}% of {self.device.part}, over the "
                f"{self.cap_pct:g}% cap"
            )

    # ------------------------------------------------------------------ outputs

    def stream(self, cand: TwinCandidate) -> TwinStream:
        return self.outputs.stream(cand.compressed.network, cand.accurate.network)

    # ------------------------------------------------------------------ evaluate

    def evaluate(self, candidate: Candidate) -> Outcome:
        if not isinstance(candidate, TwinCandidate):
            raise ConfigError("a twin study evaluates twin candidates only")
        t0 = time.perf_counter()
        try:
            cost = self.pair_cost(candidate)
        except DseError as exc:
            return Outcome(None, {}, TrialAttrs(candidate.as_dict(), error=str(exc)), False, False)
        cost_s = time.perf_counter() - t0
        util = cost.utilization
        constraints = {k: getattr(util, k) - self.cap_pct for k in RESOURCE_KEYS}
        fits = all(v <= 0 for v in constraints.values())
        summary = pair_summary(cost)
        timing: dict[str, Any] = {"cost_s": round(cost_s, 6)}
        result: TwinResult | None = None
        twin: dict[str, Any] | None = None
        if fits:
            stream = self.stream(candidate)
            t1 = time.perf_counter()
            result = simulate(stream, candidate.threshold, cost.cmp_time, cost.acc_time)
            sweep, best = threshold_sweep(stream, cost.cmp_time, cost.acc_time, points=21)
            # the halves' outputs: computed by `stream` just now, or by the pair solver
            # (`--hardware solve`) while the trial chose its design
            owed = self.outputs.take_seconds(
                candidate.compressed.network, candidate.accurate.network
            )
            timing["eval_s"] = round(owed + time.perf_counter() - t1, 3)
            twin = twin_attrs(result, sweep[best], self.settings)
            summary["fps"] = result.throughput_fps
            summary["latency_ms"] = result.latency_ms
        accuracy = result.accuracy if result is not None else None
        if self.min_accuracy is not None:
            constraints["accuracy"] = self.min_accuracy - accuracy if accuracy is not None else 0.0
        feasible = fits and all(v <= 0 for v in constraints.values())
        attrs = TrialAttrs(
            candidate.as_dict(),
            cost=summary,
            layers=pair_layer_rows(cost),
            accuracy=accuracy,
            timing=timing,
            status=status(fits, feasible),
            twin=twin,
        )
        values = tuple(self._objective(o, cost, result) for o in self.objectives)
        return Outcome(values, constraints, attrs, fits, feasible)

    def _objective(self, name: str, cost: PairCost, result: TwinResult | None) -> float:
        match name:
            case "accuracy":
                return result.accuracy if result is not None else 0.0
            case "lut" | "dsp" | "bram18":
                return float(getattr(cost.total, name))
            case "fps":
                return result.throughput_fps if result is not None else 0.0
            case "latency_ms":
                # Unknown for an infeasible pair (never simulated): the accurate half alone.
                return result.latency_ms if result is not None else cost.acc_time.latency_ms
        raise ConfigError(f"unknown objective {name!r}")  # pragma: no cover

    # ------------------------------------------------------------------ study hooks

    def baselines(self) -> list[tuple[str, Candidate]]:
        """The built-in pair (`default_pair`) projected onto the space, when it fits."""
        base = default_pair(self.network)
        cand = self.twin_space.build_pair(
            _choices(base.compressed), _choices(base.accurate), self.twin_space.default_threshold
        )
        try:
            cost = self.pair_cost(cand)
        except DseError:
            return []
        return [("twin-default", cand)] if self.fits(cost) else []

    def hv_bounds(self) -> dict[str, list[Any]]:
        """As `dse.problem.hv_bounds`, for the pair: resources 0..capped device, accuracy
        0..1, latency and FPS on a log scale from the smallest pair to one cycle."""
        slow = self.pair_cost(self.twin_space.smallest())
        clock_hz = slow.accurate.clock_mhz * 1e6
        cap = self.cap_pct / 100.0
        slow_ms = max(slow.acc_time.latency_ms, slow.cmp_time.latency_ms)
        out: dict[str, list[Any]] = {}
        for o in self.objectives:
            match o:
                case "accuracy":
                    out[o] = [0.0, 1.0, "lin"]
                case "lut" | "dsp" | "bram18":
                    out[o] = [max(float(getattr(self.device, o)) * cap, 1.0), 0.0, "lin"]
                case "fps":
                    out[o] = [min(1e3 / slow_ms, clock_hz) / 2, clock_hz, "log"]
                case "latency_ms":
                    out[o] = [slow_ms * 2, 1e3 / clock_hz, "log"]
        return out


def _choices(network: Network) -> dict[str, Any]:
    return {layer.name: layer.choice for layer in network.compute_layers if layer.choice}


def pair_summary(cost: PairCost) -> dict[str, Any]:
    """Like `dse.problem.cost_summary`, for the pair (overhead included)."""
    util = cost.utilization
    return {
        **{k: round(v, 3) for k, v in cost.total.as_dict().items()},
        "util": {k: round(getattr(util, k), 3) for k in RESOURCE_KEYS},
        "fps": 1e3 / cost.acc_time.interval_ms,
        "latency_ms": cost.acc_time.latency_ms,
        "clock_mhz": cost.accurate.clock_mhz,
        "cycles_per_frame": cost.accurate.cycles_per_frame,
        "compressed": {k: round(v, 3) for k, v in cost.compressed.total.as_dict().items()},
        "accurate": {k: round(v, 3) for k, v in cost.accurate.total.as_dict().items()},
        "overhead": {k: round(v, 3) for k, v in cost.overhead.as_dict().items()},
        "compressed_latency_ms": cost.cmp_time.latency_ms,
        "accurate_latency_ms": cost.acc_time.latency_ms,
    }


def pair_layer_rows(cost: PairCost) -> tuple[LayerCostRow, ...]:
    """Both halves' unit rows under prefixed names, plus the overhead as one row."""
    return (
        *(r.prefixed("cmp.") for r in layer_rows(cost.compressed)),
        *(r.prefixed("acc.") for r in layer_rows(cost.accurate)),
        LayerCostRow("overhead", "twin", round(cost.overhead.lut, 1), 0.0, 0.0, 0.0, 0.0, 0),
    )


def twin_attrs(result: TwinResult, balanced: TwinResult, settings: TwinSettings) -> dict[str, Any]:
    """What a report shows for a twin trial: T, R, speed-up, re-check fraction, the halves'
    accuracies and latencies, and the pair's most balanced T over a sweep."""
    return {
        "threshold": result.threshold,
        "recovery": None if math.isnan(result.recovery) else result.recovery,
        "speedup": result.speedup,
        "recheck_fraction": result.recheck_fraction,
        "accurate_fresh_fraction": result.accurate_fresh_fraction,
        "accuracy_compressed": result.accuracy_compressed,
        "accuracy_accurate": result.accuracy_accurate,
        "latency_ms": result.latency_ms,
        "mean_response_ms": result.mean_response_ms,
        "accurate_alone_latency_ms": result.accurate_alone_latency_ms,
        "compressed_alone_latency_ms": result.compressed_alone_latency_ms,
        "balanced_threshold": balanced.threshold if math.isfinite(balanced.threshold) else None,
        "balanced_recovery": None if math.isnan(balanced.recovery) else balanced.recovery,
        "balanced_speedup": balanced.speedup,
        "margin": settings.margin.value,
        "pipelined": settings.pipelined,
    }


def build_twin_problem(cfg: StudyConfig, loaded: LoadedWorkload, *, storage: str) -> TwinProblem:
    """The `TwinProblem` of a `dse.config.StudyConfig` with `mode: twin`."""
    from costmodels.devices import get_device

    if loaded.cost_only or loaded.workload is None:
        raise ConfigError(
            f"twin mode needs a trainable workload (both halves' outputs); {cfg.workload!r} "
            "is a hardware-only spec"
        )
    settings = cfg.twin or TwinSettings()
    device = get_device(cfg.device)
    limits = cfg.space
    search_prune = limits.search_prune if limits.search_prune is not None else True
    evaluator = accuracy_evaluator(cfg, loaded, storage=storage)
    outputs = HalfOutputs(evaluator, settings)
    objectives = cfg.objectives_for(cost_only=False)
    space: TwinSpace
    if cfg.hardware_for(cost_only=False) is HardwareMode.SOLVE:
        space = TwinSolvedSpace(
            loaded.network,
            limits,
            t_max=settings.threshold_max,
            search_prune=search_prune,
            pair_front=PairSolver(
                device,
                cap_pct=cfg.cap_pct,
                clock_mhz=cfg.clock_mhz,
                compressed_limits=decomposed_limits(compressed_limits(limits), device),
                accurate_limits=decomposed_limits(accurate_limits(limits), device),
                overhead=settings.overhead_model,
                pipelined=settings.pipelined,
                objectives=objectives,
                stream=outputs.stream,
            ),
        )
    else:
        space = TwinSpace(
            loaded.network, limits, t_max=settings.threshold_max, search_prune=search_prune
        )
    return TwinProblem(
        loaded.network,
        device,
        space,
        objectives,
        cap_pct=cfg.cap_pct,
        settings=settings,
        min_accuracy=cfg.min_accuracy,
        evaluator=evaluator,
        clock_mhz=cfg.clock_mhz,
        outputs=outputs,
    )
