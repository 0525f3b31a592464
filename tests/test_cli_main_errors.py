"""`dse.cli.main` prints errors as one plain line even on a colour terminal: no markup
parsing (a `[name]` stays literal) and no highlighting of quoted names or numbers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import dse.cli.common
from dse.cli import main
from dse.cli.common import SafeConsole


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """`main`'s error console replaced by a forced colour terminal writing to a buffer."""
    buf = io.StringIO()
    console = SafeConsole(file=buf, force_terminal=True, color_system="truecolor", width=200)
    monkeypatch.setattr(dse.cli.common, "err_console", console)
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


def test_error_line_masks_passwords_and_escapes_control_characters(
    terminal: io.StringIO, tmp_path: Path
) -> None:
    """A password in a storage URL and ESC in a name never reach the terminal."""
    code = main(["report", "--storage", "postgresql://u:S3cretPw@127.0.0.1:1/db"])
    assert code == 1
    code = main(["estimate", str(tmp_path / "a\x1b[31mred.yaml"), "--device", "XC7Z020"])
    assert code == 2
    out = terminal.getvalue()
    assert "S3cretPw" not in out and "u:***@" in out
    assert "\x1b[31m" not in out and "\\x1b[31m" in out, repr(out)
    assert out.count("\n") == 2
