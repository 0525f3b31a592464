"""Joint search on the default digits-cnn study (accuracy, latency_ms, lut on XCZU3EG, 85%
cap), single-network or (`--mode twin`) TwinDNN pairs: the sampled search (TPE over every
knob) against the decomposed search
(`--hardware solve`: bits/pruning/RCCM set sampled, hardware from the exact folding solver)
at equal wall time, both with TPE (what `--sampler auto` picks for the default budget; a
trial count of 100,000, which the timeout cuts, would make `auto` pick NSGA-II), each in
a fresh SQLite study sharing one float-model cache; the
normalized hypervolume (the study's own bounds) and the trials done. Then the default
`dse search` budget (120 trials) in each mode: wall and CPU time (`time.process_time`,
this process) and the hypervolume reached, each in a fresh study (the float model is
trained once, untimed, before the first search and shared through the cache).

With `--mode twin` the same two comparisons for twin studies (`dse search --mode twin`,
default twin settings): every knob of both halves sampled against `--hardware solve`
(both halves' hardware from `dse/twin/solve.py` under the shared budget). The load average
is printed at the end.

    python benchmarks/solver_joint.py --seconds 150 --default-trials 120 [--mode twin]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from dse.config import HardwareMode, Mode, SamplerName, StudyConfig
from dse.report import front, hypervolume
from dse.storage import load_study_record
from dse.study import run_search


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=180.0, help="wall time per search (0: skip)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--default-trials", type=int, default=120, help="the default search's budget (0: skip)"
    )
    ap.add_argument("--mode", choices=[m.value for m in (Mode.SINGLE, Mode.TWIN)],
                    default=Mode.SINGLE.value)  # fmt: skip
    args = ap.parse_args()
    base = replace(StudyConfig(), mode=Mode(args.mode))
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"{args.mode}: digits-cnn on XCZU3EG, accuracy/latency_ms/lut, cap 85%, "
            f"{args.seconds:.0f} s wall each, seed {args.seed}"
        )
        # the float model trains once, untimed, into the cache every search below reads
        warm = f"sqlite:///{Path(tmp) / 'warm.db'}"
        run_search(replace(base, trials=1, storage=warm, study="warm", seed=args.seed))
        print(f"{'search':<28} {'trials':>6} {'feasible':>8} {'front':>5} {'HV':>8} {'wall s':>7}")
        for label, hw in (
            ("sampled (TPE)", HardwareMode.SAMPLE),
            ("decomposed (solver)", HardwareMode.SOLVE),
        ):
            if args.seconds <= 0:
                break
            url = f"sqlite:///{Path(tmp) / (hw.value + '.db')}"
            cfg = replace(
                base,
                hardware=hw,
                sampler=SamplerName.TPE,  # what `auto` picks for the default budget
                trials=100000,
                timeout_s=args.seconds,
                storage=url,
                study=hw.value,
                seed=args.seed,
            )
            t0 = time.perf_counter()
            s = run_search(cfg)
            wall = time.perf_counter() - t0
            rec = load_study_record(url, hw.value)
            print(
                f"{label:<28} {s.trials_total:>6} {s.feasible:>8} {len(front(rec)):>5} "
                f"{hypervolume(rec):>8.4f} {wall:>7.1f}"
            )
        if args.default_trials <= 0:
            return
        print(f"\nthe default budget: {args.default_trials} trials, no timeout")
        print(
            f"{'search':<28} {'trials':>6} {'feasible':>8} {'front':>5} {'HV':>8} "
            f"{'wall s':>7} {'CPU s':>7}"
        )
        for label, hw in (
            ("sampled (TPE)", HardwareMode.SAMPLE),
            ("decomposed (solver)", HardwareMode.SOLVE),
        ):
            name = f"default-{hw.value}"
            url = f"sqlite:///{Path(tmp) / (name + '.db')}"
            cfg = replace(
                base, hardware=hw, sampler=SamplerName.TPE, trials=args.default_trials,
                storage=url,
                study=name, seed=args.seed,
            )  # fmt: skip
            t0, c0 = time.perf_counter(), time.process_time()
            s = run_search(cfg)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            rec = load_study_record(url, name)
            print(
                f"{label:<28} {s.trials_total:>6} {s.feasible:>8} {len(front(rec)):>5} "
                f"{hypervolume(rec):>8.4f} {wall:>7.1f} {cpu:>7.1f}"
            )
        print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
