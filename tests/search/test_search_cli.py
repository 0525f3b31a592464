"""`dse search` / `report` / `studies` / `export` on temporary SQLite files, as a user runs
them: JSON keys, resume growing the count, a changed config refused (and --fork), reports,
export round trip through `dse estimate`, and the study readable by plain Optuna."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path
from typing import Any

import optuna
import pytest

from dse.cli import main

SUMMARY_KEYS = {
    "study", "storage", "trials_total", "trials_new", "feasible", "elapsed_s", "trials_per_s",
    "pareto",
}  # fmt: skip


def _search(url: str, spec: Path, study: str, trials: int) -> Any:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        args = ["search", "--workload", str(spec), "--device", "XC7Z020", "--storage", url]
        code = main([*args, "--study", study, "--trials", str(trials), "--seed", "1", "--json"])
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def cnv_study(specs, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:  # type: ignore[no-untyped-def]
    """One 150-trial cost-only CNV study shared by the read-only tests of this module."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cnv') / 'cnv.db'}"
    return url, _search(url, specs["cnv"], "cnv", 150)


def test_search_json_summary(cnv_study) -> None:  # type: ignore[no-untyped-def]
    url, d = cnv_study
    assert set(d) >= SUMMARY_KEYS
    assert d["study"] == "cnv" and d["trials_new"] == 150 and d["trials_total"] == 150
    assert 0 < d["feasible"] <= 150
    assert d["trials_per_s"] > 0 and d["elapsed_s"] > 0
    assert d["pareto"], "a fitting design exists, so the front is not empty"
    for p in d["pareto"]:
        assert set(p) == {"trial", "fps", "lut", "fits"} and p["fits"] is True
    # the hand designs are trials too, and nothing on the front is dominated by them
    assert "setfolding" in d["baselines"] and "as-given" in d["baselines"]
    best_fps = max(p["fps"] for p in d["pareto"])
    study = optuna.load_study(study_name="cnv", storage=url)
    sf = [t for t in study.trials if t.user_attrs.get("baseline") == "setfolding"]
    assert len(sf) == 1 and best_fps >= sf[0].values[0]


def test_study_readable_by_plain_optuna(cnv_study) -> None:  # type: ignore[no-untyped-def]
    url, summary = cnv_study
    study = optuna.load_study(study_name="cnv", storage=url)
    assert len(study.trials) == 150
    assert [t.number for t in study.trials] == list(range(150))
    t = study.trials[20]
    assert t.state is optuna.trial.TrialState.COMPLETE
    named = {k: v for k, v in t.constraints.items() if not k.isdigit()}
    assert set(named) == {"lut", "dsp", "bram18", "uram"}
    # the legacy list beside them (optuna-dashboard 0.21 reads only that one)
    assert sorted(t.system_attrs["constraints"]) == sorted(named.values())
    assert study.metric_names == list(summary["objectives"])
    assert {"candidate", "cost", "layers", "status", "timing"} <= set(t.user_attrs)
    assert set(t.params) and all(name.count(".") == 1 for name in t.params)
    feasible = [t for t in study.trials if all(v <= 0 for v in t.constraints.values())]
    assert len(feasible) == summary["feasible"]
    # Optuna's own constrained front equals ours
    ours = {p["trial"] for p in summary["pareto"]}
    assert {t.number for t in study.best_trials} == ours


def test_resume_grows_and_changed_config_is_refused(dse, specs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'r.db'}"
    _search(url, specs["cnv"], "cnv", 30)
    common = ["--workload", specs["cnv"], "--device", "XC7Z020", "--storage", url, "--study", "cnv"]
    run = dse("search", *common, "--trials", "40", "--seed", "1", "--json")
    assert run.code == 0, run.err
    d = run.json()
    assert d["trials_total"] == 70 and d["trials_new"] == 40 and d["resumed"] is True
    assert d["baselines"] == []  # only a new study is seeded
    numbers = [t.number for t in optuna.load_study(study_name="cnv", storage=url).trials]
    assert numbers == list(range(70))

    db = Path(url.removeprefix("sqlite:///"))
    before = db.read_bytes()
    run = dse("search", *common, "--trials", "5", "--seed", "1", "--cap", "70")
    assert run.code == 2
    assert "cap_pct: 85.0 -> 70.0" in run.err and "--fork" in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert db.read_bytes() == before

    run = dse("search", *common, "--trials", "5", "--seed", "1", "--cap", "70", "--fork", "--json")
    assert run.code == 0, run.err
    d = run.json()
    assert d["study"].startswith("cnv-fork-") and d["forked_from"] == "cnv"
    assert d["trials_total"] == 5
    run = dse("studies", "--storage", url, "--json")
    names = {s["study"]: s for s in run.json()}
    assert names["cnv"]["trials"] == 70 and names[d["study"]]["trials"] == 5
    assert names["cnv"]["objectives"] == ["fps", "lut"] and "XC7Z020" in names["cnv"]["device"]
    table = dse("studies", "--storage", url)
    assert table.code == 0 and "cnv" in table.out and "fps,lut" in table.out


def test_report_formats(dse, cnv_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, summary = cnv_study
    front = {p["trial"] for p in summary["pareto"]}
    table = dse("report", "--storage", url)
    assert table.code == 0, table.err
    assert "Feasible Pareto front" in table.out and "hypervolume" in table.out
    assert "feasible" in table.out and "infeasible" in table.out and "failed" in table.out

    rows = list(csv.DictReader(io.StringIO(dse("report", "--storage", url, "--format", "csv").out)))
    assert {int(r["trial"]) for r in rows} == front
    assert {"fps", "lut", "lut_pct", "dsp", "bram18", "layers"} <= set(rows[0])

    d = dse("report", "--storage", url, "--study", "cnv", "--format", "json").json()
    assert {r["trial"] for r in d["front"]} == front
    c = d["counts"]
    assert c["feasible"] + c["infeasible"] + c["failed"] + c["other"] == 150 == c["total"]
    assert 0 < d["hypervolume"] <= 1

    png = tmp_path / "front.png"
    plot = dse("report", "--storage", url, "--plot", png)
    assert plot.code == 0, plot.err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    n = min(front)
    one = dse("report", "--storage", url, "--trial", n, "--format", "json").json()
    assert one["trial"] == n and len(one["per_layer"]) == 11  # 9 compute + 2 pool units
    assert dse("report", "--storage", url, "--trial", n).out.count("conv") >= 6


def test_export_spec_round_trips_through_estimate(dse, cnv_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, summary = cnv_study
    for p in summary["pareto"][:3]:
        out = tmp_path / f"t{p['trial']}.yaml"
        r = dse("export", "--storage", url, "--study", "cnv", "--trial", p["trial"], "-o", out)
        assert r.code == 0, r.err
        est = dse("estimate", out, "--device", "XC7Z020", "--json").json()
        stored = dse("report", "--storage", url, "--trial", p["trial"], "--format", "json").json()
        assert est["fps"] == pytest.approx(p["fps"], rel=1e-9)
        assert est["totals"]["lut"] == pytest.approx(p["lut"], rel=1e-9)
        assert est["totals"]["bram18"] == pytest.approx(stored["bram18"], abs=1e-3)
        assert est["totals"]["dsp"] == pytest.approx(stored["dsp"], abs=1e-3)


def test_export_finn_folding(dse, cnv_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Keys in FINN's node naming (finn-plus: MVAU_hls_<i>, ConvolutionInputGenerator_rtl_<i>,
    Pool_hls_<i>, LabelSelect_hls_0), PE/SIMD of the stored design, the spec beside it."""
    url, summary = cnv_study
    n = summary["pareto"][0]["trial"]
    r = dse("export", "--storage", url, "--trial", n, "--format", "finn-folding")
    assert r.code == 0, r.err
    cfg = json.loads(r.out)
    assert cfg["Defaults"] == {}
    mvaus = [k for k in cfg if k.startswith("MVAU_")]
    assert mvaus == [f"MVAU_hls_{i}" for i in range(9)]
    for v in (cfg[k] for k in mvaus):
        assert v["resType"] in ("lut", "dsp")
        assert v["ram_style"] in ("block", "distributed", "ultra")
        assert v["mem_mode"] == "internal_decoupled"
    cand = optuna.load_study(study_name="cnv", storage=url).trials[n].user_attrs["candidate"]
    layers = ["conv0", "conv1", "conv2", "conv3", "conv4", "conv5", "fc0", "fc1", "fc2"]
    assert [(cfg[m]["PE"], cfg[m]["SIMD"]) for m in mvaus] == [
        (cand[k]["pe"], cand[k]["simd"]) for k in layers
    ]
    out = tmp_path / "folding.json"
    r = dse("export", "--storage", url, "--trial", n, "--format", "finn-folding", "-o", out)
    assert r.code == 0, r.err
    assert json.loads(out.read_text()) == cfg
    spec = tmp_path / "folding.spec.yaml"
    est = dse("estimate", spec, "--device", "XC7Z020", "--json").json()
    assert est["fps"] == pytest.approx(summary["pareto"][0]["fps"], rel=1e-9)
