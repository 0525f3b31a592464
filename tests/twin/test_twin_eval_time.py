"""A twin trial's stored `eval_s` counts the time spent on both halves' outputs, also when
the pair solver (`--hardware solve`) computed them while the trial chose its design, before
the problem evaluated it (`dse.twin.search.HalfOutputs.take_seconds`)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import optuna
import pytest

from costmodels import get_device
from costmodels.types import Network
from dse.hardware import decomposed_limits
from dse.spec import network_from_dict
from dse.twin.search import HalfOutputs, TwinProblem
from dse.twin.settings import TwinSettings
from dse.twin.solve import PairSolver
from search_spaces import SpaceLimits
from search_spaces.twin import TwinSolvedSpace, TwinSpace, accurate_limits, compressed_limits

DEVICE = get_device("XCZU3EG")
#: What one half's outputs take in the fake evaluator (seconds slept per miss).
HALF_S = 0.25


class SlowOutputs:
    """An evaluator whose `outputs` sleeps `HALF_S` and returns fixed class scores; the
    accuracy key is the layers' bits (what changes accuracy)."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.scores = rng.normal(size=(40, 3))
        self.workload = SimpleNamespace(labels=lambda split: rng.integers(0, 3, 40))
        self.calls = 0

    def accuracy_key(self, network: Network) -> str:
        return repr([(la.name, la.choice.w_bits, la.choice.a_bits)
                     for la in network.compute_layers if la.choice])  # fmt: skip

    def outputs(self, network: Network, split: str = "val") -> np.ndarray:
        self.calls += 1
        time.sleep(HALF_S)
        return self.scores + 0.01 * self.calls


def _network() -> Network:
    return network_from_dict({
        "name": "tiny", "input": {"shape": [12], "bits": 4},
        "layers": [
            {"name": "fc0", "op": "dense", "out_features": 8, "w_bits": 4, "a_bits": 4},
            {"name": "fc1", "op": "dense", "out_features": 3, "w_bits": 4, "a_bits": None},
        ],
    })  # fmt: skip


def _problem(solve: bool) -> TwinProblem:
    net, limits, settings = _network(), SpaceLimits(max_pe=4, max_simd=4), TwinSettings()
    evaluator = SlowOutputs()
    outputs = HalfOutputs(evaluator, settings)
    objectives = ("accuracy", "latency_ms", "lut")
    space: TwinSpace
    if solve:
        space = TwinSolvedSpace(
            net, limits, t_max=settings.threshold_max, search_prune=False,
            pair_front=PairSolver(
                DEVICE, cap_pct=85.0, clock_mhz=None,
                compressed_limits=decomposed_limits(compressed_limits(limits), DEVICE),
                accurate_limits=decomposed_limits(accurate_limits(limits), DEVICE),
                overhead=settings.overhead_model, pipelined=False, objectives=objectives,
                stream=outputs.stream,
            ),
        )  # fmt: skip
    else:
        space = TwinSpace(net, limits, t_max=settings.threshold_max, search_prune=False)
    return TwinProblem(net, DEVICE, space, objectives, cap_pct=85.0, settings=settings,
                       evaluator=evaluator, outputs=outputs)  # fmt: skip


@pytest.mark.parametrize("solve", [True, False], ids=["solver", "sampled"])
def test_eval_s_counts_both_halves_outputs_once(solve: bool) -> None:
    problem = _problem(solve)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask()
    cand = problem.space.suggest(trial)
    outcome = problem.evaluate(cand)
    assert outcome.fits
    evaluator = problem.evaluator
    assert evaluator.calls == 2  # each half once: the solver's outputs are reused
    eval_s = outcome.attrs.timing["eval_s"]
    assert eval_s >= 2 * HALF_S  # before the fix: ~0.01 s with the solver
    assert eval_s < 4 * HALF_S  # counted once, not again for the solver's call
    again = problem.evaluate(cand)  # the same halves: nothing computed, nothing owed
    assert again.attrs.timing["eval_s"] < HALF_S
