"""What several commands print the same way: a search summary (`dse search`, and
`dse search --jobs N` for the whole study), compact numbers."""

from __future__ import annotations

import shlex

from rich.table import Table

from dse.cli.common import console
from dse.redact import display_url, storage_default
from dse.study import SearchSummary


def compact(value: float) -> str:
    """3 significant digits, k/M above ten thousand (progress and front tables)."""
    a = abs(value)
    if a >= 1e6:
        return f"{value / 1e6:.3g}M"
    if a >= 1e4:
        return f"{value / 1e3:.3g}k"
    if a >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def render_summary(s: SearchSummary) -> None:
    """A finished search: counts and rate, the front (first 30), the report command."""
    console.print(
        f"study {s.study!r}: {s.trials_new} new trials ({s.trials_total} total), "
        f"{s.feasible} feasible, {s.trials_per_s:.1f} trials/s in {s.elapsed_s:.1f} s",
        markup=False,
        highlight=False,
    )
    table = Table(title=f"Pareto front ({len(s.pareto)} designs)", show_lines=False)
    table.add_column("trial", justify="right")
    for o in s.objectives:
        table.add_column(o, justify="right")
    for row in s.pareto[:30]:
        table.add_row(str(row["trial"]), *(compact(float(row[o])) for o in s.objectives))
    console.print(table)
    if len(s.pareto) > 30:
        console.print(f"... {len(s.pareto) - 30} more (dse report)", markup=False)
    console.print(
        f"details: dse report --study {shlex.quote(s.study)}"
        + (
            ""
            if storage_default("") == s.storage  # dse.redact: DSE_STORAGE supplies it
            else f" --storage {shlex.quote(display_url(s.storage))}"
        ),
        markup=False,
        highlight=False,
    )
