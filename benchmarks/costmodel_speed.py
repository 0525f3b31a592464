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
see the same machine load. `--instructions` also counts the machine instructions of a
cold estimate with valgrind's callgrind, for both sides: a figure the machine's load does
not move (the timings do).

Run: python benchmarks/costmodel_speed.py [--before REV] [--instructions]
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import random
import re
import shutil
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
#: New designs per round in the instruction count (`--instructions`).
COUNTED_DESIGNS = 100
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


def _designs(count: int, seed: int = 0):  # type: ignore[no-untyped-def]
    """The 50-layer network, the device, and `count` random variants of it (a new random
    folding and bit-width per layer, as a search proposes), from the `costmodels` found
    first on sys.path."""
    from costmodels import get_device, resolve, valid_pe, valid_simd
    from costmodels.zoo import fifty_layer_network

    net = fifty_layer_network()
    resolved = {rl.name: rl for rl in resolve(net)}
    rng = random.Random(seed)

    def random_variant(net):  # type: ignore[no-untyped-def]
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

    return net, get_device("zcu104"), [random_variant(net) for _ in range(count)], random_variant


def measure() -> dict[str, object]:
    """Time the `costmodels` found first on sys.path (this checkout's, or the one
    `--before` extracted)."""
    from costmodels import Template, estimate, resolve

    net, dev, variants, random_variant = _designs(300)
    rng = random.Random(1)

    def mutate(net, k):  # type: ignore[no-untyped-def]
        other = random_variant(net)
        names = rng.sample([layer.name for layer in net.compute_layers], k)
        new = {la.name: la.choice for la in other.compute_layers if la.name in names}
        return net.with_choices(new)

    walk = [net]
    for _ in range(300):
        walk.append(mutate(walk[-1], 5))
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


def cold_rounds(rounds: int) -> None:
    """`rounds` rounds of the cold figure's work (memos emptied, then every one of
    `COUNTED_DESIGNS` new designs estimated), for `_instructions` to count."""
    from costmodels import estimate

    net, dev, variants, _ = _designs(COUNTED_DESIGNS)
    for v in variants:
        hash(v)
    estimate(net, dev)
    for _ in range(rounds):
        _clear()
        for v in variants:
            estimate(v, dev)


def _instructions(path: Path) -> float:
    """Machine instructions per cold estimate, counted by valgrind's callgrind (repeatable
    whatever the machine's load, unlike time): a process doing two rounds of
    `cold_rounds` minus one doing one round (imports and set-up cancel), over
    `COUNTED_DESIGNS` designs."""
    counts = []
    for rounds in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                [
                    "valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
                    sys.executable, __file__, "--cold-rounds", str(rounds),
                ],
                env={**os.environ, "PYTHONPATH": str(path)},
                capture_output=True,
                text=True,
                check=True,
            )  # fmt: skip
        found = re.search(r"Collected : ([\d,]+)", out.stderr)
        if found is None:
            raise SystemExit(f"callgrind printed no count: {out.stderr[-300:]}")
        counts.append(int(found.group(1).replace(",", "")))
    return (counts[1] - counts[0]) / COUNTED_DESIGNS


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
    ap.add_argument(
        "--instructions",
        action="store_true",
        help="also count machine instructions per cold estimate with valgrind (slow: ~1 min)",
    )
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cold-rounds", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure()))
        return
    if args.cold_rounds is not None:
        cold_rounds(args.cold_rounds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        old_root = Path(tmp)
        have_before = _extract(args.before, old_root)
        runs: dict[str, list[dict[str, object]]] = {"before": [], "after": []}
        for _ in range(2):  # alternate, so both see the same load
            if have_before:
                runs["before"].append(_run(old_root))
            runs["after"].append(_run(ROOT))
        counted: dict[str, float] = {}
        if args.instructions and shutil.which("valgrind") is None:
            print("valgrind not found: no instruction count")
        elif args.instructions:
            counted["after"] = _instructions(ROOT)
            if have_before:
                counted["before"] = _instructions(old_root)
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
    if counted:
        line = f"{'cold, M instructions':26s} {counted['after'] / 1e6:19.3f}"
        if "before" in counted:
            ratio = counted["after"] / counted["before"]
            line += f" {counted['before'] / 1e6:23.3f}   after/before {ratio:4.2f}"
        print(line + f"   (callgrind, {COUNTED_DESIGNS} designs)")


if __name__ == "__main__":
    main()
