"""The decomposed space (`dse search --hardware solve` with accuracy objectives): the sampler
chooses only what changes accuracy, the exact folding solver chooses the hardware.

Sampled per compute layer: `w_bits`, `a_bits`, `prune`, `threshold` (ternary), `scaling`
(SYQ granularity) as in `SearchSpace`, and `wfmt`,
the weight format where an RCCM set is allowed (`int` or `rccm2/3/4`: an RCCM set changes
the weights, so it is an accuracy choice). One more parameter, `hw.point`, is the operating
point: an index into the solver's exact front for those choices (speed against LUT; the
speed is latency in a study that asks for latency and not FPS, else FPS:
`dse.hardware.front_speed`), from the fewest LUTs (0) to the fastest (`POINTS - 1`),
mapped by quantile onto however many designs the front holds. PE, SIMD, MMV and the
LUT/DSP/XNOR arithmetic are never sampled.

Every front design of one accuracy configuration has the same accuracy (the evaluation is
cached by what affects accuracy, never PE/SIMD), so the other front points are reached by
other `hw.point` values at no accuracy cost; they are not added as extra trials (which
would tilt the sampler's model towards the configurations already solved).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from costmodels.errors import ConfigError
from costmodels.types import Arith, LayerChoice, Network
from search_spaces.base import Candidate, Suggester
from search_spaces.limits import SpaceLimits
from search_spaces.space import SearchSpace, _pick

#: Operating points the sampler chooses among (quantiles of each front).
POINTS = 8
HW_POINT = "hw.point"
PLAIN = "int"


def point_index(point: int, n: int) -> int:
    """The front position (0 = fewest resources .. n - 1 = fastest) of operating point
    `point` in 0..POINTS - 1: the same quantile of every front."""
    return round(point * (n - 1) / (POINTS - 1))


#: A solver: the network at fixed accuracy choices (PE = SIMD = 1) to its front's designs,
#: fewest LUTs first.
FrontSolver = Callable[[Network], Sequence[Mapping[str, LayerChoice]]]


class SolvedHardware:
    """What a space whose hardware the folding solver chooses (`DecomposedSpace`, the twin
    `search_spaces.twin.TwinSolvedSpace`) tells the study, placed before the space's base
    class: `solves_hardware` (`dse.study` evaluates a baseline trial's own design, not the
    solver's design for the baseline's accuracy parameters), parameters that are choice
    indices and an operating point whatever the study's `real_values`, and nothing for
    `params_of` to overwrite."""

    solves_hardware = True

    @property
    def real_values(self) -> bool:
        """Index parameters and an operating point: the space keeps its own encoding."""
        return False

    @real_values.setter
    def real_values(self, value: bool) -> None:
        pass

    def params_of(self, candidate: Candidate) -> dict[str, Any]:
        """Nothing to overwrite: the candidate is the solver's design at the sampled
        parameters (accuracy choices and operating point), which the trial stores as
        sampled."""
        return {}


class DecomposedSpace(SolvedHardware, SearchSpace):
    """A `SearchSpace` whose hardware comes from `solver` (see the module docstring)."""

    def __init__(
        self,
        network: Network,
        limits: SpaceLimits,
        *,
        search_bits: bool,
        search_prune: bool,
        solver: FrontSolver | None = None,
        memo: int = 256,
    ) -> None:
        super().__init__(network, limits, search_bits=search_bits, search_prune=search_prune)
        self.solver = solver
        self._fronts: OrderedDict[str, tuple[Mapping[str, LayerChoice], ...]] = OrderedDict()
        self._memo = memo

    def unsolved_dims(self) -> tuple[str, ...]:
        """Accuracy choices of the space this decomposition does not sample (LQ number
        types, whose arithmetic is tied to them): when any has more than one option the
        study samples every knob instead (`dse.problem`)."""
        found = []
        for what in ("w_type", "a_type"):
            if any(len(getattr(ls, what, ())) > 1 for ls in self.layers):
                found.append(what)
        return tuple(found)

    def _wfmts(self, name: str) -> tuple[str, ...]:
        ls = next(la for la in self.layers if la.name == name)
        return (PLAIN, *(a.value for a in ls.arith if a.is_rccm))

    def _acc_dims(self) -> list[tuple[str, str, tuple[Any, ...]]]:
        out: list[tuple[str, str, tuple[Any, ...]]] = []
        for ls in self.layers:
            out += [
                (ls.name, "w_bits", ls.w_bits),
                (ls.name, "a_bits", ls.a_bits),
                (ls.name, "prune", ls.prune),
                (ls.name, "wfmt", self._wfmts(ls.name)),
                (ls.name, "threshold", ls.threshold),
                (ls.name, "scaling", tuple(g.value for g in ls.scaling)),
            ]
        return out

    @property
    def param_names(self) -> tuple[str, ...]:
        names = [f"{n}.{w}" for n, w, opts in self._acc_dims() if len(opts) > 1]
        return (*names, HW_POINT)

    def distributions(self) -> dict[str, Any]:
        from optuna.distributions import IntDistribution

        out = self.accuracy_distributions()
        out[HW_POINT] = IntDistribution(0, POINTS - 1)
        return dict(sorted(out.items()))

    def accuracy_distributions(self) -> dict[str, Any]:
        """The accuracy parameters' distributions (sorted; no operating point)."""
        from optuna.distributions import CategoricalDistribution, IntDistribution

        out: dict[str, Any] = {}
        for name, what, opts in self._acc_dims():
            if len(opts) <= 1:
                continue
            key = f"{name}.{what}"
            out[key] = (
                CategoricalDistribution(opts)
                if what in ("wfmt", "scaling")
                else IntDistribution(0, len(opts) - 1)
            )
        return dict(sorted(out.items()))

    def accuracy_network(self, raw: Mapping[str, Mapping[str, Any]]) -> Network:
        """The network at sampled accuracy choices, folded PE = SIMD = MMV = 1 (the kept
        channels of a pruned layer are then `round(n * (1 - ratio))`, which the solver
        keeps), built by the base space (`SearchSpace.build`) so that bits, types,
        thresholds, scaling and pruning groups are normalized as in the sampled search."""
        full: dict[str, dict[str, Any]] = {}
        for ls in self.layers:
            v = dict(raw[ls.name])
            fmt = v.pop("wfmt", PLAIN)
            arith = Arith(fmt) if fmt != PLAIN and int(v["w_bits"]) >= 2 else Arith.AUTO
            full[ls.name] = {**v, "pe": 1, "simd": 1, "mmv": 1, "arith": arith}
        return self.build(full).network

    def front_for(self, network: Network) -> tuple[Mapping[str, LayerChoice], ...]:
        """The solver's front for `network` (memoised on its choices)."""
        key = json.dumps(
            {la.name: repr(la.choice) for la in network.compute_layers}, sort_keys=True
        )
        hit = self._fronts.get(key)
        if hit is not None:
            self._fronts.move_to_end(key)
            return hit
        if self.solver is None:
            raise ConfigError("this decomposed space samples accuracy choices only (no solver)")
        front = tuple(self.solver(network))
        self._fronts[key] = front
        if len(self._fronts) > self._memo:
            self._fronts.popitem(last=False)
        return front

    def suggest_network(self, trial: Suggester) -> Network:
        """Sample the accuracy choices only (no operating point): the network at those
        choices, PE = SIMD = MMV = 1 (`accuracy_network`). The twin search samples both
        halves so (`search_spaces.twin.TwinSolvedSpace`)."""
        raw: dict[str, dict[str, Any]] = {}
        for ls in self.layers:
            raw[ls.name] = {
                "w_bits": _pick(trial, f"{ls.name}.w_bits", ls.w_bits),
                "a_bits": _pick(trial, f"{ls.name}.a_bits", ls.a_bits),
                "prune": _pick(trial, f"{ls.name}.prune", ls.prune),
                "wfmt": _pick(trial, f"{ls.name}.wfmt", self._wfmts(ls.name), True),
                "threshold": _pick(trial, f"{ls.name}.threshold", ls.threshold),
                "scaling": _pick(
                    trial, f"{ls.name}.scaling", tuple(g.value for g in ls.scaling), True
                ),
            }
        return self.accuracy_network(raw)

    def suggest(self, trial: Suggester) -> Candidate:
        net = self.suggest_network(trial)
        point = int(trial.suggest_int(HW_POINT, 0, POINTS - 1))
        front = self.front_for(net)
        if not front:  # nothing fits at these bits: the folded design, refused by the budget
            return Candidate(net, {la.name: la.choice for la in net.compute_layers if la.choice})
        choices = dict(front[point_index(point, len(front))])
        return Candidate(self.network.with_choices(choices), choices)

    def params_for(self, choices: Mapping[str, LayerChoice]) -> dict[str, Any]:
        """The accuracy parameters of `choices` and the fastest operating point (a
        baseline's own folding is kept by the study, see `dse.study`)."""
        return {**self.accuracy_params(choices), HW_POINT: POINTS - 1}

    def accuracy_params(self, choices: Mapping[str, LayerChoice]) -> dict[str, Any]:
        """The accuracy parameters reproducing `choices`' bits, pruning, weight format,
        threshold and scaling (no operating point)."""
        base = super().params_for(choices)
        wanted = self.accuracy_distributions()
        out = {k: v for k, v in base.items() if k in wanted}
        for ls in self.layers:
            key = f"{ls.name}.wfmt"
            if key in wanted:
                c = choices.get(ls.name, ls.default)
                fmt = c.arith.value if c.arith.is_rccm else PLAIN
                out[key] = fmt if fmt in self._wfmts(ls.name) else PLAIN
        return out
