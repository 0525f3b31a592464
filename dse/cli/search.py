"""`dse search`: run (or resume) a design-space exploration study."""

from __future__ import annotations

import shlex
import signal
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from dse.cli.app import app
from dse.cli.common import err_console, print_json
from dse.cli.render import compact as _fmt
from dse.cli.render import render_summary
from dse.config import DEFAULT_STORAGE, build_config, load_config_file
from dse.redact import display_url
from dse.storage.workers import STOP_SIGNALS
from dse.study import Progress as SearchProgress
from dse.study import SearchSummary, resume_hint, run_search


def _best_text(best: dict[str, float]) -> str:
    return "  ".join(f"{k}={_fmt(v)}" for k, v in best.items())


class _Interrupt:
    """First Ctrl-C (or SIGTERM, SIGHUP, SIGQUIT): finish the current trial and stop;
    second: stop at once."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._old: dict[signal.Signals, Any] | None = None

    def __enter__(self) -> _Interrupt:
        if threading.current_thread() is threading.main_thread():
            # dse.storage.workers.STOP_SIGNALS: SIGINT, SIGTERM, SIGHUP (terminal closed), SIGQUIT
            self._old = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        return self

    def _handle(self, _sig: int, _frame: FrameType | None) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()
        err_console.print(
            "finishing the current trial and committing (Ctrl-C again to stop at once)",
            markup=False,
        )

    def __exit__(self, *exc: object) -> None:
        for sig, handler in (self._old or {}).items():
            signal.signal(sig, handler)


@app.command("search")
def search(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Study config YAML.", dir_okay=False)
    ] = None,
    workload: Annotated[
        str | None,
        typer.Option(
            help="Built-in workload (digits-cnn), FILE.npz, pkg.module:factory, or a hardware-only "
            "spec YAML (cost-only search)."
        ),
    ] = None,
    device: Annotated[str | None, typer.Option(help="FPGA part or board name.")] = None,
    objectives: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated from accuracy, lut, dsp, bram18, fps, latency_ms "
            "[default: accuracy,latency_ms,lut; cost-only: fps,lut]."
        ),
    ] = None,
    sampler: Annotated[
        str | None, typer.Option(help="nsga2, tpe, random or auto [default: auto].")
    ] = None,
    hardware: Annotated[
        str | None,
        typer.Option(
            help="solve: PE/SIMD/arithmetic from the exact folding solver (cost-only: the "
            "exact front); sample: sample them; auto: solve a cost-only study run without "
            "--trials [default: auto]."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of sampler and evaluation.")] = None,
    trials: Annotated[
        int | None, typer.Option(help="New trials this run [default: 120; cost-only 2000].")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    study: Annotated[
        str | None, typer.Option(help="Study name [default: <workload>-<device>].")
    ] = None,
    storage: Annotated[
        str | None, typer.Option(help=f"SQLAlchemy URL [default: {DEFAULT_STORAGE}].")
    ] = None,
    storage_mode: Annotated[
        str | None,
        typer.Option(help="batch (fast, one writer), direct (shared, heartbeats) or auto."),
    ] = None,
    cap: Annotated[
        float | None, typer.Option(help="Utilization cap per resource, percent [default: 85].")
    ] = None,
    min_accuracy: Annotated[
        float | None, typer.Option(help="Constraint: minimum accuracy (fraction, 0.9 = 90%).")
    ] = None,
    finetune_steps: Annotated[
        int | None, typer.Option(help="Fine-tuning steps per accuracy evaluation.")
    ] = None,
    val_subset: Annotated[
        int | None,
        typer.Option(
            "--val-subset",
            help="Score accuracy on a seeded subset of N validation samples (faster, noisier).",
        ),
    ] = None,
    clock_mhz: Annotated[float | None, typer.Option(help="Clock of the design, MHz.")] = None,
    w_bits: Annotated[str | None, typer.Option(help="Allowed weight bits, e.g. 1,2,4-8.")] = None,
    a_bits: Annotated[str | None, typer.Option(help="Allowed activation bits, e.g. 2-8.")] = None,
    prune: Annotated[str | None, typer.Option(help="Pruning ratios, e.g. 0,0.25,0.5.")] = None,
    arith: Annotated[
        str | None, typer.Option(help="Arithmetics: lut,dsp,rccm2,rccm3,rccm4,xnor,table,bitplane.")
    ] = None,
    devices: Annotated[
        str | None,
        typer.Option(
            help="Several boards: 2xXCKU115, XCKU095,XCKU115 or a cluster YAML (boards, link)."
        ),
    ] = None,
    w_types: Annotated[
        str | None, typer.Option(help="Weight quantizers: default,lq (LQ-Nets learned basis).")
    ] = None,
    a_types: Annotated[
        str | None, typer.Option(help="Activation quantizers: int,lq (LQ-Nets learned basis).")
    ] = None,
    max_pe: Annotated[int | None, typer.Option(help="Largest PE.")] = None,
    max_simd: Annotated[int | None, typer.Option(help="Largest SIMD.")] = None,
    max_mmv: Annotated[int | None, typer.Option(help="Largest MMV (1: off).")] = None,
    ram_style: Annotated[
        str | None,
        typer.Option(
            help="Where weights may live, sampled per layer: auto,block,distributed,ultra "
            "[default: auto, the cost model's placement]."
        ),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            help="single; twin: TwinDNN pairs + threshold; multi: several boards (--devices)."
        ),
    ] = None,
    calibration: Annotated[
        str | None,
        typer.Option(
            help="Cost the designs per FINN node with a calibration profile: 'default' or a "
            "YAML from 'dse calibrate' (the study records its fingerprint)."
        ),
    ] = None,
    fork: Annotated[
        bool, typer.Option("--fork", help="Changed config: continue in a new forked study.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary.")] = False,
    torch_device: Annotated[
        str | None,
        typer.Option(
            "--torch-device",
            help="Where torch trains and evaluates: cpu, cuda, mps or auto [default: cpu].",
        ),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs", "-j", min=1, help="Local worker processes sharing the study (direct mode)."
        ),
    ] = 1,
) -> None:
    """Search the design space; resumes the study when it exists."""
    if torch_device is not None:
        from dse.nn.device import set_torch_device

        set_torch_device(torch_device)  # workers inherit it (environment)
    file_values = load_config_file(config) if config is not None else {}
    overrides = {
        "workload": workload,
        "device": device,
        "devices": devices,
        "objectives": objectives,
        "sampler": sampler,
        "hardware": hardware,
        "seed": seed,
        "trials": trials,
        "timeout": timeout,
        "study": study,
        "storage": storage,
        "storage_mode": storage_mode,
        "cap": cap,
        "min_accuracy": min_accuracy,
        "finetune_steps": finetune_steps,
        "val_subset": val_subset,
        "clock_mhz": clock_mhz,
        "w_bits": w_bits,
        "a_bits": a_bits,
        "prune": prune,
        "arith": arith,
        "w_types": w_types,
        "a_types": a_types,
        "max_pe": max_pe,
        "max_simd": max_simd,
        "max_mmv": max_mmv,
        "ram_style": ram_style,
        "mode": mode,
        "calibration": calibration,
    }
    cfg = replace(build_config(file_values, overrides), fork=fork)
    if cfg.val_subset is not None and not as_json:
        from dse.holdout import noise_points

        n = cfg.val_subset
        err_console.print(
            f"accuracy on a subset of {n} validation samples: 95% intervals of about "
            f"+/-{noise_points(n, 0.9):.1f} points at 90% accuracy, +/-"
            f"{noise_points(n, 0.99):.1f} at 99% (the test-split report is unaffected)",
            markup=False,
            highlight=False,
        )
    if jobs > 1:  # dse.cli.jobs: N worker processes on one storage (docs/reliability.md)
        from dse.cli.jobs import run_jobs

        run_jobs(cfg, jobs, {**overrides, "config": config, "fork": fork}, as_json=as_json)
        return

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=12),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
        disable=as_json or not err_console.is_terminal,
    )
    task_id: list[Any] = []

    def on_start(summary: SearchSummary, _problem: object) -> None:
        what = "resuming" if summary.resumed else "new study"
        if summary.forked_from:
            what = f"forked from {summary.forked_from!r}"
        if not as_json:
            err_console.print(
                f"{what} {summary.study!r} in {display_url(summary.storage)} "
                f"({summary.trials_total} trials stored; sampler {summary.sampler}, "
                f"storage mode {summary.storage_mode})",
                markup=False,
                highlight=False,
            )
        task_id.append(bar.add_task("search", total=None, info=""))
        bar.start()

    def on_progress(p: SearchProgress) -> None:
        if not task_id:
            return
        left = f" ~{p.time_left_s:.0f}s left" if p.time_left_s is not None else ""
        info = (
            f"{p.feasible} feasible  {p.trials_per_s:.1f}/s{left}  best {_best_text(dict(p.best))}"
        )
        bar.update(task_id[0], completed=p.trials_done, total=p.trials_target, info=info)

    with _Interrupt() as stop:
        try:
            summary = run_search(
                cfg, on_progress=on_progress, should_stop=stop.event.is_set, on_start=on_start
            )
        finally:
            bar.stop()

    if as_json:
        print_json(summary.as_dict())
    else:
        render_summary(summary)
    if summary.interrupted:
        args = resume_hint(replace(cfg, study=summary.study), _given_args(ctx))
        err_console.print(
            f"interrupted after {summary.trials_new} new trials, all committed; resume with:",
            markup=False,
            highlight=False,
        )
        err_console.print(
            f"  dse {shlex.join(args)}", markup=False, highlight=False, soft_wrap=True
        )
        raise typer.Exit(130)


def _given_args(ctx: typer.Context) -> list[str]:
    """The options this command was given, as command-line words (`search` first)."""
    words = [ctx.info_name or "search"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        opts = [o for o in getattr(param, "opts", []) if o.startswith("--")]
        if value is None or value is False or not opts:
            continue
        words += [opts[0]] if value is True else [opts[0], str(value)]
    return words
