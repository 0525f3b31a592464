"""End to end on the built-in digits-cnn: the README's default command (`dse search` with no
arguments: digits-cnn on the Ultra96 part, runs/dse.db) timed in a fresh folder, then the
front's accuracy span as `dse report --format json` shows it.

    python benchmarks/e2e_digits.py            # fresh folder: includes training the float model
    python benchmarks/e2e_digits.py --keep-cache DIR   # reuse DIR/runs/cache (float model)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-c", "import sys; from dse.cli import main; sys.exit(main())"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep-cache", type=Path, default=None, help="copy runs/cache from here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.keep_cache is not None and (args.keep_cache / "runs" / "cache").is_dir():
            shutil.copytree(args.keep_cache / "runs" / "cache", work / "runs" / "cache")
        t0 = time.perf_counter()
        run = subprocess.run([*CLI, "search", "--json"], cwd=work, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if run.returncode != 0:
            print(run.stderr.strip().splitlines()[-1] if run.stderr.strip() else run.returncode)
            sys.exit(1)
        s = json.loads(run.stdout)
        rep = subprocess.run(
            [*CLI, "report", "--format", "json"], cwd=work, capture_output=True, text=True
        )
        r = json.loads(rep.stdout)
        front = r["front"]
        accs = [row["accuracy"] for row in front if row["accuracy"] is not None]
        luts = [row["lut"] for row in front]
        lats = [row["latency_ms"] for row in front]
        print(f"`dse search` (defaults) on {os.cpu_count()} cores: {wall:.1f} s wall")
        print(
            f"  study {s['study']}: {s['trials_new']} trials, {s['feasible']} feasible, "
            f"sampler {s['sampler']}, {s['trials_per_s']:.2f} trials/s"
        )
        c = r["counts"]
        print(
            f"  report: {c['feasible']} feasible, {c['infeasible']} infeasible, {c['failed']} "
            f"failed; front {len(front)} designs; hypervolume {r['hypervolume']:.4f}"
        )
        if accs:
            print(
                f"  front accuracy {min(accs):.4f} .. {max(accs):.4f}; LUT {min(luts):,.0f} .. "
                f"{max(luts):,.0f}; latency {min(lats):.4f} .. {max(lats):.4f} ms"
            )
        for row in sorted(front, key=lambda x: x["lut"]):
            acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.4f}"
            print(
                f"    trial {row['trial']:>3}  acc {acc}  LUT {row['lut']:>8,.0f}  "
                f"latency {row['latency_ms']:.4f} ms  {row['layers']}"
            )


if __name__ == "__main__":
    main()
