"""End-to-end time of the cost-only exact-front search (issue 12: "within 10 s wall"):
`dse search` on the BNN-PYNQ CNV-W1A1 layer list on XC7Z020, `--objectives fps,lut`, 85%
cap, into a fresh SQLite file, as a user runs it (a new process: imports included), and
the solver's own time inside it. With `--before REV`, the same run at revision REV
(extracted with `git archive`, put first on PYTHONPATH) alternates with this checkout's, so
both see the same machine load.

Printed per run: wall seconds, CPU seconds of the process (user + system, the least
sensitive to other load on a shared machine), the number of trials stored; then the
median of each over `--rounds`, and the load average. `--objectives latency_ms,lut` times
the latency front; a run past `--timeout` seconds wall is stopped and counted as not
finished (its CPU seconds still printed).

    python benchmarks/solver_speed.py [--before REV] [--rounds 3] [--objectives fps,lut]
        [--timeout 600]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _extract(rev: str, into: Path) -> Path:
    tar = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as tf:
        tf.extractall(into, filter="data")
    return into


def _one(
    tree: Path, spec: Path, tmp: Path, tag: str, objectives: str, timeout: float
) -> tuple[float, float, int | None]:
    """(wall s, CPU s, trials stored or None when stopped at `timeout`) of one `dse search`
    in a fresh process."""
    db = tmp / f"{tag}-{time.monotonic_ns()}.db"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [
        sys.executable, "-c", "import sys; from dse.cli import main; sys.exit(main())",
        "search", "--workload", str(spec), "--device", "XC7Z020", "--objectives", objectives,
        "--storage", f"sqlite:///{db}", "--study", "s", "--json",
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp,
                             timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:  # killed and reaped: its CPU is in RUSAGE_CHILDREN
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return time.perf_counter() - t0, cpu, None
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{tag}: dse search failed: {out.stderr.strip()[-400:]}")
    trials = int(json.loads(out.stdout)["trials_total"])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, trials


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default=None, help="git revision to compare with")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--objectives", default="fps,lut")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds wall per run")
    args = ap.parse_args()
    from costmodels.zoo import cnv_network
    from dse.spec import dump_network

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        spec = tmp / "cnv.yaml"
        spec.write_text(dump_network(cnv_network()))
        trees = {"after": ROOT}
        if args.before:
            trees = {"before": _extract(args.before, tmp / "before"), "after": ROOT}
        runs: dict[str, list[tuple[float, float, int | None]]] = {k: [] for k in trees}
        for r in range(args.rounds):
            for tag, tree in trees.items():
                w, c, n = _one(tree, spec, tmp, tag, args.objectives, args.timeout)
                runs[tag].append((w, c, n))
                done = f"{n} trials" if n is not None else "stopped: not finished"
                print(f"round {r} {tag:<6} wall {w:6.2f} s  CPU {c:6.2f} s  {done}")
        print(f"cost-only CNV-W1A1 on XC7Z020, --objectives {args.objectives}, 85% cap")
        for tag, rows in runs.items():
            print(
                f"{tag:<6} median wall {statistics.median(r[0] for r in rows):6.2f} s  "
                f"median CPU {statistics.median(r[1] for r in rows):6.2f} s  "
                f"trials {rows[0][2] if rows[0][2] is not None else 'none (not finished)'}"
            )
        print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
