"""The foreign/damaged-database check on a database other workers are creating right now.

Optuna creates its tables, then `version_info`, then stamps `alembic_version`; a second
worker that looks in between sees part of a schema. `check_schema_settled` reads the table
set again until it is whole or stands still, so a creation in progress is never refused as
foreign (the four-workers-on-a-fresh-database race), while a foreign table is refused at once
and a partial schema that stays partial is still refused."""

from __future__ import annotations

import time

import pytest

from costmodels.errors import StorageError
from dse.storage.safety import OPTUNA_TABLES, check_schema_settled

WHOLE = set(OPTUNA_TABLES) | {"alembic_version"}


def _sequence(*sets: set[str]):  # type: ignore[no-untyped-def]
    """A table lister that returns each set in turn, then the last one for ever."""
    seen = list(sets)

    def tables() -> set[str]:
        return seen.pop(0) if len(seen) > 1 else seen[0]

    return tables


def test_creation_in_progress_is_waited_for() -> None:
    partial = {"studies", "trials"}  # tables created, version_info not yet
    lister = _sequence(partial, partial | {"version_info"}, WHOLE)
    check_schema_settled(lister, "db", settle_s=2.0)  # no error: the schema became whole


def test_partial_schema_that_stands_still_is_refused() -> None:
    t0 = time.monotonic()
    with pytest.raises(StorageError, match="did not create"):
        check_schema_settled(lambda: {"studies"}, "db", settle_s=0.5)
    assert time.monotonic() - t0 < 5


def test_damaged_schema_is_refused_after_settling() -> None:
    damaged = WHOLE - {"trial_params"}
    with pytest.raises(StorageError, match="damaged: Optuna tables missing"):
        check_schema_settled(lambda: damaged, "db", settle_s=0.3)


def test_foreign_table_is_refused_at_once() -> None:
    t0 = time.monotonic()
    with pytest.raises(StorageError, match="did not create"):
        check_schema_settled(lambda: {"studies", "customers"}, "db", settle_s=10.0)
    assert time.monotonic() - t0 < 1


def test_whole_and_empty_schemas_pass() -> None:
    check_schema_settled(lambda: WHOLE, "db")
    check_schema_settled(set, "db")
