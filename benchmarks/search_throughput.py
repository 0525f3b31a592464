"""Persisted trials per second of a cost-only search over the BNN-PYNQ CNV layer list
(9 compute layers; bits, pruning, PE, SIMD and arithmetic searched: about 50 parameters),
beside a naive `optuna.create_study(storage="sqlite:///...")` loop and an in-memory study,
with the same sampler (NSGA-II), space and cost model. Then the kill -9 check: a `dse
search` subprocess is killed mid-run and the study must load with every trial it had
committed.

    python benchmarks/search_throughput.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import optuna

from costmodels.zoo import cnv_network
from dse.config import SamplerName, StorageMode, StudyConfig
from dse.modes import build_problem
from dse.problem import LoadedWorkload
from dse.samplers import make_sampler
from dse.spec import dump_network
from dse.study import run_search
from search_spaces import SpaceLimits


def _config(spec: Path, url: str, trials: int, seconds: float) -> StudyConfig:
    space = SpaceLimits(search_bits=True, search_prune=True)
    return StudyConfig(
        workload=str(spec),
        device="XC7Z020",
        objectives=("fps", "lut"),
        space=space,
        storage=url,
        trials=trials,
        timeout_s=seconds,
        sampler=SamplerName.NSGA2,
        storage_mode=StorageMode.BATCH,
    )


def _plain_optuna(cfg: StudyConfig, storage: str | None, seconds: float) -> tuple[int, float, int]:
    """The same objective through `study.optimize` on a given storage."""
    from dse.spec import load_network

    loaded = LoadedWorkload(load_network(cfg.workload), cost_only=True)
    problem = build_problem(cfg, loaded, storage=cfg.storage)
    n_params = len(problem.space.param_names)

    def objective(trial: optuna.Trial) -> tuple[float, ...]:
        outcome = problem.evaluate(problem.space.suggest(trial))
        for k, v in outcome.attrs.encode().items():
            trial.set_user_attr(k, v)
        for k, v in outcome.constraints.items():
            trial.set_constraint(k, v)
        assert outcome.values is not None
        return outcome.values

    study = optuna.create_study(
        directions=problem.directions,
        storage=storage,
        sampler=make_sampler(SamplerName.NSGA2, 0, trials=10_000),
    )
    t0 = time.perf_counter()
    study.optimize(objective, timeout=seconds)
    elapsed = time.perf_counter() - t0
    return len(study.trials), elapsed, n_params


def _count(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return int(con.execute("select count(*) from trials").fetchone()[0])
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="wall time per mode")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "cnv.yaml"
        spec.write_text(dump_network(cnv_network()))
        cfg = _config(spec, f"sqlite:///{tmp}/dse.db", 10**7, args.seconds)

        n, el, n_params = _plain_optuna(cfg, f"sqlite:///{tmp}/naive.db", args.seconds)
        print(f"CNV layer list, {n_params} parameters, NSGA-II, {args.seconds:g} s per mode")
        print(f"naive optuna RDB (sqlite):  {n:6d} trials  {n / el:8.1f} trials/s")
        n, el, _ = _plain_optuna(cfg, None, args.seconds)
        print(f"optuna in-memory:           {n:6d} trials  {n / el:8.1f} trials/s  (not persisted)")
        s = run_search(cfg)
        print(
            f"dse batch (sqlite, WAL):    {s.trials_new:6d} trials  {s.trials_per_s:8.1f} trials/s"
            f"  max tell-to-commit {s.max_commit_lag_s:.3f} s"
        )
        s2 = run_search(replace(cfg, timeout_s=args.seconds / 2))
        print(
            f"dse batch, resumed:         {s2.trials_new:6d} new    {s2.trials_per_s:8.1f} trials/s"
            f"  total {s2.trials_total}"
        )

        # kill -9 mid-run: every trial committed before the kill must load.
        db = Path(tmp) / "kill.db"
        cmd = [
            sys.executable, "-c", "import sys; from dse.cli import main; sys.exit(main())",
            "search", "--workload", str(spec),
            "--device", "XC7Z020", "--objectives", "fps,lut", "--trials", "10000000",
            "--storage", f"sqlite:///{db}", "--study", "kill", "--json",
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and (not db.exists() or _count(db) < 200):
            time.sleep(0.2)
        seen = _count(db)
        time.sleep(1.5)
        before = _count(db)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        after = _count(db)
        loaded = optuna.load_study(study_name="kill", storage=f"sqlite:///{db}")
        states = {t.state.name for t in loaded.trials}
        print(
            f"kill -9: {seen} trials committed 1.5 s before, {before} just before the kill, "
            f"{after} after; optuna.load_study reads {len(loaded.trials)} ({', '.join(states)})"
        )


if __name__ == "__main__":
    main()
