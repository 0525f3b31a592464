"""`dse estimate SPEC --device PART`: the cost of one fixed design, per layer and in total."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from costmodels import EngineConfig, NetworkCost, Template, estimate, estimate_finn, get_device
from costmodels.errors import ConfigError
from dse.cli.app import app
from dse.cli.common import console, print_json
from dse.spec import load_network


class Estimator(str, Enum):
    DSE = "dse"
    FINN = "finn"


def run_estimate(
    spec: Path,
    device_name: str,
    estimator: Estimator = Estimator.DSE,
    template: Template = Template.DATAFLOW,
    clock_mhz: float | None = None,
    engines: EngineConfig | None = None,
) -> NetworkCost:
    """Load the spec and device and estimate (the plain function behind the command)."""
    if clock_mhz is not None and not clock_mhz > 0:
        raise ConfigError(f"--clock-mhz {clock_mhz} must be positive")
    network = load_network(spec)
    device = get_device(device_name)
    if estimator is Estimator.FINN:
        if template is not Template.DATAFLOW:
            raise ConfigError("--estimator finn models FINN's dataflow units only")
        return estimate_finn(network, device, clock_mhz)
    if template is Template.DATAFLOW:
        if engines is not None:
            raise ConfigError("--engines/--lanes apply to --template engines only")
        return estimate(network, device, clock_mhz=clock_mhz, detail=True)
    return estimate(network, device, template=template, clock_mhz=clock_mhz, engines=engines)


def cost_to_dict(
    cost: NetworkCost, cap_pct: float, estimator: str, template: str
) -> dict[str, Any]:
    """The JSON object of `dse estimate --json`."""
    keys = ("lut", "ff", "dsp", "bram18", "uram")
    totals = {k: getattr(cost.total, k) for k in keys}
    util = cost.utilization
    return {
        "network": cost.network,
        "device": cost.device.part,
        "estimator": estimator,
        "template": template,
        "clock_mhz": cost.clock_mhz,
        "totals": totals,
        "shell": {k: getattr(cost.shell, k) for k in keys},
        "utilization": {k: getattr(util, k) for k in keys},
        "device_totals": {k: getattr(cost.device, k) for k in keys},
        "cap_pct": cap_pct,
        "fits": cost.fits(cap_pct),
        "cycles_per_frame": cost.cycles_per_frame,
        "latency_cycles": cost.latency_cycles,
        "fps": cost.fps,
        "latency_ms": cost.latency_ms,
        "layers": [
            {
                "name": lc.name,
                "op": lc.op.value,
                "lut": lc.resources.lut,
                "ff": lc.resources.ff,
                "dsp": lc.resources.dsp,
                "bram18": lc.resources.bram18,
                "uram": lc.resources.uram,
                "cycles": lc.cycles,
                "breakdown": {part: {k: getattr(r, k) for k in keys} for part, r in lc.breakdown},
            }
            for lc in cost.layers
        ],
    }


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"


def render(cost: NetworkCost, cap_pct: float, estimator: str, template: str) -> None:
    bottleneck = max(cost.layers, key=lambda lc: lc.cycles).name
    table = Table(
        title=f"{cost.network} on {cost.device.part} @ {cost.clock_mhz:g} MHz "
        f"({estimator} estimator, {template})"
    )
    table.add_column("layer")
    table.add_column("op")
    for col in ("LUT", "DSP", "BRAM18", "URAM", "cycles"):
        table.add_column(col, justify="right")
    for lc in cost.layers:
        r = lc.resources
        mark = " *" if lc.name == bottleneck and template == "dataflow" else ""
        table.add_row(
            lc.name + mark,
            lc.op.value,
            _fmt(r.lut),
            _fmt(r.dsp),
            _fmt(r.bram18),
            _fmt(r.uram),
            f"{lc.cycles:,}",
        )
    s = cost.shell
    shell_name = "engines + shell" if template == "engines" else "shell"
    table.add_row(shell_name, "", _fmt(s.lut), _fmt(s.dsp), _fmt(s.bram18), _fmt(s.uram), "")
    t, u, d = cost.total, cost.utilization, cost.device
    table.add_section()
    table.add_row(
        "total",
        "",
        _fmt(t.lut),
        _fmt(t.dsp),
        _fmt(t.bram18),
        _fmt(t.uram),
        f"{cost.cycles_per_frame:,}",
    )
    table.add_row("device", "", f"{d.lut:,}", f"{d.dsp:,}", f"{d.bram18:,}", f"{d.uram:,}", "")
    table.add_row(
        "util %",
        "",
        f"{u.lut:.1f}",
        f"{u.dsp:.1f}",
        f"{u.bram18:.1f}",
        f"{u.uram:.1f}" if d.uram else "-",
        "",
    )
    out = console if console.is_terminal else Console(width=120)
    out.print(table)
    fits = cost.fits(cap_pct)
    verdict = "[green]fits[/green]" if fits else "[red]does not fit[/red]"
    console.print(
        f"{verdict} within {cap_pct:g}% of every resource; "
        f"{cost.cycles_per_frame:,} cycles/frame -> {cost.fps:,.1f} FPS, "
        f"latency {cost.latency_ms:.3f} ms"
        + (f" (bottleneck: {bottleneck})" if template == "dataflow" else "")
    )


@app.command("estimate")
def estimate_command(
    spec: Annotated[Path, typer.Argument(help="Network spec (YAML or JSON).")],
    device: Annotated[str, typer.Option("--device", "-d", help="Part, board or device YAML.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    estimator: Annotated[Estimator, typer.Option(help="dse model or FINN's formulas.")] = (
        Estimator.DSE
    ),
    template: Annotated[Template, typer.Option(help="Architecture template.")] = (
        Template.DATAFLOW
    ),
    clock_mhz: Annotated[
        float | None, typer.Option("--clock-mhz", help="Clock (default: spec, then device).")
    ] = None,
    cap: Annotated[
        float, typer.Option("--cap", help="Utilization cap in percent for 'fits'.")
    ] = 100.0,
    engines: Annotated[
        int | None, typer.Option("--engines", help="Engines template: number of engines E.")
    ] = None,
    lanes: Annotated[
        int | None, typer.Option("--lanes", help="Engines template: MAC lanes per engine L.")
    ] = None,
) -> None:
    """Estimate LUT/DSP/BRAM/URAM, throughput and latency of a fixed design."""
    if not 0 < cap <= 100:
        raise ConfigError(f"--cap {cap} must be in (0, 100]")
    cfg = None
    if engines is not None or lanes is not None:
        default = EngineConfig()
        cfg = EngineConfig(
            engines=default.engines if engines is None else engines,
            lanes=default.lanes if lanes is None else lanes,
        )
    cost = run_estimate(spec, device, estimator, template, clock_mhz, cfg)
    if json_out:
        print_json(cost_to_dict(cost, cap, estimator.value, template.value))
    else:
        render(cost, cap, estimator.value, template.value)
