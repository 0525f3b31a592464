"""`dse estimate` and `dse devices` end to end through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dse.cli import main

EXAMPLES = Path(__file__).parent.parent / "examples"
CNV = str(EXAMPLES / "cnv-w1a1.yaml")


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def test_estimate_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    d = _json(capsys, ["estimate", CNV, "--device", "pynq-z2", "--json"])
    for key in (
        "device",
        "clock_mhz",
        "totals",
        "utilization",
        "fits",
        "cycles_per_frame",
        "fps",
        "latency_ms",
        "layers",
    ):
        assert key in d
    assert set(d["totals"]) >= {"lut", "dsp", "bram18", "uram"}
    assert set(d["utilization"]) >= {"lut", "dsp", "bram18", "uram"}
    assert d["device"] == "XC7Z020" and d["clock_mhz"] == 100.0
    assert len(d["layers"]) == 11
    assert set(d["layers"][0]) >= {"name", "lut", "dsp", "bram18", "uram", "cycles"}
    # FPS is computed from the slowest unit: clock / cycles
    assert d["fps"] == pytest.approx(100e6 / d["cycles_per_frame"])
    assert d["cycles_per_frame"] == max(layer["cycles"] for layer in d["layers"])
    assert d["utilization"]["lut"] == pytest.approx(100 * d["totals"]["lut"] / 53200)


def test_estimator_template_clock_and_cap(capsys: pytest.CaptureFixture[str]) -> None:
    finn = _json(capsys, ["estimate", CNV, "-d", "pynq-z2", "--json", "--estimator", "finn"])
    assert finn["estimator"] == "finn" and len(finn["layers"]) == 9
    eng = _json(capsys, ["estimate", CNV, "-d", "ultra96", "--json", "--template", "engines"])
    assert eng["template"] == "engines"
    fast = _json(capsys, ["estimate", CNV, "-d", "pynq-z2", "--json", "--clock-mhz", "200"])
    assert fast["clock_mhz"] == 200.0
    tight = _json(capsys, ["estimate", CNV, "-d", "pynq-z2", "--json", "--cap", "10"])
    assert tight["fits"] is False


def test_estimate_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", CNV, "--device", "pynq-z2"]) == 0
    out = capsys.readouterr().out
    assert "conv0" in out and "total" in out and "FPS" in out and "fits" in out


def test_devices(capsys: pytest.CaptureFixture[str]) -> None:
    d = _json(capsys, ["devices", "--json"])
    assert {x["part"] for x in d["devices"]} >= {"XC7Z020", "XCZU7EV", "XCU250"}
    assert main(["devices"]) == 0
    assert "XCZU3EG" in capsys.readouterr().out


def _spec(tmp_path: Path, text: str) -> str:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return str(p)


HEAD = "name: t\ninput: {shape: [3, 8, 8], bits: 8}\nlayers:\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "pynq-z3"], "did you mean 'PYNQ-Z2'"),
        (["--device", "pynq-z2", "--clock-mhz", "-5"], "must be positive"),
        (["--device", "pynq-z2", "--cap", "150"], "--cap 150"),
    ],
)
def test_bad_options_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["estimate", CNV, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            "  - {name: c, op: conv, out_channels: 8, kernel: 3, w_bits: 2, a_bits: 2, pe: 3}\n",
            "PE=3 does not divide output channels 8; valid: 1, 2, 4, 8",
        ),
        (
            "  - {name: c, op: conv, out_channel: 8, kernel: 3, w_bits: 2, a_bits: 2}\n",
            "did you mean 'out_channels'",
        ),
        (
            "  - {name: c, op: conv, out_channels: 8, kernel: 3, w_bits: 20, a_bits: 2}\n",
            "w_bits=20 is out of range",
        ),
        (
            "  - {name: c, op: conv, out_channels: 8, kernel: 9, w_bits: 2, a_bits: 2}\n",
            "empty output",
        ),
        ("  - [1, 2]\n", "layer #0: must be a mapping"),
    ],
)
def test_bad_specs_exit_2(
    layers: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["estimate", _spec(tmp_path, HEAD + layers), "-d", "pynq-z2"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_empty_network_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = _spec(tmp_path, "name: t\ninput: {shape: [3, 8, 8], bits: 8}\nlayers: []\n")
    assert main(["estimate", empty, "-d", "pynq-z2"]) == 2
    assert "has no layers" in capsys.readouterr().err
    assert main(["estimate", str(tmp_path / "nope.yaml"), "-d", "pynq-z2"]) == 2
    assert "not found" in capsys.readouterr().err


def test_user_device_file_and_json_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dev = tmp_path / "z7010.yaml"
    dev.write_text("part: XC7Z010\nlut: 17600\nff: 35200\nbram18: 120\ndsp: 80\nclock_mhz: 125\n")
    spec = tmp_path / "tfc.json"
    spec.write_text(
        json.dumps(
            {
                "name": "tiny",
                "input": {"shape": [64], "bits": 1},
                "layers": [
                    {
                        "name": "fc0",
                        "op": "dense",
                        "out_features": 16,
                        "w_bits": 1,
                        "a_bits": 1,
                        "pe": 4,
                        "simd": 8,
                    },
                    {
                        "name": "fc1",
                        "op": "dense",
                        "out_features": 10,
                        "w_bits": 1,
                        "a_bits": None,
                        "pe": 2,
                        "simd": 4,
                    },
                ],
            }
        )
    )
    d = _json(capsys, ["estimate", str(spec), "--device", str(dev), "--json"])
    assert d["device"] == "XC7Z010" and d["clock_mhz"] == 125.0
    # fc0: (16/4) * (64/8) = 32 cycles; fc1: (10/2) * (16/4) = 20
    assert [layer["cycles"] for layer in d["layers"]] == [32, 20]
    assert d["cycles_per_frame"] == 32
    assert d["fps"] == pytest.approx(125e6 / 32)
