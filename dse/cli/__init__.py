"""The `dse` command line: a thin shell over the library.

Commands parse, call one plain function and render. Domain errors (`DseError`) become a
one-line message and an exit code here, at the boundary, and nowhere else.
"""

from __future__ import annotations

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
from dse.cli.common import err_console

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
    """Entry point of the `dse` console script."""
    try:
        result = app(args=argv, standalone_mode=False)
    except _EXIT as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except _ABORT:
        err_console.print("error: aborted", markup=False, highlight=False)
        return 130
    except _USAGE as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
        return int(getattr(exc, "exit_code", 2))
    except DseError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("error: interrupted", markup=False, highlight=False)
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
