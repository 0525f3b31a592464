"""Speed of the quick accuracy evaluation against one float forward pass.

For random mixed-precision, pruned candidates of a workload, measures side by side in one
run: (a) one float forward pass of the trained torch model over the validation set, (b) the
post-training-quantization evaluation of the candidate (`AccuracyEvaluator.evaluate` with
`finetune_steps=0`, a new accuracy key each time, so no result cache), and prints the
ratio (target <= 1.5x). Then the cost of the quantization-aware fine-tuning per step budget.

    python benchmarks/accuracy_speed.py [--workload digits-cnn] [--candidates 40]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's dse
from _accuracy_common import random_candidate

from dse.nn import AccuracyEvaluator, load_workload


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="digits-cnn")
    ap.add_argument("--candidates", type=int, default=40)
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args()
    wl = load_workload(args.workload, cache_dir=args.cache_dir)
    x = wl.inputs("val")
    rng = random.Random(0)
    cands = [random_candidate(wl.network, rng) for _ in range(args.candidates)]

    def float_forward() -> float:
        t0 = time.perf_counter()
        with torch.no_grad():
            wl.model(x)
        return time.perf_counter() - t0

    ev = AccuracyEvaluator(wl, finetune_steps=0)
    for _ in range(5):
        float_forward()
    t0 = time.perf_counter()
    ev.warm_up()  # calibration ranges for 1..8 bits, RCCM scales (once per search)
    ev.evaluate(wl.network)
    setup = time.perf_counter() - t0
    print(
        f"workload {wl.name}: {len(x)} validation samples, torch threads {torch.get_num_threads()}"
    )
    print(
        "evaluator set-up (warm_up: calibration 1..8 bits, RCCM scales; first evaluation): "
        f"{setup * 1e3:.1f} ms"
    )
    print()
    for label in ("first visit (cold weight caches)", "revisit (warm weight caches)"):
        ratios, f_ms, q_ms = [], [], []
        for net in cands:
            ev._memo.clear()  # force a real evaluation (no result cache)
            f = min(float_forward() for _ in range(3))
            t0 = time.perf_counter()
            ev.evaluate(net)
            q = time.perf_counter() - t0
            f_ms.append(f * 1e3)
            q_ms.append(q * 1e3)
            ratios.append(q / f)
        ratios.sort()
        print(f"{label}, {len(cands)} candidates:")
        print(f"  float forward   median {statistics.median(f_ms):7.2f} ms")
        print(f"  PTQ evaluation  median {statistics.median(q_ms):7.2f} ms")
        print(f"  ratio PTQ/float median {statistics.median(ratios):5.2f}x   "
              f"p90 {ratios[int(0.9 * (len(ratios) - 1))]:5.2f}x   "
              f"max {ratios[-1]:5.2f}x")  # fmt: skip
    print()
    print("quantization-aware fine-tuning: cost and accuracy per step budget "
          "(8 candidates, mean validation accuracy):")  # fmt: skip
    f = statistics.median(float_forward() for _ in range(9))
    for steps in (0, 25, 50, 100, 200):
        evs = AccuracyEvaluator(wl, finetune_steps=steps)
        evs.warm_up()
        times, accs = [], []
        for net in cands[:8]:
            t0 = time.perf_counter()
            accs.append(evs.evaluate(net).accuracy)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(f"  {steps:4d} steps: median {med * 1e3:8.1f} ms = {med / f:6.1f} float forwards, "
              f"mean accuracy {100 * statistics.mean(accs):6.2f}%")  # fmt: skip


if __name__ == "__main__":
    main()
