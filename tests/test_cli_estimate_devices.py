"""`dse estimate SPEC --devices`: one fixed design placed on several boards."""

from __future__ import annotations

import json

import pytest

from dse.cli import main
from tests.conftest import REPO

SPEC = str(REPO / "examples" / "wide-conv-8bit.yaml")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["estimate", SPEC, *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_placed_on_two_boards(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--devices", "2xXCKU115", "--cap", "85", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["fits"] and d["devices"] == "2xXCKU115"
    part = d["partition"]
    assert part["boards_used"] == 2
    assert [c["bits_per_frame"] for c in part["cuts"]] == [512 * 13 * 13 * 4]
    code, out, _ = _run(capsys, "--devices", "XCKU115", "--cap", "85", "--json")
    assert code == 0 and not json.loads(out)["fits"]
    code, out, _ = _run(capsys, "--devices", "2xXCKU115", "--cap", "85")
    assert "board 1 XCKU115: conv3 .. conv4" in out and "placed on 2 of 2 boards" in out


def test_one_of_device_or_devices(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys)
    assert code == 2 and "--device PART (one board) or --devices" in err
    code, _, err = _run(capsys, "--device", "XCKU115", "--devices", "2xXCKU115")
    assert code == 2 and "Traceback" not in err
