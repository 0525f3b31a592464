"""Errors of the twin (TwinDNN) design mode: specific subclasses of the project's roots, so
a caller catching `ConfigError`, `WorkloadError` or `SpecError` also catches them."""

from __future__ import annotations

from costmodels.errors import ConfigError, SpecError, WorkloadError


class ThresholdError(ConfigError):
    """A confidence threshold T that is negative or not a number."""


class ScoresError(WorkloadError):
    """Network outputs that are not class scores: wrong shape, one column, NaN/inf,
    or labels that do not match them."""


class PairError(SpecError):
    """A compressed/accurate pair that is not a twin design: the compressed half is not
    binary/ternary, the halves do not share a workload, or the pair does not fit."""


class ServiceTimeError(ConfigError):
    """An accelerator's service times that are not positive finite numbers, or an
    initiation interval longer than the latency."""
