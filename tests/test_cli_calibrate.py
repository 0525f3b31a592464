"""`dse calibrate` and `dse estimate --calibration/--units` end to end: a fit on a small
fixture round-trips to the same profile, estimates use it, bad data gets one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from costmodels.calibration.profile import load_profile
from dse.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "finn_synth_sample.csv"
EXAMPLES = Path(__file__).parent.parent / "examples"
TFC = str(EXAMPLES / "tfc-w1a1.yaml")
CNV = str(EXAMPLES / "cnv-w1a1.yaml")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_calibrate_round_trips_to_the_same_profile(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    args = ["calibrate", str(FIXTURE), "--name", "fx", "--date", "2026-01-01", "--json"]
    code, out, err = _run(capsys, *args, "-o", str(a))
    assert code == 0, err
    d = json.loads(out)
    assert d["rows"] == 71 and d["fingerprint"] == load_profile(a).fingerprint
    ops = {e["op"] for e in d["errors"]}
    assert {"MVAU", "ConvolutionInputGenerator", "StreamingFIFO"} <= ops
    splits = {e["split"] for e in d["errors"] if e["op"] == "MVAU"}
    assert splits == {"fit", "held-out"}
    code, _, err = _run(capsys, *args, "-o", str(b))
    assert code == 0, err
    assert a.read_text() == b.read_text()  # deterministic: same rows, same profile
    prof = load_profile(a)
    assert prof.name == "fx" and prof.date == "2026-01-01" and prof.part_family == "7series"
    # table output names every unit and split
    code, out, _ = _run(capsys, "calibrate", str(FIXTURE), "-o", str(b))
    assert code == 0 and "MVAU" in out and "held-out" in out and "wrote" in out
    # the profile drives the estimate and is named in its JSON
    code, out, err = _run(
        capsys, "estimate", TFC, "-d", "pynq-z2", "--json", "--calibration", str(a)
    )
    assert code == 0, err
    est = json.loads(out)
    assert est["calibration"]["fingerprint"] == prof.fingerprint


def test_estimate_json_layers_carry_design_and_units(capsys: pytest.CaptureFixture[str]) -> None:
    for extra in ([], ["--calibration", "default"]):
        code, out, err = _run(capsys, "estimate", CNV, "-d", "pynq-z2", "--json", *extra)
        assert code == 0, err
        d = json.loads(out)
        assert d["thresholds"] == "inside MVAU"
        conv = d["layers"][0]
        for key in ("op", "out_channels", "w_bits", "a_bits", "pe", "simd", "mmv", "arith"):
            assert key in conv
        assert conv["ram_style"] == "auto"
        ops = [u["finn_op"] for u in conv["units"]]
        assert "MVAU" in ops and "ConvolutionInputGenerator" in ops and "StreamingFIFO" in ops
        for u in conv["units"]:
            assert set(u) == {"finn_op", "lut", "ff", "dsp", "bram18", "uram"}
        assert sum(u["lut"] for u in conv["units"]) == pytest.approx(conv["lut"])
        pool = next(la for la in d["layers"] if la["op"] == "maxpool")
        assert [u["finn_op"] for u in pool["units"]] == ["StreamingMaxPool"]
        assert "out_features" in d["layers"][-1]


def test_family_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys, "estimate", TFC, "-d", "ultra96", "--json", "--calibration", "default"
    )
    cal = json.loads(out)["calibration"]
    assert code == 0 and cal["part_family"] == "7series" and cal["device_family"] == "ultrascale"
    code, out, _ = _run(capsys, "estimate", TFC, "-d", "ultra96", "--calibration", "default")
    assert code == 0 and "fitted on 7series parts" in out


def test_estimate_units_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys, "estimate", CNV, "-d", "pynq-z2", "--units", "--calibration", "default"
    )
    assert code == 0, err
    assert "ConvolutionInputGenerator" in out and "StreamingMaxPool" in out and "MVAU" in out


def _bad_csv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.csv"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: t / "missing.csv", "missing.csv: not found"),
        (lambda t: _bad_csv(t, "a,b\n1,2\n"), "not a finn_synth CSV (missing column"),
        (
            lambda t: _bad_csv(
                t,
                "Submodule Instance,op_type,MW,Total LUT,Total FFs,BRAM (36k eq.),DSP Blocks\n"
                "MVAU_hls_0,MVAU_hls,64,many,1,0,0\n",
            ),
            "bad.csv:2: Total LUT 'many' is not a number",
        ),
        (
            lambda t: _bad_csv(
                t,
                "Submodule Instance,op_type,MW,MH,weightDataType,inputDataType,outputDataType,"
                "Total LUT,Total FFs,BRAM (36k eq.),DSP Blocks\n"
                "MVAU_hls_0,MVAU_hls,64,16,FLOAT32,INT2,INT2,10,1,0,0\n",
            ),
            "bad.csv:2: data type 'FLOAT32' is not an integer type",
        ),
        (lambda t: (t / "build").mkdir() or t / "build", "post_synth_resources.json: not found"),
    ],
)
def test_calibrate_bad_data_one_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    make,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    path = make(tmp_path)
    code, _, err = _run(capsys, "calibrate", str(path), "-o", str(tmp_path / "p.yaml"))
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p.yaml").exists()


def test_calibrate_reads_a_finn_build_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A build folder: report/post_synth_resources.json + final_hw_config.json whose node
    entries carry the attributes; a node missing from the config is skipped."""
    b = tmp_path / "build"
    (b / "report").mkdir(parents=True)
    res = {
        "(top)": {"LUT": 999},
        "LabelSelect_hls_0": {"LUT": 53, "FF": 61, "BRAM_36K": 0, "BRAM_18K": 0, "DSP48E": 0},
        "FMPadding_rtl_0": {"LUT": 47, "FF": 76, "BRAM_36K": 0, "BRAM_18K": 0, "DSP48E": 0},
        "StreamingFIFO_rtl_9": {"LUT": 10, "FF": 10},
    }
    cfg = {
        "LabelSelect_hls_0": {"Labels": 10, "K": 1, "PE": 1, "inputDataType": "INT7"},
        "FMPadding_rtl_0": {
            "NumChannels": 16, "ImgDim": [16, 16], "Padding": [1, 1, 1, 1], "SIMD": 1,
            "inputDataType": "UINT2",
        },
    }  # fmt: skip
    (b / "report" / "post_synth_resources.json").write_text(json.dumps(res))
    (b / "final_hw_config.json").write_text(json.dumps(cfg))
    code, out, err = _run(capsys, "calibrate", str(b), "-o", str(tmp_path / "p.yaml"), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["rows"] == 2 and {e["op"] for e in d["errors"]} == {"LabelSelect", "FMPadding"}
    (b / "final_hw_config.json").write_text("{not json")
    code, _, err = _run(capsys, "calibrate", str(b), "-o", str(tmp_path / "q.yaml"))
    assert code == 2 and "final_hw_config.json: not valid JSON" in err


def test_estimate_calibration_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(
        capsys, "estimate", TFC, "-d", "pynq-z2", "--calibration", str(tmp_path / "x.yaml")
    )
    assert code == 2 and "x.yaml" in err and "not found" in err
    code, _, err = _run(
        capsys, "estimate", TFC, "-d", "pynq-z2", "--calibration", "default", "--estimator", "finn"
    )
    assert code == 2 and "--calibration applies to --estimator dse only" in err


HIER_RPT = (Path(__file__).parent / "fixtures" / "ooc_utilization_hierarchical.rpt").read_text()


def test_calibrate_reads_the_hierarchical_utilization_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    b = tmp_path / "build"
    (b / "report").mkdir(parents=True)
    (b / "report" / "ooc_utilization_hierarchical.rpt").write_text(HIER_RPT)
    cfg = {
        "LabelSelect_hls_0": {"Labels": 10, "K": 1, "PE": 1, "inputDataType": "INT7"},
        "FMPadding_rtl_0": {
            "NumChannels": 16, "ImgDim": [16, 16], "Padding": [1, 1, 1, 1], "SIMD": 1,
            "inputDataType": "UINT2",
        },
    }  # fmt: skip
    (b / "final_hw_config.json").write_text(json.dumps(cfg))
    code, out, err = _run(capsys, "calibrate", str(b), "-o", str(tmp_path / "p.yaml"), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["rows"] == 2
    (b / "report" / "ooc_utilization_hierarchical.rpt").write_text(
        HIER_RPT.replace("|         47 |", "|        4x7 |")
    )
    code, _, err = _run(capsys, "calibrate", str(b), "-o", str(tmp_path / "q.yaml"))
    assert code == 2 and "FMPadding_rtl_0: Total LUTs '4x7' is not a number" in err


def test_units_for_finn_estimator_engines_and_depthwise(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(capsys, "estimate", TFC, "-d", "pynq-z2", "--json", "--estimator", "finn")
    assert code == 0, err
    units = json.loads(out)["layers"][0]["units"]
    assert [u["finn_op"] for u in units] == ["MVAU"]
    code, out, _ = _run(capsys, "estimate", CNV, "-d", "ultra96", "--json", "--template", "engines")
    assert code == 0 and all(la["units"] == [] for la in json.loads(out)["layers"])
    spec = tmp_path / "dw.yaml"
    spec.write_text(
        "name: dw\ninput: {shape: [8, 8, 8], bits: 4}\nlayers:\n"
        "  - {name: dw, op: conv, out_channels: 8, groups: 8, kernel: 3, padding: 1,"
        " w_bits: 4, a_bits: 4}\n"
    )
    for extra in ([], ["--calibration", "default"]):
        code, out, err = _run(capsys, "estimate", str(spec), "-d", "pynq-z2", "--json", *extra)
        assert code == 0, err
        ops = [u["finn_op"] for u in json.loads(out)["layers"][0]["units"]]
        assert "VVAU" in ops and "MVAU" not in ops


def test_calibrate_output_checked_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for out, message in (
        (tmp_path / "p.txt", "unknown extension '.txt'"),
        (tmp_path, "unknown extension '(none)'"),
        (tmp_path / "nope" / "p.yaml", "does not exist"),
    ):
        code, _, err = _run(capsys, "calibrate", str(FIXTURE), "-o", str(out))
        assert code == 2 and message in err, err
        assert len(err.strip().splitlines()) == 1
