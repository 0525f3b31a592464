"""`dse search` with the exact folding solver (dse.hardware): a cost-only study run without
a trial count stores the exact front as trials (each one concrete design that reports,
exports and round-trips through `dse estimate`), resumes with nothing left to do, stays
readable by plain Optuna, and `--hardware sample` still samples."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from costmodels import get_device
from costmodels.solver import HardwareLimits, solve
from dse.spec import load_network
from search_spaces import SpaceLimits


def test_cost_only_search_stores_the_exact_front(dse, specs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 's.db'}"
    args = ("search", "--workload", specs["tfc"], "--device", "XC7Z020", "--storage", url)
    d = dse(*args, "--study", "tfc", "--json").json()
    assert d["sampler"] == "solver"
    assert "solver-fastest" in d["baselines"] and "setfolding" in d["baselines"]

    # the stored front is the solver's front, point for point
    lim = SpaceLimits()
    want = solve(
        load_network(str(specs["tfc"])),
        get_device("XC7Z020"),
        cap_pct=85.0,
        objectives=("fps", "lut"),
        limits=HardwareLimits(lim.max_pe, lim.max_simd, lim.max_mmv, lim.arith, False),
    )
    expected = sorted((round(p.cost.fps, 3), round(p.cost.total.lut, 3)) for p in want.points)
    got = sorted((round(p["fps"], 3), round(p["lut"], 3)) for p in d["pareto"])
    assert got == expected and len(got) >= 2
    assert d["trials_total"] == d["trials_new"] >= len(got)

    # plain Optuna reads it; every front design is a concrete trial with its choices
    study = optuna.load_study(study_name="tfc", storage=url)
    assert len(study.trials) == d["trials_total"]
    assert sum(1 for t in study.trials if t.user_attrs.get("solver") == "front") >= 1

    # a front design exports and re-estimates to the same numbers
    best = max(d["pareto"], key=lambda p: p["fps"])
    out = tmp_path / "best.yaml"
    r = dse("export", "--storage", url, "--study", "tfc", "--trial", best["trial"], "-o", out)
    assert r.code == 0, r.err
    est = dse("estimate", out, "--device", "XC7Z020", "--json").json()
    assert est["fps"] == pytest.approx(best["fps"])
    assert est["totals"]["lut"] == pytest.approx(best["lut"])

    # resuming has nothing left to solve
    again = dse(*args, "--study", "tfc", "--json").json()
    assert again["trials_new"] == 0 and again["trials_total"] == d["trials_total"]

    # the report reads it
    rep = dse("report", "--storage", url, "--study", "tfc")
    assert rep.code == 0 and "hypervolume" in rep.out


def test_hardware_sample_and_explicit_trials_still_sample(dse, specs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 's.db'}"
    base = ("search", "--workload", specs["tfc"], "--device", "XC7Z020", "--storage", url)
    d = dse(*base, "--study", "a", "--trials", "20", "--json").json()
    assert d["trials_new"] == 20 and d["sampler"] != "solver"
    d = dse(*base, "--study", "b", "--hardware", "sample", "--trials", "15", "--json").json()
    assert d["trials_new"] == 15
    bad = dse(*base, "--study", "c", "--hardware", "exact")
    assert bad.code != 0 and "unknown hardware mode" in bad.err


def test_cost_only_latency_search_stores_the_exact_front(dse, specs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`--objectives latency_ms,lut` on CNV-W1A1 / XC7Z020 (the case the MILP walk did not
    finish): the solver's latency front (`_latency_fronts`) is stored, point for point,
    and every point fits."""
    url = f"sqlite:///{tmp_path / 'lat.db'}"
    d = dse(
        "search", "--workload", specs["cnv"], "--device", "XC7Z020", "--objectives",
        "latency_ms,lut", "--storage", url, "--study", "lat", "--json",
    ).json()  # fmt: skip
    assert d["sampler"] == "solver"
    lim = SpaceLimits()
    want = solve(
        load_network(str(specs["cnv"])),
        get_device("XC7Z020"),
        cap_pct=85.0,
        objectives=("latency_ms", "lut"),
        limits=HardwareLimits(lim.max_pe, lim.max_simd, lim.max_mmv, lim.arith, False),
    )
    assert want.exact
    expected = sorted((round(p.cost.latency_ms, 3), p.cost.total.lut) for p in want.points)
    got = sorted((round(p["latency_ms"], 3), p["lut"]) for p in d["pareto"])
    assert got == expected and len(got) >= 2
    assert all(p["fits"] for p in d["pareto"])
    assert all(p.cost.fits(85.0) for p in want.points)
