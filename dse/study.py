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

import logging
import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

import dse
from costmodels.errors import StudyError
from dse.config import (
    OBJECTIVES,
    Direction,
    StorageMode,
    StudyConfig,
    describe_changes,
    fingerprint,
)
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
    damage_error,
    display_url,
    find_study_id,
    list_studies,
    load_study_record,
    open_storage,
    storage_mode,
    trial_record,
)
from dse.storage.workers import (
    HEARTBEAT_ENV,
    StudyGuard,
    create_study,
    deferred_signals,
    grace_s,
    wait_for_meta,
)

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
    """Create or resume the study `cfg` describes and run its trials.

    Refuses (before touching the storage) a resume whose definition changed, unless
    `cfg.fork`; refuses a space whose smallest design cannot fit.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # ask/tell with heartbeats: dse.storage.workers records them itself (see its StudyGuard)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    loaded = load_workload(cfg.workload, seed=cfg.seed)
    problem = build_problem(cfg, loaded, storage=cfg.storage)
    from dse.spec import network_to_dict

    cost_only = loaded.cost_only
    definition = cfg.definition(cost_only=cost_only)
    definition["network"] = fingerprint(network_to_dict(loaded.network))
    fp = fingerprint(definition)
    name = cfg.study_name()
    mode = storage_mode(cfg.storage, cfg.storage_mode)
    n_trials = cfg.trials_for(cost_only=cost_only)
    sampler_name = resolve_sampler(cfg.sampler, cost_only=cost_only, trials=n_trials)

    check_feasible(problem)
    storage = open_storage(cfg.storage, create=True, heartbeat=mode is StorageMode.DIRECT)
    forked_from: str | None = None
    try:
        sid = find_study_id(storage, name)
        if sid is not None:
            meta = wait_for_meta(storage, sid, STUDY_ATTR)  # may be a worker's new study
            if meta is None:  # dse.storage.workers: deleted the empty orphan of a killed creator
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
                sid = find_study_id(storage, name)
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
                "mode": cfg.mode.value,
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
    except Exception as exc:
        storage.remove_session()
        storage.engine.dispose()
        err = damage_error(exc, cfg.storage)  # dse.storage: a damaged study is one line
        if err is None or err is exc:
            raise
        raise err from None

    seed = cfg.seed + 7919 * len(stored)  # a resumed run must not replay the same draws
    sampler = make_sampler(
        sampler_name, seed, trials=n_trials, search_space=problem.space.distributions()
    )
    writer: BatchWriter | None = None
    if mode is StorageMode.BATCH:
        study = optuna.create_study(directions=problem.directions, sampler=sampler)
        study.add_trials(_with_placeholders(everything))
        writer = BatchWriter(cfg.storage, sid)
    else:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    for params in guard.attach():  # dse.storage.workers: trials of a killed run, run again here
        study.enqueue_trial(params, skip_if_exists=False)

    summary = SearchSummary(
        study=name,
        storage=cfg.storage,
        storage_mode=mode.value,
        sampler=sampler_name.value,
        objectives=problem.objectives,
        trials_total=len(stored),
        trials_new=0,
        feasible=sum(1 for t in stored if trial_record(t).feasible),
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
        (t.number, tuple(t.values), True) for t in stored if trial_record(t).feasible and t.values
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
            with deferred_signals():  # dse.storage.workers: never a RUNNING trial nobody knows of
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
            with deferred_signals():
                if outcome.values is None:
                    frozen = study.tell(trial, state=TrialState.FAIL)
                else:
                    frozen = study.tell(trial, list(outcome.values))
                guard.finished()
            if outcome.values is not None and outcome.feasible:
                summary.feasible += 1
                records.append((frozen.number, outcome.values, True))
                _update_best(best, problem.objectives, outcome.values)
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
    except optuna.exceptions.UpdateFinishedTrialError as exc:  # dse.storage.workers: judged dead
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
