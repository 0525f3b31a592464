"""Persistence: trials committed within a second and visible to another connection while
the search runs, surviving SIGKILL; Ctrl-C commits and prints the resume command; the
direct (RDBStorage) mode on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from dse.config import StorageMode, StudyConfig
from dse.study import run_search

CLI = [sys.executable, "-c", "import sys; from dse.cli import main; sys.exit(main())"]


def _count(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return int(con.execute("select count(*) from trials").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def _wait(pred, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_sigkill_keeps_every_committed_trial(specs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "k.db"
    proc = subprocess.Popen(
        [*CLI, "search", "--workload", str(specs["cnv"]), "--device", "XC7Z020",
         "--storage", f"sqlite:///{db}", "--study", "k", "--trials", "100000000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(lambda: db.exists() and _count(db) >= 50)
        # trials keep arriving while the search runs: each batch is committed within 1 s
        first = _count(db)
        _wait(lambda: _count(db) > first, timeout=2.0)
        seen = _count(db)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    study = optuna.load_study(study_name="k", storage=f"sqlite:///{db}")
    stored = len(study.trials)
    assert stored >= seen
    assert [t.number for t in study.trials] == list(range(len(study.trials)))
    assert all(t.state is optuna.trial.TrialState.COMPLETE for t in study.trials)
    # and the study resumes after the crash
    cfg = StudyConfig(workload=str(specs["cnv"]), device="XC7Z020", study="k", trials=20,
                      storage=f"sqlite:///{db}")  # fmt: skip
    s = run_search(cfg)
    assert s.resumed and s.trials_total == stored + 20


def test_ctrl_c_commits_and_prints_resume_command(specs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "c.db"
    url = f"sqlite:///{db}"
    args = ["search", "--workload", str(specs["tfc"]), "--device", "XC7Z020",
            "--storage", url, "--trials", "100000000"]  # fmt: skip
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    _wait(lambda: db.exists() and _count(db) >= 10)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "resume with:" in err
    resume = err.strip().splitlines()[-1].strip()
    assert resume.startswith("dse search ") and "--study tfc-xc7z020" in resume
    total = _count(db)
    assert total == len(optuna.load_study(study_name="tfc-xc7z020", storage=url).trials)
    assert "trials, all committed" in err
    # the printed command resumes the same study
    words = resume.split()[1:]
    words[words.index("100000000")] = "7"
    done = subprocess.run([*CLI, *words, "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _count(db) == total + 7


def test_direct_mode_sqlite(specs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'd.db'}"
    cfg = StudyConfig(workload=str(specs["tfc"]), device="XC7Z020", study="d", trials=12,
                      storage=url, storage_mode=StorageMode.DIRECT)  # fmt: skip
    s = run_search(cfg)
    assert s.storage_mode == "direct" and s.trials_total == 12
    study = optuna.load_study(study_name="d", storage=url)
    assert len(study.trials) == 12 and "candidate" in study.trials[-1].user_attrs
    # a waiting row left by a direct-mode worker (an enqueued trial never run) ...
    study.enqueue_trial(dict(study.trials[0].params))
    # ... and a batch-mode resume continues the numbering after it
    s2 = run_search(StudyConfig(**{**cfg.__dict__, "storage_mode": StorageMode.BATCH,
                                   "trials": 6}))  # fmt: skip
    assert s2.trials_total == 19  # the waiting row counts (failed by dse.storage.workers)
    numbers = [t.number for t in optuna.load_study(study_name="d", storage=url).trials]
    assert sorted(numbers) == list(range(19))


@pytest.mark.postgres
def test_postgres_batch_and_direct(specs, postgres_url: str, fresh_pg_study: str) -> None:  # type: ignore[no-untyped-def]
    for mode, n in ((StorageMode.DIRECT, 8), (StorageMode.BATCH, 12)):
        cfg = StudyConfig(workload=str(specs["tfc"]), device="XC7Z020", study=fresh_pg_study,
                          trials=n, storage=postgres_url, storage_mode=mode)  # fmt: skip
        run_search(cfg)
    study = optuna.load_study(study_name=fresh_pg_study, storage=postgres_url)
    assert len(study.trials) == 20
    assert sorted(t.number for t in study.trials) == list(range(20))
    assert sum(1 for t in study.trials if t.user_attrs.get("baseline")) >= 1


@pytest.mark.parametrize("sampler", ["tpe", "nsga2", "random"])
def test_same_seed_same_trials(specs, tmp_path: Path, sampler: str) -> None:  # type: ignore[no-untyped-def]
    from dse.config import SamplerName

    runs = []
    for i in range(2):
        url = f"sqlite:///{tmp_path / f'{i}.db'}"
        cfg = StudyConfig(workload=str(specs["tfc"]), device="XC7Z020", study="s", trials=30,
                          storage=url, seed=5, sampler=SamplerName(sampler))  # fmt: skip
        run_search(cfg)
        runs.append([t.params for t in optuna.load_study(study_name="s", storage=url).trials])
    assert runs[0] == runs[1]
