"""`dse workloads` and `dse evaluate` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dse.cli import main
from dse.nn import Workload


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_workloads_lists_builtins_with_accuracy(
    capsys: pytest.CaptureFixture[str], nn_cache: Path, cnn: Workload, mlp: Workload
) -> None:
    code, out, _ = run(capsys, "workloads", "--cache-dir", str(nn_cache), "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert set(rows) == {"digits-mlp", "digits-cnn", "noisy-digits"}
    assert rows["digits-cnn"]["float_accuracy"] == pytest.approx(cnn.float_accuracy)
    assert rows["digits-cnn"]["layers"][:2] == ["conv1", "conv2"]


def test_workloads_untrained(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "workloads", "--cache-dir", str(tmp_path / "empty"))
    assert code == 0 and "not trained yet" in out
    assert not (tmp_path / "empty").exists()


def test_evaluate_uniform_bits_json_and_storage_cache(
    capsys: pytest.CaptureFixture[str], nn_cache: Path, mlp: Workload, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    args = [
        "evaluate",
        "-w",
        "digits-mlp",
        "--w-bits",
        "8",
        "--a-bits",
        "8",
        "--finetune-steps",
        "0",
        "--cache-dir",
        str(nn_cache),
        "--storage",
        url,
        "--json",
    ]
    code, out, _ = run(capsys, *args)
    assert code == 0
    doc = json.loads(out)
    assert doc["accuracy"] > 0.95 and doc["cached"] is False
    assert [la["weights"] for la in doc["layers"]] == ["int8"] * 4
    code, out, _ = run(capsys, *args)
    assert code == 0 and json.loads(out)["cached"] is True
    assert json.loads(out)["accuracy"] == doc["accuracy"]


def test_evaluate_spec_file_and_kl_report(
    capsys: pytest.CaptureFixture[str], nn_cache: Path, cnn: Workload, tmp_path: Path
) -> None:
    spec = tmp_path / "choices.yaml"
    spec.write_text("conv2: {w_bits: 4, a_bits: 4, prune: 0.25}\nfc1: {arith: rccm3}\n")
    code, out, _ = run(
        capsys,
        "evaluate",
        "-w",
        "digits-cnn",
        "--spec",
        str(spec),
        "--finetune-steps",
        "0",
        "--cache-dir",
        str(nn_cache),
        "--kl-report",
    )
    assert code == 0
    assert "quantized accuracy" in out and "12 / 16" in out and "rccm3" in out
    assert "KL(P||R)" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--w-bits", "0"], "--w-bits 0 is out of range"),
        (["--w-bits", "4", "--spec", "x.yaml"], "either --spec or --w-bits"),
        (["--finetune-steps", "-1"], "must be >= 0"),
        (["--spec", "nope.yaml"], "not found"),
        (["--spec", "bad_layer.yaml"], "no compute layer 'conv9'"),
        (["--spec", "bad_key.yaml"], "unknown key 'wbits'"),
        (["--spec", "prune_all.yaml"], "would remove every filter"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    args: list[str], words: str,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad_layer.yaml").write_text("conv9: {w_bits: 4}\n")
    (tmp_path / "bad_key.yaml").write_text("conv1: {wbits: 4}\n")
    (tmp_path / "prune_all.yaml").write_text("conv1: {prune: 1.0}\n")
    cache = tmp_path / "cache"
    code, out, err = run(capsys, "evaluate", "-w", "digits-cnn", "--cache-dir", str(cache), *args)
    assert code == 2
    assert err.startswith("error: ") and words in err and err.count("\n") == 1
    assert "Traceback" not in err + out
    assert not cache.exists()


def test_evaluate_unknown_workload(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "evaluate", "-w", "pkg_that_is_not_there:make")
    assert code == 2 and "cannot import workload module" in err
