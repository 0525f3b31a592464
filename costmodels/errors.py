"""The project's one exception root and its specific subclasses.

`costmodels` is the lowest layer of the project, so the root lives here and `dse.errors`
re-exports it. Library code raises these; only the CLI prints them (one line) and exits.
"""

from __future__ import annotations


class DseError(Exception):
    """Root of every error the project raises on purpose.

    `exit_code` is what the CLI exits with: 2 for usage errors (bad input the user can fix),
    1 for runtime failures (storage unreachable, disk full, ...).
    """

    exit_code: int = 2


class SpecError(DseError):
    """A network description (YAML/JSON spec or Python value) is malformed or inconsistent."""


class DeviceError(DseError):
    """An unknown device name or a malformed user device file."""


class FoldingError(SpecError):
    """PE/SIMD/MMV that do not divide the layer they fold."""


class ConfigError(DseError):
    """A study configuration or CLI option is invalid."""


class WorkloadError(DseError):
    """A workload (built-in or user factory or data file) cannot be loaded or is invalid."""


class StorageError(DseError):
    """A study storage cannot be opened, read or written."""

    exit_code = 1


class OutputError(DseError):
    """An output (a file written on request, or standard output) could not be written because
    the machine refused: permission, a read-only file system, a full disk, an I/O error. Exit
    1 like a storage failure, whichever writer and whether found before or while writing; a
    request that is wrong whatever the machine (the study's own storage, a database, an
    unknown extension, a folder that does not exist) stays a usage error (2)."""

    exit_code = 1


class StudyError(DseError):
    """A study is missing, or a resume does not match the stored configuration."""
