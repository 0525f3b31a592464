"""Search quality on the cost-only BNN-PYNQ CNV space on XC7Z020 (maximize FPS, minimize
LUT, must fit at the 85% cap): normalized hypervolume after 500 and 2,000 trials for each
sampler, and the best feasible FPS against the SetFolding-style baseline.

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

from costmodels.zoo import cnv_network
from dse.config import SamplerName, StudyConfig
from dse.report import front, hypervolume
from dse.spec import dump_network
from dse.storage import load_study_record
from dse.study import run_search


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
                s = run_search(cfg)
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
        print("mean hypervolume:")
        for sampler, rows in summary.items():
            means = [sum(r[i] for r in rows) / len(rows) for i in range(len(checkpoints))]
            cells = [f"HV@{c}={m:.4f}" for c, m in zip(checkpoints, means, strict=True)]
            print(f"  {sampler:<8} " + " ".join(cells))


if __name__ == "__main__":
    main()
