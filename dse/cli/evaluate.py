"""`dse workloads` and `dse evaluate`: the quick accuracy evaluation from the command line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from costmodels.errors import ConfigError
from costmodels.network import resolve
from costmodels.types import Network
from costmodels.validate import MAX_SEED, int_in
from dse.cli.app import app
from dse.cli.common import console, err_console, print_json

OPT_CACHE = typer.Option(
    "--cache-dir",
    help="Where trained float models are cached (default $DSE_CACHE_DIR or runs/cache).",
)


@app.command("workloads")
def workloads_cmd(
    cache_dir: Annotated[Path | None, OPT_CACHE] = None,
    seed: Annotated[int, typer.Option(help="Training seed of the float baselines.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the built-in workloads (float accuracy once trained; nothing is trained here)."""
    int_in(seed, 0, MAX_SEED, "--seed", ConfigError)
    from dse.nn.workloads import BUILTINS, cached_float_path, load_workload, prepare_network

    rows: list[dict[str, Any]] = []
    for name, (desc, _) in BUILTINS.items():
        net = prepare_network(name, seed)
        acc = None
        if cached_float_path(name, seed, cache_dir) is not None:
            acc = load_workload(name, cache_dir=cache_dir, seed=seed).float_accuracy
        rows.append({
            "name": name, "description": desc, "input_shape": list(net.input_shape),
            "layers": [layer.name for layer in net.layers], "float_accuracy": acc,
        })  # fmt: skip
    if as_json:
        print_json(rows)
        return
    table = Table("workload", "input", "layers", "float val. accuracy", "description")
    for r in rows:
        shown = "not trained yet"
        if r["float_accuracy"] is not None:
            shown = f"{100 * r['float_accuracy']:.2f}%"
        table.add_row(r["name"], "x".join(map(str, r["input_shape"])), " ".join(r["layers"]), shown,
                      r["description"])  # fmt: skip
    console.print(table)
    console.print(
        "Also: --workload FILE.npz (x_train, y_train, x_val, y_val) or pkg.module:factory."
    )


@app.command("evaluate")
def evaluate_cmd(
    workload: Annotated[
        str, typer.Option("--workload", "-w", help="Built-in name, FILE.npz or pkg.module:factory.")
    ],
    spec: Annotated[
        Path | None, typer.Option("--spec", help="YAML/JSON file with per-layer choices.")
    ] = None,
    w_bits: Annotated[
        int | None, typer.Option("--w-bits", help="Weight bits of every layer.")
    ] = None,
    a_bits: Annotated[
        int | None, typer.Option("--a-bits", help="Activation bits of every layer.")
    ] = None,
    finetune_steps: Annotated[
        int | None, typer.Option("--finetune-steps", help="QAT steps (default 100).")
    ] = None,
    first_last_bits: Annotated[
        int | None,
        typer.Option("--first-last-bits", help="Pin first/last layer weights to N int bits."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of training and fine-tuning.")] = 0,
    storage: Annotated[
        str | None,
        typer.Option(help="Database URL of the accuracy cache (e.g. sqlite:///runs/study.db)."),
    ] = None,
    cache_dir: Annotated[Path | None, OPT_CACHE] = None,
    kl_report: Annotated[
        bool, typer.Option("--kl-report", help="Also print the RCCM distribution-matching table.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    torch_device: Annotated[
        str | None,
        typer.Option(
            "--torch-device",
            help="Where torch trains and evaluates: cpu, cuda, mps or auto [default: cpu].",
        ),
    ] = None,
) -> None:
    """Quantize (and prune) a workload as given, fine-tune briefly, print its accuracy."""
    if torch_device is not None:
        from dse.nn.device import set_torch_device

        set_torch_device(torch_device)
    int_in(seed, 0, MAX_SEED, "--seed", ConfigError)  # costmodels.validate
    from dse.nn.cache import AccuracyCache
    from dse.nn.choices import apply_choices, read_choices, read_input_bits, uniform_choices
    from dse.nn.evaluate import DEFAULT_FINETUNE_STEPS, AccuracyEvaluator, QuantPolicy
    from dse.nn.workloads import load_workload, prepare_network

    if spec is not None and (w_bits is not None or a_bits is not None):
        raise ConfigError("use either --spec or --w-bits/--a-bits, not both")
    steps = DEFAULT_FINETUNE_STEPS if finetune_steps is None else finetune_steps
    if steps < 0:
        raise ConfigError(f"--finetune-steps must be >= 0, got {steps}")
    for opt, v in (
        ("--w-bits", w_bits),
        ("--a-bits", a_bits),
        ("--first-last-bits", first_last_bits),
    ):
        if v is not None and not 1 <= v <= 16:
            raise ConfigError(f"{opt} {v} is out of range 1..16")
    raw = read_choices(spec) if spec is not None else None
    input_bits = read_input_bits(spec) if spec is not None else None
    # Validate everything against the untrained network first: bad input writes nothing.
    network = prepare_network(workload, seed)

    def choose(net: Network) -> Network:
        net = apply_choices(net, raw) if raw is not None else uniform_choices(net, w_bits, a_bits)
        return replace(net, input_bits=input_bits) if input_bits is not None else net

    network = choose(network)
    resolve(network)
    policy = QuantPolicy(first_last_bits=first_last_bits)
    cache = AccuracyCache(storage) if storage else None
    with err_console.status("loading the workload (training the float model on first use)"):
        wl = load_workload(workload, cache_dir=cache_dir, seed=seed)
    network = choose(wl.network)
    ev = AccuracyEvaluator(wl, finetune_steps=steps, seed=seed, cache=cache, policy=policy)
    with err_console.status(f"evaluating ({steps} fine-tuning steps)"):
        result = ev.evaluate(network)
    _, layers = ev.config(network)
    full = {layer.name: layer.out_channels for layer in wl.network.compute_layers}
    kl = ev.kl_report() if kl_report else []
    if as_json:
        print_json({
            "workload": wl.name, "seed": seed, "finetune_steps": steps,
            "float_accuracy": wl.float_accuracy, "accuracy": result.accuracy,
            "seconds": result.seconds, "cached": result.cached, "key": result.key,
            "layers": [{"name": q.name, "weights": q.fmt.label, "a_bits": q.a_bits, "kept": q.kept,
                        "channels": full[q.name]} for q in layers],
            "kl_report": [{"layer": r.layer, "arith": r.arith.value, "coefficients": r.coefficients,
                           "kl": r.kl, "rel_msqe": r.rel_msqe} for r in kl],
        })  # fmt: skip
        return
    table = Table("layer", "weights", "act. bits", "kept / filters")
    for q in layers:
        table.add_row(
            q.name,
            q.fmt.label,
            "-" if q.a_bits is None else str(q.a_bits),
            f"{q.kept} / {full[q.name]}",
        )
    console.print(table)
    how = "cached" if result.cached else f"{result.seconds:.2f} s"
    console.print(f"workload {wl.name}: float accuracy {100 * wl.float_accuracy:.2f}%")
    console.print(f"quantized accuracy (validation, {steps} fine-tuning steps, seed {seed}): "
                  f"{100 * result.accuracy:.2f}% ({how})")  # fmt: skip
    if kl:
        kt = Table("layer", "RCCM set", "coefficients", "KL(P||R)", "rel. MSQE")
        for r in kl:
            kt.add_row(
                r.layer, r.arith.value, str(r.coefficients), f"{r.kl:.3f}", f"{r.rel_msqe:.4f}"
            )
        console.print(kt)
