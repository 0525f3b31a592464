"""Every row of the bad-input table (hostile_cases.py, docs/reliability.md) through the
real CLI: one line `error: ...`, the documented exit code, never a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hostile_cases import CASES, TFC, Case
from reliability_helpers import dse_cmd, env, one_error_line

from dse.cli import main


@pytest.fixture(scope="module")
def study_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("hostile") / "study.db"
    args = ["search", "--workload", TFC, "--device", "XC7Z020", "--storage", f"sqlite:///{db}"]
    assert main([*args, "--study", "s", "--trials", "5", "--json"]) == 0
    return db


def materialize(case: Case, folder: Path, study_db: Path) -> list[str]:
    """Write the case's files into `folder`; its arguments with placeholders filled."""
    for name, content in case.files.items():
        p = folder / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    return [
        a.replace("{dir}", str(folder))
        .replace("{db}", f"sqlite:///{folder / 'x.db'}")
        .replace("{study_db}", f"sqlite:///{study_db}")
        .replace("{study_path}", str(study_db))
        for a in case.args
    ]


def check(case: Case, code: int, err: str) -> None:
    assert "Traceback" not in err, err
    if case.code == 0:
        assert code == 0, err
        assert not any(ln.startswith("error:") for ln in err.splitlines()), err
        return
    line = one_error_line(err)
    assert code == case.code, (code, line)
    assert case.expect.lower() in line.lower(), line


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_in_process(
    case: Case, tmp_path: Path, study_db: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    args = materialize(case, tmp_path, study_db)
    before = study_db.read_bytes()
    capfd.readouterr()
    code = main(args)
    check(case, code, capfd.readouterr().err)
    if case.code != 0:
        assert study_db.read_bytes() == before  # a refused run never touches a study


SUBPROCESS = ("yaml-binary", "option-unknown")


@pytest.mark.parametrize("case_id", SUBPROCESS)
def test_bad_input_as_a_real_process(case_id: str, tmp_path: Path, study_db: Path) -> None:
    case = next(c for c in CASES if c.id == case_id)
    args = materialize(case, tmp_path, study_db)
    proc = subprocess.run(
        dse_cmd(args), capture_output=True, text=True, env=env(COLUMNS="200"), timeout=60
    )
    check(case, proc.returncode, proc.stderr)
