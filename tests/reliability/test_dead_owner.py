"""A worker killed mid-trial on a shared study (PostgreSQL, or SQLite in direct mode with
another worker on the file): a resume started at once fails and retries its trial, long
before the heartbeat grace (90 s here), and leaves a live worker's trial alone."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from reliability_helpers import dse_cmd, env, search_args, state_counts

SLOW_BEATS = {"DSE_HEARTBEAT_S": "30"}  # grace 90 s: only the owner rule can act in time


def _owned_running(url: str, study: str) -> dict[int, int]:
    """{trial number: owner pid} of the study's RUNNING trials that carry an owner tag."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select t.number, a.value_json from trials t join studies s "
                    "on s.study_id = t.study_id join trial_system_attributes a "
                    "on a.trial_id = t.trial_id and a.key = 'dse:owner' "
                    "where s.study_name = :n and t.state = 'RUNNING'"
                ),
                {"n": study},
            ).all()
    finally:
        engine.dispose()
    return {int(n): int(json.loads(v)["pid"]) for n, v in rows}


def _states(url: str, study: str) -> dict[int, str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select t.number, t.state from trials t join studies s "
                    "on s.study_id = t.study_id where s.study_name = :n"
                ),
                {"n": study},
            ).all()
    finally:
        engine.dispose()
    return {int(n): str(s) for n, s in rows}


def _holds_no_transaction(url: str) -> bool:
    """Whether a frozen worker holds no write transaction the resume would wait on: SQLite
    can take its write lock at once; PostgreSQL has no session idle inside a transaction."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0.2, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            busy = conn.execute(
                sa.text(
                    "select count(*) from pg_stat_activity where datname = current_database() "
                    "and pid <> pg_backend_pid() and state like 'idle in transaction%'"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return busy == 0


def _freeze_inside_a_trial(proc: subprocess.Popen[str], url: str, study: str) -> int:
    """SIGSTOP `proc` at a moment it holds a RUNNING trial (tagged with its pid) and no open
    transaction; the trial's number."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        proc.send_signal(signal.SIGSTOP)
        time.sleep(0.05)
        mine = [n for n, pid in _owned_running(url, study).items() if pid == proc.pid]
        if mine and _holds_no_transaction(url):
            return mine[0]
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.03)
    proc.kill()
    _out, err = proc.communicate()
    pytest.fail(f"never caught worker {proc.pid} inside a trial (exit {proc.returncode}): {err}")


@pytest.mark.parametrize(
    "kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]
)  # ~40 s each on the shared machine: the PostgreSQL twin runs with the slow set
def test_resume_retries_a_killed_workers_trial_at_once(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "postgresql":
        url, study = request.getfixturevalue("pg_study")
        mode: tuple[str, ...] = ()
    else:
        url, study = f"sqlite:///{tmp_path / 'shared.db'}", "s"
        mode = ("--storage-mode", "direct")
    slow = env(**SLOW_BEATS)

    def start(trials: int) -> subprocess.Popen[str]:
        return subprocess.Popen(
            dse_cmd(search_args(url, study, trials, *mode, "--json")),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=slow,
        )

    first = subprocess.run(
        dse_cmd(search_args(url, study, 1, *mode, "--json")),
        capture_output=True, text=True, env=slow, timeout=120,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr  # the study and its baselines exist
    victim, bystander = start(100_000), start(100_000)
    try:
        killed = _freeze_inside_a_trial(victim, url, study)
        victim.kill()
        victim.wait()
        live = _freeze_inside_a_trial(bystander, url, study)
        t0 = time.monotonic()
        resume = subprocess.run(
            dse_cmd(search_args(url, study, 3, *mode, "--json")),
            capture_output=True, text=True, env=slow, timeout=120,
        )  # fmt: skip
        took = time.monotonic() - t0
        assert resume.returncode == 0, resume.stderr
        assert "Traceback" not in resume.stderr
        assert took < 60, took  # well inside the 90 s grace: the heartbeat rule never fired
        states = _states(url, study)
        assert states[killed] == "FAIL", states[killed]  # the dead worker's, at once
        assert states[live] == "RUNNING"  # a stopped (live) worker's trial is left alone
        assert "WAITING" not in states.values()  # the retry was run by the resume
    finally:
        bystander.send_signal(signal.SIGCONT)
        bystander.send_signal(signal.SIGTERM)  # finishes its trial, commits, exits 130
        _out, err = bystander.communicate(timeout=120)
        victim.kill()
        victim.wait()
    assert bystander.returncode == 130, err
    assert _states(url, study)[live] == "COMPLETE"  # told normally once it went on
    counts = state_counts(url, study)
    assert counts.get("RUNNING", 0) == 0 and counts.get("WAITING", 0) == 0, counts
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        retried = conn.execute(
            sa.text(
                "select t.state from trial_system_attributes a join trials t "
                "on t.trial_id = a.trial_id join studies s on s.study_id = t.study_id "
                "where s.study_name = :n and a.key = 'failed_trial'"
            ),
            {"n": study},
        ).all()
    engine.dispose()
    assert counts.get("FAIL", 0) == 1, counts  # only the killed trial
    assert [r[0] for r in retried] == ["COMPLETE"]  # its retry, run once
