"""The project's exception root (defined in `costmodels.errors`, the lowest layer)."""

from costmodels.errors import (
    ConfigError,
    DeviceError,
    DseError,
    FoldingError,
    OutputError,
    SpecError,
    StorageError,
    StudyError,
    WorkloadError,
)

__all__ = [
    "ConfigError",
    "DeviceError",
    "DseError",
    "FoldingError",
    "OutputError",
    "SpecError",
    "StorageError",
    "StudyError",
    "WorkloadError",
]
