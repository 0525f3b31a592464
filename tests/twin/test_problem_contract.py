"""The contract every study `Problem` meets (`dse.problem.Problem`), run by each mode's
problem: single network cost-only, single network with accuracy, twin pair, and the
`--hardware solve` variants of the last two. A new mode is one more entry in `CONFIGS`.
(Here beside the twin tests for their tiny trainable workload, `tinywl:make`.)

What it checks: objectives and directions agree; the space is a `Space`; the check that
something fits passes on a feasible configuration; the baselines round-trip through the
space's `params_for` and `suggest`; they evaluate to one value per objective with the
device constraints set; the hypervolume bounds name every objective."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.study import StudyDirection

from costmodels.types import Arith, LayerChoice, RamStyle
from costmodels.zoo import cnv_network
from dse.config import OBJECTIVES, Direction, build_config
from dse.modes import build_problem
from dse.problem import LoadedWorkload, Problem, load_workload
from dse.spec import dump_network
from search_spaces import Space

CONFIGS: dict[str, dict[str, Any]] = {
    "single-cost-only": {"workload": "cnv.yaml", "device": "pynq-z2"},
    "single-accuracy": {"workload": "tinywl:make", "finetune_steps": 2},
    "twin": {"workload": "tinywl:make", "mode": "twin", "finetune_steps": 2},
    "single-solve": {"workload": "tinywl:make", "finetune_steps": 2, "hardware": "solve"},
    "twin-solve": {
        "workload": "tinywl:make",
        "mode": "twin",
        "finetune_steps": 2,
        "hardware": "solve",
    },
}


@pytest.fixture(params=sorted(CONFIGS))
def problem(request: pytest.FixtureRequest, tiny: Path) -> Problem:
    (tiny / "cnv.yaml").write_text(dump_network(cnv_network()))
    cfg = build_config(CONFIGS[request.param])
    loaded: LoadedWorkload = load_workload(cfg.workload, seed=cfg.seed)
    return build_problem(cfg, loaded, storage=f"sqlite:///{tiny / 'acc.db'}")


def test_objectives_and_directions(problem: Problem) -> None:
    assert problem.objectives and len(problem.directions) == len(problem.objectives)
    for name, d in zip(problem.objectives, problem.directions, strict=True):
        want = StudyDirection.MAXIMIZE if OBJECTIVES[name] is Direction.MAXIMIZE else None
        assert d is (want or StudyDirection.MINIMIZE)
    assert isinstance(problem.space, Space)


def test_baselines_round_trip_and_evaluate(problem: Problem) -> None:
    problem.check_feasible()  # the default caps leave room: must not raise
    seeds = problem.baselines()
    assert seeds, "every mode seeds a new study with at least one design"
    for label, cand in seeds:
        params = problem.space.params_for(cand.choices)
        again = problem.space.suggest(optuna.trial.FixedTrial(params))
        if getattr(problem.space, "solves_hardware", False):
            # the study evaluates a baseline's own design (dse.study); its parameters name
            # its accuracy choices, refolded by the solver
            for name, choice in cand.choices.items():
                assert _accuracy_part(again.choices[name]) == _accuracy_part(choice), label
            continue
        assert again.choices == cand.choices, label
    outcome = problem.evaluate(seeds[0][1])
    assert outcome.values is not None and len(outcome.values) == len(problem.objectives)
    assert {"lut", "dsp", "bram18"} <= set(outcome.constraints)


def _accuracy_part(choice: LayerChoice) -> LayerChoice:
    """All but the solver's part of a layer: folding, non-RCCM arithmetic, memory style."""
    arith = choice.arith if choice.arith.is_rccm else Arith.AUTO
    return replace(choice, pe=1, simd=1, mmv=1, arith=arith, ram_style=RamStyle.AUTO)


def test_hv_bounds_name_every_objective(problem: Problem) -> None:
    bounds = problem.hv_bounds()
    assert set(bounds) == set(problem.objectives)
    for worst, best, scale in bounds.values():
        assert scale in ("lin", "log") and worst != best
