"""Fidelity of the quick accuracy evaluation: does it rank candidates like a full
quantization-aware training would?

For >= 12 mixed-precision / pruned configurations of a workload (hand-picked ones spanning
easy to hard, plus seeded random ones) prints the quick evaluation (post-training
quantization, and with the default fine-tuning budget) next to a full quantization-aware
training of the same configuration (same pruned network, same quantizers, STE, Adam with a
cosine schedule, `--epochs` epochs from the float weights), and the Spearman rank
correlation between the columns (target >= 0.8 for the default budget).

    python benchmarks/accuracy_fidelity.py [--workload digits-cnn] [--epochs 20]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's dse
from _accuracy_common import random_candidate, spearman, uniform

from costmodels.types import Arith, Network
from dse.nn import DEFAULT_FINETUNE_STEPS, AccuracyEvaluator, Workload, load_workload


def full_qat(
    ev: AccuracyEvaluator, wl: Workload, net: Network, epochs: int, seed: int
) -> tuple[float, float]:
    """Validation and test accuracy after `epochs` epochs of QAT of the candidate."""
    model = ev.build_model(net)
    x, y = wl.inputs("train"), wl.data["train"][1]
    batch = 64
    steps = epochs * math.ceil(len(x) / batch)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()
    model.eval()
    accs = []
    with torch.no_grad():
        for split in ("val", "test"):
            out = model(wl.inputs(split))
            accs.append(float((out.argmax(1) == wl.data[split][1]).float().mean()))
    return accs[0], accs[1]


def configs(net: Network, n_random: int) -> list[tuple[str, Network]]:
    hand = [
        ("w8a8", uniform(net, 8, 8)),
        ("w4a4", uniform(net, 4, 4)),
        ("mid w2a8 (ternary)", uniform(net, 2, 8, mid_only=True)),
        ("mid w1a8 (binary)", uniform(net, 1, 8, mid_only=True)),
        ("w8a2", uniform(net, 8, 2)),
        ("mid w8a1", uniform(net, 8, 1, mid_only=True)),
        ("w1a1 all layers", uniform(net, 1, 1)),
        ("w1a2 all layers", uniform(net, 1, 2)),
        ("mid w2a2 prune 50%", uniform(net, 2, 2, mid_only=True, prune=0.5)),
        ("mid rccm2 a8", uniform(net, 8, 8, mid_only=True, arith=Arith.RCCM2)),
        ("w4a4 prune 75%", uniform(net, 4, 4, prune=0.75)),
        ("mid w3a3 prune 25%", uniform(net, 3, 3, mid_only=True, prune=0.25)),
    ]
    rng = random.Random(7)
    rand = [(f"random #{i + 1}", random_candidate(net, rng)) for i in range(n_random)]
    return hand + rand


def _acc(logits: torch.Tensor | object, labels: object) -> float:
    import numpy as np

    return float((np.asarray(logits).argmax(axis=1) == np.asarray(labels)).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="digits-cnn")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--random", type=int, default=6)
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args()
    wl = load_workload(args.workload, cache_dir=args.cache_dir)
    ptq = AccuracyEvaluator(wl, finetune_steps=0)
    quick = AccuracyEvaluator(wl, finetune_steps=DEFAULT_FINETUNE_STEPS)
    n_val, n_test = len(wl.labels("val")), len(wl.labels("test"))
    rows = []
    print(f"workload {wl.name} (float validation accuracy {100 * wl.float_accuracy:.2f}%), "
          f"quick = {DEFAULT_FINETUNE_STEPS} fine-tuning steps, full QAT = {args.epochs} epochs "
          f"(seeds 0 and 1); accuracy on validation ({n_val}) and validation+test "
          f"({n_val + n_test})")  # fmt: skip
    print(f"{'configuration':22s} {'PTQ':>6s} {'quick':>6s} {'full0':>6s} {'full1':>6s} | "
          f"{'quick':>6s} {'full0':>6s} {'full1':>6s}  (val+test) "
          f"{'quick s':>7s} {'full s':>6s}")  # fmt: skip
    for name, net in configs(wl.network, args.random):
        a = ptq.evaluate(net).accuracy
        t0 = time.perf_counter()
        b = quick.evaluate(net).accuracy
        tq = time.perf_counter() - t0
        b_test = _acc(quick.outputs(net, "test"), wl.labels("test"))
        b_all = (b * n_val + b_test * n_test) / (n_val + n_test)
        t0 = time.perf_counter()
        f0_val, f0_test = full_qat(quick, wl, net, args.epochs, seed=0)
        tf = time.perf_counter() - t0
        f1_val, f1_test = full_qat(quick, wl, net, args.epochs, seed=1)
        f0_all = (f0_val * n_val + f0_test * n_test) / (n_val + n_test)
        f1_all = (f1_val * n_val + f1_test * n_test) / (n_val + n_test)
        rows.append((a, b, f0_val, f1_val, b_all, f0_all, f1_all))
        print(f"{name:22s} {100 * a:6.2f} {100 * b:6.2f} {100 * f0_val:6.2f} {100 * f1_val:6.2f} | "
              f"{100 * b_all:6.2f} {100 * f0_all:6.2f} {100 * f1_all:6.2f}             "
              f"{tq:7.2f} {tf:6.2f}", flush=True)  # fmt: skip
    cols = [list(c) for c in zip(*rows, strict=True)]
    ptq_v, quick_v, f0_v, f1_v, quick_a, f0_a, f1_a = cols
    full_v = [(x + y) / 2 for x, y in zip(f0_v, f1_v, strict=True)]
    full_a = [(x + y) / 2 for x, y in zip(f0_a, f1_a, strict=True)]
    print()
    print(f"configurations: {len(rows)}")
    print("Spearman rho (target >= 0.8 for quick vs full QAT):")
    print(
        f"  quick vs full QAT (mean of 2 seeds), validation:        {spearman(quick_v, full_v):.3f}"
    )
    print(
        f"  quick vs full QAT (mean of 2 seeds), validation+test:   {spearman(quick_a, full_a):.3f}"
    )
    print(
        f"  PTQ only vs full QAT (mean of 2 seeds), validation:     {spearman(ptq_v, full_v):.3f}"
    )
    print(f"  noise ceiling: full QAT seed 0 vs seed 1, validation:   {spearman(f0_v, f1_v):.3f}")
    print(f"  noise ceiling: full QAT seed 0 vs seed 1, val+test:     {spearman(f0_a, f1_a):.3f}")
    mae = sum(abs(q - f) for q, f in zip(quick_v, full_v, strict=True)) / len(rows)
    print(f"mean |quick - full QAT| (validation): {100 * mae:.2f} percentage points")


if __name__ == "__main__":
    main()
