"""Study orchestration: the one module that talks to `optuna.Study`.

    config -> Problem (dse.problem) -> sampler (dse.samplers) -> ask / tell loop
        -> trials persisted to an SQLAlchemy storage in Optuna's own schema (dse.storage)

`run_search` creates or resumes a study: it checks the stored definition's fingerprint
(a changed definition is refused unless forked), refuses a space whose smallest design
cannot fit, enqueues the baseline designs into a new study, then runs the ask/tell loop.
In `batch` storage mode the sampler runs on an in-memory study (the stored trials loaded
into it on resume) and finished trials go to `dse.storage.BatchWriter`; in `direct` mode
every call goes to Optuna's `RDBStorage`, with heartbeats (`dse.storage.workers`).

The names other modules used to import from here (storage, records, problem) are
re-exported below; new code imports them from their own modules.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

import dse
from costmodels.errors import DseError, StorageError, StudyError
from costmodels.types import Network
from dse.config import (
    OBJECTIVES,
    Direction,
    HardwareMode,
    SamplerName,
    StorageMode,
    StudyConfig,
    describe_changes,
    fingerprint,
    same_definition,
    spelled_as_stored,
)
from dse.hardware import ATTR_SOLVER
from dse.modes import build_problem
from dse.problem import (
    Outcome,
    Problem,
    baseline_candidates,
    check_feasible,
    hv_bounds,
    load_workload,
    pareto_mask,
)
from dse.records import TrialAttrs
from dse.redact import redact, storage_default
from dse.samplers import make_sampler, resolve_sampler
from dse.storage import (
    ATTR_ACCURACY,
    ATTR_BASELINE,
    ATTR_CANDIDATE,
    ATTR_COST,
    ATTR_LAYERS,
    STUDY_ATTR,
    BatchWriter,
    StudyInfo,
    StudyRecord,
    TrialRecord,
    amend_finished_trial,
    damage_error,
    display_url,
    find_study_id,
    list_studies,
    load_study_record,
    open_storage,
    storage_mode,
    trial_record,
)
from dse.storage.safety import short_db_error
from dse.storage.workers import (
    HEARTBEAT_ENV,
    StudyGuard,
    claim_seeding,
    create_study,
    deferred_signals,
    grace_s,
    mark_seeded,
    orphaned,
    wait_for_meta,
    with_retries,
)
from search_spaces import Candidate

logger = logging.getLogger(__name__)

MAX_CONSECUTIVE_FAILURES = 5


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


def run_search(
    cfg: StudyConfig,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_start: Callable[[SearchSummary, Problem], None] | None = None,
) -> SearchSummary:
    """Create or resume the study `cfg` describes and run its trials: plan, open (create
    or resume), seed, run, close.

    Refuses (before touching the storage) a resume whose definition changed, unless
    `cfg.fork`; refuses a space whose smallest design cannot fit.
    """
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # one-line errors (reliability)
    # ask/tell with heartbeats: dse.storage.workers records them itself (see its StudyGuard)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    plan = _plan(cfg)
    check_feasible(plan.problem)
    opened = _open(cfg, plan)
    plan, exact = _exact_front(cfg, plan, opened)
    study, writer = _sampling_study(cfg, plan, opened)
    summary, given, enqueued = _seed(cfg, plan, opened, study, exact)
    if opened.seeds:
        mark_seeded(opened.storage, opened.sid)  # dse.storage.workers: no orphan now
    if exact is not None:  # dse.hardware: the run evaluates the enqueued designs only:
        # its own, and a stopped or killed run's front trials still waiting (direct mode)
        plan = replace(plan, n_trials=max(enqueued, _waiting(study)), only_enqueued=True)
    if on_start is not None:
        on_start(summary, plan.problem)
    run = _Run(plan, opened, summary)
    run.given = given
    try:
        _run_trials(cfg, plan, opened.guard, study, writer, run, on_progress, should_stop)
    except optuna.exceptions.UpdateFinishedTrialError as exc:  # dse.storage.workers
        raise StudyError(
            f"{exc} Another worker judged this one dead (no heartbeat for {grace_s()} s) and "
            f"retries its trial; on a loaded machine raise {HEARTBEAT_ENV}"
        ) from None
    except KeyboardInterrupt:
        summary.interrupted = True
    except (sa.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
        # direct mode: a full disk, a locked or lost database (Optuna wraps failed commits)
        logger.debug("storage failure", exc_info=True)
        cause = exc.__cause__ if not isinstance(exc, sa.exc.SQLAlchemyError) else exc
        raise StorageError(
            f"writing trials failed: {short_db_error(cause or exc)}; committed trials are kept"
        ) from None
    finally:
        _close(opened, writer, summary, lost=isinstance(sys.exc_info()[1], StorageError))
    return _finish(plan, opened, run, should_stop)


@dataclass(frozen=True)
class _Plan:
    """What a run needs before it touches the storage."""

    problem: Problem
    network: Network
    cost_only: bool
    definition: dict[str, Any]
    fingerprint: str
    mode: StorageMode
    n_trials: int
    sampler: SamplerName
    only_enqueued: bool = False
    """The run evaluates enqueued (WAITING) designs only and never samples: the solver's
    exact front (dse.hardware)."""


def _plan(cfg: StudyConfig) -> _Plan:
    """The workload, the problem of the study's mode, its definition and fingerprint, the
    storage mode, the trial budget and the sampler."""
    from dse.spec import network_to_dict

    loaded = load_workload(cfg.workload, seed=cfg.seed)
    problem = build_problem(cfg, loaded, storage=cfg.storage)
    cost_only = loaded.cost_only
    definition = cfg.definition(cost_only=cost_only)
    definition["network"] = fingerprint(network_to_dict(loaded.network))
    n_trials = cfg.trials_for(cost_only=cost_only)
    return _Plan(
        problem=problem,
        network=loaded.network,
        cost_only=cost_only,
        definition=definition,
        fingerprint=fingerprint(definition),
        mode=storage_mode(cfg.storage, cfg.storage_mode),
        n_trials=n_trials,
        sampler=resolve_sampler(cfg.sampler, cost_only=cost_only, trials=n_trials),
    )


@dataclass
class _Opened:
    """The study in its storage: name (a fork's own), id, whether it was resumed, the
    guard of this worker, every stored trial and the finished ones."""

    storage: RDBStorage
    name: str
    sid: int
    resumed: bool
    forked_from: str | None
    guard: StudyGuard
    everything: list[FrozenTrial]
    stored: list[FrozenTrial]
    #: Direct mode: this worker seeds the study (baselines, the solver's front): it created
    #: it, or took over an orphan whose creator died before seeding (dse.storage.workers).
    seeds: bool = False


def _open(cfg: StudyConfig, plan: _Plan) -> _Opened:
    """Open the storage and find the study (resume; a changed definition is refused unless
    forked) or create it with its metadata; a damaged study is one line."""
    from dse.spec import network_to_dict

    problem = plan.problem
    name = cfg.study_name()
    storage = open_storage(cfg.storage, create=True, heartbeat=plan.mode is StorageMode.DIRECT)
    forked_from: str | None = None
    try:
        sid = find_study_id(storage, name)
        if sid is not None:
            meta = wait_for_meta(storage, sid, STUDY_ATTR)  # may be a worker's new study
            if meta is None:  # dse.storage.workers: deleted the empty orphan of a killed creator
                sid = None
            elif not same_definition(meta, plan.definition, content_defined=plan.cost_only):
                # a spec file's spelling is no change (dse.config.same_definition)
                shown = spelled_as_stored(meta, plan.definition, content_defined=plan.cost_only)
                changes = describe_changes(meta.get("definition", {}), shown)
                if not cfg.fork:
                    what = "; ".join(changes[:4]) or "it was not created by dse search"
                    raise StudyError(
                        f"study {name!r} was created with a different configuration "
                        f"({what}); rerun with --fork to start a new study from this one, "
                        "or pick another --study"
                    )
                forked_from, name = name, f"{name}-fork-{plan.fingerprint[:6]}"
                sid = find_study_id(storage, name)
        resumed = sid is not None
        if sid is None:
            meta = {
                "version": dse.__version__,
                "fingerprint": plan.fingerprint,
                "definition": plan.definition,
                "objectives": list(problem.objectives),
                "device": problem.device.part,
                "workload": cfg.workload,
                "cost_only": plan.cost_only,
                "mode": cfg.mode.value,
                "network": network_to_dict(plan.network),
                "hv_bounds": hv_bounds(problem),
                "cap_pct": cfg.cap_pct,
                "forked_from": forked_from,
                "param_values": "real",
            }
            sid, created = create_study(
                storage,
                problem.directions,
                name,
                STUDY_ATTR,
                meta,
                same=lambda theirs: same_definition(
                    theirs, plan.definition, content_defined=plan.cost_only
                ),
                seeder=plan.mode is StorageMode.DIRECT,
            )
            resumed = not created  # another worker created it at the same time
        # a study created before issue 14 stores choice indices: its resume keeps them
        problem.space.real_values = (meta or {}).get("param_values") == "real"
        _name_metrics(storage, sid, name, problem.objectives)
        guard = StudyGuard(storage, sid, cfg.storage, shared=plan.mode is StorageMode.DIRECT)
        everything = storage.get_all_trials(sid, deepcopy=False)
        stored = [t for t in everything if t.state.is_finished()]
        seeds = plan.mode is StorageMode.DIRECT and not resumed
        if (
            plan.mode is StorageMode.DIRECT
            and resumed
            and not everything
            and orphaned(storage, sid)
        ):
            logger.warning("study %r has no trials and its creator died before seeding it: "
                           "seeding it here", name)  # fmt: skip
            claim_seeding(storage, sid)
            seeds = True
    except Exception as exc:
        storage.remove_session()
        storage.engine.dispose()
        err = damage_error(exc, cfg.storage)  # dse.storage: a damaged study is one line
        if err is None or err is exc:
            raise
        raise err from None
    return _Opened(storage, name, sid, resumed, forked_from, guard, everything, stored, seeds)


def _exact_front(
    cfg: StudyConfig, plan: _Plan, opened: _Opened
) -> tuple[_Plan, list[tuple[str, Candidate]] | None]:
    """dse.hardware: a cost-only study in `solve` mode stores the exact front instead of
    sampling (solved once; a resume has nothing left to do). None: the study samples."""
    exact: list[tuple[str, Candidate]] | None = None
    if plan.cost_only and cfg.hardware_for(cost_only=True) is HardwareMode.SOLVE:
        if any(t.user_attrs.get(ATTR_SOLVER) for t in opened.everything):
            exact = []  # the front is stored or enqueued (waiting, running) already
        elif (
            opened.resumed
            and plan.mode is StorageMode.DIRECT
            and not opened.seeds
            and not opened.stored
        ):
            # `--jobs`, or workers started by hand: another worker created this study and
            # seeds it with the front (`_seed`: only the creator enqueues in direct mode).
            # Solving here would be wasted, sampling would mix draws into the exact front.
            exact = []
        elif not opened.stored:
            exact = plan.problem.exact_front()
    if exact is None:
        return plan, None
    return replace(plan, n_trials=0, sampler=SamplerName.RANDOM), exact  # only enqueued


def _waiting(study: optuna.Study) -> int:
    """How many trials of `study` wait to be run (enqueued, not yet claimed)."""
    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def _was_enqueued(trial: optuna.Trial) -> bool:
    """Whether `ask` popped an enqueued trial (Optuna stores its parameters as the system
    attribute `fixed_params`) rather than creating one for the sampler."""
    return "fixed_params" in trial.storage.get_trial_system_attrs(trial._trial_id)


def _design_key(cand: Candidate) -> str:
    return json.dumps(cand.as_dict(), sort_keys=True)


def _sampling_study(
    cfg: StudyConfig, plan: _Plan, opened: _Opened
) -> tuple[optuna.Study, BatchWriter | None]:
    """The seeded sampler on an in-memory copy of the study with a batch writer (batch
    mode) or on the stored study itself (direct); trials of a killed run enqueued again."""
    seed = cfg.seed + 7919 * len(opened.stored)  # a resumed run must not replay the same draws
    sampler = make_sampler(
        plan.sampler, seed, trials=plan.n_trials, search_space=plan.problem.space.distributions()
    )
    writer: BatchWriter | None = None
    if plan.mode is StorageMode.BATCH:
        study = optuna.create_study(directions=plan.problem.directions, sampler=sampler)
        study.add_trials(_with_placeholders(opened.everything))
        writer = BatchWriter(cfg.storage, opened.sid)
    else:
        study = optuna.load_study(study_name=opened.name, storage=opened.storage, sampler=sampler)
    for params in opened.guard.attach():  # dse.storage.workers: a killed run's trials again
        study.enqueue_trial(params, skip_if_exists=False)
    return study, writer


def _seed(
    cfg: StudyConfig,
    plan: _Plan,
    opened: _Opened,
    study: optuna.Study,
    exact: list[tuple[str, Candidate]] | None = None,
) -> tuple[SearchSummary, dict[str, Candidate], int]:
    """The summary so far, the baselines enqueued into a new study (and the solver's exact
    front when `exact`), by label the baselines' own designs, and how many were enqueued."""
    stored = opened.stored
    summary = SearchSummary(
        study=opened.name,
        storage=cfg.storage,
        storage_mode=plan.mode.value,
        sampler="solver" if exact is not None else plan.sampler.value,
        objectives=plan.problem.objectives,
        trials_total=len(stored),
        trials_new=0,
        feasible=sum(1 for t in stored if trial_record(t).feasible),
        elapsed_s=0.0,
        trials_per_s=0.0,
        pareto=[],
        forked_from=opened.forked_from,
        resumed=opened.resumed,
    )
    given: dict[str, Candidate] = {}  # a baseline trial evaluates its own design
    enqueued = 0
    if not stored and (not opened.resumed or opened.seeds or plan.mode is StorageMode.BATCH):
        seeds = baseline_candidates(plan.problem)
        if plan.mode is StorageMode.DIRECT and exact is None:  # enqueued trials are rows
            seeds = seeds[: plan.n_trials]
        on_front = {_design_key(c) for _, c in exact or ()}
        for label, cand in seeds:
            attrs = {ATTR_BASELINE: label}
            if _design_key(cand) in on_front:  # a seed that is also a front design
                attrs[ATTR_SOLVER] = "front"
            study.enqueue_trial(plan.problem.space.params_for(cand.choices), user_attrs=attrs)
            summary.baselines.append(label)
            given[label] = cand
        enqueued = len(seeds)
        if exact:
            known = {_design_key(c) for _, c in seeds}
            front = [c for _, c in exact if _design_key(c) not in known]
            for cand in front:
                study.enqueue_trial(
                    plan.problem.space.params_for(cand.choices), user_attrs={ATTR_SOLVER: "front"}
                )
            enqueued += len(front)
    return summary, given, enqueued


class _Run:
    """What the trial loop accumulates: the summary, the feasible records (stored ones
    first), the best value per objective, the trials done and when it started."""

    def __init__(self, plan: _Plan, opened: _Opened, summary: SearchSummary) -> None:
        self.summary = summary
        self.records: list[tuple[int, tuple[float, ...], bool]] = [
            (t.number, tuple(t.values), True)
            for t in opened.stored
            if trial_record(t).feasible and t.values
        ]
        self.best: dict[str, float] = {}
        for _, vals, _ in self.records:
            _update_best(self.best, plan.problem.objectives, vals)
        self.start = time.perf_counter()
        self.done = 0
        self.given: dict[str, Candidate] = {}  # baseline label -> its design


def _run_trials(
    cfg: StudyConfig,
    plan: _Plan,
    guard: StudyGuard,
    study: optuna.Study,
    writer: BatchWriter | None,
    run: _Run,
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool],
) -> None:
    """The ask / evaluate / tell loop until the budget, the timeout or a stop request."""
    problem, n_trials, summary = plan.problem, plan.n_trials, run.summary
    n_stored = summary.trials_total
    failures = 0
    while run.done < n_trials and not should_stop():
        elapsed = time.perf_counter() - run.start
        if cfg.timeout_s is not None and elapsed >= cfg.timeout_s:
            break
        guard.before_ask()
        if plan.only_enqueued and not _waiting(study):
            break  # another worker (direct mode) took the last designs of the front
        with deferred_signals():  # dse.storage.workers: never a RUNNING trial nobody knows of
            trial = study.ask()
            guard.started(trial)
            if plan.only_enqueued and not _was_enqueued(trial):
                # Optuna's enqueued trials carry `fixed_params`; this one was sampled because
                # another worker claimed the last waiting design between the look and the ask
                trial.set_user_attr("error", "no design of the exact front left to evaluate")
                study.tell(trial, state=TrialState.FAIL)
                guard.finished()
                break
        candidate = problem.space.suggest(trial)
        # a space whose hardware is solved (dse.hardware) maps a baseline's parameters
        # onto a solver design: the baseline's own folding is what the trial stores
        if getattr(problem.space, "solves_hardware", False):
            candidate = run.given.get(str(trial.user_attrs.get(ATTR_BASELINE)), candidate)
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
                None, {}, TrialAttrs(candidate.as_dict(), error=str(exc)), False, False
            )
        # The report's attributes are large; in batch mode they go only to the stored
        # copy (the sampler never reads them, and `tell` deep-copies the trial).
        trial_attrs = outcome.attrs.encode()
        heavy = trial_attrs if writer is not None else {}
        for key, value in trial_attrs.items():
            if key not in heavy:
                trial.set_user_attr(key, value)
        for key, value in outcome.constraints.items():
            trial.set_constraint(key, value)
        # what dashboards read: the constraints also as Optuna's legacy list (optuna-
        # dashboard 0.21 reads only that), the parameters of the design evaluated
        legacy = [float(v) for v in outcome.constraints.values()]
        evaluated = _evaluated_params(problem, candidate, trial.params)
        with deferred_signals():
            if outcome.values is None:
                frozen = study.tell(trial, state=TrialState.FAIL)
            else:
                frozen = study.tell(trial, list(outcome.values))
            guard.finished()
            if writer is None and (evaluated or legacy):  # the told trial's own rows
                with_retries(  # one transaction of its own: retried like Optuna's calls
                    guard.storage,
                    amend_finished_trial,
                    guard.storage,
                    frozen._trial_id,
                    evaluated,
                    frozen.distributions,
                    {LEGACY_CONSTRAINTS: legacy} if legacy else {},
                )
        if outcome.values is not None and outcome.feasible:
            summary.feasible += 1
            run.records.append((frozen.number, outcome.values, True))
            _update_best(run.best, problem.objectives, outcome.values)
        if writer is not None:
            frozen.user_attrs.update(heavy)  # `frozen` is tell's own deep copy
            frozen.params.update(evaluated)
            if legacy:
                frozen.system_attrs[LEGACY_CONSTRAINTS] = legacy
            writer.submit(frozen)
        run.done += 1
        if on_progress is not None:
            elapsed = time.perf_counter() - run.start
            rate = run.done / elapsed if elapsed > 0 else 0.0
            left = (n_trials - run.done) / rate if rate > 0 else None
            if cfg.timeout_s is not None:
                left = min(left if left is not None else math.inf, cfg.timeout_s - elapsed)
            on_progress(
                Progress(
                    run.done,
                    n_trials,
                    n_stored + run.done,
                    summary.feasible,
                    elapsed,
                    rate,
                    dict(run.best),
                    left,
                )
            )


def _close(
    opened: _Opened, writer: BatchWriter | None, summary: SearchSummary, *, lost: bool = False
) -> None:
    """Commit what the writer holds, release this worker's guard, end the session. After
    a storage failure (`lost`) nothing more is written and a second failure is not
    reported again (the RUNNING trial is failed by the next run, `StudyGuard`)."""
    try:
        if writer is not None:
            writer.close()
            summary.max_commit_lag_s = round(writer.max_lag_s, 4)
    finally:
        try:
            opened.guard.close(cleanup=not lost)
        except (DseError, sa.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
            if not lost:
                raise StorageError(
                    f"writing trials failed: {short_db_error(exc)}; committed trials are kept"
                ) from None
    opened.storage.remove_session()


def _finish(
    plan: _Plan, opened: _Opened, run: _Run, should_stop: Callable[[], bool]
) -> SearchSummary:
    """The summary of the run: counts, rate and the feasible front."""
    summary, done = run.summary, run.done
    summary.interrupted = summary.interrupted or (done < plan.n_trials and should_stop())
    summary.elapsed_s = time.perf_counter() - run.start
    summary.trials_new = done
    summary.trials_total = len(opened.stored) + done
    summary.trials_per_s = done / summary.elapsed_s if summary.elapsed_s > 0 else 0.0
    objectives = plan.problem.objectives
    summary.pareto = _pareto_dicts(run.records, objectives, [OBJECTIVES[o] for o in objectives])
    opened.storage.engine.dispose()
    return summary


#: Optuna's trial system attribute of constraints before 4.x's per-key ones
#: (`optuna.study._constrained_optimization._CONSTRAINTS_KEY`); optuna-dashboard 0.21
#: reads only this one (its `serialize_frozen_trial`) to mark infeasible trials.
LEGACY_CONSTRAINTS = "constraints"


def _name_metrics(storage: Any, sid: int, name: str, objectives: Sequence[str]) -> None:
    """Name the study's objectives (`Study.set_metric_names`) so dashboards show
    `lut`/`fps` instead of "Objective 0"; studies created before get them on resume."""
    if storage.get_study_system_attrs(sid).get("study:metric_names") != list(objectives):
        with warnings.catch_warnings():  # experimental in Optuna 3.2-5.x; stable enough here
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study = optuna.load_study(study_name=name, storage=storage)
            study.set_metric_names(list(objectives))


def _evaluated_params(
    problem: Problem, candidate: Any, sampled: Mapping[str, Any]
) -> dict[str, Any]:
    """The sampled parameters that differ from the design `build` made of them (a SIMD
    mapped onto a pruned dimension, an arithmetic replaced by `auto`, a value between two
    options): the stored trial gets the design's own values."""
    actual = problem.space.params_of(candidate)
    return {k: v for k, v in actual.items() if k in sampled and sampled[k] != v}


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
    """The arguments that resume this study: the given ones plus --study/--storage (not
    when the storage came from `DSE_STORAGE`), with any storage password masked
    (`dse.redact`: it is printed)."""
    args = list(argv)
    if "--study" not in args and not any(a.startswith("--study=") for a in args):
        args += ["--study", cfg.study_name()]
    if (
        "--storage" not in args
        and not any(a.startswith("--storage=") for a in args)
        and storage_default("") != cfg.storage
    ):
        args += ["--storage", cfg.storage]
    out: list[str] = []
    for i, a in enumerate(args):
        if i > 0 and args[i - 1] == "--storage":
            a = display_url(a)
        elif a.startswith("--storage="):
            a = "--storage=" + display_url(a.removeprefix("--storage="))
        out.append(redact(a))
    return out


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
