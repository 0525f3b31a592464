"""A direct-mode study whose creator died after writing its definition and before seeding
it (baselines, the solver's exact front) is an orphan: the next worker seeds it. A creator
that is alive, or that this machine cannot check, keeps the seeding (dse.storage.workers).

The creator is a real `dse search` process that exits with status 9 at the moment it would
seed (its `_seed` replaced in that process only): the state a kill -9 leaves there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
from reliability_helpers import DEVICE, SPEC, dse_cmd, env, run_dse

from dse.storage.owners import Owner, _machine, _start_ticks
from dse.storage.workers import SEEDED_ATTR, SEEDER_ATTR, mark_seeded, orphaned

DIES_BEFORE_SEEDING = (
    "import os, sys\n"
    "import dse.study\n"
    "dse.study._seed = lambda *a, **k: os._exit(9)\n"
    "from dse.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _args(url: str, *extra: str, study: str = "s") -> list[str]:
    return [
        "search", "--workload", str(SPEC), "--device", DEVICE, "--storage", url,
        "--study", study, "--storage-mode", "direct", "--json", *extra,
    ]  # fmt: skip


def _orphan(url: str, *extra: str, study: str = "s") -> None:
    """Study `study` at `url`, created with its definition by a creator that died unseeded."""
    args = _args(url, *extra, study=study)
    cmd = [sys.executable, "-c", DIES_BEFORE_SEEDING, *dse_cmd(args)[3:]]
    died = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env())
    assert died.returncode == 9, died.stderr
    storage = optuna.storages.RDBStorage(url)
    sid = storage.get_study_id_from_name(study)
    assert storage.get_n_trials(sid) == 0
    assert SEEDER_ATTR in storage.get_study_system_attrs(sid)
    assert SEEDED_ATTR not in storage.get_study_system_attrs(sid)


def test_an_orphaned_exact_front_study_is_seeded_by_the_next_run(tmp_path: Path) -> None:
    """Cost-only, solver mode: before, the next run took the study for another worker's and
    ran nothing, so the front was never stored."""
    ref = run_dse(_args(f"sqlite:///{tmp_path / 'ref.db'}"))
    assert ref.returncode == 0, ref.stderr
    url = f"sqlite:///{tmp_path / 'orphan.db'}"
    _orphan(url)
    res = run_dse(_args(url))
    assert res.returncode == 0, res.stderr
    got, want = json.loads(res.stdout), json.loads(ref.stdout)
    assert got["trials_total"] == want["trials_total"] > 0
    assert got["baselines"] == want["baselines"] and got["baselines"]
    assert "creator died before seeding it" in res.stderr
    again = run_dse(_args(url))  # seeded now: a resume has nothing left to do
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["trials_total"] == want["trials_total"]


def test_an_orphaned_study_on_the_postgres_server_is_seeded(pg_study: tuple[str, str]) -> None:
    """The same on the real PostgreSQL server (workers on several machines share one)."""
    url, study = pg_study
    _orphan(url, study=study)
    res = run_dse(_args(url, study=study))
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["trials_total"] > 0 and summary["baselines"]
    assert "creator died before seeding it" in res.stderr


def test_an_orphaned_sampled_study_gets_its_baselines(tmp_path: Path) -> None:
    """Sampled hardware: before, the next run sampled without the baselines."""
    url = f"sqlite:///{tmp_path / 'orphan.db'}"
    extra = ("--hardware", "sample", "--trials", "14")
    _orphan(url, *extra)
    res = run_dse(_args(url, *extra))
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["baselines"] and summary["trials_total"] == 14


def test_a_live_seeder_keeps_the_seeding(tmp_path: Path) -> None:
    """`orphaned` on a real SQLite study: a seeder alive on this machine, or on a machine
    this one cannot check, may still be seeding; once dead, the study is an orphan; once
    marked seeded, never."""
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 's.db'}")
    sid = storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], "s")
    assert orphaned(storage, sid)  # no seeder named: a study from before the attribute
    machine = _machine()
    assert machine is not None, "this test needs Linux /proc"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = _start_ticks(child.pid)
        assert start is not None
        owner = Owner("here", machine[0], machine[1], child.pid, start, 0)
        storage.set_study_system_attr(sid, SEEDER_ATTR, owner.as_dict())
        assert not orphaned(storage, sid)
        other = Owner("there", "another-boot", machine[1], child.pid, start, 0)
        storage.set_study_system_attr(sid, SEEDER_ATTR, other.as_dict())
        assert not orphaned(storage, sid)
        storage.set_study_system_attr(sid, SEEDER_ATTR, {"host": "no /proc there"})
        assert not orphaned(storage, sid)
        storage.set_study_system_attr(sid, SEEDER_ATTR, owner.as_dict())
    finally:
        child.kill()
        child.wait()
    assert orphaned(storage, sid)
    mark_seeded(storage, sid)
    assert not orphaned(storage, sid)
