"""Joint search on the default digits-cnn study (accuracy, latency_ms, lut on XCZU3EG, 85%
cap): today's sampled search (TPE over every knob) against the decomposed search
(`--hardware solve`: bits/pruning/RCCM set sampled, hardware from the exact folding solver)
at equal wall time, each in a fresh SQLite study sharing one float-model cache; the
normalized hypervolume (the study's own bounds) and the trials done. Then the default
`dse search` command's wall time, as benchmarks/e2e_digits.py measures it.

    python benchmarks/solver_joint.py --seconds 180
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from dse.config import HardwareMode, StudyConfig
from dse.report import front, hypervolume
from dse.storage import load_study_record
from dse.study import run_search


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=180.0, help="wall time per search")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"digits-cnn on XCZU3EG, accuracy/latency_ms/lut, cap 85%, {args.seconds:.0f} s "
            f"wall each, seed {args.seed}"
        )
        print(f"{'search':<28} {'trials':>6} {'feasible':>8} {'front':>5} {'HV':>8} {'wall s':>7}")
        for label, hw in (
            ("sampled (TPE, today)", HardwareMode.SAMPLE),
            ("decomposed (solver)", HardwareMode.SOLVE),
        ):
            url = f"sqlite:///{Path(tmp) / (hw.value + '.db')}"
            cfg = replace(
                StudyConfig(),
                hardware=hw,
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


if __name__ == "__main__":
    main()
