"""kill -9 / resume cycles on a local SQLite study: how many are survived with zero trials
lost, and no RUNNING zombie after the resume.

Usage: python benchmarks/reliability_crash.py [--cycles 20] [--seed 0]

Each cycle starts `dse search` (batch mode, or direct mode every third cycle, which leaves
a RUNNING trial behind when killed), kills it with SIGKILL after a random 1-4 s, then
checks that the study opens, that its trial count did not go down and that every trial
finished before is still there with the same values. A final resume must leave no RUNNING
trial and contiguous trial numbers.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "examples" / "tfc-w1a1.yaml"
MAIN = "import sys; from dse.cli import main; sys.exit(main(sys.argv[1:]))"


def finished(url: str) -> dict[int, tuple[str, tuple[float, ...] | None]]:
    try:  # a kill before the study row was committed leaves a file without the study
        s = optuna.load_study(study_name="crash", storage=url)
    except KeyError:
        return {}
    return {
        t.number: (t.state.name, tuple(t.values) if t.values else None)
        for t in s.get_trials(deepcopy=False)
        if t.state.is_finished()
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = random.Random(args.seed)
    env = {**os.environ, "DSE_HEARTBEAT_S": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "crash.db"
        url = f"sqlite:///{db}"
        base = [
            sys.executable,
            "-c",
            MAIN,
            "search",
            "--workload",
            str(SPEC),
            "--device",
            "XC7Z020",
            "--storage",
            url,
            "--study",
            "crash",
            "--json",
        ]
        seen: dict[int, tuple[str, tuple[float, ...] | None]] = {}
        survived = lost = killed_mid_run = 0
        for cycle in range(args.cycles):
            mode = "direct" if cycle % 3 == 2 else "batch"
            p = subprocess.Popen(
                [*base, "--trials", "100000", "--storage-mode", mode],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=REPO,
            )
            time.sleep(rng.uniform(1.0, 4.0))
            p.send_signal(signal.SIGKILL)
            p.wait()
            if not db.exists():
                survived += 1
                continue
            now = finished(url)
            gone = [n for n, row in seen.items() if now.get(n) != row]
            lost += len(gone)
            killed_mid_run += len(now) > len(seen)
            if len(now) >= len(seen) and not gone:
                survived += 1
            seen = now
        res = subprocess.run(
            [*base, "--trials", "10"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            cwd=REPO,
        )
        storage = optuna.storages.RDBStorage(url)
        trials = storage.get_all_trials(storage.get_study_id_from_name("crash"))
        storage.engine.dispose()
        running = sum(t.state.name == "RUNNING" for t in trials)
        contiguous = [t.number for t in trials] == list(range(len(trials)))
        print(
            f"kill -9/resume cycles: {args.cycles}, survived with zero trials lost: {survived}, "
            f"trials lost: {lost}, cycles that had committed new trials: {killed_mid_run}"
        )
        print(
            f"final resume exit {res.returncode}: {len(trials)} trials stored, "
            f"{running} RUNNING zombies, numbers contiguous: {contiguous}"
        )


if __name__ == "__main__":
    main()
