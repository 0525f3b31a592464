"""The accuracy path for real: digits-cnn trials evaluated in torch (slow)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest


@pytest.mark.slow
def test_digits_search_evaluates_only_fitting_designs(dse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'd.db'}"
    run = dse("search", "--storage", url, "--trials", "10", "--finetune-steps", "10",
              "--cap", "20", "--min-accuracy", "0.5", "--json")  # fmt: skip
    assert run.code == 0, run.err
    s = run.json()
    assert s["objectives"] == ["accuracy", "latency_ms", "lut"] and s["sampler"] == "tpe"
    trials = optuna.load_study(study_name=s["study"], storage=url).trials
    assert len(trials) == 10
    statuses = {t.user_attrs["status"] for t in trials}
    assert "feasible" in statuses
    for t in trials:
        timing = t.user_attrs["timing"]
        if all(t.constraints[k] <= 0 for k in ("lut", "dsp", "bram18", "uram")):
            assert 0.0 < t.user_attrs["accuracy"] <= 1.0 and "eval_s" in timing
            assert t.values[0] == t.user_attrs["accuracy"]
            assert t.constraints["accuracy"] == pytest.approx(0.5 - t.values[0])
        else:  # never paid for a torch evaluation
            assert t.user_attrs["accuracy"] is None and "eval_s" not in timing
            assert t.user_attrs["status"] == "infeasible"
    for p in s["pareto"]:
        assert p["fits"] and p["accuracy"] >= 0.5
    rep = dse("report", "--storage", url, "--format", "json").json()
    assert {r["trial"] for r in rep["front"]} == {p["trial"] for p in s["pareto"]}
