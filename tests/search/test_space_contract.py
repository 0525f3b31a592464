"""The contract every `search_spaces.Space` meets, run by every space (single network
cost-only and with bits/pruning, a depthwise network, the twin pair) with every sampler
(tpe, nsga2, random, auto). A new space is one more entry in `SPACES`.

What it checks: the distributions a space declares are exactly what its `suggest` asks for
(the declared ones go to the sampler: NSGA-II's crossover looks parameters up there); a
40-trial two-objective study completes with each sampler; a design round-trips through
`params_for` and `suggest(FixedTrial)`; the smallest design is a valid network.
(`smallest(arith)` may hold `auto` where `arith` cannot serve a layer, which no suggestion
yields, so it is not round-tripped; baselines are, in the problem contract.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import optuna
import pytest

from costmodels import estimate
from costmodels.devices import get_device
from costmodels.types import Arith
from costmodels.zoo import cnv_network, resnet18_main_path, tfc_network
from dse.config import SamplerName
from dse.samplers import make_sampler, resolve_sampler
from search_spaces import SearchSpace, Space, SpaceLimits
from search_spaces.twin import TwinSpace

LIMITS = SpaceLimits()

SPACES: dict[str, Callable[[], Space]] = {
    "single-cost-only": lambda: SearchSpace(
        cnv_network(), LIMITS, search_bits=False, search_prune=False
    ),
    "single-bits-prune": lambda: SearchSpace(
        tfc_network(), LIMITS, search_bits=True, search_prune=True
    ),
    "single-depthwise-residual": lambda: SearchSpace(
        resnet18_main_path(w_bits=4, a_bits=4, imagenet=False),
        SpaceLimits(max_pe=16, max_simd=16),
        search_bits=True,
        search_prune=True,
    ),
    "twin": lambda: TwinSpace(tfc_network(), LIMITS, t_max=4.0, search_prune=True),
}
DEVICE = get_device("XCZU3EG")


@pytest.fixture(params=sorted(SPACES))
def space(request: pytest.FixtureRequest) -> Space:
    return SPACES[request.param]()


def test_is_a_space(space: Space) -> None:
    assert isinstance(space, Space)


def test_distributions_equal_what_suggest_asks(space: Space) -> None:
    declared = space.distributions()
    assert set(declared) == set(space.param_names)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(10):
        trial = study.ask()
        space.suggest(trial)
        assert trial.distributions == declared
        study.tell(trial, 0.0)


@pytest.mark.parametrize("sampler", list(SamplerName))
def test_forty_trial_study_completes(space: Space, sampler: SamplerName) -> None:
    """Two objectives (LUT, FPS of the candidate's network), the space's declared
    distributions given to the sampler as `dse.study` does; NSGA-II's population is 8, so
    four generations breed by crossover."""
    name = resolve_sampler(sampler, cost_only=True, trials=40)
    study = optuna.create_study(
        directions=["minimize", "maximize"],
        sampler=make_sampler(name, 0, trials=40, search_space=space.distributions()),
    )
    names = set(space.param_names)
    for _ in range(40):
        trial = study.ask()
        cost = estimate(space.suggest(trial).network, DEVICE)
        assert set(trial.params) == names
        study.tell(trial, [cost.total.lut, cost.fps])
    assert len(study.get_trials(states=[optuna.trial.TrialState.COMPLETE])) == 40


def test_designs_round_trip_through_params_for(space: Space) -> None:
    """A sampled design comes back unchanged from its parameters. Where a sampled
    arithmetic cannot serve a layer (XNOR on 5-bit weights) `build` keeps `auto`, which no
    parameter names, so such a design comes back with the layer's first option; that
    projection is then a fixed point."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(25):
        trial = study.ask()
        cand = space.suggest(trial)
        study.tell(trial, 0.0)
        params = space.params_for(cand.choices)
        assert set(params) <= set(space.param_names)
        again = space.suggest(optuna.trial.FixedTrial(params))
        for name, choice in cand.choices.items():
            if choice.arith is Arith.AUTO:
                assert again.choices[name] == replace(choice, arith=again.choices[name].arith)
            else:
                assert again.choices[name] == choice
        twice = space.suggest(optuna.trial.FixedTrial(space.params_for(again.choices)))
        assert twice.choices == again.choices


def test_smallest_is_a_design_of_the_space(space: Space) -> None:
    small = space.smallest(Arith.LUT)
    params = space.params_for(small.choices)
    dists = space.distributions()
    for key, value in params.items():
        assert dists[key]._contains(dists[key].to_internal_repr(value))
    estimate(small.network, DEVICE)  # a valid network
