"""Do the quick evaluation's numbers move the way the seed papers say they should?

On the built-in digits workloads, prints accuracy (mean over fine-tuning seeds) for:

- weights binary < ternary < 4-bit < 8-bit (ELB-NN Table I: AlexNet-8-8118 < -8-8218 <
  -8-8228 < -8-8888; Faraone thesis Table 6.9: Binary < Ternary < 4-bit < 8-bit);
- activations more sensitive than weights (ELB-NN sec. IV.B: "the precision of the
  activation function is in general more sensitive than that of the weights"): w8aK vs wKa8;
- RCCM 2/3/4-Add weights near 8-bit accuracy (thesis Table 6.9).

Weights are changed in the middle layers only, first and last kept at 8 bits as in ELB-NN
(sec. IV.A) and the thesis (Table 6.9 note); a second block changes every layer.

    python benchmarks/accuracy_seed_sanity.py [--seeds 3] [--steps N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's dse
from _accuracy_common import uniform

from costmodels.types import Arith, Network
from dse.nn import DEFAULT_FINETUNE_STEPS, AccuracyEvaluator, Workload, load_workload


def mean_acc(wl: Workload, net: Network, steps: int, seeds: int) -> float:
    return statistics.mean(
        AccuracyEvaluator(wl, finetune_steps=steps, seed=s).evaluate(net).accuracy
        for s in range(seeds)
    )


def check(label: str, ok: bool) -> str:
    return f"  {label:64s} {'holds' if ok else 'DOES NOT HOLD'}"


def chain(values: list[float]) -> str:
    """'holds' for a strictly increasing chain, 'holds with ties' for non-decreasing."""
    if all(a < b for a, b in pairwise(values)):
        return "holds"
    if all(a <= b for a, b in pairwise(values)):
        return "holds with ties"
    return "DOES NOT HOLD"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=DEFAULT_FINETUNE_STEPS)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--workloads", default="digits-cnn,digits-mlp")
    args = ap.parse_args()
    for name in args.workloads.split(","):
        wl = load_workload(name, cache_dir=args.cache_dir)
        net = wl.network
        print(f"== {wl.name}: float validation accuracy {100 * wl.float_accuracy:.2f}%; "
              f"quick = {args.steps} fine-tuning steps, mean of {args.seeds} seeds")  # fmt: skip
        print(f"{'configuration':34s} {'PTQ':>7s} {'quick':>7s}")
        res: dict[str, float] = {}
        res_ptq: dict[str, float] = {}
        rows: list[tuple[str, Network]] = []
        for scope, mid in (("mid", True), ("all", False)):
            rows += [
                (f"{scope} w8 a8", uniform(net, 8, 8, mid_only=mid)),
                (f"{scope} w4 a8", uniform(net, 4, 8, mid_only=mid)),
                (f"{scope} ternary a8", uniform(net, 2, 8, mid_only=mid)),
                (f"{scope} binary a8", uniform(net, 1, 8, mid_only=mid)),
            ]
        # activations of every layer (intermediate activations, ELB-NN sec. IV.A) vs weights
        for k in (4, 2, 1):
            rows.append((f"acts a{k} (weights 8)", uniform(net, 8, k)))
            rows.append((f"mid weights w{k} (acts 8)", uniform(net, k, 8, mid_only=True)))
        for arith in (Arith.RCCM2, Arith.RCCM3, Arith.RCCM4):
            rows.append((f"mid {arith.value} a8", uniform(net, 8, 8, mid_only=True, arith=arith)))
        for label, cand in rows:
            ptq = AccuracyEvaluator(wl, finetune_steps=0).evaluate(cand).accuracy
            res_ptq[label] = ptq
            res[label] = mean_acc(wl, cand, args.steps, args.seeds)
            print(f"{label:34s} {100 * ptq:6.2f}% {100 * res[label]:6.2f}%", flush=True)
        print("direction of the seeds' findings:")
        for scope in ("mid", "all"):
            for col, r in (("PTQ", res_ptq), ("quick", res)):
                vals = [r[f"{scope} {x} a8"] for x in ("binary", "ternary", "w4", "w8")]
                shown = " ".join(f"{100 * v:.2f}" for v in vals)
                label = f"{scope} weights, {col}: binary < ternary < 4-bit < 8-bit ({shown})"
                print(f"  {label:64s} {chain(vals)}")
        print("  (quick column below)")
        for k in (4, 2, 1):
            a, w = res[f"acts a{k} (weights 8)"], res[f"mid weights w{k} (acts 8)"]
            print(check(f"{k}-bit activations lose more than {k}-bit weights", a <= w))
        e = res["mid w8 a8"]
        for arith in ("rccm2", "rccm3", "rccm4"):
            r = res[f"mid {arith} a8"]
            print(check(f"{arith} within 1 point of 8-bit ({100 * (r - e):+.2f})", r >= e - 0.01))
        print()


if __name__ == "__main__":
    main()
