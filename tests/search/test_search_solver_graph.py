"""`dse search` with the folding solver on a network with a concat (the solver's graph DP):
cost-only, the stored front is the solver's exact front point for point; a joint search
with `--hardware solve` on a model with a concat folds every trial with the solver."""

from __future__ import annotations

from pathlib import Path

import optuna

from costmodels import get_device
from costmodels.solver import HardwareLimits, solve
from dse.spec import load_network
from search_spaces import SpaceLimits
from search_spaces.decomposed import HW_POINT

SPEC = Path(__file__).parents[2] / "examples" / "inception-mini.yaml"


def test_cost_only_search_on_a_concat_network_stores_the_exact_front(dse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 's.db'}"
    run = dse("search", "--workload", SPEC, "--device", "XC7Z020", "--storage", url,
              "--study", "incep", "--json")  # fmt: skip
    assert run.code == 0, run.err
    d = run.json()
    assert d["sampler"] == "solver" and "solver-fastest" in d["baselines"]
    lim = SpaceLimits()
    want = solve(
        load_network(str(SPEC)),
        get_device("XC7Z020"),
        cap_pct=85.0,
        objectives=("fps", "lut"),
        limits=HardwareLimits(lim.max_pe, lim.max_simd, lim.max_mmv, lim.arith, False),
    )
    assert want.exact
    expected = sorted((round(p.cost.fps, 3), round(p.cost.total.lut, 3)) for p in want.points)
    got = sorted((round(p["fps"], 3), round(p["lut"], 3)) for p in d["pareto"])
    assert got == expected and len(got) >= 2
    study = optuna.load_study(study_name="incep", storage=url)
    assert sum(1 for t in study.trials if t.user_attrs.get("solver") == "front") >= 1
    # a front design exports and re-estimates to the same numbers
    best = max(d["pareto"], key=lambda p: p["fps"])
    out = tmp_path / "best.yaml"
    r = dse("export", "--storage", url, "--study", "incep", "--trial", best["trial"], "-o", out)
    assert r.code == 0, r.err
    est = dse("estimate", out, "--device", "XC7Z020", "--json").json()
    assert round(est["fps"], 3) == round(best["fps"], 3)
    assert round(est["totals"]["lut"], 3) == round(best["lut"], 3)


def test_joint_search_with_the_solver_on_a_concat_model(dse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'j.db'}"
    run = dse("search", "--workload", "tests.fixtures.user_models:concat_untrained",
              "--storage", url, "--hardware", "solve", "--trials", "12", "--finetune-steps", "0",
              "--study", "cat", "--json")  # fmt: skip
    assert run.code == 0, run.err
    d = run.json()
    assert "solver-fastest" in d["baselines"] and d["pareto"]
    study = optuna.load_study(study_name="cat", storage=url)
    sampled = [t for t in study.trials if "baseline" not in t.user_attrs]
    assert sampled and all(HW_POINT in t.params for t in sampled)
    assert not any(k.endswith((".pe", ".simd")) for t in sampled for k in t.params)
    assert any(t.values for t in sampled)  # the solver folded them: feasible designs
