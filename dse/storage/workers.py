"""Several workers on one study: heartbeats, stale-trial recovery, study-creation races, and
`--jobs N` local worker processes.

How a shared study stays whole (see docs/reliability.md):

- Workers in `direct` storage mode (the default for PostgreSQL/MySQL) use Optuna's
  `RDBStorage`; trial numbers come from the database under a row lock on the study
  (Optuna's `_create_new_trial`), so no two workers get the same number.
- While a trial runs, a heartbeat thread stamps it every `HEARTBEAT_INTERVAL_S` (Optuna's
  `HeartbeatThread`, which `study.optimize` runs but an ask/tell loop does not). Before each
  `ask`, a worker fails the RUNNING trials whose heartbeat is older than the grace period
  (a dead worker's) and enqueues one retry of each with the same parameters
  (`RetryHeartbeatStaleTrialCallback`, at most `MAX_RETRY` times), which the next `ask` of
  any worker picks up. Each trial is tagged with the process that claimed it
  (`dse.storage.owners`): a RUNNING trial whose owner ran on this machine and is provably
  dead (kill -9, a worker that gave up on a lost server) is failed and retried at once,
  whatever its heartbeat's age.
- `batch` mode (SQLite default) writes one study from one process: the worker holds an
  exclusive `flock` on `<db file>.lock` for the run, and so, on resume, every RUNNING trial
  of the study is a zombie of a killed run and is failed at once; `direct` workers on a
  SQLite file hold a shared lock, so batch and direct runs never mix on one file.
- Studies are created with a race in mind: the loser of `create_new_study` waits for the
  winner's definition and checks it matches.
- In direct mode only the creator seeds a new study (baselines, the solver's front). It
  names itself first (`SEEDER_ATTR`, before the definition other workers wait for) and
  says when it is done (`SEEDED_ATTR`). A study left with no trials at all by a creator
  that is provably dead (`dse.storage.owners`), or by one from before these attributes,
  is an orphan: the next worker to open it seeds it (`orphaned`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import optuna
import sqlalchemy as sa
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages._heartbeat import HeartbeatThread
from optuna.storages._rdb import models
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, Trial, TrialState

from costmodels.errors import ConfigError, StorageError, StudyError
from dse.storage.owners import OWNER_ATTR, Owner, provably_dead, this_process
from dse.storage.safety import sqlite_file

logger = logging.getLogger(__name__)
# Heartbeats are "experimental" in Optuna since 2.9 and stable in use; the warning would be
# printed by every worker at start.
warnings.filterwarnings(
    "ignore", message=".*heartbeat_interval.*", category=optuna.exceptions.ExperimentalWarning
)

HEARTBEAT_ENV = "DSE_HEARTBEAT_S"
"""Environment variable overriding the heartbeat interval in seconds (tests use 1)."""
DEFAULT_HEARTBEAT_S = 10
MAX_HEARTBEAT_S = 3600
"""An hour between beats (a dead worker found after 3 h) is the most that makes sense; a
20-digit value overflowed the heartbeat thread's C int."""
GRACE_FACTOR = 3
"""A trial is stale when its last heartbeat is `GRACE_FACTOR` intervals old: one missed
beat is a busy database, three are a dead worker."""
MAX_RETRY = 2
META_WAIT_S = 15.0
SEEDER_ATTR = "dse:seeder"
"""Study system attribute: the `Owner` (trial 0) of the process that seeds the study in
direct mode; `{"host": ...}` alone where the machine cannot name its processes."""
SEEDED_ATTR = "dse:seeded"
"""Study system attribute: True once the seeder has enqueued every seed."""


def heartbeat_interval_s() -> int:
    """The heartbeat interval: `DSE_HEARTBEAT_S` if set (a positive integer), else 10 s."""
    raw = os.environ.get(HEARTBEAT_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_HEARTBEAT_S
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{HEARTBEAT_ENV}={raw!r} must be a whole number of seconds") from None
    if not 1 <= value <= MAX_HEARTBEAT_S:
        raise ConfigError(f"{HEARTBEAT_ENV}={raw!r} must be in 1..{MAX_HEARTBEAT_S} seconds")
    return value


def grace_s() -> int:
    return GRACE_FACTOR * heartbeat_interval_s()


def heartbeat_kwargs() -> dict[str, Any]:
    """`RDBStorage` keyword arguments for a shared study: heartbeats, grace period, and the
    retry callback that enqueues a stale trial again."""
    with warnings.catch_warnings():  # "experimental" since Optuna 2.8, stable in use
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    return {
        "heartbeat_interval": heartbeat_interval_s(),
        "grace_period": grace_s(),
        "heartbeat_stale_trial_callback": retry,
    }


# ----------------------------------------------------------------------------- signals

STOP_SIGNALS: tuple[signal.Signals, ...] = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,  # the terminal closed
    signal.SIGQUIT,  # Ctrl-\\
)
"""Signals a search treats as "finish the current trial, commit, stop" (`dse.cli.search`)."""


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold the stop signals while a trial is claimed (`ask` + heartbeat) or told (`tell`):
    a second Ctrl-C landing inside Optuna's transaction would leave the new trial RUNNING
    with nobody knowing it. Signals received meanwhile are raised again on exit, so the
    caller's handlers still run, a moment later. No-op off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    old = {sig: signal.signal(sig, lambda s, _f: got.append(s)) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for number in dict.fromkeys(got):
            signal.raise_signal(number)


# ----------------------------------------------------------------------------- reconnects

RETRY_ENV = "DSE_DB_RETRY_S"
DEFAULT_RETRY_S = 60.0
"""How long a worker keeps retrying a database server that went away (stopped, restarted,
its connection terminated) before it stops with one line."""
_NOT_RETRIED = frozenset(
    {"record_heartbeat", "remove_session", "upgrade", "get_current_version",
     "get_head_version", "get_all_versions", "get_heartbeat_interval",
     "get_failed_trial_callback", "is_heartbeat_enabled"}
)  # fmt: skip
"""`RDBStorage` methods left as they are (no database call, or handled apart)."""
_PRIVATE_RETRIED = frozenset(
    {
        "_create_new_trial",
        "_set_trial_param",
        "_get_best_trial_id",
        "_get_trials",
        "_get_stale_trial_ids",
    }
)
"""Private methods with a session of their own that Optuna's cache calls directly."""


def retry_s() -> float:
    """`DSE_DB_RETRY_S` (seconds, >= 0) or 60."""
    raw = os.environ.get(RETRY_ENV, "").strip()
    if not raw:
        return DEFAULT_RETRY_S
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{RETRY_ENV}={raw!r} must be a number of seconds") from None
    if not 0 <= value <= 86400:
        raise ConfigError(f"{RETRY_ENV}={raw!r} must be in 0..86400 seconds")
    return value


def _disconnected(exc: BaseException | None) -> bool:
    """Whether `exc` (or what caused it: Optuna wraps a failed commit in its
    `StorageInternalError`) says the server connection is gone, not a bad statement."""
    for _ in range(4):
        if exc is None:
            return False
        if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def with_retries(storage: RDBStorage, call: Callable[..., T], *args: Any) -> T:
    """`call(*args)` with the reconnect retries of `keep_connected` (server storages);
    for the few places that use the storage's engine directly."""
    if storage.engine.dialect.name == "sqlite":
        return call(*args)
    return _with_retries(storage, getattr(call, "__name__", "query"), call, retry_s())(*args)


def _with_retries(storage: RDBStorage, name: str, call: Callable[..., Any], limit: float) -> Any:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + limit
        delay = 0.25
        warned = False
        while True:
            try:
                return call(*args, **kwargs)
            except Exception as exc:
                if not _disconnected(exc):
                    raise
                with contextlib.suppress(Exception):
                    storage.remove_session()
                if time.monotonic() + delay > deadline:
                    raise StorageError(
                        f"lost the database server for {limit:.0f} s "
                        f"({_first_line(exc)}); stopped - committed trials are kept, "
                        f"resume when it is back ({RETRY_ENV} sets the wait)"
                    ) from None
                if not warned:
                    logger.warning("database connection lost in %s; retrying", name)
                    warned = True
                time.sleep(delay)
                delay = min(delay * 2, 8.0)

    return wrapped


def _first_line(exc: BaseException) -> str:
    if not isinstance(exc, sa.exc.SQLAlchemyError) and exc.__cause__ is not None:
        exc = exc.__cause__  # Optuna's StorageInternalError: say what the driver said
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def keep_connected(storage: RDBStorage) -> RDBStorage:
    """Make a server storage ride out the server going away: every storage call Optuna
    makes is retried with exponential backoff (0.25 s doubling to 8 s) while the error is
    a lost connection, for at most `retry_s()` seconds, then one `StorageError`. Retrying
    is safe because each `RDBStorage` call is one transaction, rolled back when the
    connection died. A heartbeat that cannot be written (a lost server, a full disk) is
    skipped, on SQLite too: the next one counts, and the search's own next write reports
    the failure once, in one line (a heartbeat thread's traceback would not)."""
    beat = storage.record_heartbeat

    def record_heartbeat(trial_id: int) -> None:
        try:
            beat(trial_id)
        except Exception as exc:
            with contextlib.suppress(Exception):
                storage.remove_session()
            logger.debug("heartbeat of trial %d skipped: %s", trial_id, _first_line(exc))

    storage.record_heartbeat = record_heartbeat  # type: ignore[method-assign]
    if storage.engine.dialect.name == "sqlite":
        return storage
    limit = retry_s()
    for name in dir(type(storage)):  # every method that may talk to the database
        if name in _NOT_RETRIED or (name.startswith("_") and name not in _PRIVATE_RETRIED):
            continue  # private helpers mostly run inside a caller's session: not retried
        call = getattr(storage, name, None)
        if callable(call) and not isinstance(call, type):
            setattr(storage, name, _with_retries(storage, name, call, limit))
    return storage


# ----------------------------------------------------------------------------- study creation

T = TypeVar("T")
_RACE_WORDS = ("already exists", "duplicate", "unique", "1050", "deadlock")


def retry_schema_race(make: Callable[[], T], attempts: int = 4) -> T:
    """`make()` (opening a storage), retried when it lost a race with another worker that
    was creating the same tables on a fresh database (PostgreSQL: duplicate `pg_type` key;
    MySQL: error 1050 "table already exists"). Other errors are raised at once."""
    for attempt in range(attempts):
        try:
            return make()
        except Exception as exc:
            text = str(exc).lower()
            if attempt == attempts - 1 or not any(w in text for w in _RACE_WORDS):
                raise
            time.sleep(0.2 + random.random() * 0.5)
    raise AssertionError("unreachable")  # pragma: no cover


def create_study(
    storage: RDBStorage,
    directions: Sequence[StudyDirection],
    name: str,
    attr_key: str,
    meta: Mapping[str, Any],
    *,
    same: Callable[[Mapping[str, Any]], bool] | None = None,
    seeder: bool = False,
) -> tuple[int, bool]:
    """Create study `name` with its definition `meta` (under user attribute `attr_key`);
    returns (study id, created). When another worker created it first, waits for its
    definition and refuses a different one: `same(theirs)` decides (default: equal
    `meta["fingerprint"]`). `seeder`: the creator names itself as the study's seeder before
    writing the definition, so a worker that sees the definition sees the seeder too."""
    try:
        sid = storage.create_new_study(list(directions), name)
    except optuna.exceptions.DuplicatedStudyError:
        sid = storage.get_study_id_from_name(name)
        theirs = wait_for_meta(storage, sid, attr_key) or {}
        if not (same(theirs) if same else theirs.get("fingerprint") == meta.get("fingerprint")):
            raise StudyError(
                f"another worker created study {name!r} at the same time with a different "
                "configuration; give every worker the same options"
            ) from None
        return sid, False
    if seeder:
        claim_seeding(storage, sid)
    storage.set_study_user_attr(sid, attr_key, dict(meta))
    return sid, True


def claim_seeding(storage: RDBStorage, study_id: int) -> None:
    """Name this process as the seeder of study `study_id` (`SEEDER_ATTR`)."""
    owner = this_process(0)
    tag = owner.as_dict() if owner is not None else {"host": socket.gethostname()}
    storage.set_study_system_attr(study_id, SEEDER_ATTR, tag)


def mark_seeded(storage: RDBStorage, study_id: int) -> None:
    """Record that the study's seeds are all enqueued (`SEEDED_ATTR`)."""
    storage.set_study_system_attr(study_id, SEEDED_ATTR, True)


def orphaned(storage: RDBStorage, study_id: int) -> bool:
    """Whether study `study_id` (with its definition) has no trials and will never be
    seeded: not marked seeded, and its seeder is provably dead or was never named (a study
    made before `SEEDER_ATTR`; a creator killed between naming itself and the definition
    leaves no definition, and `wait_for_meta` deletes that study instead). A seeder on
    another machine, or one this machine cannot check, may still be seeding: not an
    orphan. Two workers finding one orphan at the same instant both seed it (the seeds
    then run twice; nothing is lost)."""
    if storage.get_n_trials(study_id) > 0:
        return False
    attrs = storage.get_study_system_attrs(study_id)
    if attrs.get(SEEDED_ATTR):
        return False
    if SEEDER_ATTR not in attrs:
        return True
    return provably_dead(Owner.from_dict(attrs[SEEDER_ATTR]), 0)


def wait_for_meta(
    storage: RDBStorage, study_id: int, attr_key: str, timeout_s: float | None = None
) -> dict[str, Any] | None:
    """The study's definition attribute. A study another worker has just created may not
    carry it yet, so an empty one is re-read for up to `timeout_s` while the study has no
    trials. A study with trials but no definition was not made by dse: `{}`. A study still
    bare after the wait (no trials, no attributes at all) is the orphan of a creator killed
    between `create_new_study` and writing its definition: it is deleted and None returned,
    so the caller creates it again."""
    deadline = time.monotonic() + (META_WAIT_S if timeout_s is None else timeout_s)
    while True:
        attrs = storage.get_study_user_attrs(study_id)
        meta = attrs.get(attr_key)
        if isinstance(meta, Mapping):
            return dict(meta)
        if storage.get_n_trials(study_id) > 0 or attrs:
            return {}
        if time.monotonic() >= deadline:
            if set(storage.get_study_system_attrs(study_id)) - {SEEDER_ATTR}:
                return {}
            logger.info("deleting the empty study %d left by a killed creator", study_id)
            storage.delete_study(study_id)
            return None
        time.sleep(0.1)


# ----------------------------------------------------------------------------- locks


def _sqlite_file(url: str) -> Path | None:
    try:
        return sqlite_file(url)
    except StorageError:
        return None


@contextlib.contextmanager
def sqlite_study_lock(url: str, *, shared: bool) -> Iterator[bool]:
    """An advisory lock on `<db>.lock` next to a SQLite storage (nothing for servers).

    Exclusive (a batch-mode writer) or shared (direct-mode workers). A conflicting holder is
    a `StudyError` at once rather than a wait: two batch writers would assign the same trial
    numbers. Yields whether this process is the only one on the file (always for the
    exclusive lock; for a shared one, when it could briefly take the lock exclusively): then
    every RUNNING trial in it belongs to a killed process.
    """
    path = _sqlite_file(url)
    if path is None:
        yield False
        return
    lock_path = path.with_name(path.name + ".lock")
    try:
        fh: IO[str] = open(lock_path, "a+")  # noqa: SIM115 - held for the whole run
    except OSError as exc:
        raise StorageError(
            f"cannot lock storage {str(path)!r}: {exc.strerror or exc} ({str(lock_path)!r})"
        ) from None
    try:
        try:
            fcntl.flock(fh, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            alone = not shared
            if shared:
                try:  # nobody else holds it: upgrade succeeds, then back to shared
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    alone = True
                    fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:  # a failed upgrade drops the lock (flock(2)): retake
                    fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StudyError(
                f"storage {str(path)!r} is being written by another dse search in "
                f"{'batch' if shared else 'batch or direct'} mode; wait for it to finish, or "
                "run every worker with --storage-mode direct (or use --jobs N)"
            ) from None
        yield alone
    finally:
        fh.close()


def enable_wal(storage: RDBStorage) -> None:
    """Make a SQLite storage safe for several direct-mode workers (nothing for servers).

    - WAL mode (persistent in the file): readers never block the writer
      (sqlite.org/wal.html).
    - Every transaction starts with `BEGIN IMMEDIATE`, taking the write lock at once. With
      pysqlite's default deferred transactions, Optuna's `SELECT ... FOR UPDATE` is no lock
      on SQLite: two workers could both claim one WAITING trial and run it twice (seen in
      testing). This is SQLAlchemy's documented recipe for serializable pysqlite
      transactions (docs.sqlalchemy.org, dialects/sqlite, "Serializable isolation").
    """
    engine = storage.engine
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # no implicit BEGIN from the driver
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    storage.remove_session()
    engine.dispose()  # pooled connections predate the listeners


# ----------------------------------------------------------------------------- stale trials


def stale_trial_ids(storage: RDBStorage, study_id: int, grace: float) -> list[int]:
    """RUNNING trials of the study whose worker is gone: those whose owner (`OWNER_ATTR`)
    ran on this machine and is provably dead (`dse.storage.owners`), at once; the others
    once their last heartbeat (or, without one, their start) is more than `grace` seconds
    old. Heartbeats are compared with the database clock, starts (written by the client)
    with this machine's clock."""
    t = models.TrialModel.__table__
    hb = models.TrialHeartbeatModel.__table__
    attr = models.TrialSystemAttributeModel.__table__
    tagged = attr.c.key == OWNER_ATTR
    with storage.engine.connect() as conn:
        db_now = conn.execute(sa.select(sa.func.now())).scalar_one()
        rows = conn.execute(
            sa.select(t.c.trial_id, t.c.datetime_start, hb.c.heartbeat, attr.c.value_json)
            .select_from(
                t.outerjoin(hb, hb.c.trial_id == t.c.trial_id).outerjoin(
                    attr, sa.and_(attr.c.trial_id == t.c.trial_id, tagged)
                )
            )
            .where(t.c.study_id == study_id, t.c.state == TrialState.RUNNING)
        ).all()
    if isinstance(db_now, str):  # SQLite returns CURRENT_TIMESTAMP as text
        db_now = dt.datetime.fromisoformat(db_now)
    db_now = db_now.replace(tzinfo=None)
    local_now = dt.datetime.now()
    limit = dt.timedelta(seconds=grace)
    out = []
    for trial_id, start, beat, owner_json in rows:
        if owner_json is not None and provably_dead(_owner(owner_json), trial_id):
            out.append(trial_id)
        elif beat is not None:
            if db_now - beat.replace(tzinfo=None) > limit:
                out.append(trial_id)
        elif start is None or local_now - start > limit:
            out.append(trial_id)
    return out


def _owner(value_json: str) -> Owner | None:
    try:
        return Owner.from_dict(json.loads(value_json))
    except (ValueError, TypeError):
        return None


def fail_trials(storage: RDBStorage, trial_ids: Sequence[int]) -> list[FrozenTrial]:
    """Mark trials FAIL (skipping any another process finished meanwhile); the failed
    trials as they now are."""
    failed = []
    for trial_id in trial_ids:
        try:
            if storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                failed.append(storage.get_trial(trial_id))
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return failed


def retry_template(trial: FrozenTrial) -> FrozenTrial | None:
    """A WAITING copy of a failed trial (same parameters), as
    `RetryHeartbeatStaleTrialCallback` makes it; None past `MAX_RETRY` retries."""
    system_attrs: dict[str, Any] = {
        "failed_trial": trial.number,
        "retry_history": [],
        **trial.system_attrs,
    }
    system_attrs["retry_history"] = [*system_attrs["retry_history"], trial.number]
    system_attrs.pop(OWNER_ATTR, None)  # the retry's worker tags it anew
    if len(system_attrs["retry_history"]) > MAX_RETRY:
        return None
    return optuna.trial.create_trial(
        state=TrialState.WAITING,
        params=trial.params,
        distributions=trial.distributions,
        user_attrs={},
        system_attrs=system_attrs,
    )


class StudyGuard:
    """Keeps one worker's share of a stored study whole; see the module docstring.

    Use: `StudyGuard(storage, sid, url, shared=...)` before reading the stored trials,
    `attach()` once the (in-memory or RDB) study exists (`dse.study` enqueues the retries
    it returns), then around each trial
    `before_ask()`, `started(trial)`, `finished()`, and `close()` at the end.
    """

    def __init__(self, storage: RDBStorage, study_id: int, url: str, *, shared: bool) -> None:
        self.storage = storage
        self.study_id = study_id
        self.shared = shared
        self.recovered = 0
        self._sqlite = _sqlite_file(url) is not None
        self._lock = sqlite_study_lock(url, shared=shared)
        alone = self._lock.__enter__()
        self._attached = False
        self._trial: Trial | None = None
        self._beat: HeartbeatThread | None = None
        self._last_check = 0.0
        self._retries: list[FrozenTrial] = []
        try:
            if shared:
                enable_wal(storage)
                # alone on a SQLite file: every RUNNING trial is a killed run's (kill -9)
                self._recover(0.0 if alone else grace_s())
            else:
                # The one writer of a SQLite study (exclusive lock): every RUNNING trial is a
                # zombie of a killed run. WAITING trials (retries left by direct workers) are
                # claimed and run again in memory.
                self._recover(0.0 if self._sqlite else grace_s(), in_memory=True)
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise

    def _recover(self, grace: float, *, in_memory: bool = False) -> None:
        stale = with_retries(self.storage, stale_trial_ids, self.storage, self.study_id, grace)
        failed = fail_trials(self.storage, stale)
        self.recovered += len(failed)
        for t in failed:
            logger.info("trial %d of a dead worker marked failed", t.number)
        templates = [tpl for t in failed if (tpl := retry_template(t)) is not None]
        if in_memory:
            waiting = self.storage.get_all_trials(
                self.study_id, deepcopy=False, states=(TrialState.WAITING,)
            )
            for t in waiting:  # claim it (FAIL, never run) and run its parameters here
                # claimed as `ask` claims (WAITING -> RUNNING stamps the start), then failed
                if not self.storage.set_trial_state_values(t._trial_id, TrialState.RUNNING):
                    continue
                self.storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
                if t.params:
                    templates.append(t)
            self._retries = templates
        else:
            for tpl in templates:
                self.storage.create_new_trial(self.study_id, template_trial=tpl)

    def attach(self) -> list[dict[str, Any]]:
        """The study this worker asks from exists: the parameters of the trials to run again
        in it (claimed retries; only an in-memory batch study gets any), for `dse.study` to
        enqueue (`dse.study` is the only module talking to `optuna.Study`)."""
        self._attached = True
        retries = [dict(t.params) for t in self._retries]
        self._retries = []
        return retries

    def before_ask(self) -> None:
        """Fail stale trials of dead workers (at most once per heartbeat interval)."""
        if not self.shared:
            return
        now = time.monotonic()
        if now - self._last_check < heartbeat_interval_s():
            return
        self._last_check = now
        self._recover(grace_s())

    def started(self, trial: Trial) -> None:
        """Tag the trial with this process (`dse.storage.owners`) and start its heartbeat
        (shared studies only)."""
        self._trial = trial
        if self.shared:
            owner = this_process(trial._trial_id)
            if owner is not None:  # retried on a lost server (`keep_connected`)
                self.storage.set_trial_system_attr(trial._trial_id, OWNER_ATTR, owner.as_dict())
            self._beat = HeartbeatThread(trial._trial_id, self.storage)
            self._beat.start()

    def finished(self) -> None:
        """Stop the heartbeat of the trial just told."""
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        self._trial = None

    def close(self, *, cleanup: bool = True) -> None:
        """Stop the heartbeat; a trial interrupted mid-way (Ctrl-C twice, SIGTERM, error) is
        marked failed and, in a shared study, enqueued again; release the lock. Without
        `cleanup` (the storage just failed) nothing more is written."""
        trial, beat = self._trial, self._beat
        self._trial = self._beat = None
        try:
            if beat is not None:
                beat.join()
            if not cleanup:
                return
            if trial is not None and self.shared and self._attached:
                failed = fail_trials(self.storage, [trial._trial_id])
                for t in failed:
                    tpl = retry_template(t)
                    if tpl is not None:
                        self.storage.create_new_trial(self.study_id, template_trial=tpl)
            if self.shared:
                self._recover(grace_s())
        finally:
            self._lock.__exit__(None, None, None)


# ----------------------------------------------------------------------------- --jobs N


JOBS_PER_CPU = 4
MAX_JOBS = 64
"""`--jobs` is capped at 4 workers per CPU and 64 in all (each is a Python process of
~150 MB with torch; 64 took about 4 GB) and at one per trial."""


def max_jobs(trials: int) -> int:
    """The most local workers worth starting for `trials` trials on this machine."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_JOBS, JOBS_PER_CPU * (cpus or 1), trials))


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the worker gets SIGTERM (finish the trial, commit, exit) when its parent
    dies, so a killed `dse search --jobs` leaves no orphans (prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except Exception:
        pass


def split_trials(total: int, jobs: int) -> list[int]:
    """`total` trials over `jobs` workers as evenly as possible (first ones get the rest)."""
    base, rest = divmod(total, jobs)
    return [base + (1 if i < rest else 0) for i in range(jobs) if base + (1 if i < rest else 0)]


def option_args(params: Mapping[str, Any], skip: Sequence[str] = ()) -> list[str]:
    """Command-line options rebuilding click parameters (`max_pe=8` -> `--max-pe 8`)."""
    out: list[str] = []
    for key, value in params.items():
        if key in skip or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        else:
            out += [flag, str(value)]
    return out


_WORKER_MAIN = "import sys; from dse.cli import main; sys.exit(main(sys.argv[1:]))"


def _stop(procs: Sequence[subprocess.Popen[str]]) -> None:
    """Stop workers already started (SIGTERM: they finish their trial and commit; SIGKILL
    after 30 s) and reap them, so none is left without its parent."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_local_workers(
    args: Sequence[str], trials: Sequence[int], *, poll: Any = None
) -> list[tuple[int, str]]:
    """Start one `dse search ARGS --trials T --json` process per entry of `trials`, wait for
    all, and return (exit code, last stderr line) per worker. SIGINT/SIGTERM received here
    are passed on, so every worker finishes its trial and commits. `poll()` is called about
    once a second while they run (progress)."""
    procs: list[subprocess.Popen[str]] = []
    for i, n in enumerate(trials):
        cmd = [sys.executable, "-c", _WORKER_MAIN, *args, "--trials", str(n), "--json"]
        try:
            procs.append(
                subprocess.Popen(
                    cmd,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            )
        except OSError as exc:  # a process limit: stop the ones started, no orphans
            _stop(procs)
            raise StorageError(
                f"cannot start worker {i + 1} of {len(trials)}: {exc.strerror or exc}; "
                f"stopped the {len(procs)} already started (try a smaller --jobs)"
            ) from None
    errors: list[list[str]] = [[] for _ in procs]

    def drain(i: int, p: subprocess.Popen[str]) -> None:
        assert p.stderr is not None
        for line in p.stderr:
            if line.strip():
                errors[i] = [*errors[i][-20:], line.rstrip()]

    readers = [
        threading.Thread(target=drain, args=(i, p), daemon=True) for i, p in enumerate(procs)
    ]
    try:
        for r in readers:
            r.start()
    except RuntimeError as exc:  # "can't start new thread": the same process limit
        _stop(procs)
        raise StorageError(
            f"cannot watch the {len(procs)} workers ({exc}); stopped them (a process or "
            "thread limit: try a smaller --jobs)"
        ) from None

    def forward(sig: int, _frame: Any) -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(sig)

    old: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            old[sig] = signal.signal(sig, forward)
    try:
        while any(p.poll() is None for p in procs):
            if poll is not None:
                poll()
            time.sleep(0.5)
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for r in readers:
            r.join(timeout=5)
    out = []
    for p, lines in zip(procs, errors, strict=True):
        last = next((ln for ln in reversed(lines) if ln.startswith("error:")), "")
        out.append((p.returncode, last or (lines[-1] if lines else "")))
    return out


__all__ = [
    "HEARTBEAT_ENV",
    "JOBS_PER_CPU",
    "MAX_JOBS",
    "MAX_RETRY",
    "STOP_SIGNALS",
    "StudyGuard",
    "create_study",
    "deferred_signals",
    "enable_wal",
    "fail_trials",
    "grace_s",
    "heartbeat_interval_s",
    "heartbeat_kwargs",
    "keep_connected",
    "max_jobs",
    "option_args",
    "retry_schema_race",
    "run_local_workers",
    "split_trials",
    "sqlite_study_lock",
    "stale_trial_ids",
    "wait_for_meta",
]
