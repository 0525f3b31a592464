"""What `costmodels.solver.fastest` costs at the start of every search (it seeds the
`solver-fastest` baseline, `dse.hardware.fastest_baseline`): before, the first point of
the whole FPS/LUT front (`solve(objectives=("fps", "lut")).points[0]`, what `fastest`
returned and what the baseline took); after, `fastest` itself, which finds that point
without walking the front (`_fastest_pick`).

Part 1, in this process: the CPU time (`time.process_time`) of each on CNV-W1A1 / XC7Z020
and on the default digits-cnn study's network (its own bits, the study's solver limits,
XCZU3EG, 85% cap), alternating `--rounds` times with the solver's memo caches cleared
before every call (the per-unit estimates stay warm after one untimed call of each, so
both sides time the solve, not the option tables' first costing); each call's result is
checked to be the same design. Part 2 (with `--before REV`): `dse search --trials 10` on
the default study (digits-cnn) in a fresh process and a fresh SQLite file, REV's tree
(`git archive`) alternating with this checkout's; wall and CPU seconds of the process
(the float model is trained once, untimed, into the shared cache first). Medians and the
load average at the end.

    python benchmarks/solver_fastest.py [--rounds 5] [--before REV] [--search-rounds 3]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _networks() -> list[tuple[str, object, object, object]]:
    """(label, network, device, limits) of the two cases."""
    from costmodels.devices import get_device
    from costmodels.solver import HardwareLimits
    from costmodels.zoo import cnv_network
    from dse.config import StudyConfig
    from dse.hardware import given_bits_network, solver_limits
    from dse.modes import build_problem
    from dse.problem import load_workload

    cfg = StudyConfig()
    with tempfile.TemporaryDirectory() as d:
        loaded = load_workload(cfg.workload, seed=cfg.seed)
        problem = build_problem(cfg, loaded, storage=f"sqlite:///{Path(d) / 'p.db'}")
    space = problem.space  # type: ignore[attr-defined]
    return [
        ("CNV-W1A1 / XC7Z020", cnv_network(), get_device("XC7Z020"), HardwareLimits()),
        (
            f"{cfg.workload} / {cfg.device}",
            given_bits_network(space),
            get_device(cfg.device),
            solver_limits(space, keep_rccm=True),
        ),
    ]


def _cpu(fn: Callable[[], object]) -> tuple[float, object]:
    c0 = time.process_time()
    out = fn()
    return time.process_time() - c0, out


def part1(rounds: int) -> None:
    from costmodels import solver as S

    print(f"fastest: CPU s per call, {rounds} alternating rounds, caches cleared per call")
    print(f"{'network / device':<28} {'before (whole front)':>21} {'after':>9} {'ratio':>7}")
    for label, net, dev, lim in _networks():

        def before(net=net, dev=dev, lim=lim) -> object:
            S._front_picks.cache_clear()
            res = S.solve(net, dev, cap_pct=85.0, objectives=("fps", "lut"), limits=lim)
            return res.points[0] if res.points else None

        def after(net=net, dev=dev, lim=lim) -> object:
            S._fastest_pick.cache_clear()
            return S.fastest(net, dev, cap_pct=85.0, limits=lim)

        before(), after()  # untimed: the per-unit estimates' memo, for both sides
        times: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(rounds):
            tb, pb = _cpu(before)
            ta, pa = _cpu(after)
            same = (pb is None and pa is None) or (
                pb is not None and pa is not None and pb.choices == pa.choices  # type: ignore[attr-defined]
            )
            if not same:
                raise SystemExit(f"{label}: fastest differs from the front's first point")
            times["before"].append(tb)
            times["after"].append(ta)
        b, a = statistics.median(times["before"]), statistics.median(times["after"])
        print(f"{label:<28} {b:>21.3f} {a:>9.3f} {b / a:>6.1f}x")


def _extract(rev: str, into: Path) -> Path:
    tar = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as tf:
        tf.extractall(into, filter="data")
    return into


def _search(tree: Path, tmp: Path, tag: str, trials: int) -> tuple[float, float]:
    """(wall s, CPU s) of one default `dse search --trials N` in a fresh process."""
    db = tmp / f"{tag}-{time.monotonic_ns()}.db"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [
        sys.executable, "-c", "import sys; from dse.cli import main; sys.exit(main())",
        "search", "--trials", str(trials), "--storage", f"sqlite:///{db}", "--study", "s",
        "--json",
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{tag}: dse search failed: {out.stderr.strip()[-400:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def part2(rev: str, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        trees = {"before": _extract(rev, tmp / "before"), "after": ROOT}
        _search(ROOT, tmp, "warm", 1)  # the float model, untimed, into the shared cache
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in trees}
        for r in range(rounds):
            for tag, tree in trees.items():
                w, c = _search(tree, tmp, tag, 10)
                runs[tag].append((w, c))
                print(f"round {r} {tag:<6} wall {w:6.2f} s  CPU {c:6.2f} s")
        print(f"default `dse search --trials 10` (before = {rev}), medians of {rounds}:")
        for tag, rows in runs.items():
            print(
                f"{tag:<6} wall {statistics.median(r[0] for r in rows):6.2f} s  "
                f"CPU {statistics.median(r[1] for r in rows):6.2f} s"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--before", default=None, help="git revision for the search timing")
    ap.add_argument("--search-rounds", type=int, default=3)
    args = ap.parse_args()
    part1(args.rounds)
    if args.before:
        part2(args.before, args.search_rounds)
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
