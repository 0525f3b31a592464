"""The twin (TwinDNN) search space: two halves of one network plus a confidence threshold.

A candidate is the compressed half (1- or 2-bit weights, LUT/XNOR arithmetic, its own
folding and activation bits), the accurate half (k-bit weights with k >= 3, DSP or RCCM
arithmetic, its own folding) and the threshold T (continuous, `threshold` in [0, t_max]).
Each half reuses the single-network `SearchSpace` with its parameter names prefixed:
`cmp.conv1.pe`, `acc.conv1.w_bits`, ... (`Prefixed` renames what a half suggests).

`TwinSpace` implements the `Space` protocol for the whole pair: its `distributions` are the
halves' own under their prefixes plus `threshold` (never the single network's names, which
an NSGA-II crossover would look up in vain). `TwinSolvedSpace` samples only the halves'
accuracy choices, T and an operating point; the exact folding solver gives both halves'
hardware under their shared budget (`dse.twin.solve`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from costmodels.errors import ConfigError
from costmodels.types import Arith, LayerChoice, Network
from search_spaces.base import Suggester
from search_spaces.decomposed import (
    HW_POINT,
    POINTS,
    DecomposedSpace,
    SolvedHardware,
    point_index,
)
from search_spaces.limits import FixedChoice, SpaceLimits
from search_spaces.space import Candidate, SearchSpace

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

CMP = "cmp."
ACC = "acc."
THRESHOLD = "threshold"
COMPRESSED_BITS = (1, 2)
COMPRESSED_ARITH = (Arith.LUT, Arith.XNOR)
ACCURATE_ARITH = (Arith.DSP, Arith.RCCM2, Arith.RCCM3, Arith.RCCM4)
MIN_ACCURATE_BITS = 3


class Prefixed:
    """Forwards a half's suggestions to the trial under `prefix` + name."""

    def __init__(self, trial: Suggester, prefix: str) -> None:
        self.trial = trial
        self.prefix = prefix

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        return self.trial.suggest_int(self.prefix + name, low, high, log=log)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self.trial.suggest_categorical(self.prefix + name, choices)

    def suggest_float(self, name: str, low: float, high: float) -> float:
        return self.trial.suggest_float(self.prefix + name, low, high)


def _fixed_without(
    fixed: tuple[tuple[str, FixedChoice], ...], *, drop_bits: bool, keep_arith: tuple[Arith, ...]
) -> tuple[tuple[str, FixedChoice], ...]:
    out = []
    for name, fc in fixed:
        arith = fc.arith if fc.arith in keep_arith else None
        w_bits = None if drop_bits else fc.w_bits
        if w_bits is not None and not drop_bits and w_bits < MIN_ACCURATE_BITS:
            w_bits = None
        out.append((name, replace(fc, w_bits=w_bits, arith=arith)))
    return tuple(out)


def compressed_limits(limits: SpaceLimits) -> SpaceLimits:
    """The study's limits narrowed to a binary/ternary LUT half: weight bits from {1, 2}
    (those the study allows, else both), LUT or XNOR arithmetic, no fixed weight bits
    (the usual 8-bit first/last layers would not be binary/ternary)."""
    bits = tuple(b for b in limits.w_bits if b in COMPRESSED_BITS) or COMPRESSED_BITS
    arith = tuple(a for a in limits.arith if a in COMPRESSED_ARITH) or COMPRESSED_ARITH
    fixed = _fixed_without(limits.fixed, drop_bits=True, keep_arith=COMPRESSED_ARITH)
    return replace(limits, w_bits=bits, arith=arith, fixed=fixed)


def accurate_limits(limits: SpaceLimits) -> SpaceLimits:
    """The study's limits narrowed to a k-bit DSP/RCCM half: weight bits >= 3 (those the
    study allows, else 4 and 8), DSP or RCCM arithmetic."""
    bits = tuple(b for b in limits.w_bits if b >= MIN_ACCURATE_BITS) or (4, 8)
    arith = tuple(a for a in limits.arith if a in ACCURATE_ARITH) or (Arith.DSP,)
    fixed = _fixed_without(limits.fixed, drop_bits=False, keep_arith=ACCURATE_ARITH)
    return replace(limits, w_bits=bits, arith=arith, fixed=fixed)


@dataclass(frozen=True)
class TwinCandidate(Candidate):
    """A sampled twin design. As a `Candidate` it is the accurate network with the choices
    of both halves under prefixed names (what a study stores and a report lists)."""

    compressed: Candidate
    accurate: Candidate
    threshold: float


def split_choices(choices: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Prefixed `{cmp.<layer>: .., acc.<layer>: ..}` into the two halves' mappings."""
    cmp: dict[str, Any] = {}
    acc: dict[str, Any] = {}
    for key, value in choices.items():
        if key.startswith(CMP):
            cmp[key[len(CMP) :]] = value
        elif key.startswith(ACC):
            acc[key[len(ACC) :]] = value
        else:
            raise ConfigError(f"twin design key {key!r} has no cmp./acc. prefix")
    return cmp, acc


def joined(cmp: Mapping[str, Any], acc: Mapping[str, Any]) -> dict[str, Any]:
    return {**{CMP + k: v for k, v in cmp.items()}, **{ACC + k: v for k, v in acc.items()}}


class TwinSpace:
    """The pair's space (see the module docstring). `t_max` bounds the threshold."""

    def __init__(
        self, network: Network, limits: SpaceLimits, *, t_max: float, search_prune: bool
    ) -> None:
        if not t_max > 0:
            raise ConfigError(f"twin t_max {t_max} must be > 0")
        self.network = network
        self.limits = limits
        self.search_bits = True
        self.search_prune = search_prune
        self.t_max = float(t_max)
        self.accurate = SearchSpace(
            network, accurate_limits(limits), search_bits=True, search_prune=search_prune
        )
        self.compressed = SearchSpace(
            network, compressed_limits(limits), search_bits=True, search_prune=search_prune
        )

    @property
    def param_names(self) -> tuple[str, ...]:
        return (
            *(CMP + n for n in self.compressed.param_names),
            *(ACC + n for n in self.accurate.param_names),
            THRESHOLD,
        )

    def distributions(self) -> dict[str, BaseDistribution]:
        """Both halves' distributions under their prefixes, and the threshold's (sorted)."""
        from optuna.distributions import FloatDistribution

        out: dict[str, BaseDistribution] = {
            **{CMP + k: v for k, v in self.compressed.distributions().items()},
            **{ACC + k: v for k, v in self.accurate.distributions().items()},
            THRESHOLD: FloatDistribution(0.0, self.t_max),
        }
        return dict(sorted(out.items()))

    def pair(self, cmp: Candidate, acc: Candidate, threshold: float) -> TwinCandidate:
        return TwinCandidate(
            network=acc.network,
            choices=joined(cmp.choices, acc.choices),
            compressed=cmp,
            accurate=acc,
            threshold=float(threshold),
        )

    def suggest(self, trial: Suggester) -> TwinCandidate:
        cmp = self.compressed.suggest(Prefixed(trial, CMP))
        acc = self.accurate.suggest(Prefixed(trial, ACC))
        threshold = float(trial.suggest_float(THRESHOLD, 0.0, self.t_max))
        return self.pair(cmp, acc, threshold)

    def build(self, raw: Mapping[str, Any]) -> TwinCandidate:
        """A pair from prefixed per-layer values (`cmp.<layer>`, `acc.<layer>`) and an
        optional `threshold` (default: `default_threshold`)."""
        values = dict(raw)
        threshold = float(values.pop(THRESHOLD, self.default_threshold))
        cmp, acc = split_choices(values)
        return self.pair(self.compressed.build(cmp), self.accurate.build(acc), threshold)

    def build_pair(
        self, cmp: Mapping[str, LayerChoice], acc: Mapping[str, LayerChoice], threshold: float
    ) -> TwinCandidate:
        """A twin candidate from explicit choices of both halves (baselines)."""
        return self.pair(
            Candidate(self.network.with_choices(cmp), dict(cmp)),
            Candidate(self.network.with_choices(acc), dict(acc)),
            threshold,
        )

    @property
    def default_threshold(self) -> float:
        """The T a baseline pair is enqueued with: a quarter of the range (on digits-cnn's
        default pair the swept knee is near 3.5 of the raw range 16, `dse twin-sweep`)."""
        return self.t_max / 4

    def params_for(self, choices: Mapping[str, LayerChoice]) -> dict[str, Any]:
        """Parameters reproducing prefixed choices of both halves, with the
        `default_threshold` (`params_for_candidate` keeps a candidate's own T)."""
        cmp, acc = split_choices(choices)
        return {
            **{CMP + k: v for k, v in self.compressed.params_for(cmp).items()},
            **{ACC + k: v for k, v in self.accurate.params_for(acc).items()},
            THRESHOLD: self.default_threshold,
        }

    @property
    def real_values(self) -> bool:
        return self.accurate.real_values

    @real_values.setter
    def real_values(self, value: bool) -> None:
        self.accurate.real_values = self.compressed.real_values = value

    def params_of(self, candidate: Candidate) -> dict[str, Any]:
        """The stored parameters of the pair `candidate` is (see `SearchSpace.params_of`)."""
        if not isinstance(candidate, TwinCandidate):
            return self.params_for(candidate.choices)
        return {
            **{CMP + k: v for k, v in self.compressed.params_of(candidate.compressed).items()},
            **{ACC + k: v for k, v in self.accurate.params_of(candidate.accurate).items()},
            THRESHOLD: min(candidate.threshold, self.t_max),
        }

    def params_for_candidate(self, cand: TwinCandidate) -> dict[str, Any]:
        return {**self.params_for(cand.choices), THRESHOLD: min(cand.threshold, self.t_max)}

    def arith_options(self) -> tuple[Arith, ...]:
        return tuple(
            dict.fromkeys((*self.compressed.arith_options(), *self.accurate.arith_options()))
        )

    def smallest(self, arith: Arith = Arith.LUT) -> TwinCandidate:
        """The cheapest pair: each half at its own cheapest arithmetic (LUT for the
        compressed half, the accurate half's first option), fewest bits, PE=SIMD=1."""
        cmp = self.compressed.smallest(Arith.LUT)
        acc = self.accurate.smallest(self.accurate.arith_options()[0])
        return self.pair(cmp, acc, 0.0)


#: Both halves' choices for fixed accuracy choices and T: the pair front, fewest
#: resources first (`dse.twin.solve.PairSolver`).
PairFront = Callable[
    [Network, Network, float],
    Sequence[tuple[Mapping[str, LayerChoice], Mapping[str, LayerChoice]]],
]


class TwinSolvedSpace(SolvedHardware, TwinSpace):
    """The twin space whose hardware comes from the exact folding solver (`dse search
    --mode twin --hardware solve`): the sampler chooses both halves' accuracy choices
    (`cmp.<layer>.w_bits`, `acc.<layer>.wfmt`, ... as `DecomposedSpace` names them), T
    (`threshold`) and `hw.point`, an index (0 = fewest resources .. 7 = fastest) into the
    pair front `pair_front` returns for those choices (`dse.twin.solve`: both halves'
    exact fronts merged under the shared budget). PE, SIMD, MMV, the arithmetic and where
    the weights live are never sampled. Every design of one pair front has the same
    accuracy at that T (outputs are cached per accuracy configuration)."""

    def __init__(
        self,
        network: Network,
        limits: SpaceLimits,
        *,
        t_max: float,
        search_prune: bool,
        pair_front: PairFront,
    ) -> None:
        super().__init__(network, limits, t_max=t_max, search_prune=search_prune)
        self.pair_front = pair_front
        self.compressed: DecomposedSpace = DecomposedSpace(
            network, compressed_limits(limits), search_bits=True, search_prune=search_prune
        )
        self.accurate: DecomposedSpace = DecomposedSpace(
            network, accurate_limits(limits), search_bits=True, search_prune=search_prune
        )

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(self.distributions())

    def distributions(self) -> dict[str, BaseDistribution]:
        from optuna.distributions import FloatDistribution, IntDistribution

        out: dict[str, BaseDistribution] = {
            **{CMP + k: v for k, v in self.compressed.accuracy_distributions().items()},
            **{ACC + k: v for k, v in self.accurate.accuracy_distributions().items()},
            THRESHOLD: FloatDistribution(0.0, self.t_max),
            HW_POINT: IntDistribution(0, POINTS - 1),
        }
        return dict(sorted(out.items()))

    def suggest(self, trial: Suggester) -> TwinCandidate:
        cmp_net = self.compressed.suggest_network(Prefixed(trial, CMP))
        acc_net = self.accurate.suggest_network(Prefixed(trial, ACC))
        threshold = float(trial.suggest_float(THRESHOLD, 0.0, self.t_max))
        point = int(trial.suggest_int(HW_POINT, 0, POINTS - 1))
        front = self.pair_front(cmp_net, acc_net, threshold)
        if not front:  # no pair fits at these bits: the folded pair, refused by the budget
            return self.pair(_folded(cmp_net), _folded(acc_net), threshold)
        cmp, acc = front[point_index(point, len(front))]
        return self.build_pair(cmp, acc, threshold)

    def params_for(self, choices: Mapping[str, LayerChoice]) -> dict[str, Any]:
        """Both halves' accuracy parameters, the `default_threshold` and the fastest
        operating point (a baseline's own folding is kept by the study)."""
        cmp, acc = split_choices(choices)
        return {
            **{CMP + k: v for k, v in self.compressed.accuracy_params(cmp).items()},
            **{ACC + k: v for k, v in self.accurate.accuracy_params(acc).items()},
            THRESHOLD: self.default_threshold,
            HW_POINT: POINTS - 1,
        }

    def params_for_candidate(self, cand: TwinCandidate) -> dict[str, Any]:
        return {**self.params_for(cand.choices), THRESHOLD: min(cand.threshold, self.t_max)}


def _folded(network: Network) -> Candidate:
    return Candidate(
        network, {la.name: la.choice for la in network.compute_layers if la.choice is not None}
    )
