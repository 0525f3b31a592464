"""Secrets stay off the screen: URL rendering, free-text scrubbing, the resume hint, and
`DSE_STORAGE` as the way to keep a password off the command line."""

from __future__ import annotations

import pytest

from dse.config import build_config
from dse.redact import display_url, redact
from dse.study import resume_hint

URL = "postgresql://alice:Pa55word@db.example.org:5432/studies"


def test_display_url_masks_the_password() -> None:
    assert display_url(URL) == "postgresql://alice:***@db.example.org:5432/studies"
    assert display_url("sqlite:///runs/dse.db") == "sqlite:///runs/dse.db"


def test_redact_scrubs_urls_keywords_and_env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "hunter2x")
    text = (
        f"cannot open the accuracy cache at {URL}: failed; dsn host=x password=s3cr3t "
        "and 'hunter2x' again"
    )
    out = redact(text)
    for secret in ("Pa55word", "s3cr3t", "hunter2x"):
        assert secret not in out, out
    assert "alice:***@db.example.org" in out


def test_resume_hint_never_prints_the_password() -> None:
    cfg = build_config({}, {"storage": URL, "study": "s"})
    args = resume_hint(cfg, ["search", "--storage", URL, "--trials", "5"])
    assert "Pa55word" not in " ".join(args)
    assert "postgresql://alice:***@db.example.org:5432/studies" in args


def test_dse_storage_supplies_the_url_and_the_hint_leaves_it_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DSE_STORAGE", URL)
    cfg = build_config({}, {"study": "s"})
    assert cfg.storage == URL
    args = resume_hint(cfg, ["search"])
    assert "--storage" not in args and "Pa55word" not in " ".join(args)


def test_a_url_given_as_a_file_name_is_scrubbed(capfd: pytest.CaptureFixture[str]) -> None:
    """`dse report --plot <URL>`: the path normalizes `//` to `/`, so the error line held
    `postgresql:/alice:Pa55word@...` past a pattern that wanted `://` (the random command
    lines of tests/reliability/test_fuzz_hostile.py found it)."""
    from dse.cli import main

    assert redact("at 'postgresql:/alice:Pa55word@db'") == "at 'postgresql:/alice:***@db'"
    capfd.readouterr()
    code = main(["report", "--plot", URL])
    err = capfd.readouterr().err
    assert code == 2 and err.startswith("error: cannot write plot"), err
    assert "Pa55word" not in err and "alice:***@" in err, err
