"""Crash safety of a local SQLite study: kill -9 at random points, Ctrl-C and SIGTERM,
zombie trials and two writers."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from reliability_helpers import (
    dse_cmd,
    env,
    numbers,
    one_error_line,
    run_dse,
    search_args,
    state_counts,
)

from dse.cli import main
from dse.storage.workers import sqlite_study_lock


def _finished(url: str, study: str) -> dict[int, tuple[str, tuple[float, ...] | None]]:
    """{number: (state, values)} of the finished trials, via Optuna (the study must open)."""
    try:  # a kill before the study row was committed leaves a file without the study
        s = optuna.load_study(study_name=study, storage=url)
    except KeyError:
        return {}
    return {
        t.number: (t.state.name, tuple(t.values) if t.values else None)
        for t in s.get_trials(deepcopy=False)
        if t.state.is_finished()
    }


def _wait_for_trials(url: str, study: str, db: Path, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            try:
                if sum(state_counts(url, study).values()) >= n:
                    return
            except Exception:
                pass
        time.sleep(0.05)
    raise AssertionError(f"no {n} trials in {timeout} s")


@pytest.mark.slow
def test_kill9_at_random_points_then_resume(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    url = f"sqlite:///{db}"
    study = "crash"
    rng = random.Random(6)
    seen: dict[int, tuple[str, tuple[float, ...] | None]] = {}
    cycles = 8
    for cycle in range(cycles):
        mode = "direct" if cycle % 3 == 2 else "batch"  # direct runs leave RUNNING zombies
        proc = subprocess.Popen(
            dse_cmd(search_args(url, study, 100000, "--storage-mode", mode, "--json")),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        time.sleep(rng.uniform(1.0, 3.0))  # start-up is ~1 s: some kills land before trials
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if not db.exists():
            continue
        now = _finished(url, study)  # the study opens
        assert len(now) >= len(seen), f"cycle {cycle}: trial count went down"
        for number, row in seen.items():  # no finished trial lost or changed
            assert now.get(number) == row, f"cycle {cycle}: trial {number} lost"
        seen = now
    # resume: completes, no RUNNING zombies, numbers unique and contiguous
    res = run_dse(search_args(url, study, 20, "--json"))
    assert res.returncode == 0, res.stderr
    counts = state_counts(url, study)
    assert "RUNNING" not in counts, counts
    final = _finished(url, study)
    assert all(final.get(n) == row for n, row in seen.items())
    assert len(final) >= len(seen) + 20
    nums = numbers(url, study)
    assert nums == list(range(len(nums)))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_cleanly_after_committing(tmp_path: Path, sig: signal.Signals) -> None:
    db = tmp_path / "sig.db"
    url = f"sqlite:///{db}"
    proc = subprocess.Popen(
        dse_cmd(search_args(url, "sig", 100000, "--json")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    _wait_for_trials(url, "sig", db, 10)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "all committed" in err
    summary = json.loads(out)
    assert summary["interrupted"] is True
    counts = state_counts(url, "sig")
    # every trial the run reports is on disk, none half-written
    assert sum(counts.values()) == summary["trials_total"] == summary["trials_new"]
    assert "RUNNING" not in counts


def test_resume_fails_zombies_and_claims_waiting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'z.db'}"
    assert main(search_args(url, "z", 12)) == 0
    storage = optuna.storages.RDBStorage(url)
    sid = storage.get_study_id_from_name("z")
    done = storage.get_all_trials(sid)
    zombie = storage.create_new_trial(sid)  # a killed direct-mode run left it RUNNING
    template = optuna.trial.create_trial(
        state=TrialState.WAITING, params=done[-1].params, distributions=done[-1].distributions
    )
    storage.create_new_trial(sid, template_trial=template)  # a retry nobody ran
    storage.engine.dispose()
    assert main(search_args(url, "z", 5)) == 0
    counts = state_counts(url, "z")
    assert "RUNNING" not in counts and "WAITING" not in counts, counts
    assert counts["FAIL"] == 2  # the zombie and the claimed WAITING row
    assert counts["COMPLETE"] == 12 + 5
    storage = optuna.storages.RDBStorage(url)
    assert storage.get_trial(zombie).state is TrialState.FAIL
    trials = storage.get_all_trials(sid)
    storage.engine.dispose()
    assert [t.number for t in trials] == list(range(len(trials)))
    # the WAITING retry's parameters were run again by the resumed batch run
    assert any(t.params == done[-1].params for t in trials[14:] if t.state.name == "COMPLETE")


def test_second_batch_writer_is_refused(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    assert main(search_args(url, "l", 3)) == 0
    before = state_counts(url, "l")
    capfd.readouterr()
    with sqlite_study_lock(url, shared=False):  # another batch writer holds the study
        code = main(search_args(url, "l", 3))
    assert code == 2  # StudyError: the user picks another time or mode
    line = one_error_line(capfd.readouterr().err)
    assert "being written by another dse search" in line
    assert state_counts(url, "l") == before


@pytest.mark.slow
def test_jobs_on_sqlite_never_run_a_trial_twice(tmp_path: Path) -> None:
    """Three direct-mode workers on one SQLite file claim the enqueued baselines: with
    pysqlite's deferred transactions two of them could both claim one (Optuna's row lock
    is no lock on SQLite); `BEGIN IMMEDIATE` (dse.storage.workers.enable_wal) prevents it."""
    url = f"sqlite:///{tmp_path / 'j.db'}"
    res = run_dse(search_args(url, "j", 45, "--jobs", "3", "--json"))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["worker_exit_codes"] == [0, 0, 0]
    counts = state_counts(url, "j")
    assert counts.get("COMPLETE") == 45 and "RUNNING" not in counts, counts
    nums = numbers(url, "j")
    assert nums == list(range(len(nums)))


def test_resume_after_a_kill_between_creating_the_study_and_its_definition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kill -9` right after `create_new_study` leaves a bare study (no definition, no
    trials); the next run recognizes the orphan, recreates it and runs."""
    import dse.storage.workers

    monkeypatch.setattr(dse.storage.workers, "META_WAIT_S", 0.5)
    url = f"sqlite:///{tmp_path / 'o.db'}"
    optuna.create_study(study_name="o", storage=url, directions=["maximize", "minimize"])
    assert main(search_args(url, "o", 4)) == 0
    assert state_counts(url, "o") == {"COMPLETE": 4}
    storage = optuna.storages.RDBStorage(url)
    sid = storage.get_study_id_from_name("o")
    assert "dse" in storage.get_study_user_attrs(sid)
    storage.engine.dispose()
