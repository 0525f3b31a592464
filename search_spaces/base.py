"""The `Space` protocol: what every search space of a study implements (the single-network
`SearchSpace`, the twin `TwinSpace`, and any later variant).

A space turns a network description into Optuna suggestions and back into a candidate:

    distributions()  every parameter `suggest` asks for, with its Optuna distribution
    suggest(trial)   sample a `Candidate` from a trial (or `optuna.trial.FixedTrial`)
    build(raw)       a candidate from explicit per-name values (a baseline, a stored design)
    params_for(c)    parameter values that reproduce a candidate's choices (enqueueing)
    params_of(cand)  the parameters of the design a candidate really is (the stored trial)
    smallest(arith)  the cheapest candidate the space holds (the "cannot fit" check)

The contract every implementation meets is checked by `tests/search/test_space_contract.py`
(distributions equal what `suggest` asks for, 40-trial studies with every sampler, baselines
round-trip through `params_for`): the check that would have caught twin + NSGA-II asking the
sampler for the single network's parameter names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from costmodels.codec import choice_to_dict
from costmodels.types import Arith, LayerChoice, Network

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution


@dataclass(frozen=True)
class Candidate:
    """A sampled design: the network with every compute layer's choice filled in."""

    network: Network
    choices: Mapping[str, LayerChoice]

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Per layer, the values a report and `dse export` need (JSON-ready; the one
        `LayerChoice` codec, `costmodels.codec`)."""
        return {name: choice_to_dict(c) for name, c in self.choices.items()}


class Suggester(Protocol):
    """What a space needs from an Optuna trial (`optuna.trial.Trial` satisfies it)."""

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...

    def suggest_float(self, name: str, low: float, high: float) -> float: ...


@runtime_checkable
class Space(Protocol):
    """A study's search space (see the module docstring)."""

    network: Network
    #: parameters in real values (False: choice indices, studies created before issue 14)
    real_values: bool

    @property
    def param_names(self) -> tuple[str, ...]: ...

    def distributions(self) -> dict[str, BaseDistribution]: ...

    def suggest(self, trial: Suggester) -> Candidate: ...

    def build(self, raw: Mapping[str, Any]) -> Candidate: ...

    def params_for(self, choices: Mapping[str, LayerChoice]) -> dict[str, Any]: ...

    def params_of(self, candidate: Candidate) -> dict[str, Any]: ...

    def arith_options(self) -> tuple[Arith, ...]: ...

    def smallest(self, arith: Arith = Arith.LUT) -> Candidate: ...
