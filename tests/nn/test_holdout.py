"""Honest accuracy in `dse report`: the front on the held-out test split, Wilson 95%
intervals, designs within noise of the best (issue 13)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dse.cli import main
from dse.holdout import Holdout, noise_points, wilson, within_noise


def test_wilson_interval_by_hand() -> None:
    # 356 of 360 right, z = 1.96: centre (356 + 1.9208) / 363.8415 = 0.98373,
    # half-width 1.96 / 363.8415 * sqrt(356 * 4 / 360 + 0.9604) = 0.011944
    lo, hi = wilson(356, 360)
    assert lo == pytest.approx(0.98373 - 0.011944, abs=2e-5)
    assert hi == pytest.approx(0.98373 + 0.011944, abs=2e-5)
    # never outside [0, 1]; all right still leaves room below 1
    lo, hi = wilson(50, 50)
    assert hi == 1.0 and 0.9 < lo < 0.94
    assert wilson(0, 0) == (0.0, 1.0)


def test_interval_shrinks_like_one_over_sqrt_n() -> None:
    small, large = noise_points(100, 0.9), noise_points(10_000, 0.9)
    assert small / large == pytest.approx(math.sqrt(100), rel=0.05)


def test_within_noise_marks_overlap_with_the_best() -> None:
    res = {1: Holdout("test", 360, 356), 2: Holdout("test", 360, 352), 3: Holdout("test", 360, 300)}
    marks = within_noise(res)
    assert marks == {1: True, 2: True, 3: False}


def test_report_gives_test_accuracy_with_intervals(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    wl = "tests.fixtures.user_models:tfc_untrained"
    assert main(["search", "--workload", wl, "--trials", "4", "--finetune-steps", "0",
                 "--storage", url, "--study", "h"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["report", "--storage", url, "--study", "h", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "evaluated once after selection" in doc["test_note"]
    rows = doc["front"]
    assert rows and all("test_accuracy" in r for r in rows)
    for r in rows:
        assert r["test_ci95_low"] <= r["test_accuracy"] <= r["test_ci95_high"]
        assert isinstance(r["within_noise_of_best"], bool)
    assert any(r["within_noise_of_best"] for r in rows)
    # the table says what the numbers are; --no-test leaves torch alone
    assert main(["report", "--storage", url, "--study", "h"]) == 0
    out = capsys.readouterr().out
    assert "test split" in out and "within noise" in out
    assert main(["report", "--storage", url, "--study", "h", "--no-test", "--format", "json"]) == 0
    assert "test_note" not in json.loads(capsys.readouterr().out)
