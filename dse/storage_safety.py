"""Checks that run before a storage is opened, so a bad one is refused untouched.

SQLite writes nothing into a file it cannot parse, but Optuna's `RDBStorage` starts by
creating its tables: pointed at a file that is not a database, a read-only copy or a full
disk, the user would otherwise get a multi-line driver traceback. `check_storage` turns
each case into one `StorageError` line before anything is written:

- a file that is not SQLite (header is not `SQLite format 3\\0`, sqlite.org/fileformat.html
  Sec. 1.3) or fails `PRAGMA quick_check` (opened read-only);
- a storage a search must write to, on a read-only path (file or folder not writable, or
  a read-only mount);

and `short_db_error` shortens a driver error (disk full, database locked, ...) to its first
line with a hint.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from costmodels.errors import StorageError

SQLITE_MAGIC = b"SQLite format 3\x00"
_RO_FS = "is on a read-only file system"
MIN_FREE_BYTES = 1 << 20
"""Below 1 MiB free, a search is refused up front: the WAL index alone takes 32 KiB and
each batch of trials several pages (sqlite.org/walformat.html)."""


def sqlite_file(url: str) -> Path | None:
    """The file of a `sqlite:///` URL (None for servers and in-memory databases)."""
    try:
        u = sa.engine.make_url(url)
    except Exception:
        raise StorageError(f"not a storage URL: {url!r} (e.g. sqlite:///runs/dse.db)") from None
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def _writable(path: Path) -> str | None:
    """Why `path` (a file or folder) cannot be written, or None. Uses `statvfs` for
    read-only mounts and the permission bits (root passes `os.access` regardless)."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return _RO_FS
    except OSError:
        return None
    if not os.access(path, os.W_OK):
        return "is not writable"
    return None


def check_storage(url: str, *, write: bool) -> None:
    """Refuse, before opening, a SQLite storage that is not a database, is corrupt, or (when
    `write`) cannot be written. Server URLs pass through (their errors come at connect)."""
    path = sqlite_file(url)
    if path is None or not path.exists():
        if path is not None and write and path.parent.is_dir():
            why = _writable(path.parent)
            if why:
                raise StorageError(f"cannot create storage {str(path)!r}: its folder {why}")
        return
    if path.is_dir():
        raise StorageError(f"storage {str(path)!r} is a folder, not a SQLite file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StorageError(f"cannot read storage {str(path)!r}: {exc.strerror or exc}") from None
    if head and head != SQLITE_MAGIC:
        raise StorageError(
            f"storage {str(path)!r} is not a SQLite database (wrong file header); "
            "left untouched, pick another --storage"
        )
    if write:
        for target, what in ((path, "file"), (path.parent, "folder")):
            why = _writable(target)
            if why:
                raise StorageError(
                    f"storage {str(path)!r} cannot be written: its {what} {why} "
                    "(dse report and dse studies can still read it)"
                )
    if write:
        free = _free_bytes(path.parent)
        if free is not None and free < MIN_FREE_BYTES:
            raise StorageError(
                f"disk full: {free // 1024} KiB free for storage {str(path)!r}; free some "
                "space and resume (nothing was written)"
            )
    if head and write:
        _quick_check(path)


def _free_bytes(folder: Path) -> int | None:
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def read_only_url(url: str) -> str:
    """The URL to read an existing SQLite study on a read-only file system.

    SQLite opens a WAL-mode database only if it can create the `-shm` index next to it;
    on a read-only mount it cannot, unless the file is opened `immutable`, which is exact
    there because nobody can change it (sqlite.org/uri.html, "immutable"). Other URLs are
    returned as they are.
    """
    path = sqlite_file(url)
    if path is None or not path.is_file() or _writable(path.parent) != _RO_FS:
        return url
    return f"sqlite:///file:{path.resolve()}?mode=ro&immutable=1&uri=true"


def _quick_check(path: Path) -> None:
    """`PRAGMA quick_check` on a read-only connection
    (sqlite.org/pragma.html#pragma_quick_check)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open storage {str(path)!r}: {exc}") from None
    try:
        rows = conn.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.OperationalError as exc:  # I/O, locking: not the file's fault
        raise StorageError(f"cannot open storage {str(path)!r}: {short_db_error(exc)}") from None
    except sqlite3.DatabaseError as exc:
        raise StorageError(
            f"storage {str(path)!r} is not a usable SQLite database ({exc}); left untouched"
        ) from None
    finally:
        conn.close()
    problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
    if problems:
        raise StorageError(
            f"storage {str(path)!r} is corrupt ({problems[0]}); left untouched - restore a "
            "backup or recover it with `sqlite3 FILE .recover`"
        )


def short_db_error(exc: BaseException) -> str:
    """One line for a database error, with a hint for the common causes."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    low = text.lower()
    if (
        "disk is full" in low
        or "no space" in low
        or getattr(exc, "errno", None)
        in (
            errno.ENOSPC,
            errno.EFBIG,
        )
    ):
        return f"{first} (disk full: free space and resume; committed trials are kept)"
    if "readonly" in low or "read-only" in low:
        return f"{first} (the storage is read-only)"
    if "database is locked" in low:
        return f"{first} (another process holds the SQLite file; use PostgreSQL for many workers)"
    return first


__all__ = ["check_storage", "read_only_url", "short_db_error", "sqlite_file"]
