"""A design the cost model refused never got an accuracy (its accuracy objective is a 0.0
placeholder for Optuna). Reports must not show that placeholder as a measurement: the plot
leaves such trials out of every panel with the accuracy axis (and says so in the legend),
and JSON rows carry null, not 0.

The study is plain data (`StudyRecord`), built by hand: four trials on (accuracy, lut, fps).
"""

from __future__ import annotations

import json

import pytest

from dse.config import Direction
from dse.report import accuracy_known, figure, projections, summary, trial_row
from dse.storage import StudyRecord, TrialRecord


def _trial(
    number: int,
    values: tuple[float, float, float],
    accuracy: float | None,
    constraints: dict[str, float],
    baseline: str | None = None,
) -> TrialRecord:
    _acc, lut, fps = values
    attrs: dict[str, object] = {
        "accuracy": accuracy,
        "cost": {"lut": lut, "fps": fps, "util": {"lut": lut / 532.0}},
        "candidate": {},
    }
    if baseline:
        attrs["baseline"] = baseline
    return TrialRecord(number, "complete", values, constraints, {}, attrs, None, None)


FITS = {"lut": -10.0, "dsp": -50.0, "bram18": -40.0, "uram": -90.0}
TOO_BIG = {**FITS, "lut": 80.0}  # 80 points over the cap: refused before torch

TRIALS = (
    _trial(0, (0.92, 5000.0, 1000.0), 0.92, FITS),
    _trial(1, (0.88, 3000.0, 800.0), 0.88, FITS),
    # the cost model refused it: accuracy unknown, objective value 0.0 placeholder
    _trial(2, (0.0, 90000.0, 5000.0), None, TOO_BIG, baseline="setfolding-min"),
    # fits but below --min-accuracy: evaluated, so its accuracy is known
    _trial(3, (0.5, 2000.0, 500.0), 0.5, {**FITS, "accuracy": 0.3}),
)
RECORD = StudyRecord(
    name="hand",
    storage="sqlite:///hand.db",
    objectives=("accuracy", "lut", "fps"),
    directions=(Direction.MAXIMIZE, Direction.MINIMIZE, Direction.MAXIMIZE),
    meta={},
    trials=TRIALS,
)


def test_accuracy_known_only_for_evaluated_trials() -> None:
    assert [accuracy_known(t) for t in TRIALS] == [True, True, False, True]
    foreign = TrialRecord(9, "complete", (0.0, 1.0, 1.0), {}, {}, {}, None, None)
    assert accuracy_known(foreign), "a study dse did not create keeps its objective values"


def test_accuracy_panels_leave_out_unevaluated_trials() -> None:
    panels = {(p.i, p.j): p for p in projections(RECORD)}
    assert set(panels) == {(0, 1), (0, 2), (1, 2)}
    for key in ((0, 1), (0, 2)):  # accuracy against lut, accuracy against fps
        p = panels[key]
        drawn = {t.number for t in p.infeasible + p.feasible + p.front + p.baselines}
        assert 2 not in drawn and p.not_evaluated == 1
        assert [t.number for t in p.infeasible] == [3], "low-accuracy trial stays (measured)"
    p = panels[(1, 2)]  # lut against fps: no accuracy axis, every trial drawn
    assert [t.number for t in p.infeasible] == [2, 3] and p.not_evaluated == 0
    assert [t.number for t in p.baselines] == [2]


def test_plot_accuracy_axis_spans_measured_accuracies_only() -> None:
    import matplotlib.pyplot as plt

    fig = figure(RECORD)
    try:
        acc_lut, acc_fps, lut_fps, _hv = fig.axes
        # measured accuracies are 0.5..0.92; the 0.0 placeholder would pull the axis to 0
        lo, hi = acc_lut.get_xlim()
        assert 0.4 < lo < 0.5 and 0.92 < hi < 1.0
        assert acc_fps.get_xlim()[0] > 0.4
        for ax in (acc_lut, acc_fps):
            labels = [t.get_text() for t in ax.get_legend().get_texts()]
            assert any(s.startswith("infeasible (not evaluated): 1") for s in labels), labels
        # the resource-only panel still shows the refused design (lut 90,000)
        assert lut_fps.get_xlim()[1] >= 90000.0
        assert lut_fps.get_legend() is None
    finally:
        plt.close(fig)


def test_json_rows_write_unknown_accuracy_as_null() -> None:
    assert trial_row(RECORD, TRIALS[2])["accuracy"] is None
    assert trial_row(RECORD, TRIALS[3])["accuracy"] == pytest.approx(0.5)
    data = json.loads(json.dumps(summary(RECORD)))
    (base,) = data["baselines"]
    assert base["trial"] == 2 and base["accuracy"] is None
    assert [r["trial"] for r in data["front"]] == [0, 1]
    assert all(r["accuracy"] is not None for r in data["front"])
