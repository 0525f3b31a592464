"""`--jobs` under a real process limit: a worker the kernel refuses to start.

Root ignores RLIMIT_NPROC, so the search runs as user 65534 (nobody) with RLIMIT_NPROC
lowered (`prlimit`, `setpriv`). It keeps one capability, CAP_DAC_READ_SEARCH (ambient, with
the no-setuid-fixup securebit so that `access(2)` sees it too), only to reach the Python
interpreter under /root; it holds no CAP_SYS_RESOURCE/CAP_SYS_ADMIN, so the limit applies.
RLIMIT_NPROC counts the user's processes and threads: with 3 the third worker's fork fails
(EAGAIN); with 12 every worker starts and the parent's own reader threads are refused.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from reliability_helpers import REPO, SPEC, WORKER_MAIN

NOBODY = 65534


def _as_nobody_with_nproc(
    limit: int, args: list[str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    cmd = [
        "prlimit", f"--nproc={limit}:{limit}",
        "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
        "--securebits=+no_setuid_fixup",
        "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
        sys.executable, "-c", WORKER_MAIN, *args,
    ]  # fmt: skip
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "PYTHONPATH": str(REPO),
        "DSE_HEARTBEAT_S": "1",
    }
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def _ours(marker: str) -> list[str]:
    """Processes still running whose command line names this test's storage."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline and int(pid) != os.getpid():
            out.append(f"{pid}: {cmdline[:120]}")
    return out


@pytest.fixture
def arena() -> Path:
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("prlimit"):
        pytest.skip("needs root with setpriv and prlimit to run a search under another user")
    folder = Path(f"/tmp/dse-nproc-{uuid.uuid4().hex[:8]}")
    folder.mkdir()
    folder.chmod(0o777)
    probe = _as_nobody_with_nproc(64, ["devices"], folder)
    if probe.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"cannot run dse as user {NOBODY} here: {probe.stderr.strip()[:200]}")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    "limit, expect",
    [
        (3, r"error: cannot start worker (\d+) of 8: Resource temporarily unavailable; "
            r"stopped the (\d+) already started \(try a smaller --jobs\)"),
        # workers' own threads count too: which refusal comes first depends on timing
        (12, r"error: cannot (?:watch the 8 workers \(can't start new thread\); stopped "
             r"them|start worker \d+ of 8: Resource temporarily unavailable; stopped).*"),
    ],
    ids=["fork-refused", "thread-refused"],
)  # fmt: skip
def test_a_refused_worker_stops_the_others(arena: Path, limit: int, expect: str) -> None:
    db = arena / f"s-{limit}.db"
    args = [
        "search", "--workload", str(SPEC), "--device", "XC7Z020",
        "--storage", f"sqlite:///{db}", "--trials", "40", "--jobs", "8",
    ]  # fmt: skip
    res = _as_nobody_with_nproc(limit, args, arena)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 1, res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, res.stderr
    match = re.fullmatch(expect, errors[0])
    assert match, errors[0]
    if limit == 3:
        refused, started = map(int, match.groups())
        assert started == refused - 1 >= 1  # some were started, and were stopped
    deadline = time.monotonic() + 10
    while _ours(str(db)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _ours(str(db))  # no worker outlived the refusal
    if db.exists():  # whatever the stopped workers committed is whole, nothing RUNNING
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
            running = conn.execute("select count(*) from trials where state = 'RUNNING'")
            assert running.fetchone()[0] == 0
        finally:
            conn.close()
