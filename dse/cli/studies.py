"""`dse studies`: the studies in a storage."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from dse.cli.app import app
from dse.cli.common import console, print_json
from dse.config import DEFAULT_STORAGE
from dse.storage import display_url, list_studies


@app.command("studies")
def studies(
    storage: Annotated[
        str, typer.Option(help="SQLAlchemy URL.", envvar="DSE_STORAGE")
    ] = DEFAULT_STORAGE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the studies in a storage with their trial counts, objectives and device."""
    infos = list_studies(storage)
    if as_json:
        print_json(
            [
                {
                    "study": s.name,
                    "trials": s.trials,
                    "complete": s.complete,
                    "feasible": s.feasible,
                    "objectives": list(s.objectives),
                    "device": s.device,
                    "workload": s.workload,
                }
                for s in infos
            ]
        )
        return
    table = Table(title=f"studies in {display_url(storage)}")
    for col in ("study", "trials", "feasible", "objectives", "device", "workload"):
        table.add_column(col, justify="right" if col in ("trials", "feasible") else "left")
    for s in infos:
        table.add_row(
            s.name, str(s.trials), str(s.feasible), ",".join(s.objectives), s.device, s.workload
        )
    console.print(table)
    if not infos:
        console.print("no studies yet (dse search creates one)", markup=False)
