"""Shared fixtures: temporary SQLite studies, the real PostgreSQL server, the repo root."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_reason(url: str) -> str | None:
    """None when a PostgreSQL server answers at `url`, else why not."""
    try:
        import sqlalchemy as sa
    except ImportError as exc:  # pragma: no cover
        return f"sqlalchemy missing: {exc}"
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:
        why = f"no PostgreSQL server reachable at {url}: {type(exc).__name__}: {exc}"
        return why.splitlines()[0]
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of a real PostgreSQL server (DSE_TEST_POSTGRES_URL, default the local one).

    Skips with the reason where none is reachable, except under DSE_REQUIRE_POSTGRES=1
    (set by .ci/run), where an unreachable server fails the test instead.
    """
    url = os.environ.get("DSE_TEST_POSTGRES_URL", DEFAULT_PG_URL)
    reason = _postgres_reason(url)
    if reason is not None:
        if os.environ.get("DSE_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def fresh_pg_study() -> str:
    """A unique study name for a PostgreSQL test."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of a fresh SQLite file in a temporary folder."""
    yield f"sqlite:///{tmp_path / 'study.db'}"
