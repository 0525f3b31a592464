"""Helpers (and the `pg_study` fixture) for the reliability tests: cost-only searches in
real subprocesses, study cleanup on the real PostgreSQL server, file hashes, and the state
counts of a stored study."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "examples" / "tfc-w1a1.yaml"  # 4 dense layers: a fast cost-only space
DEVICE = "XC7Z020"
HEARTBEAT_ENV = {"DSE_HEARTBEAT_S": "1"}  # stale after 3 s, so kill tests stay short
WORKER_MAIN = "import sys; from dse.cli import main; sys.exit(main(sys.argv[1:]))"


def search_args(storage: str, study: str, trials: int, *extra: str) -> list[str]:
    return [
        "search",
        "--workload",
        str(SPEC),
        "--device",
        DEVICE,
        "--storage",
        storage,
        "--study",
        study,
        "--trials",
        str(trials),
        *extra,
    ]


def dse_cmd(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-c", WORKER_MAIN, *args]


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([str(REPO), out.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out.update(HEARTBEAT_ENV)
    out.update(extra)
    return out


def run_dse(
    args: Sequence[str], *, timeout: float = 120, cwd: Path | None = None, **popen: object
) -> subprocess.CompletedProcess[str]:
    """`dse ARGS` in a fresh Python process."""
    return subprocess.run(
        dse_cmd(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(),
        cwd=cwd,
        **popen,  # type: ignore[arg-type]
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def state_counts(url: str, study: str) -> dict[str, int]:
    """{state name: trials} of a stored study, read with plain SQL."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select t.state, count(*) from trials t join studies s "
                    "on s.study_id = t.study_id where s.study_name = :n group by t.state"
                ),
                {"n": study},
            ).all()
    finally:
        engine.dispose()
    return {str(state): int(n) for state, n in rows}


def numbers(url: str, study: str) -> list[int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                int(r[0])
                for r in conn.execute(
                    sa.text(
                        "select t.number from trials t join studies s on s.study_id = "
                        "t.study_id where s.study_name = :n order by t.number"
                    ),
                    {"n": study},
                )
            ]
    finally:
        engine.dispose()


def one_error_line(stderr: str, *, after_start: bool = False) -> str:
    """The only non-empty stderr line, which must be `error: ...`; no traceback. With
    `after_start`, the search's own start line (`new study ...`/`resuming ...`, wrapped to
    the terminal width) may come first and the error must be the last line."""
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if after_start:
        assert lines and lines[0].startswith(("new study", "resuming")), stderr
        assert sum(ln.startswith("error: ") for ln in lines) == 1, stderr
        lines = lines[-1:]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.fixture
def pg_study(postgres_url: str) -> Iterator[tuple[str, str]]:
    """(url, unique study name) on the real server; the study is deleted afterwards."""
    name = f"rel-{uuid.uuid4().hex[:10]}"
    yield postgres_url, name
    import optuna

    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=name, storage=postgres_url)
