"""`dse search --jobs N`: N local worker processes on one storage, then one summary.

Each worker is a plain `dse search` in `direct` storage mode (heartbeats, shared trial
numbering; see `dse.storage.workers`), given an even share of `--trials`. This process only starts
them, shows the study's progress by counting stored trials, passes Ctrl-C/SIGTERM on, and
renders the front of the whole study at the end.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from costmodels.errors import ConfigError
from dse.cli.common import err_console, print_error, print_json
from dse.cli.render import render_summary
from dse.config import HardwareMode, StorageMode, StudyConfig
from dse.jobs import count_finished, study_summary
from dse.problem import is_cost_only
from dse.storage import display_url, open_storage
from dse.storage.workers import (
    JOBS_PER_CPU,
    MAX_JOBS,
    max_jobs,
    option_args,
    run_local_workers,
    split_trials,
)

_NOT_PASSED = ("jobs", "trials", "as_json", "storage_mode")


def run_jobs(cfg: StudyConfig, jobs: int, params: Mapping[str, Any], *, as_json: bool) -> None:
    """Run `jobs` workers of the search `cfg` (the command's `params` rebuild their
    command line) and render the study's summary; exits non-zero when a worker failed."""
    if cfg.storage_mode is StorageMode.BATCH:
        raise ConfigError(
            "--jobs needs --storage-mode direct or auto (batch mode has one writer per study)"
        )
    cost_only = is_cost_only(cfg.workload)
    total = cfg.trials_for(cost_only=cost_only)
    exact = cfg.hardware_for(cost_only=cost_only) is HardwareMode.SOLVE
    if exact and jobs > 1:  # dse.hardware: one solve; its trials are estimates (ms each)
        err_console.print(
            f"--jobs {jobs}: the exact front is solved and stored once, by one worker",
            markup=False,
            highlight=False,
        )
        jobs = 1
    cap = max_jobs(total)
    if jobs > cap:  # dse.storage.workers.max_jobs: by CPU count and trial count
        err_console.print(
            f"--jobs {jobs} capped to {cap} (at most {JOBS_PER_CPU} per CPU, "
            f"{MAX_JOBS} in all, one per trial)",
            markup=False,
            highlight=False,
        )
        jobs = cap
    shares = split_trials(total, jobs)
    if exact:  # the worker's --trials share must not turn the exact front into sampling
        params = {**params, "hardware": HardwareMode.SOLVE.value}
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
            n = count_finished(engine, name)
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
        print_error(msg)
        raise typer.Exit(code if code > 0 else 1)
    summary = study_summary(cfg, name, before, elapsed)
    summary.interrupted = any(c == 130 for c in codes)
    if exact:
        summary.sampler = "solver"
    if as_json:
        print_json({**summary.as_dict(), "jobs": len(shares), "worker_exit_codes": codes})
    else:
        render_summary(summary)
    for i, code, line in failed[:2]:
        print_error(f"worker {i} failed (exit {code}): {line.removeprefix('error: ')}")
    if len(failed) > 2:
        print_error(f"{len(failed) - 2} more workers failed")
    if failed:
        raise typer.Exit(1)
    if summary.interrupted:
        raise typer.Exit(130)


__all__ = ["run_jobs"]
