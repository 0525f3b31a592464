"""Analytical FPGA cost models for neural-network accelerators.

Pure Python: no Optuna, no torch. Frozen dataclasses in (`Network`, `LayerSpec`,
`LayerChoice`, `Device`), frozen dataclasses out (`Resources`, `LayerCost`, `NetworkCost`).
"""

from costmodels.devices import catalog, get_device
from costmodels.engines import EngineConfig
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
from costmodels.estimate import Template, estimate
from costmodels.finn import estimate_finn
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
    Impl,
    LayerChoice,
    LayerCost,
    LayerSpec,
    MemMode,
    Network,
    NetworkCost,
    NumType,
    Op,
    RamStyle,
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
    "EngineConfig",
    "FoldingError",
    "Impl",
    "LayerChoice",
    "LayerCost",
    "LayerSpec",
    "MemMode",
    "Network",
    "NetworkCost",
    "NumType",
    "Op",
    "RamStyle",
    "ResolvedLayer",
    "Resources",
    "SpecError",
    "StorageError",
    "StudyError",
    "Template",
    "WType",
    "WorkloadError",
    "catalog",
    "divisors",
    "estimate",
    "estimate_finn",
    "get_device",
    "kept_channels",
    "resolve",
    "valid_mmv",
    "valid_pe",
    "valid_simd",
]
