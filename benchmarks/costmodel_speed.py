"""Microseconds per `costmodels.estimate` call for a 50-layer network, before and after a
change, measured in one run.

Figures: warm (the same design again: per-unit memos hit), cold (every call a new random
folding/bit-width per layer, as a search produces: most units miss; all memos emptied
first), 5 of 48 layers changed per call (a local search move), then shape resolution
alone and the engines template. Each is the best of 5 rounds, with the median and the
best CPU time of the measuring process (CPU time is the least sensitive to other load on
a shared machine; the load average is printed).

`--before REV` (default: the last commit with the second, hand-inlined dataflow
implementation `costmodels/fastpath.py`) extracts that revision's `costmodels` with
`git archive` and measures it in a subprocess, alternating with this checkout's, so both
see the same machine load. Run: python benchmarks/costmodel_speed.py [--before REV]
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The commit before `costmodels/fastpath.py` was removed in favour of one memoised path.
BEFORE = "3cf4004"
ROUNDS = 5
LABELS = (
    "warm (same design)",
    "cold (new random design)",
    "5 of 48 layers changed",
    "resolve() alone, warm",
    "engines template, warm",
)


def _clear() -> None:
    """Empty every memo of the cost models (each `functools` cache in `costmodels`, and
    the old fast path's remembered units), so the next estimate pays for everything."""
    for name, mod in list(sys.modules.items()):
        if not name.startswith("costmodels"):
            continue
        for obj in vars(mod).values():
            if callable(getattr(obj, "cache_clear", None)):
                obj.cache_clear()
        clear_recent = getattr(mod, "clear_recent_units", None)
        if callable(clear_recent):
            clear_recent()


def _timed(calls: list[Callable[[], object]], clear: bool) -> tuple[float, float, float]:
    """(best, median, best CPU) microseconds per call over `ROUNDS` rounds of `calls`,
    emptying the memos before each round when `clear`."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(ROUNDS):
        if clear:
            _clear()
        t0, c0 = time.perf_counter(), time.process_time()
        for call in calls:
            call()
        wall.append((time.perf_counter() - t0) / len(calls) * 1e6)
        cpu.append((time.process_time() - c0) / len(calls) * 1e6)
    return min(wall), statistics.median(wall), min(cpu)


def measure() -> dict[str, object]:
    """Time the `costmodels` found first on sys.path (this checkout's, or the one
    `--before` extracted)."""
    from costmodels import Template, estimate, get_device, resolve, valid_pe, valid_simd
    from costmodels.zoo import fifty_layer_network

    def random_variant(net, rng):  # type: ignore[no-untyped-def]
        resolved = {rl.name: rl for rl in resolve(net)}
        choices = {}
        for layer in net.compute_layers:
            rl = resolved[layer.name]
            c = layer.choice
            choices[layer.name] = replace(
                c,
                pe=rng.choice(valid_pe(rl)),
                simd=rng.choice(valid_simd(rl)),
                w_bits=rng.randint(1, 8),
                a_bits=rng.randint(1, 4) if c.a_bits is not None else None,
            )
        return net.with_choices(choices)

    def mutate(net, rng, k):  # type: ignore[no-untyped-def]
        other = random_variant(net, rng)
        names = rng.sample([layer.name for layer in net.compute_layers], k)
        new = {la.name: la.choice for la in other.compute_layers if la.name in names}
        return net.with_choices(new)

    net = fifty_layer_network()
    dev = get_device("zcu104")
    rng = random.Random(0)
    variants = [random_variant(net, rng) for _ in range(300)]
    walk = [net]
    for _ in range(300):
        walk.append(mutate(walk[-1], rng, 5))
    estimate(net, dev)
    figures = (
        _timed([lambda: estimate(net, dev)] * 1000, clear=False),
        _timed([functools.partial(estimate, v, dev) for v in variants], clear=True),
        _timed([functools.partial(estimate, v, dev) for v in walk], clear=True),
        _timed([lambda: resolve(net)] * 1000, clear=False),
        _timed([lambda: estimate(net, dev, template=Template.ENGINES)] * 500, clear=False),
    )
    return {
        "layers": len(net.layers),
        "compute": len(net.compute_layers),
        "device": dev.part,
        "figures": dict(zip(LABELS, figures, strict=True)),
    }


def _extract(rev: str, into: Path) -> bool:
    """`costmodels` at `rev` into `into` (False when git or the revision is missing)."""
    try:
        tar = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "costmodels"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        tf.extractall(into, filter="data")
    return True


def _run(path: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure"],
        env={**os.environ, "PYTHONPATH": str(path)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default=BEFORE, help="git revision to compare with")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure()))
        return
    with tempfile.TemporaryDirectory() as tmp:
        old_root = Path(tmp)
        have_before = _extract(args.before, old_root)
        runs: dict[str, list[dict[str, object]]] = {"before": [], "after": []}
        for _ in range(2):  # alternate, so both see the same load
            if have_before:
                runs["before"].append(_run(old_root))
            runs["after"].append(_run(ROOT))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    info = runs["after"][0]
    print(f"machine: {os.cpu_count()} CPUs, 1-min load average {load:.1f} (timings scale with it)")
    layers, compute, device = info["layers"], info["compute"], info["device"]
    print(f"network: {layers} layers ({compute} conv/dense), device {device}")
    print(f"us per call: best wall-clock of {2 * ROUNDS} rounds, [best CPU time of the process]")
    head = f"{'':26s} {'after':>20s}"
    if have_before:
        head += f" {'before (' + args.before + ')':>24s}"
    print(head)
    for label in LABELS:

        def best(side: str, label: str = label) -> tuple[float, float]:
            figs = [r["figures"][label] for r in runs[side]]  # type: ignore[index]
            return min(f[0] for f in figs), min(f[2] for f in figs)

        a_wall, a_cpu = best("after")
        line = f"{label:26s} {a_wall:9.1f} [{a_cpu:7.1f}]"
        if have_before:
            b_wall, b_cpu = best("before")
            line += f" {b_wall:13.1f} [{b_cpu:7.1f}]   after/before CPU {a_cpu / b_cpu:4.2f}"
        print(line)


if __name__ == "__main__":
    main()
