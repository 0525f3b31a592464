"""The one guard for every file dse writes on request (`export -o`, `report --plot`,
`twin-sweep --plot`): checked before any work, written so that a failure is one line.

`check_output` refuses, before anything is computed:
- a folder, a missing or unwritable folder;
- the study's own storage (the SQLite file or its `-wal`/`-shm`/`-journal`/`.lock`
  companions): exporting onto it would destroy the study;
- any existing SQLite database (its header): dse never overwrites a database;
- an extension the writer does not produce (plots: `.png`, `.pdf`, `.svg`).

`write_output` writes a regular file through a temporary file in the same folder and
`os.replace` (the old file stays whole if the disk fills up) and a device or pipe
directly, flushing and closing inside the check, so `/dev/full` is an error, never
"written".

Exit codes (`costmodels.errors`): a request that is wrong whatever the machine (the
storage, a database, an extension, a directory, a folder that does not exist) is a usage
error, 2; the machine refusing the write (permission, a read-only file system, a full disk,
an I/O error), found before or while writing, is an `OutputError`, 1 - as is a failed write
to standard output (`dse.cli.main`).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import math
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from costmodels.errors import ConfigError, OutputError
from dse.storage.safety import SQLITE_MAGIC, sqlite_file

PLOT_SUFFIXES = (".png", ".pdf", ".svg")
_COMPANIONS = ("", "-wal", "-shm", "-journal", ".lock")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_output(
    path: Path,
    *,
    storage: str | None = None,
    suffixes: Iterable[str] | None = None,
    what: str = "output",
) -> None:
    """Refuse an output path that cannot or must not be written (see the module doc)."""
    shown = str(path)
    if suffixes is not None:
        allowed = tuple(suffixes)
        if path.suffix.lower() not in allowed:
            raise ConfigError(
                f"cannot write {what} {shown!r}: unknown extension {path.suffix or '(none)'!r}; "
                f"use one of {', '.join(allowed)}"
            )
    db = _storage_file(storage)
    if db is not None:
        for suffix in _COMPANIONS:
            if _same_file(path, db.with_name(db.name + suffix)):
                raise ConfigError(
                    f"cannot write {what} {shown!r}: it is the study's storage "
                    f"{str(db)!r}{' (' + suffix + ')' if suffix else ''}; pick another file"
                )
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ConfigError(f"cannot write {shown!r}: it is a directory")
    if not parent.is_dir():
        raise ConfigError(f"cannot write {shown!r}: folder {str(parent)!r} does not exist")
    if path.exists():
        if _is_regular(path) and _is_sqlite(path):
            raise ConfigError(
                f"cannot write {what} {shown!r}: it is a SQLite database; dse never "
                "overwrites a database, pick another file"
            )
        if not os.access(path, os.W_OK):
            raise OutputError(f"cannot write {shown!r}: {_why_not(path)}; not written")
    elif not os.access(parent, os.W_OK):
        raise OutputError(
            f"cannot write {shown!r}: folder {str(parent)!r} {_why_not(parent, folder=True)}; "
            "not written"
        )


def _why_not(path: Path, *, folder: bool = False) -> str:
    """Why `path` may not be written: a read-only file system (statvfs ST_RDONLY) or
    permissions."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "is on a read-only file system" if folder else "read-only file system"
    except OSError:
        pass
    return "is not writable" if folder else "permission denied"


def _storage_file(storage: str | None) -> Path | None:
    if not storage:
        return None
    try:
        return sqlite_file(storage)
    except Exception:
        return None


def _mode(path: Path) -> int:
    try:
        return os.stat(path).st_mode
    except OSError:
        return 0


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def is_device(path: Path) -> bool:
    """Whether `path` exists and is not a regular file (a device, a FIFO, a socket): written
    through, never replaced, and no companion file is put beside it."""
    return path.exists() and not _is_regular(path)


def _open_device(path: Path) -> Any:
    """`path` (a device or a named pipe) open for writing. A FIFO is opened without
    blocking first: with no process reading it, open(2) fails at once with ENXIO (fifo(7))
    instead of waiting forever; once open, writes block as usual."""
    if not stat.S_ISFIFO(_mode(path)):
        return open(path, "wb")
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "wb")


def write_output(path: Path, data: str | bytes) -> None:
    """Write `data` to `path` completely or raise a one-line `OutputError` (exit 1: disk
    full, `/dev/full`, permissions, a read-only file system); a regular file is replaced
    atomically."""
    blob = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if path.exists() and not _is_regular(path):
            with _open_device(path) as fh:  # a device or a pipe: write through, check close
                fh.write(blob)
                fh.flush()
            return
        parent = path.parent if str(path.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        why = exc.strerror or str(exc)
        if exc.errno == errno.ENXIO and stat.S_ISFIFO(_mode(path)):
            why = "no process is reading this named pipe"
        raise OutputError(f"cannot write {str(path)!r}: {why}; not written") from None


# ----------------------------------------------------------------------------- CSV

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell that no spreadsheet runs as a formula (OWASP "CSV Injection":
    text starting with `=`, `+`, `-`, `@`, TAB or CR gets a leading apostrophe). Numbers stay
    numbers (ints and finite floats as they are, a text that is a plain number too); None is
    empty; anything else is its text. Layer, network and device names come from specs and
    models somebody else may have written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    text = str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """`rows` (dicts with the first row's keys) as CSV through the `csv` module (quoting
    separators, quotes and line breaks), every header and cell through `csv_cell`."""
    buf = io.StringIO()
    if rows:
        fields = list(rows[0])
        minimal = csv.writer(buf, lineterminator="\n")
        # the csv module quotes a field holding "\n" (the line terminator) but not a bare
        # "\r", which every reader takes for a line break: "x\r=cmd" would start a row
        # with a formula. A row holding one is written with every field quoted.
        quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
        for cells in (
            [csv_cell(f) for f in fields],
            *([csv_cell(r.get(f)) for f in fields] for r in rows),
        ):
            cr = any(isinstance(c, str) and "\r" in c for c in cells)
            (quoted if cr else minimal).writerow(cells)
    return buf.getvalue()


__all__ = ["PLOT_SUFFIXES", "check_output", "csv_cell", "csv_text", "is_device", "write_output"]
