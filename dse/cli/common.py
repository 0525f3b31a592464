"""Helpers shared by the CLI commands: consoles, one-line errors, JSON output."""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
from collections.abc import Iterator
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from dse.redact import redact

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_ERROR_CHARS = 600


def escape_controls(text: str, *, newlines: bool = True) -> str:
    """`text` with terminal control characters (ESC, NUL, ...) shown as `\\x1b` escapes,
    so a name from somebody else's file cannot drive the terminal (ANSI injection)."""
    pattern = _CONTROL if newlines else _CONTROL_OR_NEWLINE
    return pattern.sub(lambda m: repr(m.group())[1:-1], text)


class SafeConsole(Console):
    """A rich console that escapes control characters in every string it renders (tables,
    titles, lines); rich's own styling still reaches the terminal."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(escape_controls(text), **kwargs)


console = SafeConsole()
err_console = SafeConsole(stderr=True)


def error_line(message: str) -> str:
    """The one line printed for an error: passwords masked (`dse.redact`), control
    characters and newlines escaped, at most `MAX_ERROR_CHARS` characters."""
    text = escape_controls(redact(str(message)), newlines=False)
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 3] + "..."
    return f"error: {text}"


def print_error(message: str) -> None:
    err_console.print(error_line(message), markup=False, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error to stderr and exit with `code` (2: usage, 1: runtime)."""
    print_error(message)
    raise typer.Exit(code)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def print_json(obj: Any) -> None:
    """Print `obj` as JSON on stdout (non-finite floats become null), nothing else."""
    sys.stdout.write(json.dumps(_clean(obj), indent=2, default=str) + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def training_progress() -> Iterator[None]:
    """Show a progress bar (epochs, validation accuracy) whenever a float model is trained
    inside the block (`dse.training_hook.on_training`); nothing when the model is cached."""
    from rich.errors import LiveError
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from dse.training_hook import on_training

    bars: dict[str, Any] = {}

    def hook(name: str, epoch: int, epochs: int, acc: float) -> None:
        if "bar" not in bars:
            if not err_console.is_terminal:
                bars["bar"] = None
                return
            bar = Progress(
                TextColumn("training the float model of {task.description}"),
                BarColumn(), MofNCompleteColumn(), TextColumn("val {task.fields[acc]}"),
                TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=True,
            )  # fmt: skip
            try:
                bar.start()
            except LiveError:  # another display is live (a report's own bar): stay quiet
                bars["bar"] = None
                return
            bars["bar"] = bar
            bars["task"] = bar.add_task(escape_controls(name), total=epochs, acc="-")
        if bars["bar"] is not None:
            bars["bar"].update(bars["task"], completed=epoch, acc=f"{acc:.3f}")

    try:
        with on_training(hook):
            yield
    finally:
        if bars.get("bar") is not None:
            bars["bar"].stop()
