"""`dse search --devices`: a network too big for one board, searched on two, as a user runs
it; the stored placement in the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import REPO

SPEC = REPO / "examples" / "wide-conv-8bit.yaml"


def test_too_big_for_one_board_fits_on_two(dse: Callable[..., Any], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    common = ["--workload", SPEC, "--storage", url, "--trials", "30", "--seed", "1", "--json"]
    common += ["--arith", "lut,dsp"]  # 8-bit weights stay 8 bits (RCCM indices are 4-8)
    one = dse("search", *common, "--device", "XCKU115", "--objectives", "fps,lut")
    assert one.code == 2 and "impossible constraints" in one.err and "BRAM18" in one.err
    two = dse("search", *common, "--devices", "2xXCKU115", "--objectives", "fps,lut,boards")
    assert two.code == 0, two.err
    d = two.json()
    assert d["study"] == "wide-conv-8bit-2xxcku115"
    assert d["feasible"] > 0 and d["pareto"]
    assert {p["boards"] for p in d["pareto"]} == {2}
    best = max(d["pareto"], key=lambda p: p["fps"])
    rep = dse(
        "report",
        "--storage",
        url,
        "--study",
        d["study"],
        "--trial",
        best["trial"],
        "--format",
        "json",
    )
    assert rep.code == 0, rep.err
    part = json.loads(rep.out)["partition"]
    assert part["boards_used"] == 2 and len(part["cuts"]) == 1
    for b in part["boards"]:
        assert b["part"] == "XCKU115" and all(v <= 85 for v in b["util"].values())
    assert part["cuts"][0]["bits_per_frame"] == 512 * 13 * 13 * 4
    text = dse("report", "--storage", url, "--study", d["study"], "--trial", best["trial"])
    assert "boards: 2 of 2xXCKU115" in text.out and "cut after conv" in text.out
    n = str(best["trial"])
    spec = tmp_path / "d.yaml"
    ok = dse("export", "--storage", url, "--study", d["study"], "--trial", n, "-o", spec)
    assert ok.code == 0, ok.err
    assert spec.is_file()
    finn = dse("export", "--storage", url, "--study", d["study"], "--trial", n,
               "--format", "finn-folding", "-o", tmp_path / "f.json")  # fmt: skip
    assert finn.code != 0 and "multi-board design" in finn.err and "Traceback" not in finn.err


def test_devices_bad_input(dse: Callable[..., Any], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    r = dse("search", "--workload", SPEC, "--storage", url, "--devices", "2xNOPE")
    assert r.code != 0 and "unknown device 'NOPE'" in r.err and "Traceback" not in r.err
    r = dse("search", "--workload", SPEC, "--storage", url, "--devices", "0xXCKU115")
    assert r.code != 0 and "board count 0" in r.err
    assert not (tmp_path / "s.db").exists() or (tmp_path / "s.db").stat().st_size >= 0
