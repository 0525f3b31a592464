"""`dse calibrate DATA... -o profile.yaml`: refit the per-FINN-node unit model to your own
synthesis results and print fit and held-out errors per unit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from costmodels.calibration.builds import read_data
from costmodels.calibration.fit import Score, fit_profile
from costmodels.calibration.profile import PRIORS, Profile, dump_profile, load_profile
from costmodels.calibration.rows import NodeRow
from costmodels.errors import ConfigError
from dse.cli.app import app
from dse.cli.common import console, print_json
from dse.outputs import check_output, write_output


def run_calibrate(
    data: list[Path],
    name: str,
    part: str | None,
    part_family: str | None,
    tool: str | None,
    base: Path | None,
    date: str | None = None,
) -> tuple[Profile, list[Score], int]:
    """Read every DATA path, fit a profile from `base` (default: the priors)."""
    rows: list[NodeRow] = []
    for path in data:
        rows.extend(read_data(path))
    if not rows:
        raise ConfigError("no rows in the given data")
    start = load_profile(base if base is not None else PRIORS)
    described = ", ".join(p.name for p in data[:6]) + (", ..." if len(data) > 6 else "")
    profile, scores = fit_profile(
        rows,
        start,
        name=name,
        part=part,
        part_family=part_family,
        tool=tool,
        data=f"{len(rows)} rows from {described}",
        date=date,
    )
    return profile, scores, len(rows)


def _pct(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:+.1f}%" if signed else f"{v:.1f}%"


@app.command("calibrate")
def calibrate_command(
    data: Annotated[
        list[Path],
        typer.Argument(help="finn_synth-format CSVs and/or FINN build folders."),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Profile YAML to write.")],
    name: Annotated[str, typer.Option(help="Profile name.")] = "my-calibration",
    part: Annotated[str | None, typer.Option(help="Part the rows were synthesized for.")] = None,
    part_family: Annotated[
        str | None, typer.Option("--part-family", help="7series | ultrascale | ...")
    ] = None,
    tool: Annotated[str | None, typer.Option(help="Toolchain, e.g. 'Vivado 2023.2'.")] = None,
    base: Annotated[
        Path | None, typer.Option(help="Profile whose coefficients ops without rows keep.")
    ] = None,
    date: Annotated[str | None, typer.Option(help="Date recorded (default: today).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the errors as JSON.")] = False,
) -> None:
    """Fit the unit model's coefficients to synthesis rows; write the profile."""
    check_output(output, suffixes=(".yaml", ".yml", ".json"), what="calibration profile")
    profile, scores, n = run_calibrate(data, name, part, part_family, tool, base, date)
    write_output(output, dump_profile(profile))
    if json_out:
        print_json(
            {
                "profile": str(output),
                "fingerprint": profile.fingerprint,
                "rows": n,
                "errors": [s.__dict__ for s in scores],
            }
        )
        return
    table = Table(title=f"{profile.name}: fit on {n} rows ({profile.fingerprint})")
    for col in ("FINN op", "resource", "split", "configs", "MAPE", "bias"):
        table.add_column(
            col, justify="left" if col in ("FINN op", "resource", "split") else "right"
        )
    for s in scores:
        table.add_row(s.op, s.resource, s.split, str(s.n), _pct(s.mape), _pct(s.bias, True))
    console.print(table)
    console.print(f"wrote {output}")
