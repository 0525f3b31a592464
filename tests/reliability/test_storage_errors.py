"""Bad storages: one-line error, non-zero exit, the existing file byte-for-byte untouched.

Read-only and disk-full cases use real file systems: a small tmpfs mounted for the test
(remounted read-only, or filled up). Mounting needs root (CAP_SYS_ADMIN); without it the
read-only case falls back to a folder without write permission and the disk-full case to
`RLIMIT_FSIZE` in the child process (writes past the limit fail with EFBIG, SIGXFSZ
ignored) - each test says which one ran in its id/skip reason.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_helpers import dse_cmd, env, one_error_line, search_args, sha256, state_counts

from dse.cli import main


@pytest.fixture
def study_db(tmp_path: Path) -> Path:
    """A real study file with 10 trials, closed."""
    db = tmp_path / "good.db"
    assert main(search_args(f"sqlite:///{db}", "s", 10)) == 0
    for side in ("-wal", "-shm"):
        assert not Path(f"{db}{side}").exists() or Path(f"{db}{side}").stat().st_size >= 0
    return db


def _run(args: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capfd.readouterr()
    code = main(args)
    return code, capfd.readouterr().err


def test_text_file_as_storage(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "notes.db"
    f.write_text("these are my notes, not a database\n" * 50)
    before = sha256(f)
    for args in (
        search_args(f"sqlite:///{f}", "s", 3),
        ["report", "--storage", f"sqlite:///{f}"],
        ["studies", "--storage", f"sqlite:///{f}"],
    ):
        code, err = _run(args, capfd)
        assert code == 1, err
        assert "not a SQLite database" in one_error_line(err)
    assert sha256(f) == before


@pytest.mark.parametrize("query", ["mode=ro", "mode=memory", "timeout=1&cache=shared"])
def test_sqlite_query_options_are_refused(
    study_db: Path, query: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Without uri=true SQLAlchemy drops SQLite's URI parameters (`?mode=ro` read nothing
    read-only; `?mode=memory` wrote a file study): each is one line, nothing written, on a
    new file and on an existing study; the plain URL still works."""
    new = study_db.parent / "new.db"
    before = sha256(study_db)
    for args in (
        search_args(f"sqlite:///{new}?{query}", "s", 3),
        search_args(f"sqlite:///{study_db}?{query}", "s", 3),
        ["report", "--storage", f"sqlite:///{study_db}?{query}"],
        ["studies", "--storage", f"sqlite:///{study_db}?{query}"],
    ):
        code, err = _run(args, capfd)
        assert code == 1, err
        line = one_error_line(err)
        assert "query option" in line and query.split("=")[0] in line, line
        plain = args[args.index("--storage") + 1].split("?")[0]
        assert line.endswith(f"give the plain file, e.g. {plain}"), line
    assert not new.exists()
    assert sha256(study_db) == before
    code, err = _run(["report", "--storage", f"sqlite:///{study_db}"], capfd)
    assert code == 0, err


@pytest.mark.parametrize("damage", ["overwrite-page", "truncate"])
def test_corrupt_database(study_db: Path, damage: str, capfd: pytest.CaptureFixture[str]) -> None:
    data = bytearray(study_db.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    if damage == "overwrite-page":  # garble every b-tree page after the first
        for off in range(page, len(data), page):
            data[off : off + 64] = b"\xa5" * 64
    else:
        data = data[: len(data) // 2 + 100]
    study_db.write_bytes(bytes(data))
    before = sha256(study_db)
    code, err = _run(search_args(f"sqlite:///{study_db}", "s", 3), capfd)
    assert code == 1, err
    line = one_error_line(err)
    assert "corrupt" in line or "not a usable SQLite database" in line, line
    assert sha256(study_db) == before


@contextlib.contextmanager
def _tmpfs(size: str) -> Iterator[Path | None]:
    """A fresh tmpfs of `size`, or None when this process may not mount."""
    mnt = Path(f"/tmp/dse-rel-{uuid.uuid4().hex[:8]}")
    mnt.mkdir()
    ok = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
            capture_output=True,
        ).returncode
        == 0
    )
    try:
        yield mnt if ok else None
    finally:
        if ok:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        shutil.rmtree(mnt, ignore_errors=True)


def test_read_only_storage(study_db: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with _tmpfs("4m") as mnt:
        if mnt is not None:
            db = mnt / "ro.db"
            shutil.copy(study_db, db)
            assert subprocess.run(["mount", "-o", "remount,ro", str(mnt)]).returncode == 0
        elif os.geteuid() != 0:
            folder = study_db.parent / "ro"
            folder.mkdir()
            db = folder / "ro.db"
            shutil.copy(study_db, db)
            db.chmod(0o444)
            folder.chmod(0o555)
        else:
            pytest.skip("root without mount rights: no way to make a path read-only")
        before = sha256(db)
        code, err = _run(search_args(f"sqlite:///{db}", "s", 3), capfd)
        assert code == 1, err
        assert "cannot be written" in one_error_line(err)
        code, err = _run(search_args(f"sqlite:///{db.parent / 'new.db'}", "s", 3), capfd)
        assert code == 1, err
        assert "cannot create storage" in one_error_line(err)
        if mnt is not None:  # a read-only mount: reports still read the study (immutable)
            for args in (
                ["report", "--storage", f"sqlite:///{db}", "--format", "json"],
                ["studies", "--storage", f"sqlite:///{db}"],
            ):
                code, err = _run(args, capfd)
                assert code == 0, err
        assert sha256(db) == before


def _fill(folder: Path) -> None:
    """Fill the file system of `folder` up to the last byte."""
    for name, size in (("filler", 65536), ("filler2", 512), ("filler3", 1)):
        with contextlib.suppress(OSError), open(folder / name, "wb", buffering=0) as fh:
            while True:
                fh.write(b"\0" * size)


def _limit_file_size(limit: int) -> None:  # runs in the child before exec
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("how", ["tmpfs", "rlimit"])
def test_disk_full(study_db: Path, how: str) -> None:
    """`tmpfs`: a real full file system (refused before writing); `rlimit`: the file
    cannot grow past 36 KiB (room for the 32 KiB WAL index), so the failure comes while
    the run writes its first batch of trials."""
    url_counts_before = state_counts(f"sqlite:///{study_db}", "s")
    with _tmpfs("8m") as mnt:
        if mnt is not None and how == "tmpfs":
            db = mnt / "full.db"
            shutil.copy(study_db, db)
            _fill(mnt)
            preexec = None
        else:
            how = "rlimit"
            db = study_db
            preexec = lambda: _limit_file_size(36 << 10)  # noqa: E731 (WAL index fits)
        before = sha256(db)
        proc = subprocess.run(
            dse_cmd(search_args(f"sqlite:///{db}", "s", 200)),
            capture_output=True,
            text=True,
            env=env(),
            timeout=120,
            preexec_fn=preexec,
        )
        assert proc.returncode == 1, (how, proc.stderr)
        line = one_error_line(proc.stderr, after_start=how == "rlimit")
        assert "full" in line or "disk" in line or "too large" in line.lower(), (how, line)
        assert sha256(db) == before, how
        # with space again, the study opens with every trial it had and resumes
        for filler in db.parent.glob("filler*"):
            filler.unlink()
        con = sqlite3.connect(db)
        con.execute("PRAGMA quick_check").fetchall()
        con.close()
        assert state_counts(f"sqlite:///{db}", "s") == url_counts_before
        if preexec is None:
            assert main(search_args(f"sqlite:///{db}", "s", 5)) == 0
            after = state_counts(f"sqlite:///{db}", "s")
            assert sum(after.values()) == sum(url_counts_before.values()) + 5


def test_disk_full_in_direct_mode(study_db: Path) -> None:
    """Direct mode writes every trial as it goes: when the file cannot grow (RLIMIT_FSIZE
    36 KiB) the run stops with one error line, the study stays readable, and the trials
    it had are all still there (ones committed before the failure may be added)."""
    url = f"sqlite:///{study_db}"
    before = state_counts(url, "s")
    proc = subprocess.run(
        dse_cmd(search_args(url, "s", 200, "--storage-mode", "direct")),
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
        preexec_fn=lambda: _limit_file_size(36 << 10),
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) <= 4 and lines[-1].startswith("error: "), proc.stderr
    assert "full" in lines[-1] or "disk" in lines[-1] or "large" in lines[-1], lines[-1]
    con = sqlite3.connect(study_db)
    assert con.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    con.close()
    after = state_counts(url, "s")
    assert after.get("COMPLETE", 0) >= before.get("COMPLETE", 0)
