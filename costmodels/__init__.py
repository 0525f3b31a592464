"""Analytical FPGA cost models for neural-network accelerators.

Pure Python: no Optuna, no torch. Frozen dataclasses in (`Network`, `LayerSpec`,
`LayerChoice`, `Device`), frozen dataclasses out (`Resources`, `LayerCost`, `NetworkCost`).
"""

from costmodels.errors import (
    ConfigError,
    DeviceError,
    DseError,
    FoldingError,
    SpecError,
    StorageError,
    StudyError,
    WorkloadError,
)
from costmodels.network import (
    divisors,
    kept_channels,
    resolve,
    valid_mmv,
    valid_pe,
    valid_simd,
)
from costmodels.types import (
    Arith,
    Device,
    LayerChoice,
    LayerCost,
    LayerSpec,
    Network,
    NetworkCost,
    Op,
    ResolvedLayer,
    Resources,
    WType,
)

__all__ = [
    "Arith",
    "ConfigError",
    "Device",
    "DeviceError",
    "DseError",
    "FoldingError",
    "LayerChoice",
    "LayerCost",
    "LayerSpec",
    "Network",
    "NetworkCost",
    "Op",
    "ResolvedLayer",
    "Resources",
    "SpecError",
    "StorageError",
    "StudyError",
    "WType",
    "WorkloadError",
    "divisors",
    "kept_channels",
    "resolve",
    "valid_mmv",
    "valid_pe",
    "valid_simd",
]
