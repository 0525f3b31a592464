"""Calibration of the per-FINN-node unit model on real synthesis results: ground-truth
rows (`rows`), typed nodes (`nodes`), versioned profiles (`profile`) and the fit (`fit`)."""

from costmodels.calibration.profile import (
    DEFAULT_PROFILE,
    Profile,
    default_profile,
    dump_profile,
    load_profile,
)
from costmodels.calibration.rows import NodeConfig, NodeRow, distinct_configs, read_csv

__all__ = [
    "DEFAULT_PROFILE",
    "NodeConfig",
    "NodeRow",
    "Profile",
    "default_profile",
    "distinct_configs",
    "dump_profile",
    "load_profile",
    "read_csv",
]
