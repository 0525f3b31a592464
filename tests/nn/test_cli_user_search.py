"""`dse search` on the user's own data and models (issue 13), as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dse.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _npz(path: Path, shift: int = 0) -> Path:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data[:600] / 16.0).astype(np.float32)
    y = d.target[:600] + shift
    np.savez(path, x_train=x[:400], y_train=y[:400], x_val=x[400:], y_val=y[400:])
    return path


def test_search_reads_an_npz_workload(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSE_CACHE_DIR", str(tmp_path / "cache"))
    data = _npz(tmp_path / "vec.npz")
    url = f"sqlite:///{tmp_path / 's.db'}"
    code, out, err = run(
        capsys, "search", "--workload", str(data), "--trials", "3", "--finetune-steps", "0",
        "--storage", url, "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["study"] == "vec-xczu3eg" and doc["trials_new"] >= 3 and doc["feasible"] >= 1


def test_search_npz_with_labels_1_to_10_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSE_CACHE_DIR", str(tmp_path / "cache"))
    data = _npz(tmp_path / "bad.npz", shift=1)
    code, _, err = run(
        capsys, "search", "--workload", str(data), "--trials", "2",
        "--storage", f"sqlite:///{tmp_path / 's.db'}",
    )  # fmt: skip
    assert code == 2 and "found 1..10" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("kind", ["resnet", "mobilenet", "concat"])
def test_search_with_pruning_on_graph_models(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    code, out, err = run(
        capsys, "search", "--workload", f"tests.fixtures.user_models:{kind}_untrained",
        "--trials", "8", "--finetune-steps", "0", "--prune", "0,0.25,0.5", "--storage", url,
        "--study", kind, "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["trials_new"] >= 8 and "failed" not in err, err
    assert doc["pareto"], doc


@pytest.mark.slow
def test_readme_example_searches_with_pruning_and_reports_test_accuracy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's worked example, trained for real: search with pruning, report with the
    test split."""
    monkeypatch.setenv("DSE_CACHE_DIR", str(tmp_path / "cache"))
    url = f"sqlite:///{tmp_path / 's.db'}"
    code, _, err = run(
        capsys, "search", "--workload", "examples.my_workload:make", "--trials", "16",
        "--finetune-steps", "20", "--prune", "0,0.25,0.5", "--storage", url, "--study", "ex",
    )  # fmt: skip
    assert code == 0 and "failed" not in err, err
    code, out, _ = run(capsys, "report", "--storage", url, "--study", "ex", "--format", "json")
    doc = json.loads(out)
    assert "evaluated once after selection" in doc["test_note"]
    assert all(0.5 < r["test_accuracy"] <= 1.0 for r in doc["front"])
    from dse.storage import load_study_record

    record = load_study_record(url, "ex")
    pruned = [
        t for t in record.trials
        if any(c["prune"] > 0 for c in (t.attrs.get("candidate") or {}).values())
    ]  # fmt: skip
    assert pruned, "no trial pruned anything"
