"""TwinDNN twin designs (seed 000): a compressed (binary/ternary, LUT) network in front of an
accurate (k-bit, DSP/RCCM) one on one FPGA, with a confidence threshold T deciding which
inputs the accurate network re-checks.

Pure modules (no torch): `schedule` (the scheduler simulation), `resources` (the pair's
resource model). The torch and Optuna sides live in `dse.twin.evaluate` and `dse.twin.search`.
"""

from dse.twin.errors import PairError, ScoresError, ServiceTimeError, ThresholdError
from dse.twin.schedule import (
    Margin,
    Policy,
    ServiceTime,
    Timeline,
    TwinResult,
    TwinStream,
    cascade_bounds,
    check_threshold,
    default_thresholds,
    margins,
    recovery,
    simulate,
    sweep,
)

__all__ = [
    "Margin",
    "PairError",
    "Policy",
    "ScoresError",
    "ServiceTime",
    "ServiceTimeError",
    "ThresholdError",
    "Timeline",
    "TwinResult",
    "TwinStream",
    "cascade_bounds",
    "check_threshold",
    "default_thresholds",
    "margins",
    "recovery",
    "simulate",
    "sweep",
]
