"""Study orchestration: the one module that talks to `optuna.Study`.

    config -> Problem (network, device, space, evaluator) -> sampler loop (ask / tell)
        -> trials persisted to an SQLAlchemy storage in Optuna's own schema

Two storage modes (`StorageMode`):

- `batch` (default for SQLite files): the sampler runs on an in-memory study; finished
  trials go to a writer thread that commits them in one transaction per batch through
  SQLAlchemy Core bulk inserts into Optuna's tables, at least every `FLUSH_INTERVAL_S`.
  SQLite runs in WAL mode, so a committed trial survives `kill -9`. On resume the stored
  trials are loaded into the in-memory study (`add_trials`). One writer per study.
- `direct` (default for server databases): Optuna's `RDBStorage` for every call, with
  heartbeats, so several workers can share one study; about 15x slower per trial.

Either way the study stays readable by `optuna.load_study` and optuna-dashboard. Each trial
keeps what a report needs (candidate, per-layer costs, accuracy, timings) in its user
attributes (`ATTR_*` keys below).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import queue
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.distributions import distribution_to_json
from optuna.samplers.nsgaii import SBXCrossover
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

import dse
from costmodels.errors import ConfigError, DseError, StorageError, StudyError
from costmodels.types import Arith, Device, Network, NetworkCost
from dse.config import (
    OBJECTIVES,
    Direction,
    SamplerName,
    StorageMode,
    StudyConfig,
    describe_changes,
    fingerprint,
)
from dse.storage_safety import check_storage, read_only_url, short_db_error
from dse.workers import (
    HEARTBEAT_ENV,
    StudyGuard,
    create_study,
    grace_s,
    heartbeat_kwargs,
    retry_schema_race,
    wait_for_meta,
)
from search_spaces import Candidate, SearchSpace, choice_from_dict
from search_spaces import baselines as bl

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.25
MAX_BATCH = 5000  # trials per transaction
BACKPRESSURE_S = 0.5  # the search waits while a trial is uncommitted for longer
ATTR_CANDIDATE = "candidate"
ATTR_COST = "cost"
ATTR_LAYERS = "layers"
ATTR_ACCURACY = "accuracy"
ATTR_TIMING = "timing"
ATTR_STATUS = "status"
ATTR_BASELINE = "baseline"
ATTR_ERROR = "error"
STUDY_ATTR = "dse"  # study user attr: {version, fingerprint, definition, network, ...}
RESOURCE_KEYS = ("lut", "dsp", "bram18", "uram")
MAX_CONSECUTIVE_FAILURES = 5
TPE_MAX_TRIALS = 2500  # `auto` sampler: TPE up to here, NSGA-II above


# ----------------------------------------------------------------------------- problem


@dataclass(frozen=True)
class Outcome:
    """One evaluated candidate: objective values (None: the trial failed), constraint
    values (> 0 violated, Optuna's convention), and the attributes a report needs."""

    values: tuple[float, ...] | None
    constraints: Mapping[str, float]
    attrs: Mapping[str, Any]
    fits: bool
    feasible: bool


class Problem:
    """What a study optimizes: a network's space on a device, objectives and constraints.

    `evaluate` runs the cost model first and only pays for the accuracy evaluation when the
    design fits the device.
    """

    def __init__(
        self,
        network: Network,
        device: Device,
        space: SearchSpace,
        objectives: Sequence[str],
        *,
        cap_pct: float,
        min_accuracy: float | None = None,
        evaluator: Any = None,
        clock_mhz: float | None = None,
    ) -> None:
        self.network = network
        self.device = device
        self.space = space
        self.objectives = tuple(objectives)
        self.cap_pct = cap_pct
        self.min_accuracy = min_accuracy
        self.evaluator = evaluator
        self.clock_mhz = clock_mhz
        needs_acc = "accuracy" in self.objectives or min_accuracy is not None
        if needs_acc and evaluator is None:
            raise ConfigError(
                "accuracy (objective or --min-accuracy) needs a trainable workload, not a "
                "hardware-only spec"
            )

    @property
    def directions(self) -> list[StudyDirection]:
        return [
            StudyDirection.MAXIMIZE
            if OBJECTIVES[o] is Direction.MAXIMIZE
            else StudyDirection.MINIMIZE
            for o in self.objectives
        ]

    def estimate(self, candidate: Candidate) -> NetworkCost:
        from costmodels import estimate

        return estimate(candidate.network, self.device, clock_mhz=self.clock_mhz)

    def fits(self, cost: NetworkCost) -> bool:
        return cost.fits(self.cap_pct)

    def evaluate(self, candidate: Candidate) -> Outcome:
        t0 = time.perf_counter()
        try:
            cost = self.estimate(candidate)
        except DseError as exc:
            return Outcome(
                None, {}, {ATTR_CANDIDATE: candidate.as_dict(), ATTR_ERROR: str(exc)}, False, False
            )
        cost_s = time.perf_counter() - t0
        util = cost.utilization
        constraints = {k: getattr(util, k) - self.cap_pct for k in RESOURCE_KEYS}
        fits = all(v <= 0 for v in constraints.values())
        attrs: dict[str, Any] = {
            ATTR_CANDIDATE: candidate.as_dict(),
            ATTR_COST: cost_summary(cost),
            ATTR_LAYERS: layer_rows(cost),
        }
        accuracy: float | None = None
        timing: dict[str, Any] = {"cost_s": round(cost_s, 6)}
        if self.evaluator is not None and fits:
            result = self.evaluator.evaluate(candidate.network)
            accuracy = float(result.accuracy)
            timing["eval_s"] = round(float(result.seconds), 3)
            timing["eval_cached"] = bool(result.cached)
        if self.min_accuracy is not None:
            constraints["accuracy"] = self.min_accuracy - accuracy if accuracy is not None else 0.0
        feasible = fits and all(v <= 0 for v in constraints.values())
        attrs[ATTR_ACCURACY] = accuracy
        attrs[ATTR_TIMING] = timing
        attrs[ATTR_STATUS] = (
            "feasible" if feasible else ("infeasible" if not fits else "low-accuracy")
        )
        values = tuple(objective_value(o, cost, accuracy) for o in self.objectives)
        return Outcome(values, constraints, attrs, fits, feasible)


def objective_value(name: str, cost: NetworkCost, accuracy: float | None) -> float:
    """One objective's value. An infeasible design's accuracy is unknown (never evaluated)
    and recorded as 0.0, the worst value; its constraints mark it infeasible anyway."""
    match name:
        case "accuracy":
            return accuracy if accuracy is not None else 0.0
        case "lut":
            return cost.total.lut
        case "dsp":
            return cost.total.dsp
        case "bram18":
            return cost.total.bram18
        case "fps":
            return cost.fps
        case "latency_ms":
            return cost.latency_ms
    raise ConfigError(f"unknown objective {name!r}")  # pragma: no cover


def cost_summary(cost: NetworkCost) -> dict[str, Any]:
    util = cost.utilization
    return {
        **{k: round(v, 3) for k, v in cost.total.as_dict().items()},
        "util": {k: round(getattr(util, k), 3) for k in RESOURCE_KEYS},
        "fps": cost.fps,
        "latency_ms": cost.latency_ms,
        "clock_mhz": cost.clock_mhz,
        "cycles_per_frame": cost.cycles_per_frame,
    }


def layer_rows(cost: NetworkCost) -> list[list[Any]]:
    """Per unit: [name, op, lut, ff, dsp, bram18, uram, cycles] (compact for storage)."""
    return [
        [
            lc.name,
            lc.op.value,
            round(lc.resources.lut, 1),
            round(lc.resources.ff, 1),
            round(lc.resources.dsp, 2),
            round(lc.resources.bram18, 2),
            round(lc.resources.uram, 2),
            lc.cycles,
        ]
        for lc in cost.layers
    ]


# ----------------------------------------------------------------------------- workloads


@dataclass
class LoadedWorkload:
    network: Network
    cost_only: bool
    workload: Any = None  # dse.nn Workload when trainable


def load_workload(name: str, *, seed: int, cache_dir: Path | None = None) -> LoadedWorkload:
    """A hardware-only spec file (cost-only search), or anything `dse.nn.load_workload`
    takes: a built-in name, `FILE.npz` or `pkg.module:factory`."""
    if name.lower().endswith((".yaml", ".yml", ".json")) or Path(name).is_file():
        from dse.spec import load_network

        return LoadedWorkload(load_network(name), cost_only=True)
    from dse import nn as dnn

    wl = dnn.load_workload(name, cache_dir=cache_dir, seed=seed)
    return LoadedWorkload(wl.network, cost_only=False, workload=wl)


def build_problem(cfg: StudyConfig, loaded: LoadedWorkload, *, storage: str) -> Problem:
    if cfg.mode == "twin":  # TwinDNN pairs: dse.twin.search builds its own problem
        from dse.twin.search import build_twin_problem

        return build_twin_problem(cfg, loaded, storage=storage)
    from costmodels.devices import get_device

    device = get_device(cfg.device)
    cost_only = loaded.cost_only
    objectives = cfg.objectives_for(cost_only=cost_only)
    limits = cfg.space
    space = SearchSpace(
        loaded.network,
        limits,
        search_bits=limits.search_bits if limits.search_bits is not None else not cost_only,
        search_prune=limits.search_prune if limits.search_prune is not None else not cost_only,
    )
    evaluator = None
    if not cost_only and ("accuracy" in objectives or cfg.min_accuracy is not None):
        from dse import nn as dnn

        evaluator = dnn.AccuracyEvaluator(
            loaded.workload,
            finetune_steps=cfg.finetune_steps,
            seed=cfg.seed,
            cache=dnn.AccuracyCache(storage),
        )
    return Problem(
        loaded.network,
        device,
        space,
        objectives,
        cap_pct=cfg.cap_pct,
        min_accuracy=cfg.min_accuracy,
        evaluator=evaluator,
        clock_mhz=cfg.clock_mhz,
    )


def check_feasible(problem: Problem) -> None:
    """Refuse, before any trial, a space whose smallest design does not fit."""
    from dse.twin.search import TwinProblem  # lazy: it imports this module

    if isinstance(problem, TwinProblem):
        return problem.check_feasible()
    best: tuple[float, str] | None = None
    for arith in problem.space.arith_options() or (Arith.LUT,):
        cost = problem.estimate(problem.space.smallest(arith))
        if problem.fits(cost):
            return
        util = cost.utilization
        worst = max(RESOURCE_KEYS, key=lambda k: getattr(util, k))
        pct = getattr(util, worst)
        if best is None or pct < best[0]:
            best = (pct, f"{worst.upper()} {pct:.0f}%")
    assert best is not None
    raise ConfigError(
        f"impossible constraints: even the smallest design in the space (fewest bits, most "
        f"pruning, PE=SIMD=1) needs {best[1]} of {problem.device.part}, over the "
        f"{problem.cap_pct:g}% cap"
    )


def baseline_candidates(problem: Problem) -> list[tuple[str, Candidate]]:
    """The network as given; the SetFolding sweep (every halved cycle target that fits,
    the fastest labelled plain `setfolding`) on its own bits and on uniform 8 bits; the
    fully folded designs (see `search_spaces.baselines`). Deduplicated. They seed the first
    generation, so the front is never worse than these hand-style designs."""
    from dse.twin.search import TwinProblem  # lazy: it imports this module

    if isinstance(problem, TwinProblem):
        return problem.baselines()
    space = problem.space
    out: list[tuple[str, Candidate]] = []
    seen: set[str] = set()

    def add(label: str, cand: Candidate | None) -> None:
        if cand is None:
            return
        key = json.dumps(cand.as_dict(), sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append((label, cand))

    given = bl.as_given(space)
    if problem.fits(problem.estimate(given)):
        add("as-given", given)
    bit_sets = [("setfolding", bl.default_bits(space))]
    if space.search_bits:
        bit_sets.append(("uniform-8bit", bl.uniform_bits(space, 8)))
    for label, bits in bit_sets:
        sweep = bl.setfolding_sweep(space, problem.estimate, problem.fits, bits)
        for i, (target, cand) in enumerate(reversed(sweep)):
            add(label if i == 0 else f"{label}@{target}", cand)
        add(f"{label}-min", bl.fully_folded(space, bits))
    return out


# ----------------------------------------------------------------------------- storage


def display_url(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _sqlite_path(url: str) -> Path | None:
    try:
        u = sa.engine.make_url(url)
    except Exception:
        raise StorageError(f"not a storage URL: {url!r} (e.g. sqlite:///runs/dse.db)") from None
    if u.get_backend_name() != "sqlite":
        return None
    if not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def open_storage(url: str, *, create: bool, heartbeat: bool = False) -> RDBStorage:
    """Optuna's RDBStorage at `url`. Without `create`, a missing SQLite file is an error
    (nothing is created). Any failure becomes one-line `StorageError`."""
    path = _sqlite_path(url)
    if path is not None:
        if not create and not path.is_file():
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
    check_storage(url, write=create)  # dse.storage_safety: refuse a bad file untouched
    if not create:
        url = read_only_url(url)  # dse.storage_safety: a study on a read-only mount
    kwargs: dict[str, Any] = {}
    if path is None and url.startswith(("postgresql", "mysql")):
        kwargs["connect_args"] = {"connect_timeout": 5}
    if path is not None:
        kwargs["connect_args"] = {"timeout": 30}
    try:
        storage = retry_schema_race(  # dse.workers: workers creating the tables at once
            lambda: RDBStorage(
                url,
                engine_kwargs=kwargs,
                **(heartbeat_kwargs() if heartbeat else {}),  # dse.workers: heartbeats, retry
            )
        )
    except DseError:
        raise
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"cannot open storage {display_url(url)}: {msg}") from None
    return storage


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
        self._engine = sa.create_engine(
            url, connect_args={"timeout": 30} if url.startswith("sqlite") else {}
        )
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


def _study_id(storage: RDBStorage, name: str) -> int | None:
    try:
        return storage.get_study_id_from_name(name)
    except KeyError:
        return None


def list_studies(url: str) -> list[StudyInfo]:
    """Every study in a storage, with counts and what it optimizes."""
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


def _record(t: FrozenTrial) -> TrialRecord:
    return TrialRecord(
        number=t.number,
        state=t.state.name.lower(),
        values=tuple(t.values) if t.values is not None else None,
        constraints=dict(t.constraints) if hasattr(t, "constraints") else {},
        params=dict(t.params),
        attrs=dict(t.user_attrs),
        datetime_start=t.datetime_start,
        datetime_complete=t.datetime_complete,
    )


def load_study_record(url: str, name: str | None) -> StudyRecord:
    """Read a study (the only one in the storage when `name` is None)."""
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
        sid = _study_id(storage, name)
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
        trials = tuple(_record(t) for t in storage.get_all_trials(sid, deepcopy=False))
        return StudyRecord(name, url, objectives, directions, meta, trials)
    finally:
        storage.remove_session()
        storage.engine.dispose()


# ----------------------------------------------------------------------------- search


@dataclass(frozen=True)
class Progress:
    """A snapshot for the progress display."""

    trials_done: int
    trials_target: int
    trials_total: int
    feasible: int
    elapsed_s: float
    trials_per_s: float
    best: Mapping[str, float]
    time_left_s: float | None


@dataclass
class SearchSummary:
    study: str
    storage: str
    storage_mode: str
    sampler: str
    objectives: tuple[str, ...]
    trials_total: int
    trials_new: int
    feasible: int
    elapsed_s: float
    trials_per_s: float
    pareto: list[dict[str, Any]]
    interrupted: bool = False
    forked_from: str | None = None
    resumed: bool = False
    baselines: list[str] = field(default_factory=list)
    max_commit_lag_s: float | None = None  # batch mode: longest tell-to-commit time

    def as_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "storage": display_url(self.storage),
            "storage_mode": self.storage_mode,
            "sampler": self.sampler,
            "objectives": list(self.objectives),
            "trials_total": self.trials_total,
            "trials_new": self.trials_new,
            "feasible": self.feasible,
            "elapsed_s": round(self.elapsed_s, 3),
            "trials_per_s": round(self.trials_per_s, 2),
            "interrupted": self.interrupted,
            "resumed": self.resumed,
            "forked_from": self.forked_from,
            "baselines": self.baselines,
            "max_commit_lag_s": self.max_commit_lag_s,
            "pareto": self.pareto,
        }


def resolve_sampler(name: SamplerName, *, cost_only: bool, trials: int) -> SamplerName:
    """`auto`: multivariate TPE for budgets up to `TPE_MAX_TRIALS` trials, NSGA-II above.

    benchmarks/search_quality.py (cost-only CNV on XC7Z020, fps/lut, 3 seeds): mean
    normalized hypervolume after 500 / 2,000 trials TPE 0.3271 / 0.3342, NSGA-II 0.3225 /
    0.3243, random 0.3215 / 0.3215 (the baselines alone); TPE's best feasible design runs
    at 4,822-5,425 FPS against 3,543 FPS for SetFolding, NSGA-II and random stay at the
    SetFolding design. TPE costs more per trial and its cost grows with the number of
    trials (~10 trials/s at 2,000 on 2 busy cores, NSGA-II ~170), so very large budgets
    go to NSGA-II; with an accuracy objective the evaluation dominates anyway.
    """
    if name is not SamplerName.AUTO:
        return name
    return SamplerName.TPE if trials <= TPE_MAX_TRIALS else SamplerName.NSGA2


class StaticSpaceNSGAII(optuna.samplers.NSGAIISampler):
    """NSGA-II told its (static) search space instead of inferring it from every stored
    trial on every trial (Optuna's `IntersectionSearchSpace` deep-copies the space each
    time: about a sixth of the per-trial cost on CNV). Valid because `SearchSpace` choice
    sets never change within a study (a changed space is a changed fingerprint)."""

    def __init__(self, *, search_space: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._static_space = dict(search_space)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, Any]:
        return dict(self._static_space)


def make_sampler(
    name: SamplerName,
    seed: int,
    *,
    trials: int,
    search_space: Mapping[str, Any] | None = None,
) -> optuna.samplers.BaseSampler:
    """A seeded sampler. NSGA-II uses simulated binary crossover on the index-valued folding
    parameters (Deb & Agrawal 1995): a child's PE/SIMD index lies between its parents', so
    two balanced pipelines breed a balanced one in between, which uniform crossover breaks."""
    match name:
        case SamplerName.NSGA2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                crossover = SBXCrossover()
            population = 20 if trials >= 200 else max(8, trials // 5)
            if search_space is not None:
                return StaticSpaceNSGAII(
                    search_space=search_space,
                    seed=seed,
                    population_size=population,
                    crossover=crossover,
                )
            return optuna.samplers.NSGAIISampler(
                seed=seed, population_size=population, crossover=crossover
            )
        case SamplerName.TPE:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.samplers.TPESampler(
                    seed=seed, multivariate=True, n_startup_trials=10
                )
        case SamplerName.RANDOM:
            return optuna.samplers.RandomSampler(seed=seed)
    raise ConfigError(f"no sampler {name!r}")  # pragma: no cover


def _mode(cfg: StudyConfig) -> StorageMode:
    if cfg.storage_mode is not StorageMode.AUTO:
        return cfg.storage_mode
    return StorageMode.BATCH if _sqlite_path(cfg.storage) is not None else StorageMode.DIRECT


def hv_bounds(problem: Problem) -> dict[str, list[Any]]:
    """Per objective (worst, best, scale) for a normalized hypervolume that is comparable
    across samplers and runs of one study: resources from 0 to the capped device total;
    accuracy 0..1; FPS and latency on a log scale between the fully folded unpruned
    design (the slowest the space holds) and one frame per clock cycle."""
    from dse.twin.search import TwinProblem  # lazy: it imports this module

    if isinstance(problem, TwinProblem):
        return problem.hv_bounds()
    space = problem.space
    slow = problem.estimate(bl.fully_folded(space, bl.default_bits(space)))
    clock_hz = slow.clock_mhz * 1e6
    cap = problem.cap_pct / 100.0
    d = problem.device
    out: dict[str, list[Any]] = {}
    for o in problem.objectives:
        match o:
            case "accuracy":
                out[o] = [0.0, 1.0, "lin"]
            case "lut" | "dsp" | "bram18":
                total = float(getattr(d, o)) * cap
                out[o] = [max(total, 1.0), 0.0, "lin"]
            case "fps":
                out[o] = [min(slow.fps, clock_hz) / 2, clock_hz, "log"]
            case "latency_ms":
                out[o] = [slow.latency_ms * 2, 1e3 / clock_hz, "log"]
    return out


def run_search(
    cfg: StudyConfig,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_start: Callable[[SearchSummary, Problem], None] | None = None,
) -> SearchSummary:
    """Create or resume the study `cfg` describes and run its trials.

    Refuses (before touching the storage) a resume whose definition changed, unless
    `cfg.fork`; refuses a space whose smallest design cannot fit.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # ask/tell with heartbeats: dse.workers records them itself (see its StudyGuard)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    loaded = load_workload(cfg.workload, seed=cfg.seed)
    problem = build_problem(cfg, loaded, storage=cfg.storage)
    from dse.spec import network_to_dict

    cost_only = loaded.cost_only
    definition = cfg.definition(cost_only=cost_only)
    definition["network"] = fingerprint(network_to_dict(loaded.network))
    fp = fingerprint(definition)
    name = cfg.study_name()
    mode = _mode(cfg)
    n_trials = cfg.trials_for(cost_only=cost_only)
    sampler_name = resolve_sampler(cfg.sampler, cost_only=cost_only, trials=n_trials)

    check_feasible(problem)
    storage = open_storage(cfg.storage, create=True, heartbeat=mode is StorageMode.DIRECT)
    forked_from: str | None = None
    try:
        sid = _study_id(storage, name)
        if sid is not None:
            meta = wait_for_meta(storage, sid, STUDY_ATTR)  # may be a worker's new study
            if meta is None:  # dse.workers: deleted the empty orphan of a killed creator
                sid = None
            elif meta.get("fingerprint") != fp:
                changes = describe_changes(meta.get("definition", {}), definition)
                if not cfg.fork:
                    what = "; ".join(changes[:4]) or "it was not created by dse search"
                    raise StudyError(
                        f"study {name!r} was created with a different configuration "
                        f"({what}); rerun with --fork to start a new study from this one, "
                        "or pick another --study"
                    )
                forked_from, name = name, f"{name}-fork-{fp[:6]}"
                sid = _study_id(storage, name)
        resumed = sid is not None
        if sid is None:
            meta = {
                "version": dse.__version__,
                "fingerprint": fp,
                "definition": definition,
                "objectives": list(problem.objectives),
                "device": problem.device.part,
                "workload": cfg.workload,
                "cost_only": cost_only,
                "mode": cfg.mode,
                "network": network_to_dict(loaded.network),
                "hv_bounds": hv_bounds(problem),
                "cap_pct": cfg.cap_pct,
                "forked_from": forked_from,
            }
            sid, created = create_study(storage, problem.directions, name, STUDY_ATTR, meta)
            resumed = not created  # another worker created it at the same time
        guard = StudyGuard(storage, sid, cfg.storage, shared=mode is StorageMode.DIRECT)
        everything = storage.get_all_trials(sid, deepcopy=False)
        stored = [t for t in everything if t.state.is_finished()]
    except DseError:
        storage.remove_session()
        storage.engine.dispose()
        raise

    seed = cfg.seed + 7919 * len(stored)  # a resumed run must not replay the same draws
    static = getattr(problem.space, "distributions", None)  # twin spaces infer theirs
    sampler = make_sampler(
        sampler_name, seed, trials=n_trials, search_space=static() if callable(static) else None
    )
    writer: BatchWriter | None = None
    if mode is StorageMode.BATCH:
        study = optuna.create_study(directions=problem.directions, sampler=sampler)
        study.add_trials(_with_placeholders(everything))
        writer = BatchWriter(cfg.storage, sid)
    else:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    guard.attach(study)

    summary = SearchSummary(
        study=name,
        storage=cfg.storage,
        storage_mode=mode.value,
        sampler=sampler_name.value,
        objectives=problem.objectives,
        trials_total=len(stored),
        trials_new=0,
        feasible=sum(1 for t in stored if _record(t).feasible),
        elapsed_s=0.0,
        trials_per_s=0.0,
        pareto=[],
        forked_from=forked_from,
        resumed=resumed,
    )
    if not stored and (not resumed or mode is StorageMode.BATCH):
        seeds = baseline_candidates(problem)
        if mode is StorageMode.DIRECT:  # enqueued trials are stored rows: no more than run
            seeds = seeds[:n_trials]
        for label, cand in seeds:
            study.enqueue_trial(
                problem.space.params_for(cand.choices), user_attrs={ATTR_BASELINE: label}
            )
            summary.baselines.append(label)
    if on_start is not None:
        on_start(summary, problem)

    records: list[tuple[int, tuple[float, ...], bool]] = [
        (t.number, tuple(t.values), True) for t in stored if _record(t).feasible and t.values
    ]
    best: dict[str, float] = {}
    for _, vals, _ in records:
        _update_best(best, problem.objectives, vals)
    start = time.perf_counter()
    done = 0
    failures = 0
    try:
        while done < n_trials and not should_stop():
            elapsed = time.perf_counter() - start
            if cfg.timeout_s is not None and elapsed >= cfg.timeout_s:
                break
            guard.before_ask()
            trial = study.ask()
            guard.started(trial)
            candidate = problem.space.suggest(trial)
            try:
                outcome = problem.evaluate(candidate)
                failures = 0
            except Exception as exc:  # a failed evaluation fails the trial, not the study
                failures += 1
                logger.warning("trial %d failed: %s: %s", trial.number, type(exc).__name__, exc)
                if failures >= MAX_CONSECUTIVE_FAILURES:
                    study.tell(trial, state=TrialState.FAIL)
                    raise StudyError(
                        f"{failures} trials in a row failed; last: {type(exc).__name__}: {exc}"
                    ) from exc
                outcome = Outcome(
                    None,
                    {},
                    {ATTR_CANDIDATE: candidate.as_dict(), ATTR_ERROR: str(exc)},
                    False,
                    False,
                )
            # The report's attributes are large; in batch mode they go only to the stored
            # copy (the sampler never reads them, and `tell` deep-copies the trial).
            heavy = outcome.attrs if writer is not None else {}
            for key, value in outcome.attrs.items():
                if key not in heavy:
                    trial.set_user_attr(key, value)
            for key, value in outcome.constraints.items():
                trial.set_constraint(key, value)
            if outcome.values is None:
                frozen = study.tell(trial, state=TrialState.FAIL)
            else:
                frozen = study.tell(trial, list(outcome.values))
                if outcome.feasible:
                    summary.feasible += 1
                    records.append((frozen.number, outcome.values, True))
                    _update_best(best, problem.objectives, outcome.values)
            guard.finished()
            if writer is not None:
                frozen.user_attrs.update(heavy)  # `frozen` is tell's own deep copy
                writer.submit(frozen)
            done += 1
            if on_progress is not None:
                elapsed = time.perf_counter() - start
                rate = done / elapsed if elapsed > 0 else 0.0
                left = (n_trials - done) / rate if rate > 0 else None
                if cfg.timeout_s is not None:
                    left = min(left if left is not None else math.inf, cfg.timeout_s - elapsed)
                on_progress(
                    Progress(
                        done,
                        n_trials,
                        len(stored) + done,
                        summary.feasible,
                        elapsed,
                        rate,
                        dict(best),
                        left,
                    )
                )
    except optuna.exceptions.UpdateFinishedTrialError as exc:  # dse.workers: judged dead
        raise StudyError(
            f"{exc} Another worker judged this one dead (no heartbeat for {grace_s()} s) and "
            f"retries its trial; on a loaded machine raise {HEARTBEAT_ENV}"
        ) from None
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        try:
            if writer is not None:
                writer.close()
                summary.max_commit_lag_s = round(writer.max_lag_s, 4)
        finally:
            guard.close()
        storage.remove_session()
    summary.interrupted = summary.interrupted or (done < n_trials and should_stop())
    summary.elapsed_s = time.perf_counter() - start
    summary.trials_new = done
    summary.trials_total = len(stored) + done
    summary.trials_per_s = done / summary.elapsed_s if summary.elapsed_s > 0 else 0.0
    summary.pareto = _pareto_dicts(
        records, problem.objectives, [OBJECTIVES[o] for o in problem.objectives]
    )
    storage.engine.dispose()
    return summary


def _with_placeholders(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """Stored trials for the in-memory study of a batch run, in number order. Unfinished
    ones (a direct-mode worker's waiting or running rows) become in-memory FAIL
    placeholders: the samplers ignore them and the in-memory numbering stays aligned with
    the stored numbers; their rows are left as they are."""
    out: list[FrozenTrial] = []
    for t in sorted(trials, key=lambda t: t.number):
        if t.state.is_finished():
            out.append(t)
        else:
            out.append(
                optuna.trial.create_trial(
                    state=TrialState.FAIL, system_attrs={"dse:placeholder": t.state.name}
                )
            )
    return out


def _update_best(
    best: dict[str, float], objectives: Sequence[str], values: Sequence[float]
) -> None:
    for o, v in zip(objectives, values, strict=True):
        better = max if OBJECTIVES[o] is Direction.MAXIMIZE else min
        best[o] = better(best[o], v) if o in best else v


def pareto_mask(values: Sequence[Sequence[float]], directions: Sequence[Direction]) -> list[bool]:
    """Which points no other point dominates (all objectives as good, one better)."""
    import numpy as np

    if not values:
        return []
    sign = np.array([-1.0 if d is Direction.MAXIMIZE else 1.0 for d in directions])
    pts = np.asarray(values, dtype=float) * sign
    order = np.lexsort(pts.T[::-1])
    mask = np.zeros(len(pts), dtype=bool)
    front: list[int] = []
    for i in order:
        p = pts[i]
        if front:
            f = pts[front]
            if np.any(np.all(f <= p, axis=1) & np.any(f < p, axis=1)):
                continue
            if np.any(np.all(f == p, axis=1)):
                mask[i] = True  # duplicates of a front point are on the front too
                continue
        front.append(int(i))
        mask[i] = True
    return mask.tolist()


def _pareto_dicts(
    records: Sequence[tuple[int, tuple[float, ...], bool]],
    objectives: Sequence[str],
    directions: Sequence[Direction],
) -> list[dict[str, Any]]:
    mask = pareto_mask([r[1] for r in records], directions)
    out = []
    for (number, vals, fits), on in zip(records, mask, strict=True):
        if on:
            out.append({"trial": number, **dict(zip(objectives, vals, strict=True)), "fits": fits})
    return sorted(out, key=lambda d: d["trial"])


def resume_hint(cfg: StudyConfig, argv: Iterable[str]) -> list[str]:
    """The arguments that resume this study: the given ones plus --study/--storage."""
    args = list(argv)
    if "--study" not in args and not any(a.startswith("--study=") for a in args):
        args += ["--study", cfg.study_name()]
    if "--storage" not in args and not any(a.startswith("--storage=") for a in args):
        args += ["--storage", cfg.storage]
    return args


__all__ = [
    "ATTR_ACCURACY",
    "ATTR_BASELINE",
    "ATTR_CANDIDATE",
    "ATTR_COST",
    "ATTR_LAYERS",
    "Outcome",
    "Problem",
    "Progress",
    "SearchSummary",
    "StudyInfo",
    "StudyRecord",
    "TrialRecord",
    "list_studies",
    "load_study_record",
    "pareto_mask",
    "run_search",
]
