"""`dse twin-sweep` end to end on a tiny factory workload, and its bad-input errors
(one line on stderr, non-zero exit, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dse.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_sweep_end_to_end_json_and_plot(tiny: Path, capsys: pytest.CaptureFixture[str]):
    code, out, err = run(
        capsys, "twin-sweep", "--workload", "tinywl:make", "--finetune-steps", "5",
        "--thresholds", "0,0.25,1,inf", "--plot", "curve.png", "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    sweep = doc["sweep"]
    assert [r["threshold"] for r in sweep][:3] == [0.0, 0.25, 1.0]
    assert sweep[-1]["threshold"] is None  # infinity -> null in JSON
    assert sweep[0]["recheck_fraction"] == 0.0
    assert sweep[-1]["accuracy"] == pytest.approx(sweep[-1]["accuracy_accurate"])
    assert sweep[-1]["speedup"] <= 1.0 + 1e-12
    assert doc["resources"]["pair"]["lut"] == pytest.approx(
        doc["resources"]["compressed"]["lut"]
        + doc["resources"]["accurate"]["lut"]
        + doc["resources"]["overhead"]["lut"]
    )
    assert (tiny / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_sweep_table_marks_the_balanced_t(tiny: Path, capsys: pytest.CaptureFixture[str]):
    code, out, _ = run(capsys, "twin-sweep", "--workload", "tinywl:make",
                       "--finetune-steps", "5", "--points", "5")  # fmt: skip
    assert code == 0
    assert "most balanced T =" in out
    assert "* " in out
    assert "compressed" in out and "accurate" in out


def _spec(tmp: Path, name: str, w_bits: int, arith: str = "auto") -> Path:
    doc = {
        "name": name,
        "input": {"shape": [8], "bits": 8},
        "layers": [
            {"name": "0", "op": "dense", "out_features": 16, "w_bits": w_bits, "a_bits": 2,
             "pe": 1, "simd": 1, "arith": arith},
            {"name": "2", "op": "dense", "out_features": 3, "w_bits": w_bits, "a_bits": None,
             "pe": 1, "simd": 1, "arith": arith},
        ],
    }  # fmt: skip
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--thresholds", "0,-1"], "threshold T must be >= 0"),
        (["--thresholds", "0,abc"], "not a number"),
        (["--overhead", "lots"], "overhead"),
        (["--device", "NOPE-123"], "NOPE-123"),
        (["--plot", "x.jpg"], ".png"),
        (["--cap", "0"], "cap"),
    ],
)
def test_bad_options(tiny: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str):
    code, out, err = run(capsys, "twin-sweep", "--workload", "tinywl:make", *args)
    assert code == 2
    assert needle in err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "Traceback" not in err + out


def test_compressed_half_not_binary(tiny: Path, capsys: pytest.CaptureFixture[str]):
    spec = _spec(tiny, "cmp8", 8)
    code, _, err = run(capsys, "twin-sweep", "--workload", "tinywl:make", "--compressed", str(spec))
    assert code == 2
    assert "must be binary/ternary" in err and err.count("\n") == 1


def test_compressed_half_on_dsps(tiny: Path, capsys: pytest.CaptureFixture[str]):
    spec = _spec(tiny, "cmpdsp", 2, "dsp")
    code, _, err = run(capsys, "twin-sweep", "--workload", "tinywl:make", "--compressed", str(spec))
    assert code == 2 and "computes in LUTs" in err


def test_pair_that_cannot_fit(tiny: Path, capsys: pytest.CaptureFixture[str]):
    """The overhead alone (a quarter of the device's LUTs) over a 20% cap."""
    code, _, err = run(capsys, "twin-sweep", "--workload", "tinywl:make",
                       "--overhead", "device:0.25", "--cap", "20")  # fmt: skip
    assert code == 2
    assert "does not fit" in err and "LUT" in err and err.count("\n") == 1


def test_halves_of_different_networks(tiny: Path, capsys: pytest.CaptureFixture[str]):
    spec = _spec(tiny, "acc", 8)
    doc = yaml.safe_load(spec.read_text())
    doc["layers"][0]["out_features"] = 32
    spec.write_text(yaml.safe_dump(doc))
    code, _, err = run(capsys, "twin-sweep", "--workload", "tinywl:make", "--accurate", str(spec))
    assert code == 2 and "differ in structure" in err


def test_outputs_that_are_not_class_scores(tiny: Path, capsys: pytest.CaptureFixture[str]):
    code, out, err = run(capsys, "twin-sweep", "--workload", "tinywl:one_column",
                         "--finetune-steps", "2")  # fmt: skip
    assert code != 0
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "Traceback" not in err + out
