"""One SHA-256 digest of every number the dataflow cost model produces on a fixed set of
designs, to show a speed change leaves them bit-identical: run it before and after the
change and compare the digests (`--before REV` runs `REV`'s `costmodels` in the same
invocation and compares).

Designs (all seeded, so a run is repeatable): the benchmark's 50-layer network with 300
random foldings/bit-widths and a 300-step local walk (benchmarks/costmodel_speed.py), and
1,200 random designs, each with one or two of random arithmetic, weight types, pruning,
memory attributes, scaling and density, on CNV, the shared graph network
(tests/fixtures/graph_net.yaml) and the 50-layer network, on three devices, with `detail`
on and off, invalid designs' error messages included; then `dse estimate` of every
example as text, JSON and with `--units`, byte for byte.

Run: python benchmarks/costmodel_identity.py [--before REV] [--verbose]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import random
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVICES = ("zcu104", "pynq-z1", "xcku115")


def _designs_digest(verbose: bool) -> str:
    """Digest of `repr` of every estimate (or its error) over the seeded design set."""
    from costmodels import estimate, get_device, resolve, valid_pe, valid_simd
    from costmodels.errors import DseError
    from costmodels.types import Arith, MemMode, RamStyle, Scaling, WType
    from costmodels.zoo import cnv_network, fifty_layer_network
    from dse.spec import load_network

    h = hashlib.sha256()
    counts = {"designs": 0, "errors": 0}

    def record(net, dev, detail):  # type: ignore[no-untyped-def]
        counts["designs"] += 1
        try:
            out = repr(estimate(net, dev, detail=detail))
        except DseError as exc:
            counts["errors"] += 1
            out = f"{type(exc).__name__}: {exc}"
        h.update(out.encode())
        h.update(b"\0")

    fields = (
        ("arith", list(Arith)),
        ("w_type", [None, *WType]),
        ("mmv", [1, 2, 3]),
        ("prune", [0.0, 0.25, 0.5]),
        ("ram_style", list(RamStyle)),
        ("mem_mode", [None, *MemMode]),
        ("scaling", list(Scaling)),
        ("density", [None, 0.3, 0.7]),
    )

    def variant(net, rng, wild=()):  # type: ignore[no-untyped-def]
        resolved = {rl.name: rl for rl in resolve(net)}
        choices = {}
        for layer in net.compute_layers:
            rl = resolved[layer.name]
            c = layer.choice
            new = replace(
                c,
                pe=rng.choice(valid_pe(rl)),
                simd=rng.choice(valid_simd(rl)),
                w_bits=rng.randint(1, 8),
                a_bits=rng.randint(1, 4) if c.a_bits is not None else None,
            )
            for field, values in wild:
                if rng.random() < 0.5:
                    new = replace(new, **{field: rng.choice(values)})
            choices[layer.name] = new
        return net.with_choices(choices)

    # the speed benchmark's designs
    net = fifty_layer_network()
    dev = get_device("zcu104")
    rng = random.Random(0)
    walk = [net]
    for _ in range(300):
        record(variant(net, rng), dev, False)
    for _ in range(300):
        other = variant(net, rng)
        names = rng.sample([la.name for la in net.compute_layers], 5)
        new = {la.name: la.choice for la in other.compute_layers if la.name in names}
        walk.append(walk[-1].with_choices(new))
        record(walk[-1], dev, False)
    # random arithmetic on three devices
    bases = [
        cnv_network(),
        load_network(ROOT / "tests" / "fixtures" / "graph_net.yaml"),
        fifty_layer_network(),
    ]
    rng = random.Random(1)
    for i in range(1200):
        base = bases[i % len(bases)]
        device = get_device(DEVICES[(i // len(bases)) % len(DEVICES)])
        design = variant(base, rng, rng.sample(fields, rng.randint(1, 2)))
        record(design, device, i % 2 == 1)
    if verbose:
        print(counts, file=sys.stderr)
    return h.hexdigest()


def _cli_digest() -> str:
    """Digest of `dse estimate` on every example, text and JSON, stdout and exit code."""
    h = hashlib.sha256()
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    for spec in sorted((ROOT / "examples").glob("*.yaml")):
        for extra in ([], ["--json"], ["--units"]):
            run = subprocess.run(
                [sys.executable, "-m", "dse", "estimate", str(spec), *extra],
                capture_output=True,
                env=env,
                cwd=ROOT,
            )
            h.update(f"{spec.name} {extra} {run.returncode}\n".encode())
            h.update(run.stdout)
    return h.hexdigest()


def digests(verbose: bool = False) -> dict[str, str]:
    return {"designs": _designs_digest(verbose), "cli": _cli_digest()}


def _at(rev: str) -> dict[str, str]:
    """The design digest with `rev`'s `costmodels` (extracted with `git archive`)."""
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "costmodels"], capture_output=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            tf.extractall(tmp, filter="data")
        out = subprocess.run(
            [sys.executable, __file__, "--designs-only"],
            env={**os.environ, "PYTHONPATH": tmp},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return {"designs": out.strip()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", help="also compute the design digest at this revision")
    ap.add_argument("--designs-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if args.designs_only:
        print(_designs_digest(args.verbose))
        return 0
    now = digests(args.verbose)
    for key, value in now.items():
        print(f"{key}: {value}")
    if args.before:
        then = _at(args.before)
        same = then["designs"] == now["designs"]
        print(f"designs at {args.before}: {then['designs']} ({'same' if same else 'DIFFERENT'})")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
