"""`dse report`: the feasible Pareto front of a stored study, one trial in full, a plot."""

from __future__ import annotations

import csv
import io
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dse.cli.app import app
from dse.cli.common import console, print_json
from dse.config import DEFAULT_STORAGE
from dse.modes import view_of
from dse.outputs import PLOT_SUFFIXES, check_output
from dse.report import (
    counts,
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
) -> None:
    """Show the feasible Pareto front of a study (or one trial in full)."""
    if plot_path is not None:  # dse.outputs: never onto the storage or a database
        check_output(plot_path, storage=storage, suffixes=PLOT_SUFFIXES, what="plot")
    record = load_study_record(storage, study)
    if trial is not None:
        detail = trial_detail(record, trial)
        if fmt is ReportFormat.JSON:
            print_json(detail)
        elif fmt is ReportFormat.CSV:
            _write_csv(detail["per_layer"])
        else:
            _render_trial(record, detail)
    elif fmt is ReportFormat.JSON:
        print_json(summary(record))
    elif fmt is ReportFormat.CSV:
        _write_csv(front_rows(record))
    else:
        _render_front(record)
    if plot_path is not None:
        plot(record, plot_path)
        if fmt is ReportFormat.TABLE:
            console.print(f"plot written to {plot_path}", markup=False, highlight=False)


def _write_csv(rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    sys.stdout.write(buf.getvalue())


def _render_front(record: StudyRecord) -> None:
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
    console.print("per-layer choices (w/a bits, arithmetic, PExSIMD, pruning):", markup=False)
    for r in rows:
        console.print(f"  {r['trial']}: {r['layers']}", markup=False, highlight=False)
    if any(r["baseline"] for r in rows):
        console.print("* a baseline (uniform 8-bit or SetFolding)", markup=False)


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
    heads = ["layer", "op", "w/a", "arith", "prune", "pe/simd/mmv"]
    heads += ["LUT", "DSP", "BRAM18", "cycles"]
    for col in heads:
        left = col in ("layer", "op", "arith")
        table.add_column(col, justify="left" if left else "right", no_wrap=True)
    for la in d["per_layer"]:
        compute = la.get("pe") is not None
        wa = "-"
        if compute:
            a_bits = "-" if la["a_bits"] is None else lq_bits(la["a_bits"], la.get("a_type"))
            wa = f"{lq_bits(la['w_bits'], la.get('w_type'))}/{a_bits}"
        fold = f"{la['pe']}/{la['simd']}/{la['mmv']}" if compute else "-"
        prune = f"{la['prune'] * 100:.0f}%" if compute else "-"
        table.add_row(
            la["layer"], la["op"], wa, _fmt(la["arith"]), prune, fold,
            _fmt(la["lut"]), _fmt(la["dsp"]), _fmt(la["bram18"]), _fmt(la["cycles"]),
        )  # fmt: skip
    console.print(table)
