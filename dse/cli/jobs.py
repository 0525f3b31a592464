"""`dse search --jobs N`: N local worker processes on one storage, then one summary.

Each worker is a plain `dse search` in `direct` storage mode (heartbeats, shared trial
numbering; see `dse.workers`), given an even share of `--trials`. This process only starts
them, shows the study's progress by counting stored trials, passes Ctrl-C/SIGTERM on, and
renders the front of the whole study at the end.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
import typer
from optuna.storages._rdb import models
from optuna.trial import TrialState
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from costmodels.errors import ConfigError
from dse.cli.common import err_console, print_json
from dse.config import OBJECTIVES, StorageMode, StudyConfig
from dse.problem import pareto_mask
from dse.storage import display_url, load_study_record, open_storage
from dse.study import SearchSummary
from dse.workers import option_args, run_local_workers, split_trials

_NOT_PASSED = ("jobs", "trials", "as_json", "storage_mode")


def _cost_only(workload: str) -> bool:
    """Whether `workload` names a hardware-only spec (as `dse.problem.load_workload` decides)."""
    return workload.lower().endswith((".yaml", ".yml", ".json"))


def _count_finished(engine: sa.Engine, name: str) -> int:
    t = models.TrialModel.__table__
    s = models.StudyModel.__table__
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(t.join(s, s.c.study_id == t.c.study_id))
                .where(s.c.study_name == name)
                .where(t.c.state.in_([TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED]))
            ).scalar_one()
        )


def run_jobs(cfg: StudyConfig, jobs: int, params: Mapping[str, Any], *, as_json: bool) -> None:
    """Run `jobs` workers of the search `cfg` (the command's `params` rebuild their
    command line) and render the study's summary; exits non-zero when a worker failed."""
    if cfg.storage_mode is StorageMode.BATCH:
        raise ConfigError(
            "--jobs needs --storage-mode direct or auto (batch mode has one writer per study)"
        )
    total = cfg.trials_for(cost_only=_cost_only(cfg.workload))
    shares = split_trials(total, jobs)
    args = ["search", *option_args(params, skip=_NOT_PASSED), "--storage-mode", "direct"]
    name = cfg.study_name()
    # validate the storage once and create its tables before N workers race to
    storage = open_storage(cfg.storage, create=True)
    storage.remove_session()
    storage.engine.dispose()
    engine = sa.create_engine(cfg.storage)
    start_count: list[int] = []
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=as_json or not err_console.is_terminal,
    )
    task = bar.add_task(f"{len(shares)} workers", total=total)

    def poll() -> None:
        try:
            n = _count_finished(engine, name)
        except Exception:  # the study may not exist yet
            return
        if not start_count:
            start_count.append(n)
        bar.update(task, completed=max(0, n - start_count[0]))

    if not as_json:
        err_console.print(
            f"{len(shares)} workers on study {name!r} in {display_url(cfg.storage)} "
            f"(trials per worker: {', '.join(map(str, shares))})",
            markup=False,
            highlight=False,
        )
    t0 = time.perf_counter()
    try:
        poll()
        before = start_count[0] if start_count else 0
        bar.start()
        results = run_local_workers(args, shares, poll=poll)
    finally:
        bar.stop()
        engine.dispose()
    elapsed = time.perf_counter() - t0
    codes = [code for code, _ in results]
    failed = [(i, code, line) for i, (code, line) in enumerate(results) if code not in (0, 130)]
    if failed and len(failed) == len(results):
        _, code, line = failed[0]
        msg = line.removeprefix("error: ") if line else f"worker exited with code {code}"
        err_console.print(f"error: {msg}", markup=False, soft_wrap=True)
        raise typer.Exit(code if code > 0 else 1)
    summary = _summary(cfg, name, before, elapsed)
    summary.interrupted = any(c == 130 for c in codes)
    if as_json:
        print_json({**summary.as_dict(), "jobs": len(shares), "worker_exit_codes": codes})
    else:
        from dse.cli.search import _render

        _render(summary)
    for i, code, line in failed:
        err_console.print(f"error: worker {i} failed (exit {code}): {line}", markup=False)
    if failed:
        raise typer.Exit(1)
    if summary.interrupted:
        raise typer.Exit(130)


def _summary(cfg: StudyConfig, name: str, before: int, elapsed: float) -> SearchSummary:
    """The whole study as one search summary (front over every worker's trials)."""
    record = load_study_record(cfg.storage, name)
    finished = [t for t in record.trials if t.state in ("complete", "fail", "pruned")]
    feasible = [t for t in record.trials if t.feasible and t.values]
    objectives = record.objectives
    directions = [OBJECTIVES[o] for o in objectives if o in OBJECTIVES]
    mask = pareto_mask([t.values or () for t in feasible], directions)
    pareto = [
        {"trial": t.number, **dict(zip(objectives, t.values or (), strict=True)), "fits": True}
        for t, on in zip(feasible, mask, strict=True)
        if on
    ]
    new = len(finished) - before
    return SearchSummary(
        study=name,
        storage=cfg.storage,
        storage_mode=StorageMode.DIRECT.value,
        sampler=cfg.sampler.value,
        objectives=tuple(objectives),
        trials_total=len(finished),
        trials_new=new,
        feasible=len(feasible),
        elapsed_s=elapsed,
        trials_per_s=new / elapsed if elapsed > 0 else 0.0,
        pareto=sorted(pareto, key=lambda d: d["trial"]),
        resumed=before > 0,
    )


__all__ = ["run_jobs"]
