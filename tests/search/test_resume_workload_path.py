"""Resuming a study whose workload is a file that defines the whole network (a YAML/JSON
spec, an ONNX model): the path's spelling (relative or absolute, another working
directory) does not make the same network another study; a changed network, or any other
change, still does. Workloads whose weights or data are not in the network fingerprint
(`.npz` data, built-ins, `pkg.module:factory`) keep the rule that the workload string is
part of the definition. Runs the CLI in two working directories on real SQLite files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import optuna
import pytest

from dse.cli import main
from dse.config import fingerprint

REPO = Path(__file__).resolve().parents[2]


def _run(
    capfd: pytest.CaptureFixture[str], cwd: Path, mp: pytest.MonkeyPatch, *args: str
) -> tuple[int, str]:
    mp.chdir(cwd)
    capfd.readouterr()
    code = main(list(args))
    return code, capfd.readouterr().err


def _search(workload: str, db: Path, *extra: str) -> tuple[str, ...]:
    return (
        "search", "--workload", workload, "--device", "XC7Z020", "--objectives", "fps,lut",
        "--storage", f"sqlite:///{db}", "--study", "s", "--trials", "3", *extra,
    )  # fmt: skip


def _meta(db: Path) -> dict[str, object]:
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{db}")
    return dict(study.user_attrs["dse"]), len(study.trials)  # type: ignore[return-value]


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A project folder with the CNV spec under examples/, another working directory, and
    the study file."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "examples").mkdir(parents=True)
    elsewhere.mkdir()
    shutil.copy(REPO / "examples" / "cnv-w1a1.yaml", project / "examples" / "cnv.yaml")
    return project, elsewhere, tmp_path / "x.db"


def test_same_spec_spelled_differently_resumes(
    dirs: tuple[Path, Path, Path],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project, elsewhere, db = dirs
    absolute = str(project / "examples" / "cnv.yaml")
    code, err = _run(capfd, elsewhere, monkeypatch, *_search(absolute, db))
    assert code == 0, err
    meta, n = _meta(db)
    # a new study's fingerprint is still the hash of its definition, workload string
    # included: studies made before this change and after it check the same way
    assert meta["fingerprint"] == fingerprint(meta["definition"])  # type: ignore[arg-type,index]
    assert meta["definition"]["workload"] == absolute  # type: ignore[index]
    for cwd, spelling in (
        (project, "examples/cnv.yaml"),
        (project, "./examples/../examples/cnv.yaml"),
        (project / "examples", "cnv.yaml"),
    ):
        code, err = _run(capfd, cwd, monkeypatch, *_search(spelling, db))
        assert code == 0, (spelling, err)
        assert "resuming 's'" in err, err
    after, n_after = _meta(db)
    assert n_after == n + 9
    assert after == meta  # the stored definition (and its spelling) is left as created


def test_changed_network_or_options_are_still_refused(
    dirs: tuple[Path, Path, Path],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project, elsewhere, db = dirs
    spec = project / "examples" / "cnv.yaml"
    code, err = _run(capfd, elsewhere, monkeypatch, *_search(str(spec), db))
    assert code == 0, err
    before = db.read_bytes()
    # another spelling and another option: the option is named, the spelling hides nothing
    code, err = _run(
        capfd, project, monkeypatch, *_search("examples/cnv.yaml", db, "--max-pe", "4")
    )
    assert code == 2, err
    assert "different configuration (space.max_pe: 64 -> 4)" in err, err  # no workload line
    # the same spelling, another network in the file
    spec.write_text(
        spec.read_text().replace("out_features: 512, w_bits: 1", "out_features: 256, w_bits: 1", 1)
    )
    for cwd, spelling in ((elsewhere, str(spec)), (project, "examples/cnv.yaml")):
        code, err = _run(capfd, cwd, monkeypatch, *_search(spelling, db))
        assert code == 2, err
        assert "different configuration (network: " in err, err
    assert db.read_bytes() == before


def test_data_workload_spelled_differently_is_another_study(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An `.npz` workload's data is not in the network fingerprint: its path stays part of
    the definition (today's rule)."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8), dtype=np.float32)
    y = np.arange(64) % 10
    (tmp_path / "d").mkdir()
    np.savez(tmp_path / "d" / "data.npz", x_train=x, y_train=y, x_val=x, y_val=y)
    db = tmp_path / "x.db"
    args = ("--finetune-steps", "0")
    code, err = _run(
        capfd, tmp_path, monkeypatch, *_search(str(tmp_path / "d" / "data.npz"), db, *args)
    )
    assert code == 0, err
    code, err = _run(capfd, tmp_path, monkeypatch, *_search("d/data.npz", db, *args))
    assert code == 2, err
    assert "different configuration (workload: " in err, err
