"""Search quality on the cost-only BNN-PYNQ CNV space on XC7Z020 (maximize FPS, minimize
LUT, must fit at the 85% cap): normalized hypervolume after 500 and 2,000 trials for each
sampler, and the best feasible FPS against the SetFolding-style baseline; the exact folding
solver's study (`--hardware solve`: the exact front stored as trials) side by side, with
its wall time; the baselines alone; and the solver's scale on a ResNet-50-sized layer list
(50 compute layers) on XCKU115.

    python benchmarks/search_quality.py            # 500 and 2,000 trials, seeds 0 1 2
    python benchmarks/search_quality.py --quick    # 500 trials, seed 0

Each run is a real `dse search` (run_search) into a temporary SQLite file; the study's
trials are read back and the hypervolume is computed by `dse.report.hypervolume` on the
first N trials. Baseline trials are enqueued for every sampler except `random-nobase`,
which is pure random search (no baselines) for reference.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from costmodels import get_device
from costmodels.solver import HardwareLimits, solve
from costmodels.zoo import cnv_network, resnet50_main_path
from dse.config import HardwareMode, SamplerName, StudyConfig
from dse.problem import SingleProblem
from dse.report import front, hypervolume
from dse.spec import dump_network
from dse.storage import load_study_record
from dse.study import run_search
from search_spaces import SpaceLimits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500 trials, one seed")
    ap.add_argument("--seeds", type=int, nargs="*", default=None)
    ap.add_argument("--samplers", nargs="*", default=["nsga2", "tpe", "random"])
    args = ap.parse_args()
    checkpoints = [500] if args.quick else [500, 2000]
    seeds = args.seeds if args.seeds is not None else ([0] if args.quick else [0, 1, 2])
    n_trials = max(checkpoints)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "cnv.yaml"
        spec.write_text(dump_network(cnv_network()))
        base = StudyConfig(workload=str(spec), device="XC7Z020", objectives=("fps", "lut"))
        print(f"CNV (BNN-PYNQ) on XC7Z020, objectives fps (max), lut (min), cap 85%; seeds {seeds}")
        hv_heads = " ".join(f"{'HV@' + str(c):>9}" for c in checkpoints)
        header = f"{'sampler':<8} {'seed':>4} " + hv_heads
        print(header + f" {'best FPS':>10} {'SetFolding':>10} {'trials/s':>9}")
        summary: dict[str, list[list[float]]] = {}
        for sampler in args.samplers:
            for seed in seeds:
                url = f"sqlite:///{tmp}/{sampler}-{seed}.db"
                cfg = replace(
                    base,
                    sampler=SamplerName(sampler),
                    seed=seed,
                    trials=n_trials,
                    storage=url,
                    study=f"{sampler}-{seed}",
                )
                t0 = time.perf_counter()
                # today's sampled search, as before this solver existed: no solver-fastest
                # baseline among the seeds (it would hand every sampler the fastest design)
                SingleProblem.solver_applies = False
                try:
                    s = run_search(cfg)
                finally:
                    SingleProblem.solver_applies = True
                rate = s.trials_new / (time.perf_counter() - t0)
                rec = load_study_record(url, cfg.study)
                ordered = sorted(rec.trials, key=lambda t: t.number)
                hvs = [hypervolume(rec, ordered[:c]) for c in checkpoints]
                fps = [t.values[0] for t in front(rec) if t.values]
                sf = [t.values[0] for t in rec.trials if t.baseline == "setfolding" and t.values]
                summary.setdefault(sampler, []).append(hvs)
                print(
                    f"{sampler:<8} {seed:>4} "
                    + " ".join(f"{h:>9.4f}" for h in hvs)
                    + f" {max(fps):>10.1f} {sf[0] if sf else float('nan'):>10.1f} {rate:>9.1f}"
                )
        # the exact folding solver: one study holding the exact front (and the baselines)
        url = f"sqlite:///{tmp}/solver.db"
        cfg = replace(base, hardware=HardwareMode.SOLVE, storage=url, study="solver")
        t0 = time.perf_counter()
        s = run_search(cfg)
        wall = time.perf_counter() - t0
        rec = load_study_record(url, "solver")
        trials = sorted(rec.trials, key=lambda t: t.number)
        base_only = [t for t in trials if t.baseline and t.baseline != "solver-fastest"]
        fps = [t.values[0] for t in front(rec) if t.values]
        hv_exact = hypervolume(rec, trials)
        hv_base = hypervolume(rec, base_only)
        sf = [t.values[0] for t in trials if t.baseline == "setfolding" and t.values]
        print(
            f"{'solver':<8} {'-':>4} "
            + " ".join(f"{hv_exact:>9.4f}" for _ in checkpoints)
            + f" {max(fps):>10.1f} {sf[0] if sf else float('nan'):>10.1f}"
            + f"   {s.trials_total} trials (front {len(front(rec))}) in {wall:.1f} s wall"
        )
        base_fps = max(t.values[0] for t in base_only if t.values and t.feasible)
        print(
            f"baselines alone (as-given, SetFolding sweep): HV {hv_base:.4f}, best FPS "
            f"{base_fps:.1f}"
        )
        print("mean hypervolume:")
        for sampler, rows in summary.items():
            means = [sum(r[i] for r in rows) / len(rows) for i in range(len(checkpoints))]
            cells = [f"HV@{c}={m:.4f}" for c, m in zip(checkpoints, means, strict=True)]
            print(f"  {sampler:<8} " + " ".join(cells))
        print("normalized to the exact front (solver = 1):")
        for sampler, rows in summary.items():
            means = [sum(r[i] for r in rows) / len(rows) for i in range(len(checkpoints))]
            cells = [f"HV@{c}={m / hv_exact:.4f}" for c, m in zip(checkpoints, means, strict=True)]
            print(f"  {sampler:<8} " + " ".join(cells))
    if not args.quick:
        scale()


def scale() -> None:
    """The solver alone on a ResNet-50-sized layer list (2-bit weights and activations,
    8-bit stem and classifier) on XCKU115, fps/lut at the 85% cap."""
    net = resnet50_main_path()
    t0 = time.perf_counter()
    res = solve(
        net, get_device("XCKU115"), cap_pct=85.0, objectives=("fps", "lut"),
        limits=HardwareLimits(arith=SpaceLimits().arith, keep_rccm=False),
    )  # fmt: skip
    wall = time.perf_counter() - t0
    best = res.points[0].cost if res.points else None
    print(
        f"ResNet-50 main path ({len(net.compute_layers)} compute layers) on XCKU115: exact "
        f"front of {len(res.points)} designs ({res.options} layer options) in {wall:.1f} s; "
        + (f"fastest {best.fps:.1f} FPS at {best.total.lut:,.0f} LUT" if best else "none fits")
    )


if __name__ == "__main__":
    main()
