"""The accuracy cache: a table in the study's own database (SQLite or PostgreSQL, the same
URL as the Optuna storage), so a repeated accuracy configuration is evaluated once, across
processes and resumes.

Inserts are race-safe: `INSERT ... ON CONFLICT DO NOTHING` on SQLite and PostgreSQL (an
`IntegrityError` is swallowed elsewhere). Two processes may both evaluate a new key (a
duplicate evaluation), but the first value stored is the one everyone reads afterwards.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from costmodels.errors import StorageError
from dse.redact import display_url
from dse.storage.safety import is_sqlite

TABLE = "dse_accuracy_cache"

_metadata = sa.MetaData()
_table = sa.Table(
    TABLE,
    _metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("workload", sa.String(255), nullable=False),
    sa.Column("accuracy", sa.Float, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("created", sa.Float, nullable=False),  # unix time
)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class AccuracyCache:
    """Key -> accuracy table `dse_accuracy_cache` in the database at `url` (created if
    missing). `engine` may be passed to share one with the study storage.

    Nothing is opened or created until the first read or write, so a search refused before
    its first evaluation (impossible constraints, an unreachable or bad storage, a changed
    configuration) leaves the database exactly as it was.
    """

    def __init__(self, url: str, engine: sa.Engine | None = None) -> None:
        self.url = url
        self._given_engine = engine
        self._ready_engine: sa.Engine | None = None

    @property
    def _engine(self) -> sa.Engine:
        if self._ready_engine is None:
            self._ready_engine = self._open()
        return self._ready_engine

    def _open(self) -> sa.Engine:
        url = self.url
        try:
            engine = self._given_engine
            if engine is None:
                from dse.storage.safety import check_schema_settled, check_storage

                check_storage(url, write=True)  # never a table in somebody else's database
                if sa.engine.make_url(url).get_backend_name() != "sqlite":
                    probe = sa.create_engine(url)
                    try:
                        check_schema_settled(
                            lambda: set(sa.inspect(probe).get_table_names()), display_url(url)
                        )
                    finally:
                        probe.dispose()
                kwargs: dict[str, Any] = {}
                if is_sqlite(url):
                    kwargs["connect_args"] = {"timeout": 60}
                engine = sa.create_engine(url, **kwargs)
            try:
                _metadata.create_all(engine, tables=[_table], checkfirst=True)
            except SQLAlchemyError:
                # another process may have created it between the check and the CREATE
                if not sa.inspect(engine).has_table(TABLE):
                    raise
        except SQLAlchemyError as exc:
            raise StorageError(
                f"cannot open the accuracy cache at {display_url(url)}: {_short(exc)}"
            ) from None
        return engine

    def get(self, key: str) -> float | None:
        """The cached accuracy of `key`, or None."""
        try:
            with self._engine.connect() as conn:
                row = conn.execute(sa.select(_table.c.accuracy).where(_table.c.key == key)).first()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read the accuracy cache: {_short(exc)}") from None
        return None if row is None else float(row[0])

    def put(self, key: str, accuracy: float, workload: str, seconds: float) -> float:
        """Store `accuracy` under `key` unless a value is there already; returns the value
        stored (the earlier one if another process won the race)."""
        values = {
            "key": key,
            "workload": workload[:255],
            "accuracy": float(accuracy),
            "seconds": float(seconds),
            "created": time.time(),
        }
        dialect = self._engine.dialect.name
        try:
            with self._engine.begin() as conn:
                if dialect == "sqlite":
                    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                    conn.execute(sqlite_insert(_table).values(**values).on_conflict_do_nothing())
                elif dialect == "postgresql":
                    from sqlalchemy.dialects.postgresql import insert as pg_insert

                    conn.execute(pg_insert(_table).values(**values).on_conflict_do_nothing())
                else:
                    conn.execute(_table.insert().values(**values))
        except IntegrityError:
            pass
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot write the accuracy cache: {_short(exc)}") from None
        stored = self.get(key)
        return float(accuracy) if stored is None else stored

    def __len__(self) -> int:
        try:
            with self._engine.connect() as conn:
                return int(
                    conn.execute(sa.select(sa.func.count()).select_from(_table)).scalar_one()
                )
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read the accuracy cache: {_short(exc)}") from None

    def close(self) -> None:
        if self._ready_engine is not None:
            self._ready_engine.dispose()
