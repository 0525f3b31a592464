"""Trials finished per second with 1, 2 and 4 `dse search` workers sharing one cost-only
study on PostgreSQL (direct storage mode: every ask/tell is a database round trip).

Usage: python benchmarks/reliability_scaling.py [--url postgresql://...] [--trials 120]

Prints, per worker count, the wall time of the whole run (processes included) and the
study's own rate: finished trials / (last completion - first start), read back from the
storage. Each configuration runs on a fresh study that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "examples" / "tfc-w1a1.yaml"
MAIN = "import sys; from dse.cli import main; sys.exit(main(sys.argv[1:]))"


def run(url: str, workers: int, total: int) -> tuple[float, float, int]:
    study = f"bench-{uuid.uuid4().hex[:8]}"
    share = [total // workers + (1 if i < total % workers else 0) for i in range(workers)]
    cmd = [
        sys.executable,
        "-c",
        MAIN,
        "search",
        "--workload",
        str(SPEC),
        "--device",
        "XC7Z020",
        "--storage",
        url,
        "--study",
        study,
        "--storage-mode",
        "direct",
        "--sampler",
        "nsga2",
        "--json",
        "--trials",
    ]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*cmd, str(n)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO
        )
        for n in share
    ]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"worker failed: {err.decode().strip()[-300:]}")
    wall = time.perf_counter() - t0
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        first, last, n = conn.execute(
            sa.text(
                "select min(t.datetime_start), max(t.datetime_complete), count(*) from trials t "
                "join studies s using (study_id) where s.study_name = :n and t.state = 'COMPLETE'"
            ),
            {"n": study},
        ).one()
    engine.dispose()
    optuna.delete_study(study_name=study, storage=url)
    span = (last - first).total_seconds()
    return wall, n / span if span > 0 else 0.0, int(n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--url",
        default=os.environ.get("DSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test"),
    )
    ap.add_argument("--trials", type=int, default=120)
    args = ap.parse_args()
    print(
        f"cost-only study tfc-w1a1 on XC7Z020, {args.trials} trials in total, "
        f"PostgreSQL {args.url.split('@')[-1]}, {os.cpu_count()} CPUs"
    )
    base = None
    for workers in (1, 2, 4):
        wall, rate, n = run(args.url, workers, args.trials)
        base = base or rate
        print(
            f"workers={workers}: {n} trials finished, {rate:6.1f} trials/s in the study "
            f"(x{rate / base:.2f} vs 1 worker), wall {wall:5.1f} s incl. process start-up"
        )


if __name__ == "__main__":
    main()
