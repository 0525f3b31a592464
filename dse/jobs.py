"""The study-level side of `dse search --jobs N` (the CLI only starts the workers and
renders): how many trials of a study are finished, and the whole study as one search
summary once the workers are done."""

from __future__ import annotations

import sqlalchemy as sa
from optuna.storages._rdb import models
from optuna.trial import TrialState

from dse.config import OBJECTIVES, StorageMode, StudyConfig
from dse.problem import pareto_mask
from dse.storage import load_study_record
from dse.study import SearchSummary


def count_finished(engine: sa.Engine, name: str) -> int:
    """Finished (complete, failed, pruned) trials of study `name`, counted in Optuna's
    tables in one query (cheap enough to poll while workers run)."""
    t = models.TrialModel.__table__
    s = models.StudyModel.__table__
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(t.join(s, s.c.study_id == t.c.study_id))
                .where(s.c.study_name == name)
                .where(t.c.state.in_([TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED]))
            ).scalar_one()
        )


def study_summary(cfg: StudyConfig, name: str, before: int, elapsed: float) -> SearchSummary:
    """The whole study as one search summary (front over every worker's trials)."""
    record = load_study_record(cfg.storage, name)
    finished = [t for t in record.trials if t.state in ("complete", "fail", "pruned")]
    feasible = [t for t in record.trials if t.feasible and t.values]
    objectives = record.objectives
    directions = [OBJECTIVES[o] for o in objectives if o in OBJECTIVES]
    mask = pareto_mask([t.values or () for t in feasible], directions)
    pareto = [
        {"trial": t.number, **dict(zip(objectives, t.values or (), strict=True)), "fits": True}
        for t, on in zip(feasible, mask, strict=True)
        if on
    ]
    new = len(finished) - before
    return SearchSummary(
        study=name,
        storage=cfg.storage,
        storage_mode=StorageMode.DIRECT.value,
        sampler=cfg.sampler.value,
        objectives=tuple(objectives),
        trials_total=len(finished),
        trials_new=new,
        feasible=len(feasible),
        elapsed_s=elapsed,
        trials_per_s=new / elapsed if elapsed > 0 else 0.0,
        pareto=sorted(pareto, key=lambda d: d["trial"]),
        resumed=before > 0,
    )
