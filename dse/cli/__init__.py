"""The `dse` command line: a thin shell over the library.

Commands parse, call one plain function and render. Domain errors (`DseError`) become a
one-line message and an exit code here, at the boundary, and nowhere else.
"""

from __future__ import annotations

import os
import sys

import typer
import typer.exceptions

# Command modules register themselves on `app` when imported (one line each).
import dse.cli.calibrate
import dse.cli.devices
import dse.cli.estimate
import dse.cli.evaluate
import dse.cli.export
import dse.cli.report
import dse.cli.search
import dse.cli.studies
import dse.cli.twin  # noqa: F401
from costmodels.errors import DseError
from dse.cli.app import app
from dse.cli.common import print_error, training_progress

__all__ = ["app", "main"]

# typer >= 0.29 vendors click (its exceptions derive from typer.exceptions.TyperException) and
# no longer installs the `click` package; older typer raises click's own exceptions.
_EXIT: tuple[type[BaseException], ...] = (typer.Exit,)
_ABORT: tuple[type[BaseException], ...] = (typer.Abort,)
_USAGE: tuple[type[BaseException], ...] = (typer.exceptions.TyperException,)
try:
    import click

    _EXIT += (click.exceptions.Exit,)
    _ABORT += (click.exceptions.Abort,)
    _USAGE += (click.ClickException,)
except ImportError:  # pragma: no cover - depends on the installed typer
    pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `dse` console script. Every error leaves as one line (passwords
    masked, control characters escaped: `dse.cli.common.error_line`) and an exit code."""
    if os.environ.get("DSE_DEBUG"):  # tracebacks of handled errors too, for whoever debugs
        import logging

        logging.basicConfig(level=logging.DEBUG)
    try:
        with training_progress():
            result = app(args=argv, standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except _EXIT as exc:
        code = int(getattr(exc, "exit_code", 0) or 0)
    except _ABORT:
        print_error("aborted")
        return 130
    except _USAGE as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print_error(message)
        return int(getattr(exc, "exit_code", 2))
    except DseError as exc:
        print_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except (RecursionError, MemoryError) as exc:
        print_error(f"the input is too large or nested too deeply ({type(exc).__name__})")
        return 1
    except OSError as exc:  # standard output cannot be written (/dev/full, a closed pipe)
        if exc.filename is None:  # files dse writes raise OutputError; this is a stream
            return _stdout_failed(exc)
        print_error(f"{exc.strerror or exc}: {exc.filename}")
        return 1
    except Exception as exc:  # a bug: still one line, never a traceback
        if os.environ.get("DSE_DEBUG"):  # the traceback, for whoever fixes it
            import traceback

            traceback.print_exc()
        text = str(exc).strip().splitlines()
        print_error(
            f"unexpected {type(exc).__name__}{': ' + text[0] if text else ''} "
            "(a bug in dse; please report it with the command line)"
        )
        return 1
    return _flush_stdout(code)


def _flush_stdout(code: int) -> int:
    """Flush stdout; a full disk or a closed pipe becomes one error line, exit 1 (and
    Python's own flush at exit is kept quiet)."""
    try:
        sys.stdout.flush()
    except OSError as exc:
        return _stdout_failed(exc)
    return code


def _stdout_failed(exc: OSError) -> int:
    """One line for a standard output that cannot be written, exit 1 like every failed
    write (`costmodels.errors.OutputError`); what is still buffered goes to /dev/null so
    that Python's own flush at exit stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    print_error(f"cannot write the output (standard output): {exc.strerror or exc}; not written")
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
