"""Bad input: one line on stderr naming the problem, a non-zero exit, no traceback, and
the study database untouched byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def stored(dse, specs, tmp_path: Path) -> tuple[str, Path]:  # type: ignore[no-untyped-def]
    db = tmp_path / "s.db"
    url = f"sqlite:///{db}"
    run = dse(
        "search", "--workload", specs["tfc"], "--device", "XC7Z020", "--storage", url,
        "--study", "tfc", "--trials", "30", "--json",
    )  # fmt: skip
    assert run.code == 0, run.err
    return url, db


def _one_line(run: Any, code: int, *needles: str) -> None:
    assert run.code == code, (run.code, run.err)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.err
    assert "Traceback" not in run.err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--objectives", "fps,acuracy"], ["unknown objective 'acuracy'", "'accuracy'"]),
        (["--objectives", "fps,fps"], ["twice"]),
        (["--sampler", "nsga"], ["unknown sampler 'nsga'", "'nsga2'"]),
        (["--objectives", "accuracy,lut"], ["hardware-only spec", "no accuracy"]),
        (["--cap", "0"], ["cap"]),
        (["--w-bits", "1,20"], ["out of range"]),
        (["--arith", "lut,dps"], ["unknown arithmetic 'dps'", "'dsp'"]),
        (["--device", "XC7Z02"], ["unknown device"]),
    ],
)
def test_bad_search_options(dse, specs, stored, args, needles) -> None:  # type: ignore[no-untyped-def]
    url, db = stored
    before = db.read_bytes()
    run = dse("search", "--workload", specs["tfc"], "--device", "XC7Z020", "--storage", url,
              "--study", "tfc", "--trials", "5", *args)  # fmt: skip
    _one_line(run, 2, *needles)
    assert db.read_bytes() == before


def test_impossible_constraints_said_before_running(dse, specs, stored, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, db = stored
    before = db.read_bytes()
    run = dse("search", "--workload", specs["cnv"], "--device", "XC7Z020", "--storage", url,
              "--study", "cnv", "--cap", "2")  # fmt: skip
    _one_line(run, 2, "impossible constraints", "smallest design", "2% cap")
    assert db.read_bytes() == before
    fresh = tmp_path / "fresh.db"
    run = dse("search", "--workload", specs["cnv"], "--device", "XC7Z020", "--storage",
              f"sqlite:///{fresh}", "--cap", "2")  # fmt: skip
    _one_line(run, 2, "impossible constraints")
    assert not fresh.exists()


def test_unknown_config_key_is_suggested(dse, specs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "study.yaml"
    cfg.write_text(f"workload: {specs['tfc']}\ndevise: XC7Z020\n")
    run = dse("search", "--config", cfg, "--storage", f"sqlite:///{tmp_path / 'x.db'}")
    _one_line(run, 2, "unknown key 'devise'", "'device'")
    cfg.write_text("space:\n  max_pee: 4\n")
    _one_line(dse("search", "--config", cfg), 2, "unknown key 'max_pee'", "'max_pe'")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("trials: many\n", "config: trials: "),
        ("cap: x\n", "config: cap: "),
        ("space:\n  max_pe: abc\n", "space.max_pe: "),
        ("space:\n  prune: [a]\n", "space.prune: "),
        ("space:\n  threshold: [0.1, b]\n", "space.threshold: "),
    ],
)
def test_bad_config_value_names_its_key(dse, tmp_path: Path, text: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "study.yaml"
    cfg.write_text(text)
    _one_line(dse("search", "--config", cfg), 2, needle)


def test_unreachable_storage(dse, specs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = dse("search", "--workload", specs["tfc"], "--device", "XC7Z020", "--trials", "3",
              "--storage", "postgresql://nobody@127.0.0.1:9/none")  # fmt: skip
    _one_line(run, 1, "127.0.0.1")
    run = dse("search", "--workload", specs["tfc"], "--device", "XC7Z020", "--trials", "3",
              "--storage", f"sqlite:///{tmp_path / 'missing' / 'x.db'}")  # fmt: skip
    assert run.code != 0 and len(run.err.strip().splitlines()) == 1
    assert not (tmp_path / "missing").exists()


def test_report_and_export_errors_leave_db_untouched(dse, stored, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, db = stored
    before = db.read_bytes()
    _one_line(dse("report", "--storage", url, "--study", "tcf"), 2, "no study named 'tcf'",
              "'tfc'")  # fmt: skip
    _one_line(dse("report", "--storage", url, "--trial", "30"), 2, "no trial 30", "0..29")
    _one_line(dse("export", "--storage", url, "--trial", "-1"), 2, "no trial -1")
    _one_line(dse("export", "--storage", url, "--trial", "0", "-o", tmp_path / "no" / "x.yaml"),
              2, "cannot write", "does not exist")  # fmt: skip
    _one_line(dse("report", "--storage", url, "--plot", tmp_path / "no" / "p.png"), 2,
              "cannot write")  # fmt: skip
    _one_line(dse("export", "--storage", url, "--trial", "0", "-o", tmp_path), 2, "directory")
    assert db.read_bytes() == before
    missing = tmp_path / "none.db"
    _one_line(dse("report", "--storage", f"sqlite:///{missing}"), 2, "no study storage")
    _one_line(dse("studies", "--storage", f"sqlite:///{missing}"), 2, "no study storage")
    assert not missing.exists()


def test_refused_accuracy_search_creates_no_database(
    dse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A search with an accuracy objective that is refused before its first trial
    (impossible constraints) must not create the study database, not even the accuracy
    cache's table in it."""
    monkeypatch.setenv("DSE_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "new.db"
    run = dse("search", "--workload", "digits-mlp", "--device", "XC7Z020", "--storage",
              f"sqlite:///{db}", "--cap", "0.01", "--trials", "1")  # fmt: skip
    _one_line(run, 2, "impossible constraints")
    assert not db.exists()
