"""`dse.cli.main` prints errors as one plain line even on a colour terminal: no markup
parsing (a `[name]` stays literal) and no highlighting of quoted names or numbers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

import dse.cli
from dse.cli import main


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """`main`'s error console replaced by a forced colour terminal writing to a buffer."""
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system="truecolor", width=200)
    monkeypatch.setattr(dse.cli, "err_console", console)
    return buf


def test_domain_error_is_one_uncoloured_line(terminal: io.StringIO, tmp_path: Path) -> None:
    missing = tmp_path / "[gone] 42.db"
    code = main(["report", "--storage", f"sqlite:///{missing}", "--format", "json"])
    out = terminal.getvalue()
    assert code != 0
    assert "\x1b[" not in out, repr(out)  # the highlighter would colour '...' and 42
    assert out.startswith("error: ") and out.count("\n") == 1
    assert "[gone] 42.db" in out


def test_usage_error_is_one_uncoloured_line(terminal: io.StringIO) -> None:
    code = main(["report", "--format", "'bogus'"])
    out = terminal.getvalue()
    assert code == 2
    assert "\x1b[" not in out, repr(out)
    assert out.startswith("error: ") and "bogus" in out
