"""`dse report`: the feasible Pareto front of a stored study, one trial in full, a plot."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from costmodels.errors import DseError
from dse.cli.app import app
from dse.cli.common import console, print_json
from dse.config import DEFAULT_STORAGE
from dse.holdout import Holdout, holdout_front, noise_points, within_noise
from dse.modes import view_of
from dse.outputs import PLOT_SUFFIXES, check_output, csv_text
from dse.report import (
    counts,
    front,
    front_rows,
    hypervolume,
    lq_bits,
    plot,
    summary,
    trial_detail,
)
from dse.storage import StudyRecord, display_url, load_study_record


class ReportFormat(str, Enum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _sparse_syq(la: dict[str, Any]) -> str:
    """`t1.5 d=0.2309 layer`: a ternary layer's threshold (when not 0.7), a sparse layer's
    measured density, a binary/ternary layer's SYQ scaling (when not channel); `-` if none."""
    parts = []
    if la.get("w_bits") == 2 and la.get("threshold") not in (None, 0.7):
        parts.append(f"t{la['threshold']:g}")
    if la.get("density") is not None:
        parts.append(f"d={la['density']:.4g}")
    if la.get("scaling") not in (None, "channel"):
        parts.append(str(la["scaling"]))
    return " ".join(parts) or "-"


def _fmt(v: Any, digits: int = 3) -> str:
    """Compact numbers for tables: 3 significant digits, `k` above ten thousand."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        a = abs(v)
        if a >= 10_000:
            for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
                if a >= div or unit == "k":
                    x = v / div
                    return f"{x:.1f}{unit}" if abs(x) < 100 else f"{x:.0f}{unit}"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 100 or isinstance(v, int):
            return f"{v:.0f}"
        return f"{v:.{digits}g}"
    return str(v)


@app.command("report")
def report(
    study: Annotated[str | None, typer.Option(help="Study name (the only one if omitted).")] = None,
    storage: Annotated[
        str, typer.Option(help="SQLAlchemy URL.", envvar="DSE_STORAGE")
    ] = DEFAULT_STORAGE,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = (
        ReportFormat.TABLE
    ),
    plot_path: Annotated[
        Path | None,
        typer.Option("--plot", help="Write a Pareto plot (.png, .pdf, .svg).", dir_okay=False),
    ] = None,
    trial: Annotated[int | None, typer.Option(help="Show one trial in full, per layer.")] = None,
    test: Annotated[
        bool,
        typer.Option(
            "--test/--no-test",
            help="Evaluate the front on the workload's held-out test split (95% intervals).",
        ),
    ] = True,
) -> None:
    """Show the feasible Pareto front of a study (or one trial in full)."""
    if plot_path is not None:  # dse.outputs: never onto the storage or a database
        check_output(plot_path, storage=storage, suffixes=PLOT_SUFFIXES, what="plot")
    record = load_study_record(storage, study)
    held = _holdout(record, quiet=fmt is not ReportFormat.TABLE) if test and trial is None else None
    if trial is not None:
        detail = trial_detail(record, trial)
        if fmt is ReportFormat.JSON:
            print_json(detail)
        elif fmt is ReportFormat.CSV:
            _write_csv(detail["per_layer"])
        else:
            _render_trial(record, detail)
    elif fmt is ReportFormat.JSON:
        doc = summary(record)
        if held is not None:
            doc["front"] = _with_holdout(doc["front"], held)
            doc["test_note"] = held[1]
        print_json(doc)
    elif fmt is ReportFormat.CSV:
        _write_csv(_with_holdout(front_rows(record), held))
    else:
        _render_front(record, held)
    if plot_path is not None:
        plot(record, plot_path)
        if fmt is ReportFormat.TABLE:
            console.print(f"plot written to {plot_path}", markup=False, highlight=False)


def _write_csv(rows: list[dict[str, Any]]) -> None:
    sys.stdout.write(csv_text(rows))  # dse.outputs: the csv module, formula cells escaped


Held = tuple[dict[int, Holdout], str]


def _holdout(record: StudyRecord, *, quiet: bool) -> Held | None:
    """The front's test-split accuracies (single-network studies that evaluate accuracy);
    a workload that no longer loads gets a one-line note, not an error."""
    if record.meta.get("cost_only") or str(record.meta.get("mode") or "single") != "single":
        return None
    trials = front(record)
    if not trials:
        return None
    try:
        if quiet:
            return holdout_front(record, trials)
        with Progress(
            TextColumn("test split"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("test", total=len(trials))
            return holdout_front(
                record, trials, progress=lambda done, _n: bar.update(task, completed=done)
            )
    except DseError as exc:
        if not quiet:
            console.print(
                f"no test-split accuracy: {exc}", markup=False, highlight=False, style="yellow"
            )
        return None


def _with_holdout(rows: list[dict[str, Any]], held: Held | None) -> list[dict[str, Any]]:
    if held is None:
        return rows
    results, _ = held
    noise = within_noise(results)
    out = []
    for r in rows:
        h = results.get(int(r["trial"]))
        extra: dict[str, Any] = {}
        if h is not None:
            lo, hi = h.interval
            extra = {
                f"{h.split}_accuracy": round(h.accuracy, 6),
                f"{h.split}_ci95_low": round(lo, 6),
                f"{h.split}_ci95_high": round(hi, 6),
                "within_noise_of_best": noise[int(r["trial"])],
            }
        out.append({**r, **extra})
    return out


def _render_front(record: StudyRecord, held: Held | None = None) -> None:
    c = counts(record)
    meta = record.meta
    console.print(
        f"study {record.name!r} in {display_url(record.storage)}: workload "
        f"{meta.get('workload', '-')}, device {meta.get('device', '-')}, cap "
        f"{meta.get('cap_pct', '-')}%",
        markup=False,
        highlight=False,
    )
    console.print(
        f"trials {c.total}: {c.feasible} feasible, {c.infeasible} infeasible, {c.failed} failed"
        + (f", {c.other} other" if c.other else "")
        + f"; hypervolume {hypervolume(record):.4f} (normalized)",
        markup=False,
        highlight=False,
    )
    rows = front_rows(record)
    table = Table(title=f"Feasible Pareto front ({len(rows)} designs)")
    table.add_column("trial", justify="right")
    for o in record.objectives:
        table.add_column(o, justify="right")
    cols = [("util", "util% L/D/B"), ("dsp", "DSP"), ("bram18", "BRAM18")]
    cols += [(k, k) for k in ("accuracy", "fps", "latency_ms") if k not in record.objectives]
    for r in rows:
        r["util"] = "/".join(f"{r[k] or 0:.0f}" for k in ("lut_pct", "dsp_pct", "bram18_pct"))
    if record.meta.get("cost_only"):
        cols = [c for c in cols if c[0] != "accuracy"]
    cols += view_of(record.meta).columns()
    for _key, title in cols:
        table.add_column(title, justify="right")
    for r in rows:
        cells = [str(r["trial"]) + ("*" if r["baseline"] else "")]
        cells += [_fmt(r.get(o)) for o in record.objectives]
        cells += [_fmt(r.get(k)) for k, _title in cols]
        table.add_row(*cells)
    console.print(table)
    if held is not None and held[0]:
        _render_holdout(rows, held)
    console.print("per-layer choices (w/a bits, arithmetic, PExSIMD, pruning):", markup=False)
    for r in rows:
        console.print(f"  {r['trial']}: {r['layers']}", markup=False, highlight=False)
    if any(r["baseline"] for r in rows):
        console.print("* a baseline (uniform 8-bit or SetFolding)", markup=False)


def _render_holdout(rows: list[dict[str, Any]], held: Held) -> None:
    results, note = held
    noise = within_noise(results)
    split = next(iter(results.values())).split
    table = Table(title=f"Front accuracy on the {split} split (95% Wilson intervals)")
    for col in ("trial", "validation", split, "95% interval", "within noise of best"):
        table.add_column(col, justify="right" if col != "within noise of best" else "center")
    for r in rows:
        h = results.get(int(r["trial"]))
        if h is None:
            continue
        lo, hi = h.interval
        table.add_row(
            str(r["trial"]), _fmt(r.get("accuracy")), f"{h.accuracy:.3f}",
            f"{lo:.3f} - {hi:.3f}", "yes" if noise[int(r["trial"])] else "no",
        )  # fmt: skip
    console.print(table)
    best = max(results.values(), key=lambda h: h.accuracy)
    console.print(
        f"{note}; at {best.accuracy:.3f} the interval is +/-"
        f"{noise_points(best.n, best.accuracy):.1f} points. 'within noise': the interval "
        "overlaps the most accurate design's. The validation column is what the search "
        "selected on.",
        markup=False,
        highlight=False,
    )


def _render_trial(record: StudyRecord, d: dict[str, Any]) -> None:
    console.print(
        f"study {record.name!r} trial {d['trial']}: {d['state']}, "
        f"{'feasible' if d['feasible'] else 'infeasible'}"
        + (f", baseline {d['baseline']}" if d["baseline"] else ""),
        markup=False,
        highlight=False,
    )
    objs = ", ".join(f"{o}={_fmt(d.get(o), 4)}" for o in record.objectives)
    console.print(
        f"objectives: {objs}\n"
        f"totals: LUT {_fmt(d['lut'])} ({_fmt(d['lut_pct'], 2)}%), DSP {_fmt(d['dsp'])} "
        f"({_fmt(d['dsp_pct'], 2)}%), BRAM18 {_fmt(d['bram18'])} ({_fmt(d['bram18_pct'], 2)}%), "
        f"FPS {_fmt(d['fps'])}, latency {_fmt(d['latency_ms'], 4)} ms, accuracy "
        f"{_fmt(d['accuracy'], 4)}",
        markup=False,
        highlight=False,
    )
    extra = view_of(record.meta).describe(d)
    if extra is not None:
        console.print(extra, markup=False, highlight=False)
    table = Table(title="per layer", pad_edge=False)
    # sparse ternary threshold/density and SYQ scaling, only when some layer has them
    extras = {la["layer"]: _sparse_syq(la) for la in d["per_layer"] if la.get("pe") is not None}
    show_extras = any(v != "-" for v in extras.values())
    heads = ["layer", "op", "w/a", "arith", "prune", "pe/simd/mmv"]
    heads += ["sparse/SYQ"] if show_extras else []
    heads += ["LUT", "DSP", "BRAM18", "cycles"]
    for col in heads:
        left = col in ("layer", "op", "arith", "sparse/SYQ")
        table.add_column(col, justify="left" if left else "right", no_wrap=True)
    for la in d["per_layer"]:
        compute = la.get("pe") is not None
        wa = "-"
        if compute:
            a_bits = "-" if la["a_bits"] is None else lq_bits(la["a_bits"], la.get("a_type"))
            wa = f"{lq_bits(la['w_bits'], la.get('w_type'))}/{a_bits}"
        fold = f"{la['pe']}/{la['simd']}/{la['mmv']}" if compute else "-"
        prune = f"{la['prune'] * 100:.0f}%" if compute else "-"
        cells = [extras.get(la["layer"], "-")] if show_extras else []
        table.add_row(
            la["layer"], la["op"], wa, _fmt(la["arith"]), prune, fold, *cells,
            _fmt(la["lut"]), _fmt(la["dsp"]), _fmt(la["bram18"]), _fmt(la["cycles"]),
        )  # fmt: skip
    (console if console.is_terminal else Console(width=160)).print(table)
