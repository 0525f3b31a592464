"""Do TwinDNN's published combined latencies follow from its single-network latencies under
the paper's scheduler? And what does the pair resource model say about Table 1?

Feeds seed 000 Table 2's single-network latencies (tests/fixtures/twindnn_table2_*.csv)
through `dse.twin.simulate` (the paper's engines: one image at a time, II = latency) on a
synthetic stream of N inputs whose compressed margins are i.i.d. uniform, so that a fraction
p of them falls below T. For each combined row it prints the simulated latency per image
over p, the p at which the simulation meets the paper's combined latency, and two checks:
the published latency lies between T = 0 and T = inf, and the fraction of inputs the
accurate network answers at that p is at least the accuracy the twin gains over the
compressed network (each accurate answer can fix at most one input). It also shows that the
serial-cascade accounting (L_cmp + p * L_acc) cannot produce the ImageNet rows.

Then Table 1: the overhead of each combined design and the pair model's prediction.

Run: python benchmarks/twin_paper_consistency.py
"""

from __future__ import annotations

import csv
import math
import time
from itertools import pairwise
from pathlib import Path

import numpy as np

from costmodels import get_device
from costmodels.types import Resources
from dse.twin import ServiceTime, TwinStream, simulate
from dse.twin.resources import TABLE1, OverheadModel, pair_resources

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
N = 10_000
PS = [round(0.05 * k, 2) for k in range(21)]

# Combined row of Table 2 -> (compressed row, accurate row), by (dataset, precision).
PAIRS = {
    ("CIFAR-10", "16-bit + Binary"): (("CIFAR-10", "Binary"), ("CIFAR-10", "16-bit")),
    ("ImageNet", "16-bit + Ternary"): (("ImageNet", "Ternary"), ("ImageNet", "16-bit")),
    ("ImageNet", "8-bit + Ternary"): (("ImageNet", "Ternary"), ("ImageNet", "8-bit")),
    ("ImageNet", "32-bit + Ternary"): (("ImageNet", "Ternary-MobileNetV2"), ("ImageNet", "32-bit")),
}


def table2() -> dict[tuple[str, str], dict[str, str]]:
    rows: dict[tuple[str, str], dict[str, str]] = {}
    with (FIXTURES / "twindnn_table2_accuracy_latency.csv").open() as f:
        for r in csv.DictReader(f):
            key = (r["dataset"], r["precision"])
            if key in rows:  # the MobileNetV2 ternary row repeats ("Ternary")
                key = (r["dataset"], f"{r['precision']}-{r['network']}")
            rows[key] = r
    return rows


def interpolate_p(ps: list[float], lats: list[float], target: float) -> float:
    pts = list(zip(ps, lats, strict=True))
    for (p0, l0), (p1, l1) in pairwise(pts):
        if min(l0, l1) <= target <= max(l0, l1) and l1 != l0:
            return p0 + (target - l0) * (p1 - p0) / (l1 - l0)
    return math.nan


def main() -> None:
    rows = table2()
    rng = np.random.default_rng(0)
    margin = rng.random(N)
    ones = np.ones(N, dtype=bool)
    stream = TwinStream.from_correctness(margin, ones, ones)
    t0 = time.perf_counter()
    sims = 0
    print(f"TwinDNN Table 2 through the scheduler (N = {N} synthetic inputs, II = latency)")
    print(
        "p: share of inputs whose compressed margin is below T; re-checked / A fresh / "
        "A answers: fractions of all inputs\n"
    )
    for combined, (cmp_key, acc_key) in PAIRS.items():
        row, c_row, a_row = rows[combined], rows[cmp_key], rows[acc_key]
        lc, la = float(c_row["latency_ms"]), float(a_row["latency_ms"])
        paper = float(row["latency_ms"])
        c, a = ServiceTime(lc), ServiceTime(la)
        results = [simulate(stream, p, c, a) for p in PS]
        lo = simulate(stream, 0.0, c, a)
        hi = simulate(stream, math.inf, c, a)
        sims += len(PS) + 2
        print(
            f"{combined[0]} {combined[1]}: compressed {lc:g} ms, accurate {la:g} ms, "
            f"paper combined {paper:g} ms at T = {row['threshold_T']}"
        )
        print("    p   latency/img  re-checked  A fresh  A answers  speed-up")
        for p, r in zip(PS, results, strict=True):
            if p in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0):
                answered = r.recheck_fraction + r.accurate_fresh_fraction
                print(
                    f"  {p:4.2f}  {r.latency_ms:9.1f}  {r.recheck_fraction:9.3f}  "
                    f"{r.accurate_fresh_fraction:7.3f}  {answered:8.3f}  {r.speedup:7.2f}x"
                )
        p_star = interpolate_p(PS, [r.latency_ms for r in results], paper)
        within = lo.latency_ms <= paper <= hi.latency_ms
        print(
            f"  T=0 {lo.latency_ms:.1f} ms <= paper {paper:g} ms <= T=inf "
            f"{hi.latency_ms:.1f} ms: {'yes' if within else 'NO'}"
        )
        if not math.isnan(p_star):
            r = simulate(stream, p_star, c, a)
            answered = r.recheck_fraction + r.accurate_fresh_fraction
            gain = (float(row["accuracy_pct"]) - float(c_row["accuracy_pct"])) / 100
            print(
                f"  paper latency met at p = {p_star:.3f}: {r.recheck_fraction:.1%} of inputs "
                f"re-checked, accurate network answers {answered:.1%} >= accuracy gain "
                f"{gain:.1%}: {'yes' if answered >= gain else 'NO'}; simulated speed-up "
                f"{r.speedup:.2f}x vs paper {row['speedup_vs_original']}"
            )
        serial_p = (paper - lc) / la
        print(
            f"  serial cascade L_cmp + p*L_acc = {paper:g} needs p = {serial_p:.3f}"
            f"{'  (impossible: < 0)' if serial_p < 0 else ''}\n"
        )
    dt = time.perf_counter() - t0
    print(f"{sims} simulations of {N} inputs in {dt:.2f} s ({1e3 * dt / sims:.1f} ms each)\n")

    print("Table 1: combined design vs sum of accelerators (LUT); pair model predictions")
    models = {k: OverheadModel.parse(k) for k in ("mean", "min", "max")}
    for k, m in models.items():
        print(f"  overhead model {k!r}: {m.describe()}")
    print(
        "  design                                      parts LUT  combined  overhead  /parts  "
        "/device  pred(mean)  err    pred(min)  pred(max)  fits(mean)"
    )
    for r in TABLE1:
        dev = get_device(r.device)
        c = Resources(lut=r.compressed_lut, dsp=r.compressed_dsp)
        a = Resources(lut=r.accurate_lut, dsp=r.accurate_dsp)
        pred = {k: pair_resources(c, a, dev, m) for k, m in models.items()}
        err = pred["mean"].lut / r.combined_lut - 1
        print(
            f"  {r.label:42s} {r.parts_lut:9,d}  {r.combined_lut:8,d}  {r.overhead_lut:8,d}  "
            f"{r.overhead_fraction:6.3f}  {r.overhead_lut / dev.lut:7.3f}  "
            f"{pred['mean'].lut:10,.0f}  {err:+5.1%}  {pred['min'].lut:9,.0f}  "
            f"{pred['max'].lut:9,.0f}  {'yes' if pred['mean'].fits(dev) else 'NO'} "
            f"({pred['mean'].lut / dev.lut:.0%} of {dev.part}; DSP "
            f"{pred['mean'].dsp:.0f} = Table 1 {r.combined_dsp})"
        )


if __name__ == "__main__":
    main()
