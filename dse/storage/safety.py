"""Checks that run before a storage is opened, so a bad one is refused untouched.

SQLite writes nothing into a file it cannot parse, but Optuna's `RDBStorage` starts by
creating its tables: pointed at a file that is not a database, a read-only copy or a full
disk, the user would otherwise get a multi-line driver traceback. `check_storage` turns
each case into one `StorageError` line before anything is written:

- a file that is not SQLite (header is not `SQLite format 3\\0`, sqlite.org/fileformat.html
  Sec. 1.3) or fails `PRAGMA quick_check` (opened read-only);
- a storage a search must write to, on a read-only path (file or folder not writable, or
  a read-only mount);

- a database that is neither empty nor an Optuna/dse storage (a foreign database that
  happens to have a `studies` table is left byte-for-byte untouched), and an Optuna
  storage with tables missing (`check_schema`, also run on server databases before
  Optuna's `RDBStorage` would create the missing tables);
- an in-memory SQLite URL (`sqlite://`, `sqlite:///:memory:`: the study would vanish
  with the process) and a path that is not a regular file (a character device);

and `short_db_error` shortens a driver error (disk full, database locked, ...) to its first
line with a hint.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from costmodels.errors import StorageError

SQLITE_MAGIC = b"SQLite format 3\x00"
_RO_FS = "is on a read-only file system"
MIN_FREE_BYTES = 1 << 20
"""Below 1 MiB free, a search is refused up front: the WAL index alone takes 32 KiB and
each batch of trials several pages (sqlite.org/walformat.html)."""


def is_sqlite(url: str) -> bool:
    """Whether `url` is an SQLite database (a file or in memory)."""
    try:
        return bool(sa.engine.make_url(url).get_backend_name() == "sqlite")
    except Exception:
        return False


def sqlite_file(url: str) -> Path | None:
    """The file of a `sqlite:///` URL (None for servers and in-memory databases): the one
    SQLite URL parser (storage, locks, safety checks, the accuracy cache use it)."""
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


OPTUNA_TABLES = frozenset(
    {
        "studies",
        "study_directions",
        "study_system_attributes",
        "study_user_attributes",
        "trial_heartbeats",
        "trial_intermediate_values",
        "trial_params",
        "trial_system_attributes",
        "trial_user_attributes",
        "trial_values",
        "trials",
        "version_info",
    }
)
"""Optuna's RDB schema (optuna/storages/_rdb/models.py, Optuna 3-5)."""
DSE_TABLES = frozenset({"alembic_version", "dse_accuracy_cache"})
"""Tables dse (or Optuna's migrations) add next to Optuna's."""


def _in_memory(url: str) -> bool:
    try:
        u = sa.engine.make_url(url)
    except Exception:
        return False
    return u.get_backend_name() == "sqlite" and (not u.database or u.database == ":memory:")


def _sqlite_uri(url: str) -> bool:
    """Whether a SQLite URL turns on SQLite URI filenames (`?uri=true`, sqlite.org/uri.html),
    whose parameters can make the database in-memory, read-only or unlocked."""
    try:
        u = sa.engine.make_url(url)
    except Exception:
        return False
    if u.get_backend_name() != "sqlite":
        return False
    raw = u.query.get("uri")
    values = raw if isinstance(raw, tuple) else (raw,)
    return any(v is not None and str(v).lower() not in ("0", "false", "no", "off") for v in values)


def _sqlite_query(url: str) -> list[str]:
    """The query options of a SQLite URL (`?mode=ro&timeout=5` -> mode, timeout). Without
    `uri=true` SQLite never sees them (SQLAlchemy drops all but the pysqlite driver's own,
    with a warning nobody reads), and the driver's (`timeout`, `isolation_level` ...) are
    set by dse (`dse.storage._rdb.open_storage`) or would change how trials are committed."""
    try:
        u = sa.engine.make_url(url)
    except Exception:
        return []
    if u.get_backend_name() != "sqlite":
        return []
    return sorted(u.query)


def _judge_schema(tables: set[str]) -> str | None:
    """What is wrong with a database's table set: "foreign" (a table that is neither
    Optuna's nor dse's), "partial" (only Optuna's and dse's tables, but not all of them, or
    without the two Optuna writes first), or None (empty, only dse's own tables, or a whole
    Optuna schema)."""
    if not tables:
        return None
    if tables - OPTUNA_TABLES - DSE_TABLES:
        return "foreign"
    if not tables & OPTUNA_TABLES:  # only dse's own (`dse evaluate --storage`: the cache)
        return None
    optuna_made = {"version_info", "alembic_version"} <= tables  # Optuna writes both first
    if not optuna_made or OPTUNA_TABLES - tables:
        return "partial"
    return None


def check_schema(tables: set[str], where: str) -> None:
    """Refuse a database dse did not create or recognize: it must be empty, or hold
    Optuna's tables (all of them) and nothing but dse's own beside them."""
    verdict = _judge_schema(tables)
    if verdict is None:
        return
    optuna_made = {"version_info", "alembic_version"} <= tables
    if verdict == "foreign" or not optuna_made:
        listed = ", ".join(sorted(tables - DSE_TABLES)[:4])
        raise StorageError(
            f"storage {where} is a database dse did not create (tables {listed}"
            f"{', ...' if len(tables) > 4 else ''}); left untouched, pick another --storage"
        )
    missing = sorted(OPTUNA_TABLES - tables)
    raise StorageError(
        f"storage {where} is damaged: Optuna tables missing ({', '.join(missing[:4])}"
        f"{', ...' if len(missing) > 4 else ''}); left untouched - restore a backup"
    )


SCHEMA_SETTLE_S = 3.0
"""How long a partial Optuna schema must stay unchanged before it is judged damaged or
foreign rather than being created right now by another worker (Optuna creates its tables,
then `version_info`, then stamps `alembic_version`: on MySQL, whose DDL is not
transactional, and between those steps on any server, another worker sees part of it)."""
SCHEMA_WAIT_CAP_S = 30.0
"""The longest a check waits for a schema that keeps changing."""


def check_schema_settled(
    list_tables: Callable[[], set[str]],
    where: str,
    *,
    settle_s: float = SCHEMA_SETTLE_S,
    cap_s: float = SCHEMA_WAIT_CAP_S,
) -> None:
    """`check_schema` on a database other workers may be creating at this moment: a table
    set made only of Optuna's and dse's tables, but not yet whole, is read again until it
    is whole or has stood still for `settle_s` (then it is judged as it stands). A foreign
    table is refused at once. Only reads; never writes."""
    tables = list_tables()
    start = last_change = time.monotonic()
    while _judge_schema(tables) == "partial":
        now = time.monotonic()
        if now - last_change >= settle_s or now - start >= cap_s:
            break
        time.sleep(0.2)
        again = list_tables()
        if again != tables:
            tables, last_change = again, time.monotonic()
    check_schema(tables, where)


def _sqlite_tables(path: Path) -> set[str]:
    """The table names of a SQLite file, read without writing (`immutable` on a read-only
    mount, where a WAL database cannot get its `-shm` index)."""
    flags = "mode=ro&immutable=1" if _writable(path.parent) == _RO_FS else "mode=ro"
    conn = sqlite3.connect(f"file:{path}?{flags}", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    finally:
        conn.close()
    return {str(r[0]) for r in rows if not str(r[0]).startswith("sqlite_")}


def check_storage(url: str, *, write: bool) -> None:
    """Refuse, before opening, a SQLite storage that is not a database, is corrupt, is not
    dse's (or is damaged), or (when `write`) cannot be written; an in-memory one. Server
    URLs pass through (their errors come at connect; `check_schema` runs once connected)."""
    if _in_memory(url):
        raise StorageError(
            f"storage {url!r} is an in-memory SQLite database: a study there vanishes when "
            "dse exits; give a file, e.g. sqlite:///runs/dse.db"
        )
    if _sqlite_uri(url):
        raise StorageError(
            f"storage {url!r} asks for SQLite URI options (uri=true: mode, vfs, nolock, "
            "immutable ...), which bypass dse's file checks and locks (mode=memory made a "
            "study that vanished); give a plain file, e.g. sqlite:///runs/dse.db"
        )
    options = _sqlite_query(url)
    if options:
        plain = sa.engine.make_url(url).set(query={}).render_as_string()
        raise StorageError(
            f"storage {url!r} has the query option{'s' * (len(options) > 1)} "
            f"{', '.join(options)}, which would do nothing or undo dse's settings (SQLite "
            "reads mode, cache ... only with uri=true, which dse refuses; dse sets timeout "
            f"and transactions itself); give the plain file, e.g. {plain}"
        )
    path = sqlite_file(url)
    if path is not None and path.exists() and not path.is_dir() and not path.is_file():
        raise StorageError(
            f"storage {str(path)!r} is not a regular file (a device, FIFO or socket); "
            "left untouched, give a SQLite file"
        )
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
    if head:

        def tables() -> set[str]:
            try:
                return _sqlite_tables(path)
            except sqlite3.Error as exc:
                raise StorageError(
                    f"cannot open storage {str(path)!r}: {short_db_error(exc)}"
                ) from None

        check_schema_settled(tables, repr(str(path)))


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


__all__ = [
    "OPTUNA_TABLES",
    "check_schema",
    "check_schema_settled",
    "check_storage",
    "read_only_url",
    "short_db_error",
    "sqlite_file",
]
