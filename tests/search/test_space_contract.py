"""The contract every `search_spaces.Space` meets, run by every space (single network
cost-only and with bits/pruning, a depthwise network, the twin pair) with every sampler
(tpe, nsga2, random, auto), and the spaces whose hardware the solver chooses
(`--hardware solve`, single and twin). A new space is one more entry in `SPACES`.

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
from costmodels.types import Arith, LayerChoice, Network, RamStyle
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
    "single-decomposed": lambda: _decomposed(),
    "twin-solved": lambda: _twin_solved(),
}
DEVICE = get_device("XCZU3EG")
SMALL = SpaceLimits(max_pe=8, max_simd=8)


def _small_net() -> Network:
    """Three dense layers: a solver per trial stays cheap in a 40-trial study."""
    from dse.spec import network_from_dict

    return network_from_dict({
        "name": "small", "input": {"shape": [16], "bits": 4},
        "layers": [
            {"name": "fc0", "op": "dense", "out_features": 16, "w_bits": 4, "a_bits": 4},
            {"name": "fc1", "op": "dense", "out_features": 8, "w_bits": 4, "a_bits": 4},
            {"name": "fc2", "op": "dense", "out_features": 4, "w_bits": 8, "a_bits": None},
        ],
    })  # fmt: skip


def _decomposed() -> Space:
    """`--hardware solve`: accuracy choices sampled, the hardware from the solver."""
    from dse.hardware import decomposed_limits, front_solver
    from search_spaces.decomposed import DecomposedSpace

    solver = front_solver(
        DEVICE, cap_pct=85.0, clock_mhz=None, limits=decomposed_limits(SMALL, DEVICE)
    )
    return DecomposedSpace(tfc_network(), SMALL, search_bits=True, search_prune=True, solver=solver)


def _twin_solved() -> Space:
    """`--mode twin --hardware solve`, both halves' outputs stood in by a fixed stream
    (the pair solver's torch side; the space never sees it)."""
    import numpy as np

    from dse.hardware import decomposed_limits
    from dse.twin.resources import OverheadModel
    from dse.twin.schedule import TwinStream
    from dse.twin.solve import PairSolver
    from search_spaces.twin import TwinSolvedSpace, accurate_limits, compressed_limits

    rng = np.random.default_rng(0)
    stream = TwinStream.from_correctness(
        rng.exponential(1.0, 50), rng.random(50) < 0.7, rng.random(50) < 0.9
    )
    pair = PairSolver(
        DEVICE,
        cap_pct=85.0,
        clock_mhz=None,
        compressed_limits=decomposed_limits(compressed_limits(SMALL), DEVICE),
        accurate_limits=decomposed_limits(accurate_limits(SMALL), DEVICE),
        overhead=OverheadModel.default(),
        pipelined=False,
        objectives=("accuracy", "latency_ms", "lut"),
        stream=lambda c, a: stream,
    )
    return TwinSolvedSpace(_small_net(), SMALL, t_max=4.0, search_prune=True, pair_front=pair)


def _accuracy_part(choice: LayerChoice) -> LayerChoice:
    """What a solved space's parameters fix of a layer: all but the folding, the
    non-RCCM arithmetic and where the weights live (the solver's)."""
    arith = choice.arith if choice.arith.is_rccm else Arith.AUTO
    return replace(choice, pe=1, simd=1, mmv=1, arith=arith, ram_style=RamStyle.AUTO)


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
        if getattr(space, "solves_hardware", False):  # the solver's folding, same accuracy
            for name, choice in cand.choices.items():
                assert _accuracy_part(again.choices[name]) == _accuracy_part(choice)
            continue
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
