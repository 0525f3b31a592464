"""`dse twin-sweep`: a TwinDNN pair's accuracy-latency curve over the threshold T (seed 000
Fig. 3) as a table and a PNG, with the most balanced T marked."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from costmodels.errors import ConfigError
from costmodels.estimate import Template
from costmodels.validate import MAX_CLOCK_MHZ, MAX_SEED, finite_in, int_in
from dse.cli.app import app
from dse.cli.common import console, err_console, print_json
from dse.config import DEFAULT_STORAGE
from dse.outputs import check_output
from dse.twin.evaluate import SweepReport, run_twin_sweep
from dse.twin.resources import OverheadModel
from dse.twin.schedule import Margin
from dse.twin.sweep import TABLE_COLUMNS, format_value, plot_sweep


def parse_thresholds(text: str) -> list[float]:
    """`0,0.5,1,inf` into floats (validated later by the scheduler: T >= 0)."""
    out: list[float] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            out.append(float(item))
        except ValueError:
            raise ConfigError(
                f"--thresholds: {item!r} is not a number (use e.g. 0,0.5,1,inf)"
            ) from None
    if not out:
        raise ConfigError("--thresholds lists no value")
    return out


def _halves_rows(report: SweepReport) -> list[tuple[str, Any, Any, Any]]:
    c, a, cost = report.pair.compressed, report.pair.accurate, report.cost

    def bits(net: Any) -> str:
        return "/".join(str(layer.choice.w_bits) for layer in net.compute_layers)

    return [
        ("weight bits per layer", bits(c), bits(a), ""),
        (
            "LUT",
            f"{cost.compressed.total.lut:,.0f}",
            f"{cost.accurate.total.lut:,.0f}",
            f"{cost.total.lut:,.0f} (+{cost.overhead.lut:,.0f} overhead)",
        ),
        (
            "DSP",
            f"{cost.compressed.total.dsp:,.0f}",
            f"{cost.accurate.total.dsp:,.0f}",
            f"{cost.total.dsp:,.0f}",
        ),
        (
            "BRAM18",
            f"{cost.compressed.total.bram18:,.0f}",
            f"{cost.accurate.total.bram18:,.0f}",
            f"{cost.total.bram18:,.0f}",
        ),
        (
            "latency per input ms",
            f"{cost.cmp_time.latency_ms:.4g}",
            f"{cost.acc_time.latency_ms:.4g}",
            "",
        ),
        (
            "initiation interval ms",
            f"{cost.cmp_time.interval_ms:.4g}",
            f"{cost.acc_time.interval_ms:.4g}",
            "",
        ),
        (
            "accuracy alone",
            f"{100 * report.best.accuracy_compressed:.1f}%",
            f"{100 * report.best.accuracy_accurate:.1f}%",
            "",
        ),
    ]


def render(report: SweepReport, plot: Path | None) -> None:
    out = console if console.is_terminal else Console(width=140)
    cost = report.cost
    halves = Table(
        title=f"twin pair on {cost.device.part} ({report.workload}, "
        f"{report.split} split, {report.best.n} inputs)"
    )
    for col in ("", "compressed", "accurate", "pair"):
        halves.add_column(col, justify="right" if col else "left")
    for row in _halves_rows(report):
        halves.add_row(*row)
    u = cost.utilization
    halves.add_row(
        "pair utilization", "", "", f"LUT {u.lut:.0f}%  DSP {u.dsp:.0f}%  BRAM18 {u.bram18:.0f}%"
    )
    out.print(halves)
    table = Table(title=f"accuracy and latency over T (margin on {report.margin.value} outputs)")
    for head, _ in TABLE_COLUMNS:
        table.add_column(head, justify="right")
    for i, r in enumerate(report.results):
        d = r.as_dict()
        cells = [format_value(key, float(d[key])) for _, key in TABLE_COLUMNS]
        if i == report.balanced:
            cells[0] = f"* {cells[0]}"
        table.add_row(*cells)
    out.print(table)
    b = report.best
    t = "inf" if math.isinf(b.threshold) else f"{b.threshold:.4g}"
    rec = "-" if math.isnan(b.recovery) else f"{100 * b.recovery:.1f}%"
    console.print(
        f"most balanced T = {t} (knee: nearest to the best accuracy at the lowest latency): "
        f"accuracy {100 * b.accuracy:.1f}%, R = {rec}, {b.latency_ms:.4g} ms per input, "
        f"{b.speedup:.2f}x vs the accurate network alone, {100 * b.recheck_fraction:.1f}% "
        "re-checked",
        markup=False,
        highlight=False,
    )
    if plot is not None:
        console.print(f"plot written to {plot}", markup=False, highlight=False)


def report_to_dict(report: SweepReport, plot: Path | None) -> dict[str, Any]:
    cost = report.cost
    return {
        "workload": report.workload,
        "device": cost.device.part,
        "margin": report.margin.value,
        "split": report.split,
        "overhead": cost.overhead_model.describe(),
        "resources": {
            "compressed": cost.compressed.total.as_dict(),
            "accurate": cost.accurate.total.as_dict(),
            "overhead": cost.overhead.as_dict(),
            "pair": cost.total.as_dict(),
            "utilization": cost.utilization.as_dict(),
        },
        "service_ms": {
            "compressed": {"latency": cost.cmp_time.latency_ms, "ii": cost.cmp_time.interval_ms},
            "accurate": {"latency": cost.acc_time.latency_ms, "ii": cost.acc_time.interval_ms},
        },
        "balanced_threshold": report.best.threshold,
        "sweep": [r.as_dict() for r in report.results],
        "plot": str(plot) if plot is not None else None,
    }


@app.command("twin-sweep")
def twin_sweep_command(
    workload: Annotated[str, typer.Option(help="Built-in workload, FILE.npz or pkg:factory.")] = (
        "digits-cnn"
    ),
    device: Annotated[str, typer.Option("--device", "-d", help="FPGA part or board.")] = (
        "XCZU3EG"
    ),
    compressed: Annotated[
        Path | None,
        typer.Option(
            help="Spec of the compressed half (1-2-bit weights, LUT/XNOR); "
            "default: ternary, 2-bit activations, LUT, PE=SIMD<=16.",
            dir_okay=False,
        ),
    ] = None,
    accurate: Annotated[
        Path | None,
        typer.Option(
            help="Spec of the accurate half; default: 8-bit weights, 4-bit "
            "activations, DSP, PE=SIMD<=4.",
            dir_okay=False,
        ),
    ] = None,
    thresholds: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated T values (default: quantiles of "
            "the compressed margins, plus 0 and inf)."
        ),
    ] = None,
    points: Annotated[int, typer.Option(help="Number of default thresholds.")] = 41,
    margin: Annotated[Margin, typer.Option(help="Margin on raw outputs or softmax.")] = (
        Margin.RAW
    ),
    pipelined: Annotated[
        bool,
        typer.Option(
            help="Dataflow accelerators accept a new input every initiation "
            "interval (default: one input at a time, as the paper)."
        ),
    ] = False,
    template: Annotated[Template, typer.Option(help="Architecture template.")] = (
        Template.DATAFLOW
    ),
    clock_mhz: Annotated[float | None, typer.Option("--clock-mhz", help="Clock.")] = None,
    overhead: Annotated[
        str,
        typer.Option(
            help="Pair overhead: mean, max, min (TwinDNN Table 1), "
            "device:<fraction> or parts:<fraction>."
        ),
    ] = "mean",
    cap: Annotated[float, typer.Option(help="Utilization cap in percent.")] = 100.0,
    finetune_steps: Annotated[
        int | None, typer.Option(help="Quantization-aware fine-tuning steps per half.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed (training, fine-tuning).")] = 0,
    plot: Annotated[
        Path | None,
        typer.Option(help="Write the accuracy-latency plot (PNG) here.", dir_okay=False),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    trial: Annotated[
        int | None,
        typer.Option(
            help="Sweep this trial of a twin study (its workload, device, halves, "
            "fine-tuning, seed, margin) instead of --compressed/--accurate."
        ),
    ] = None,
    study: Annotated[str | None, typer.Option(help="Twin study (with --trial).")] = None,
    storage: Annotated[str, typer.Option(help="SQLAlchemy URL (with --trial).")] = (
        DEFAULT_STORAGE
    ),
) -> None:
    """Sweep the confidence threshold T of a compressed/accurate pair (TwinDNN)."""
    ts = parse_thresholds(thresholds) if thresholds is not None else None
    int_in(seed, 0, MAX_SEED, "--seed", ConfigError)  # costmodels.validate
    if clock_mhz is not None:
        finite_in(clock_mhz, 0, MAX_CLOCK_MHZ, "--clock-mhz", ConfigError)
    if points > 100_000:
        raise ConfigError(f"--points {points} is more than 100,000")
    if points < 3:
        raise ConfigError(f"--points {points} must be >= 3")
    if plot is not None and plot.suffix.lower() != ".png":
        raise ConfigError(f"--plot {plot} must be a .png file")
    if plot is not None:
        check_output(plot, storage=storage, what="plot")
    model = OverheadModel.parse(overhead)
    halves = None
    if trial is not None:
        if compressed is not None or accurate is not None:
            raise ConfigError(
                "--trial takes both halves from the study: drop --compressed/--accurate"
            )
        stored = stored_trial(storage, study, trial)
        halves = stored["halves"]
        workload, device, seed = stored["workload"], stored["device"], stored["seed"]
        finetune_steps = stored["finetune_steps"] if finetune_steps is None else finetune_steps
        margin, pipelined, clock_mhz = stored["margin"], stored["pipelined"], stored["clock_mhz"]
        model = OverheadModel.parse(stored["overhead"])
    with err_console.status("evaluating both halves (fine-tuning each once)"):
        report = run_twin_sweep(
            workload,
            device,
            compressed=compressed,
            accurate=accurate,
            thresholds=ts,
            points=points,
            margin=margin,
            pipelined=pipelined,
            clock_mhz=clock_mhz,
            template=template,
            overhead=model,
            cap_pct=cap,
            finetune_steps=finetune_steps,
            seed=seed,
            halves=halves,
        )
    if plot is not None:
        plot_sweep(
            report.results,
            report.balanced,
            plot,
            title=f"{report.workload} twin on {report.cost.device.part}",
        )
    if json_out:
        print_json(report_to_dict(report, plot))
    else:
        render(report, plot)


def stored_trial(storage: str, study: str | None, number: int) -> dict[str, Any]:
    """A twin study's trial: its halves and the settings to evaluate them as the study did."""
    from dse.config import Mode
    from dse.modes import require_mode
    from dse.storage import load_study_record
    from dse.twin.report import halves

    record = load_study_record(storage, study)
    require_mode(record.meta, Mode.TWIN, record.name)
    definition = record.meta.get("definition") or {}
    twin = definition.get("twin") or {}
    where = f"trial {number} of study {record.name!r}"
    return {
        "halves": halves(record.network(), record.trial(number).attrs, where),
        "workload": str(record.meta.get("workload")),
        "device": str(record.meta.get("device")),
        "seed": int(definition.get("seed", 0)),
        "finetune_steps": definition.get("finetune_steps"),
        "clock_mhz": definition.get("clock_mhz"),
        "margin": Margin(twin.get("margin", "raw")),
        "pipelined": bool(twin.get("pipelined", False)),
        "overhead": str(twin.get("overhead", "mean")),
    }
