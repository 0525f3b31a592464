"""A dse study as optuna-dashboard reads it: its own API (the WSGI app `optuna-dashboard`
serves) names the objectives, gives every trial the constraints its Pareto plot filters
infeasible designs with, and shows parameters in real values that are the design evaluated."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from costmodels.zoo import cnv_network
from dse.cli import main
from dse.spec import dump_network

optuna_dashboard = pytest.importorskip(
    "optuna_dashboard", reason="optuna-dashboard is not installed (it is in the dev extra)"
)


def _get(app: Any, path: str) -> Any:
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO(b"")
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, *a: status.append(s)))
    assert status[0].startswith("200"), (status, body[:300])
    return json.loads(body)


def _dominates(a: list[float], b: list[float], signs: list[int]) -> bool:
    return all(s * x >= s * y for x, y, s in zip(a, b, signs, strict=True)) and a != b


def test_dashboard_reads_names_constraints_and_real_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "cnv.yaml"
    spec.write_text(dump_network(cnv_network()))
    url = f"sqlite:///{tmp_path / 'd.db'}"
    args = [
        "search",
        "--workload",
        str(spec),
        "--device",
        "XC7Z020",
        "--storage",
        url,
        "--trials",
        "80",
        "--study",
        "cnv",
        "--cap",
        "60",
        "--w-bits",
        "1,2,4",
        "--prune",
        "0,0.25,0.5",
        "--json",
    ]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)

    app = optuna_dashboard.wsgi(url)
    (study,) = _get(app, "/api/studies")["study_summaries"]
    detail = _get(app, f"/api/studies/{study['study_id']}")
    assert detail["objective_names"] == summary["objectives"] == ["fps", "lut"]

    trials = [t for t in detail["trials"] if t["state"] == "Complete"]
    assert len(trials) == summary["trials_total"]
    infeasible = [t for t in trials if any(c > 0 for c in t["constraints"])]
    assert all(len(t["constraints"]) == 4 for t in trials)  # lut, dsp, bram18, uram
    assert infeasible, "the cap must make some designs infeasible for this check to bite"

    # the dashboard's Pareto plot: feasible trials (every constraint <= 0), non-dominated
    signs = [1 if d == "maximize" else -1 for d in detail["directions"]]
    feasible = [t for t in trials if all(c <= 0 for c in t["constraints"])]
    front = {
        t["number"]
        for t in feasible
        if not any(_dominates(o["values"], t["values"], signs) for o in feasible)
    }
    assert front == {p["trial"] for p in summary["pareto"]}
    assert not front & {t["number"] for t in infeasible}

    # parameters in real values, equal to the design each trial evaluated
    import optuna

    stored = optuna.load_study(study_name="cnv", storage=url).trials
    mismatched = 0
    for t in trials:
        design = stored[t["number"]].user_attrs["candidate"]  # what the trial evaluated
        for p in t["params"]:
            layer, what = p["name"].split(".")
            value = design[layer][what]
            shown = p["param_external_value"]
            if str(value) != shown and not (isinstance(value, float) and float(shown) == value):
                mismatched += 1
    assert mismatched == 0
    pe = next(p for p in trials[0]["params"] if p["name"] == "conv1.pe")
    assert pe["distribution"]["type"] == "IntDistribution" and pe["distribution"]["log"]
    assert pe["distribution"]["high"] == 64  # conv1's 64 output channels, not an index
