"""`dse devices`: the FPGA device catalog."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from costmodels.devices import catalog_entries
from dse.cli.app import app
from dse.cli.common import console, print_json


@app.command("devices")
def devices_command(
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """List the device catalog (part, boards, resources, DSP block, default clock)."""
    entries = catalog_entries()
    if json_out:
        print_json(
            {
                "devices": [
                    {
                        "part": e.device.part,
                        "names": list(e.names),
                        "boards": list(e.device.boards),
                        "family": e.device.family,
                        "lut": e.device.lut,
                        "ff": e.device.ff,
                        "bram18": e.device.bram18,
                        "uram": e.device.uram,
                        "dsp": e.device.dsp,
                        "dsp_block": e.device.dsp_block,
                        "clock_mhz": e.device.clock_mhz,
                        "source": e.source,
                        "notes": e.notes,
                    }
                    for e in entries
                ]
            }
        )
        return
    table = Table(title="Device catalog (names are case-insensitive)")
    table.add_column("part", no_wrap=True)
    table.add_column("boards")
    table.add_column("family")
    for col in ("LUT", "FF", "BRAM18", "URAM", "DSP"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("DSP block", no_wrap=True)
    table.add_column("clock MHz", justify="right")
    for e in entries:
        d = e.device
        table.add_row(
            d.part + (" !" if e.notes and "UNCERTAIN" in (e.source + e.notes) else ""),
            ", ".join(d.boards),
            d.family,
            f"{d.lut:,}",
            f"{d.ff:,}" if d.ff else "?",
            f"{d.bram18:,}",
            f"{d.uram:,}",
            f"{d.dsp:,}",
            d.dsp_block,
            f"{d.clock_mhz:g}",
        )
    out = console if console.is_terminal else Console(width=160)
    out.print(table)
    console.print("! = a number in the source data is marked UNCERTAIN; see --json for sources")
