"""A cost-only exact-front study (dse.hardware) with several workers stores the front once:
`dse search --jobs N` hands it to one worker, and workers started by hand on one study
(direct mode, SQLite and the real PostgreSQL server) leave the seeding to the creator
instead of solving again, enqueueing the front again or sampling."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import optuna
import pytest
from reliability_helpers import DEVICE, SPEC, dse_cmd, env, run_dse


def _solve_args(url: str, study: str, *extra: str) -> list[str]:
    return [
        "search", "--workload", str(SPEC), "--device", DEVICE, "--storage", url,
        "--study", study, "--json", *extra,
    ]  # fmt: skip


def _designs(url: str, study: str) -> tuple[list[str], Counter[str]]:
    """Every trial's parameters (as JSON) and the count of each state."""
    trials = optuna.load_study(study_name=study, storage=url).trials
    params = [json.dumps(t.params, sort_keys=True) for t in trials]
    return params, Counter(t.state.name for t in trials)


def _reference(tmp_path: Path) -> list[str]:
    """The designs one plain `dse search` stores (the exact front and the baselines)."""
    url = f"sqlite:///{tmp_path / 'one.db'}"
    r = run_dse(_solve_args(url, "one"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["sampler"] == "solver"
    return _designs(url, "one")[0]


def _workers_by_hand(url: str, study: str, n: int) -> None:
    procs = [
        subprocess.Popen(
            dse_cmd(_solve_args(url, study, "--hardware", "solve", "--storage-mode", "direct")),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        for _ in range(n)
    ]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err


def test_jobs_store_the_exact_front_once(tmp_path: Path) -> None:
    want = _reference(tmp_path)
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    r = run_dse([*_solve_args(url, "jobs"), "--jobs", "2"], timeout=180)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert "solved and stored once" in r.stderr
    assert d["sampler"] == "solver" and d["jobs"] == 1 and d["worker_exit_codes"] == [0]
    got, states = _designs(url, "jobs")
    # the same designs as one plain run, each once (before: each worker's --trials share
    # turned the run into a sampled search of 2 x 1,000 trials)
    assert sorted(got) == sorted(want) and len(set(got)) == len(got)
    assert states == Counter({"COMPLETE": len(want)})


@pytest.mark.parametrize("where", ["sqlite", "postgres"])
def test_workers_by_hand_seed_the_front_once(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if where == "postgres":
        url, study = request.getfixturevalue("pg_study")
    else:
        url, study = f"sqlite:///{tmp_path / 'hand.db'}", "hand"
    want = _reference(tmp_path)
    _workers_by_hand(url, study, 3)
    got, states = _designs(url, study)
    assert sorted(got) == sorted(want), (len(got), len(want))
    assert states == Counter({"COMPLETE": len(want)})
    # a resume afterwards has nothing left to do
    r = run_dse(_solve_args(url, study, "--storage-mode", "direct"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["trials_new"] == 0


def test_a_stopped_front_is_finished_by_the_resume(tmp_path: Path) -> None:
    """Direct mode: the enqueued front is rows; a run stopped part-way (here by --timeout,
    as by Ctrl-C or a kill) leaves the rest WAITING, and the resume runs them (before: it
    saw solver trials, had nothing of its own to enqueue and ran 0 trials, leaving them)."""
    want = _reference(tmp_path)
    url, study = f"sqlite:///{tmp_path / 'stop.db'}", "stop"
    direct = ("--hardware", "solve", "--storage-mode", "direct")
    first = run_dse(_solve_args(url, study, *direct, "--timeout", "0.01"))
    assert first.returncode == 0, first.stderr
    _, states = _designs(url, study)
    assert states["WAITING"] > 0, states  # the scenario: front designs left unrun
    again = run_dse(_solve_args(url, study, *direct))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["trials_new"] == states["WAITING"]
    got, states = _designs(url, study)
    assert sorted(got) == sorted(want) and states == Counter({"COMPLETE": len(want)})
    third = run_dse(_solve_args(url, study, *direct))
    assert third.returncode == 0 and json.loads(third.stdout)["trials_new"] == 0
