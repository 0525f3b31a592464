"""Storage of studies: one package, one way in.

    open_storage(url, create=..., heartbeat=...)   Optuna's RDBStorage, checked first
    storage_mode(url, requested)                   batch (one writer, SQLite) or direct

Inside: `_rdb` (opening, the batch trial writer, reading studies back as records),
`safety` (URL and file checks that leave a bad storage untouched, read-only mounts, the
one SQLite URL parser), `workers` (heartbeats, locks, schema races, local worker
processes). A study's trial schema is `dse.records`.
"""

from dse.storage._rdb import (
    ATTR_ACCURACY,
    ATTR_BASELINE,
    ATTR_CANDIDATE,
    ATTR_COST,
    ATTR_ERROR,
    ATTR_LAYERS,
    ATTR_STATUS,
    ATTR_TIMING,
    BACKPRESSURE_S,
    FLUSH_INTERVAL_S,
    MAX_BATCH,
    RESOURCE_KEYS,
    STUDY_ATTR,
    BatchWriter,
    StudyInfo,
    StudyRecord,
    TrialRecord,
    amend_finished_trial,
    damage_error,
    display_url,
    find_study_id,
    insert_trials,
    list_studies,
    load_study_record,
    open_storage,
    reading,
    sqlite_path,
    study_meta,
    trial_record,
)
from dse.storage._rdb import storage_mode as storage_mode

__all__ = [
    "ATTR_ACCURACY",
    "ATTR_BASELINE",
    "ATTR_CANDIDATE",
    "ATTR_COST",
    "ATTR_ERROR",
    "ATTR_LAYERS",
    "ATTR_STATUS",
    "ATTR_TIMING",
    "BACKPRESSURE_S",
    "FLUSH_INTERVAL_S",
    "MAX_BATCH",
    "RESOURCE_KEYS",
    "STUDY_ATTR",
    "BatchWriter",
    "StudyInfo",
    "StudyRecord",
    "TrialRecord",
    "amend_finished_trial",
    "damage_error",
    "display_url",
    "find_study_id",
    "insert_trials",
    "list_studies",
    "load_study_record",
    "open_storage",
    "reading",
    "sqlite_path",
    "storage_mode",
    "study_meta",
    "trial_record",
]
