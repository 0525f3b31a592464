"""Bad input to the scheduler: one-line `DseError` subclasses naming the problem."""

from __future__ import annotations

import math

import numpy as np
import pytest

from costmodels.errors import ConfigError, DseError, WorkloadError
from dse.twin import (
    ScoresError,
    ServiceTime,
    ServiceTimeError,
    ThresholdError,
    TwinStream,
    margins,
    simulate,
)

GOOD = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 2.5]])


def _one_line(exc: pytest.ExceptionInfo[DseError]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg


@pytest.mark.parametrize("t", [-0.1, -math.inf, math.nan, "x"])
def test_bad_threshold(t: object):
    s = TwinStream.from_outputs(GOOD, GOOD, [0, 1])
    with pytest.raises(ThresholdError) as exc:
        simulate(s, t, ServiceTime(1.0), ServiceTime(2.0))  # type: ignore[arg-type]
    assert "threshold" in _one_line(exc)
    assert isinstance(exc.value, ConfigError)


@pytest.mark.parametrize(
    ("cmp", "acc", "labels", "needle"),
    [
        (np.zeros(3), GOOD, [0, 1], "shape"),
        (GOOD[:, :1], GOOD[:, :1], [0, 0], "column"),
        (np.array([[1.0, math.nan], [0.0, 1.0]]), GOOD[:, :2], [0, 1], "NaN"),
        (GOOD, GOOD[:, :2], [0, 1], "differ"),
        (GOOD, GOOD, [0, 1, 2], "labels"),
        (GOOD, GOOD, [0, 3], "labels"),
        (GOOD, GOOD, [0.5, 1], "class indices"),
        (np.zeros((0, 3)), np.zeros((0, 3)), [], "no inputs"),
        ([["a", "b"], ["c", "d"]], GOOD[:, :2], [0, 1], "not numeric"),
    ],
)
def test_outputs_that_are_not_class_scores(cmp: object, acc: object, labels: object, needle: str):
    with pytest.raises(ScoresError) as exc:
        TwinStream.from_outputs(cmp, acc, labels)  # type: ignore[arg-type]
    assert needle in _one_line(exc)
    assert isinstance(exc.value, WorkloadError)


@pytest.mark.parametrize(("lat", "ii"), [(0.0, None), (-1.0, None), (math.inf, None), (1.0, 2.0)])
def test_bad_service_times(lat: float, ii: float | None):
    with pytest.raises(ServiceTimeError) as exc:
        ServiceTime(lat, ii)
    _one_line(exc)


def test_margins_raw_and_softmax():
    """Raw: 2 - 1 = 1 and 3 - 2.5 = 0.5. Softmax of [2, 1, 0]: e^2/(e^2+e+1) - e/(...)."""
    assert margins(GOOD).tolist() == [1.0, 0.5]
    z = math.e**2 + math.e + 1
    assert margins(GOOD, "softmax")[0] == pytest.approx((math.e**2 - math.e) / z)
    s = TwinStream.from_outputs(GOOD, GOOD, [0, 2], margin="softmax")
    assert s.cmp_right.tolist() == [True, False]
    assert (s.margin <= 1).all()
