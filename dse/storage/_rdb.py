"""Study storage: where trials live, and reading them back as plain data.

Two storage modes (`dse.config.StorageMode`, chosen in `dse.study`):

- `batch` (default for SQLite files): the sampler runs on an in-memory study; finished
  trials go to a `BatchWriter` thread that commits them in one transaction per batch
  through SQLAlchemy Core bulk inserts into Optuna's tables (`insert_trials`), at least
  every `FLUSH_INTERVAL_S`. SQLite runs in WAL mode, so a committed trial survives
  `kill -9`. One writer per study.
- `direct` (default for server databases): Optuna's `RDBStorage` (`open_storage`) for
  every call, with heartbeats, so several workers can share one study.

Either way the study stays readable by `optuna.load_study` and optuna-dashboard. Each trial
keeps what a report needs (candidate, per-layer costs, accuracy, timings) in its user
attributes (`ATTR_*` keys below); `load_study_record` returns a stored study as
`StudyRecord` / `TrialRecord` (no Optuna types) for reports and export.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.distributions import distribution_to_json
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from costmodels.errors import DseError, StorageError, StudyError
from costmodels.types import Network
from dse.config import Direction, StorageMode
from dse.records import (  # the trial schema, re-exported under its old import path
    ATTR_ACCURACY as ATTR_ACCURACY,
)
from dse.records import ATTR_BASELINE as ATTR_BASELINE
from dse.records import ATTR_CANDIDATE as ATTR_CANDIDATE
from dse.records import ATTR_COST as ATTR_COST
from dse.records import ATTR_ERROR as ATTR_ERROR
from dse.records import ATTR_LAYERS as ATTR_LAYERS
from dse.records import ATTR_STATUS as ATTR_STATUS
from dse.records import ATTR_TIMING as ATTR_TIMING
from dse.records import RESOURCE_KEYS as RESOURCE_KEYS
from dse.records import STUDY_ATTR as STUDY_ATTR
from dse.redact import display_url
from dse.storage.safety import (
    check_schema_settled,
    check_storage,
    is_sqlite,
    read_only_url,
    short_db_error,
    sqlite_file,
)
from dse.storage.workers import heartbeat_kwargs, keep_connected, retry_schema_race
from search_spaces import choice_from_dict

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.25
MAX_BATCH = 5000  # trials per transaction
BACKPRESSURE_S = 0.5  # the search waits while a trial is uncommitted for longer


# ----------------------------------------------------------------------------- storage


def sqlite_path(url: str) -> Path | None:
    """The database file of an SQLite URL (None: a server database or in-memory SQLite);
    `dse.storage.safety.sqlite_file`."""
    return sqlite_file(url)


def storage_mode(url: str, requested: StorageMode = StorageMode.AUTO) -> StorageMode:
    """How a search writes to `url`: as requested, or for `auto` batch on an SQLite file
    (one writer per study) and direct on a server database (workers share it)."""
    if requested is not StorageMode.AUTO:
        return requested
    return StorageMode.BATCH if sqlite_path(url) is not None else StorageMode.DIRECT


def open_storage(url: str, *, create: bool, heartbeat: bool = False) -> RDBStorage:
    """Optuna's RDBStorage at `url`. Without `create`, a missing SQLite file is an error
    (nothing is created). Any failure becomes one-line `StorageError`."""
    path = sqlite_path(url)
    if path is not None:
        if not create and not path.exists():
            raise StudyError(
                f"no study storage at {display_url(url)} (file {str(path)!r} not found)"
            )
        if create and not path.parent.is_dir():
            if str(path.parent) in ("runs", "./runs"):
                path.parent.mkdir(parents=True, exist_ok=True)
            else:
                raise StorageError(
                    f"cannot open storage {display_url(url)}: folder {str(path.parent)!r} "
                    "does not exist"
                )
    check_storage(url, write=create)  # dse.storage.safety: refuse a bad file untouched
    if not create:
        url = read_only_url(url)  # dse.storage.safety: a study on a read-only mount
    kwargs: dict[str, Any] = {}
    if path is None and url.startswith(("postgresql", "mysql")):
        kwargs["connect_args"] = {"connect_timeout": 5}
        kwargs["pool_pre_ping"] = True  # a connection the server dropped is replaced
    if path is not None:
        kwargs["connect_args"] = {"timeout": 30}
    try:
        if path is None:  # dse.storage.safety: a server database dse did not create
            _check_server_schema(url, kwargs)
        storage = retry_schema_race(  # dse.storage.workers: workers creating the tables at once
            lambda: RDBStorage(
                url,
                engine_kwargs=kwargs,
                **(heartbeat_kwargs() if heartbeat else {}),  # heartbeats, retry (workers)
            )
        )
    except DseError:
        raise
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"cannot open storage {display_url(url)}: {msg}") from None
    return keep_connected(storage)  # dse.storage.workers: a server that goes away is waited for


def _check_server_schema(url: str, kwargs: Mapping[str, Any]) -> None:
    """`check_schema` on a server database, read-only, before Optuna creates tables."""
    engine = sa.create_engine(url, **kwargs)
    try:
        check_schema_settled(  # other workers may be creating the tables right now
            lambda: set(sa.inspect(engine).get_table_names()), display_url(url)
        )
    finally:
        engine.dispose()


def damage_error(exc: BaseException, url: str) -> DseError | None:
    """The one-line error for what a damaged or unreachable study raises while it is read
    (an attribute that is not JSON, a table or column gone, a dropped connection); None
    for anything else."""
    if isinstance(exc, DseError):
        return exc
    if isinstance(exc, ValueError):  # json.JSONDecodeError and Optuna's decoding errors
        return StorageError(
            f"storage {display_url(url)} is damaged: a stored value is not valid "
            f"({_first_line(exc)}); left as it is - restore a backup"
        )
    if isinstance(exc, optuna.exceptions.StorageInternalError) and exc.__cause__ is not None:
        exc = exc.__cause__  # Optuna's wrapper of a failed commit: what the driver said
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return StorageError(f"cannot use storage {display_url(url)}: {short_db_error(exc)}")
    return None


@contextlib.contextmanager
def reading(url: str) -> Iterator[None]:
    """`damage_error` around reading a study."""
    try:
        yield
    except Exception as exc:
        err = damage_error(exc, url)
        if err is None or err is exc:
            raise
        raise err from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _wal(engine: sa.Engine) -> None:
    """SQLite in WAL mode: readers never block the writer and a committed transaction
    survives a killed process (sqlite.org/wal.html). `synchronous=NORMAL` is durable
    against process crashes in WAL mode (sqlite.org/pragma.html#pragma_synchronous)."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """Optuna's RDB stores naive UTC; in-memory trials carry naive local time."""
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _value_row(value: float) -> tuple[float | None, Any]:
    kind = models.TrialValueModel.TrialValueType
    if value == math.inf:
        return None, kind.INF_POS
    if value == -math.inf:
        return None, kind.INF_NEG
    return value, kind.FINITE


def insert_trials(conn: sa.Connection, study_id: int, trials: Sequence[FrozenTrial]) -> None:
    """Bulk-insert finished trials into Optuna's schema (one statement per table)."""
    if not trials:
        return
    t_trials = models.TrialModel.__table__
    ids = (
        conn.execute(
            sa.insert(t_trials).returning(t_trials.c.trial_id, sort_by_parameter_order=True),
            [
                {
                    "number": t.number,
                    "study_id": study_id,
                    "state": t.state,
                    "datetime_start": _utc(t.datetime_start),
                    "datetime_complete": _utc(t.datetime_complete),
                }
                for t in trials
            ],
        )
        .scalars()
        .all()
    )
    params, values, uattrs, sattrs, inter = [], [], [], [], []
    for trial_id, t in zip(ids, trials, strict=True):
        for name, dist in t.distributions.items():
            params.append(
                {
                    "trial_id": trial_id,
                    "param_name": name,
                    "param_value": dist.to_internal_repr(t.params[name]),
                    "distribution_json": distribution_to_json(dist),
                }
            )
        for i, v in enumerate(t.values or ()):
            value, kind = _value_row(v)
            values.append(
                {"trial_id": trial_id, "objective": i, "value": value, "value_type": kind}
            )
        for key, v in t.user_attrs.items():
            uattrs.append({"trial_id": trial_id, "key": key, "value_json": json.dumps(v)})
        for key, v in t.system_attrs.items():
            sattrs.append({"trial_id": trial_id, "key": key, "value_json": json.dumps(v)})
        for step, v in t.intermediate_values.items():
            ikind = models.TrialIntermediateValueModel.TrialIntermediateValueType
            if math.isnan(v):
                ival, itype = None, ikind.NAN
            elif math.isinf(v):
                ival, itype = None, ikind.INF_POS if v > 0 else ikind.INF_NEG
            else:
                ival, itype = v, ikind.FINITE
            inter.append(
                {
                    "trial_id": trial_id,
                    "step": step,
                    "intermediate_value": ival,
                    "intermediate_value_type": itype,
                }
            )
    for model, rows in (
        (models.TrialParamModel, params),
        (models.TrialValueModel, values),
        (models.TrialUserAttributeModel, uattrs),
        (models.TrialSystemAttributeModel, sattrs),
        (models.TrialIntermediateValueModel, inter),
    ):
        if rows:
            conn.execute(sa.insert(model.__table__), rows)


def amend_finished_trial(
    storage: RDBStorage,
    trial_id: int,
    params: Mapping[str, Any],
    distributions: Mapping[str, Any],
    system_attrs: Mapping[str, Any],
) -> None:
    """Overwrite stored parameter values of a told trial and add system attributes, in
    one transaction (Optuna's storage only inserts parameters, and refuses to change a
    finished trial): the direct-mode trial then holds the design it evaluated and the
    legacy constraints list dashboards read (dse.study)."""
    t = models.TrialParamModel.__table__
    a = models.TrialSystemAttributeModel.__table__
    with storage.engine.begin() as conn:
        for name, value in params.items():
            internal = distributions[name].to_internal_repr(value)
            conn.execute(
                sa.update(t)
                .where(t.c.trial_id == trial_id, t.c.param_name == name)
                .values(param_value=internal)
            )
        for key, value in system_attrs.items():
            conn.execute(sa.delete(a).where(a.c.trial_id == trial_id, a.c.key == key))
            conn.execute(
                sa.insert(a).values(trial_id=trial_id, key=key, value_json=json.dumps(value))
            )


class BatchWriter:
    """Commits finished trials from a queue in batches: a batch closes `interval_s` after
    its first trial was submitted (a writer that fell behind takes everything waiting).

    A daemon thread owns the database connection. `submit` applies back-pressure: while
    the oldest uncommitted trial is older than `max_lag_s`, the caller waits (releasing
    the GIL to the writer), so every trial is durable within about a second even on a
    busy machine. Errors in the thread surface at the next `submit` or at `close`.
    """

    def __init__(
        self,
        url: str,
        study_id: int,
        interval_s: float = FLUSH_INTERVAL_S,
        max_lag_s: float = BACKPRESSURE_S,
    ) -> None:
        self._engine = sa.create_engine(url, connect_args={"timeout": 30} if is_sqlite(url) else {})
        _wal(self._engine)
        self._study_id = study_id
        self._interval = interval_s
        self._max_lag = max_lag_s
        self._queue: queue.Queue[tuple[float, FrozenTrial] | None] = queue.Queue()
        self._pending: deque[float] = deque()  # submit times of uncommitted trials
        self._cv = threading.Condition()
        self._error: BaseException | None = None
        self.committed = 0
        self.batches = 0
        self.max_lag_s = 0.0  # longest time from `submit` to commit
        self._thread = threading.Thread(target=self._run, name="dse-trial-writer", daemon=True)
        self._thread.start()

    def submit(self, trial: FrozenTrial) -> None:
        self._raise()
        now = time.monotonic()
        with self._cv:
            self._pending.append(now)
        self._queue.put((now, trial))
        with self._cv:
            while (
                self._pending
                and time.monotonic() - self._pending[0] > self._max_lag
                and self._error is None
                and self._thread.is_alive()
            ):
                self._cv.wait(timeout=0.05)

    def _raise(self) -> None:
        if self._error is not None:
            err = self._error
            self._error = None
            raise StorageError(f"writing trials failed: {short_db_error(err)}") from err

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            deadline = item[0] + self._interval
            while len(batch) < MAX_BATCH:
                remaining = deadline - time.monotonic()
                try:
                    nxt = (
                        self._queue.get(timeout=remaining)
                        if remaining > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            if self._error is None:
                try:
                    with self._engine.begin() as conn:
                        insert_trials(conn, self._study_id, [t for _, t in batch])
                    now = time.monotonic()
                    self.max_lag_s = max(self.max_lag_s, now - batch[0][0])
                    self.committed += len(batch)
                    self.batches += 1
                except Exception as exc:  # surfaced on the main thread
                    # debug only: the CLI prints the error once, from the main thread
                    logger.debug("committing %d trials failed: %s", len(batch), exc)
                    self._error = exc
            with self._cv:
                for _ in batch:
                    if self._pending:
                        self._pending.popleft()
                self._cv.notify_all()

    def close(self) -> None:
        """Commit everything submitted, stop the thread, raise a pending error."""
        self._queue.put(None)
        self._thread.join()
        self._engine.dispose()
        self._raise()


# ----------------------------------------------------------------------------- studies


@dataclass(frozen=True)
class StudyInfo:
    name: str
    trials: int
    complete: int
    feasible: int
    objectives: tuple[str, ...]
    device: str
    workload: str


def study_meta(storage: RDBStorage, study_id: int) -> dict[str, Any]:
    """The `dse` study attribute (empty for studies dse did not create)."""
    meta = storage.get_study_user_attrs(study_id).get(STUDY_ATTR)
    return dict(meta) if isinstance(meta, Mapping) else {}


def find_study_id(storage: RDBStorage, name: str) -> int | None:
    """The id of study `name` in `storage` (None: no such study)."""
    try:
        return storage.get_study_id_from_name(name)
    except KeyError:
        return None


def list_studies(url: str) -> list[StudyInfo]:
    """Every study in a storage, with counts and what it optimizes."""
    with reading(url):  # a damaged study: one line
        return _list_studies(url)


def _list_studies(url: str) -> list[StudyInfo]:
    storage = open_storage(url, create=False)
    try:
        out: list[StudyInfo] = []
        engine = storage.engine
        t = models.TrialModel.__table__
        sys_t = models.TrialSystemAttributeModel.__table__
        with engine.connect() as conn:
            counts = {
                (sid, state): n
                for sid, state, n in conn.execute(
                    sa.select(t.c.study_id, t.c.state, sa.func.count()).group_by(
                        t.c.study_id, t.c.state
                    )
                )
            }
            infeasible: dict[int, int] = dict(
                conn.execute(
                    sa.select(t.c.study_id, sa.func.count(sa.distinct(t.c.trial_id)))
                    .join(sys_t, sys_t.c.trial_id == t.c.trial_id)
                    .where(sys_t.c.key.like("constraints:%"))
                    .where(sa.cast(sys_t.c.value_json, sa.Float) > 0)
                    .where(t.c.state == TrialState.COMPLETE)
                    .group_by(t.c.study_id)
                ).all()
            )
        for fs in storage.get_all_studies():
            sid = fs._study_id
            meta = study_meta(storage, sid)
            total = sum(n for (s, _), n in counts.items() if s == sid)
            complete = counts.get((sid, TrialState.COMPLETE), 0)
            out.append(
                StudyInfo(
                    name=fs.study_name,
                    trials=total,
                    complete=complete,
                    feasible=complete - infeasible.get(sid, 0),
                    objectives=tuple(meta.get("objectives", []))
                    or tuple(d.name.lower() for d in fs.directions),
                    device=str(meta.get("device", "-")),
                    workload=str(meta.get("workload", "-")),
                )
            )
        return out
    finally:
        storage.remove_session()
        storage.engine.dispose()


@dataclass(frozen=True)
class TrialRecord:
    """A stored trial as a report sees it (plain data, no Optuna types)."""

    number: int
    state: str  # complete | fail | pruned | running | waiting
    values: tuple[float, ...] | None
    constraints: Mapping[str, float]
    params: Mapping[str, Any]
    attrs: Mapping[str, Any]
    datetime_start: dt.datetime | None
    datetime_complete: dt.datetime | None

    @property
    def complete(self) -> bool:
        return self.state == "complete"

    @property
    def feasible(self) -> bool:
        return self.complete and all(v <= 0 for v in self.constraints.values())

    @property
    def fits(self) -> bool:
        return self.complete and all(
            v <= 0 for k, v in self.constraints.items() if k in RESOURCE_KEYS
        )

    @property
    def baseline(self) -> str | None:
        b = self.attrs.get(ATTR_BASELINE)
        return str(b) if b else None


@dataclass(frozen=True)
class StudyRecord:
    """A whole stored study for reports and export."""

    name: str
    storage: str
    objectives: tuple[str, ...]
    directions: tuple[Direction, ...]
    meta: Mapping[str, Any]
    trials: tuple[TrialRecord, ...]

    def trial(self, number: int) -> TrialRecord:
        for t in self.trials:
            if t.number == number:
                return t
        last = max((t.number for t in self.trials), default=-1)
        raise StudyError(
            f"study {self.name!r} has no trial {number} (trials are numbered 0..{last})"
        )

    def network(self) -> Network:
        """The study's base network (structure and default choices) as stored."""
        from dse.spec import network_from_dict

        raw = self.meta.get("network")
        if raw is None:
            raise StudyError(
                f"study {self.name!r} was not created by dse search (no network stored)"
            )
        return network_from_dict(raw)

    def design(self, number: int) -> Network:
        """Trial `number`'s design as a complete network."""
        t = self.trial(number)
        cand = t.attrs.get(ATTR_CANDIDATE)
        if not cand:
            raise StudyError(f"trial {number} of study {self.name!r} has no stored design")
        choices = {name: choice_from_dict(c) for name, c in cand.items()}
        return self.network().with_choices(choices)


def _constraints(t: FrozenTrial) -> dict[str, float]:
    """The trial's named constraints; the legacy list dse writes beside them for
    dashboards (Optuna reads it back as keys "0", "1", ...) is left out."""
    raw = dict(t.constraints) if hasattr(t, "constraints") else {}
    named = {k: v for k, v in raw.items() if not k.isdigit()}
    return named or raw


def trial_record(t: FrozenTrial) -> TrialRecord:
    """An Optuna trial as plain data."""
    return TrialRecord(
        number=t.number,
        state=t.state.name.lower(),
        values=tuple(t.values) if t.values is not None else None,
        constraints=_constraints(t),
        params=dict(t.params),
        attrs=dict(t.user_attrs),
        datetime_start=t.datetime_start,
        datetime_complete=t.datetime_complete,
    )


def load_study_record(url: str, name: str | None) -> StudyRecord:
    """Read a study (the only one in the storage when `name` is None)."""
    with reading(url):  # a damaged study: one line
        return _load_study_record(url, name)


def _load_study_record(url: str, name: str | None) -> StudyRecord:
    storage = open_storage(url, create=False)
    try:
        if name is None:
            studies = storage.get_all_studies()
            if not studies:
                raise StudyError(f"no studies in {display_url(url)}")
            if len(studies) > 1:
                names = ", ".join(s.study_name for s in studies[:8])
                raise StudyError(
                    f"{display_url(url)} holds several studies ({names}); pick one with --study"
                )
            name = studies[0].study_name
        sid = find_study_id(storage, name)
        if sid is None:
            known = [s.study_name for s in storage.get_all_studies()]
            from dse.config import suggest

            hint = suggest(name, known) if known else " (the storage has no studies)"
            raise StudyError(f"no study named {name!r} in {display_url(url)}{hint}")
        meta = study_meta(storage, sid)
        directions = tuple(
            Direction.MAXIMIZE if d == StudyDirection.MAXIMIZE else Direction.MINIMIZE
            for d in storage.get_study_directions(sid)
        )
        objectives = tuple(
            meta.get("objectives") or [f"objective{i}" for i in range(len(directions))]
        )
        trials = tuple(trial_record(t) for t in storage.get_all_trials(sid, deepcopy=False))
        return StudyRecord(name, url, objectives, directions, meta, trials)
    finally:
        storage.remove_session()
        storage.engine.dispose()
