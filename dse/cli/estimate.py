"""`dse estimate SPEC --device PART`: the cost of one fixed design, per layer and in total."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from costmodels import (
    EngineConfig,
    LayerCost,
    LayerSpec,
    Network,
    NetworkCost,
    Op,
    Resources,
    Template,
    estimate,
    estimate_finn,
    get_device,
)
from costmodels.calibration.profile import (
    Profile,
    default_profile,
    load_profile,
    part_family,
)
from costmodels.errors import ConfigError
from costmodels.validate import MAX_CLOCK_MHZ, finite_in
from dse.cli.app import app
from dse.cli.common import console, print_json
from dse.spec import load_network


class Estimator(str, Enum):
    DSE = "dse"
    FINN = "finn"


def load_calibration(value: str | None) -> Profile | None:
    """`--calibration`: None (the analytical model), `default` (the profile shipped with
    dse, fitted on shared/reference/finn_synth) or a profile file."""
    if value is None or value == "none":
        return None
    if value == "default":
        return default_profile()
    return load_profile(value)


def run_estimate(
    spec: Path,
    device_name: str,
    estimator: Estimator = Estimator.DSE,
    template: Template = Template.DATAFLOW,
    clock_mhz: float | None = None,
    engines: EngineConfig | None = None,
    calibration: Profile | None = None,
) -> NetworkCost:
    """Load the spec and device and estimate (the plain function behind the command)."""
    if clock_mhz is not None and not clock_mhz > 0:
        raise ConfigError(f"--clock-mhz {clock_mhz} must be positive")
    if clock_mhz is not None:  # costmodels.validate: finite, in range
        finite_in(clock_mhz, 0, MAX_CLOCK_MHZ, "--clock-mhz", ConfigError)
    network = load_network(spec)
    device = get_device(device_name)
    if estimator is Estimator.FINN:
        if template is not Template.DATAFLOW:
            raise ConfigError("--estimator finn models FINN's dataflow units only")
        if calibration is not None:
            raise ConfigError("--calibration applies to --estimator dse only")
        return estimate_finn(network, device, clock_mhz)
    if calibration is not None and template is not Template.DATAFLOW:
        raise ConfigError("--calibration applies to --template dataflow only")
    if template is Template.DATAFLOW:
        if engines is not None:
            raise ConfigError("--engines/--lanes apply to --template engines only")
        return estimate(network, device, clock_mhz=clock_mhz, detail=True, calibration=calibration)
    return estimate(network, device, template=template, clock_mhz=clock_mhz, engines=engines)


#: FINN op of each part of the analytical model's breakdown (`costmodels.dataflow`,
#: `costmodels.pool`): the sliding window, the MVAU's components (thresholds fused:
#: reported inside MVAU), the input FIFO, pooling, the residual adder and its skip FIFO.
PART_OPS = {
    "window": "ConvolutionInputGenerator",
    "base": "MVAU",
    "multipliers": "MVAU",
    "adder_tree": "MVAU",
    "accumulator": "MVAU",
    "activation": "MVAU",
    "weights": "MVAU",
    "fifo_in": "StreamingFIFO",
    "adders": "AddStreams",
    "skip_fifo": "StreamingFIFO",
    "duplicate": "DuplicateStreams",
    "mux": "StreamingConcat",
    "branch_fifos": "StreamingFIFO",
}
#: The FINN op of a whole layer (a layer without a breakdown: FINN's own estimator).
LAYER_OPS = {
    Op.CONV: "MVAU",
    Op.DENSE: "MVAU",
    Op.MAXPOOL: "StreamingMaxPool",
    Op.AVGPOOL: "Pool",
    Op.ADD: "AddStreams",
    Op.CONCAT: "StreamingConcat",
}
KEYS = ("lut", "ff", "dsp", "bram18", "uram")


def layer_units(
    lc: LayerCost, depthwise: bool = False, template: str = "dataflow"
) -> list[dict[str, Any]]:
    """A layer's cost per FINN node: `{finn_op, lut, ff, dsp, bram18, uram}` in stream
    order. Calibrated estimates carry their units; the analytical model's breakdown parts
    are summed per FINN op (`PART_OPS`; pooling is StreamingMaxPool/Pool); FINN's own
    estimator (no breakdown) gives the layer's one node. Fused thresholds are inside MVAU;
    a depthwise conv's MVAU is a VVAU. The engines template shares its hardware: no
    units per layer."""
    if template != "dataflow":
        return []
    if not lc.breakdown:
        op = LAYER_OPS.get(lc.op, lc.op.value)
        op = "VVAU" if depthwise and op == "MVAU" else op
        return [{"finn_op": op, **{k: getattr(lc.resources, k) for k in KEYS}}]
    units: list[tuple[str, Resources]] = []
    for part, r in lc.breakdown:
        op = PART_OPS.get(part, part)
        if part == "pool":
            op = "StreamingMaxPool" if lc.op is Op.MAXPOOL else "Pool"
        if op == "MVAU" and depthwise:
            op = "VVAU"
        if units and units[-1][0] == op and op in ("MVAU", "VVAU"):
            units[-1] = (op, units[-1][1] + r)
        else:
            units.append((op, r))
    return [{"finn_op": op, **{k: getattr(r, k) for k in KEYS}} for op, r in units]


def _depthwise(spec: LayerSpec | None) -> bool:
    return (
        spec is not None
        and spec.op is Op.CONV
        and spec.groups > 1
        and spec.groups == spec.out_channels
    )


def layer_design(spec: LayerSpec) -> dict[str, Any]:
    """The design of a compute layer as the JSON shows it."""
    c = spec.choice
    if c is None:
        return {}
    size = "out_channels" if spec.op is Op.CONV else "out_features"
    return {
        size: spec.out_channels,
        "w_bits": c.w_bits,
        "a_bits": c.a_bits,
        "pe": c.pe,
        "simd": c.simd,
        "mmv": c.mmv,
        "arith": c.arith.value,
        "ram_style": c.ram_style.value,
    }


def cost_to_dict(
    cost: NetworkCost,
    cap_pct: float,
    estimator: str,
    template: str,
    network: Network | None = None,
    calibration: Profile | None = None,
) -> dict[str, Any]:
    """The JSON object of `dse estimate --json`."""
    keys = KEYS
    specs = {layer.name: layer for layer in network.layers} if network is not None else {}
    totals = {k: getattr(cost.total, k) for k in keys}
    util = cost.utilization
    return {
        "network": cost.network,
        "device": cost.device.part,
        "estimator": estimator,
        "template": template,
        "calibration": (
            None
            if calibration is None
            else {
                "name": calibration.name,
                "fingerprint": calibration.fingerprint,
                "part_family": calibration.part_family,
                "device_family": part_family(cost.device),
            }
        ),
        "thresholds": "inside MVAU",
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
                **(layer_design(specs[lc.name]) if lc.name in specs else {}),
                "lut": lc.resources.lut,
                "ff": lc.resources.ff,
                "dsp": lc.resources.dsp,
                "bram18": lc.resources.bram18,
                "uram": lc.resources.uram,
                "cycles": lc.cycles,
                "breakdown": {part: {k: getattr(r, k) for k in keys} for part, r in lc.breakdown},
                "units": layer_units(lc, _depthwise(specs.get(lc.name)), template),
            }
            for lc in cost.layers
        ],
    }


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"


def render(
    cost: NetworkCost,
    cap_pct: float,
    estimator: str,
    template: str,
    units: bool = False,
    verdict_line: bool = True,
) -> None:
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
        if units:
            for unit in layer_units(lc, template=template):
                table.add_row(
                    "",
                    f"  {unit['finn_op']}",
                    _fmt(unit["lut"]),
                    _fmt(unit["dsp"]),
                    _fmt(unit["bram18"]),
                    _fmt(unit["uram"]),
                    "",
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
    if not verdict_line:
        return
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
    device: Annotated[
        str | None, typer.Option("--device", "-d", help="Part, board or device YAML.")
    ] = None,
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
    calibration: Annotated[
        str | None,
        typer.Option(
            "--calibration",
            help="Per-FINN-node model with a profile: 'default' (fitted on real Vivado "
            "synthesis, xc7z020) or a profile YAML from 'dse calibrate'.",
        ),
    ] = None,
    units: Annotated[
        bool, typer.Option("--units", help="Show each layer's FINN nodes in the table.")
    ] = False,
    devices: Annotated[
        str | None,
        typer.Option(
            "--devices", help="Several boards (2xXCKU115 or a cluster YAML): place the design."
        ),
    ] = None,
) -> None:
    """Estimate LUT/DSP/BRAM/URAM, throughput and latency of a fixed design."""
    if not 0 < cap <= 100:
        raise ConfigError(f"--cap {cap} must be in (0, 100]")
    if (device is None) == (devices is None):
        raise ConfigError("give --device PART (one board) or --devices 2xPART (several)")
    if devices is not None:
        _estimate_cluster(spec, devices, cap, clock_mhz, json_out)
        return
    assert device is not None
    cfg = None
    if engines is not None or lanes is not None:
        default = EngineConfig()
        cfg = EngineConfig(
            engines=default.engines if engines is None else engines,
            lanes=default.lanes if lanes is None else lanes,
        )
    profile = load_calibration(calibration)
    cost = run_estimate(spec, device, estimator, template, clock_mhz, cfg, profile)
    name = estimator.value if profile is None else f"dse+{profile.name}"
    if json_out:
        network = load_network(spec)
        print_json(cost_to_dict(cost, cap, name, template.value, network, profile))
    else:
        render(cost, cap, name, template.value, units)
        if profile is not None and profile.part_family != part_family(cost.device):
            console.print(
                f"note: profile {profile.name} was fitted on {profile.part_family} parts; "
                f"{cost.device.part} is {part_family(cost.device)} (BRAM aspect ratios are the "
                "same, UG573; its DSP48E2 and CARRY8 are not calibrated)"
            )


def _estimate_cluster(
    spec: Path, devices: str, cap: float, clock_mhz: float | None, json_out: bool
) -> None:
    """`dse estimate --devices`: the design placed on several boards (`costmodels.cluster`):
    the per-layer table on the first board, then boards, layer ranges, cuts and link load."""
    from costmodels.cluster import estimate_cluster, parse_cluster
    from costmodels.network import resolve
    from dse.multi import describe_partition

    if clock_mhz is not None:
        finite_in(clock_mhz, 0, MAX_CLOCK_MHZ, "--clock-mhz", ConfigError)
    network = load_network(spec)
    cluster = parse_cluster(devices)
    clock = clock_mhz or network.clock_mhz or min(b.clock_mhz for b in cluster.boards)
    per_device = {
        d: estimate(network, d, clock_mhz=clock, detail=True) for d in dict.fromkeys(cluster.boards)
    }
    mc = estimate_cluster(resolve(network), [per_device[d] for d in cluster.boards], cluster, cap)
    if json_out:
        print_json(
            {
                "network": network.name,
                "devices": cluster.label,
                "cap_pct": cap,
                "fits": mc.fits,
                "fps": mc.fps,
                "latency_ms": mc.latency_ms,
                "totals": {k: getattr(mc.total, k) for k in KEYS},
                "partition": mc.summary(),
            }
        )
        return
    render(per_device[cluster.boards[0]], 100.0, "dse", "dataflow", verdict_line=False)
    for line in describe_partition(mc.summary()):
        console.print(line, markup=False, highlight=False)
    if mc.fits:
        console.print(
            f"placed on {mc.n_boards} of {len(cluster.boards)} boards within {cap:g}% each: "
            f"{mc.fps:,.1f} FPS (compute {mc.compute_fps:,.1f}), latency {mc.latency_ms:.3f} ms",
            markup=False,
            highlight=False,
        )
