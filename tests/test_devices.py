"""The device catalog: lookups by part and board, user devices from YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from costmodels import DeviceError, catalog, get_device


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("pynq-z2", "XC7Z020"),
        ("PYNQ-Z1", "XC7Z020"),
        ("xc7z020clg400-1", "XC7Z020"),
        ("ultra96", "XCZU3EG"),
        ("xczu3eg", "XCZU3EG"),
        ("zcu104", "XCZU7EV"),
        ("zcu102", "XCZU9EG"),
        ("zc706", "XC7Z045"),
        ("xcku115", "XCKU115"),
        ("u250", "XCU250"),
        ("Alveo U280", "XCU280"),
    ],
)
def test_lookup_by_part_or_board(name: str, part: str) -> None:
    assert get_device(name).part == part


def test_required_devices_and_their_numbers() -> None:
    parts = {d.part for d in catalog()}
    assert {
        "XC7Z020",
        "XCZU3EG",
        "XCZU7EV",
        "XCZU9EG",
        "XC7Z045",
        "XCKU115",
        "XCU250",
        "XCU280",
    } <= parts
    z7 = get_device("zcu104")  # DS891 ZU7EV column
    assert (z7.lut, z7.ff, z7.bram18, z7.uram, z7.dsp) == (230400, 460800, 624, 96, 1728)
    z2 = get_device("pynq-z2")
    assert (z2.lut, z2.bram18, z2.dsp, z2.dsp_block, z2.clock_mhz) == (
        53200,
        280,
        220,
        "DSP48E1",
        100.0,
    )
    assert get_device("ultra96").dsp_block == "DSP48E2"
    # XCZU9EG: bram18 derived from 912 BRAM36
    assert get_device("zcu102").bram18 == 1824


def test_unknown_device_suggests() -> None:
    with pytest.raises(DeviceError, match="unknown device 'pynq-z3'; did you mean 'PYNQ-Z2'"):
        get_device("pynq-z3")


def test_incomplete_rows_are_skipped_with_a_reason() -> None:
    assert "XCVU9P" not in {d.part for d in catalog()}
    with pytest.raises(DeviceError, match="lacks resource totals"):
        get_device("xcvu9p")


def test_xcku095_from_ds890() -> None:
    # DS890 Table 1: 537,600 LUT, 1,680 BRAM36 (59.1 Mb, the Pan thesis' "59.1MB"), 768 DSP
    d = get_device("XCKU095")
    assert (d.lut, d.ff, d.bram18, d.dsp, d.dsp_block) == (537600, 1075200, 3360, 768, "DSP48E2")
    assert get_device("fic-sw-ku095") == d
    assert pytest.approx(59.06, abs=0.01) == 3360 * 18 / 1024  # Mb


def test_user_device_yaml(tmp_path: Path) -> None:
    p = tmp_path / "mine.yaml"
    p.write_text("part: XC7Z010\nlut: 17600\nff: 35200\nbram18: 120\ndsp: 80\nclock_mhz: 125\n")
    d = get_device(str(p))
    assert (d.part, d.lut, d.bram18, d.uram, d.dsp, d.clock_mhz) == (
        "XC7Z010",
        17600,
        120,
        0,
        80,
        125.0,
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("part: X\nlut: 1\nbram18: 1\ndsp: 1\nluts: 3\n")
    with pytest.raises(DeviceError, match="unknown key 'luts'; did you mean 'lut'"):
        get_device(str(bad))
    with pytest.raises(DeviceError, match="not found"):
        get_device(str(tmp_path / "nope.yaml"))
