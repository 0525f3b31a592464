"""The threshold sweep: the most balanced T by hand, the table values, the PNG."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from dse.twin import ServiceTime, TwinStream, simulate
from dse.twin.sweep import balanced_index, format_value, plot_sweep, threshold_sweep


def _fake(results_spec: list[tuple[float, float, float]]):
    base = simulate(TwinStream.from_correctness([1.0], [True], [True]), 0.0,
                    ServiceTime(1.0), ServiceTime(2.0))  # fmt: skip
    return [replace(base, threshold=t, accuracy=a, latency_ms=lat) for t, a, lat in results_spec]


def test_balanced_is_nearest_to_the_ideal_corner():
    """Accuracy 0.90..0.99 -> normalized 0, 0.667, 0.889, 1; latency 1..10 -> 0, 0.111,
    0.444, 1. Distances to (1, 0): 1, 0.351, 0.457, 1 -> the second point (T = 1)."""
    rs = _fake([(0, 0.90, 1), (1, 0.96, 2), (2, 0.98, 5), (math.inf, 0.99, 10)])
    assert balanced_index(rs) == 1


def test_balanced_ties_and_flat_curves():
    flat_acc = _fake([(0, 0.9, 1), (1, 0.9, 2), (math.inf, 0.9, 3)])
    assert balanced_index(flat_acc) == 0  # accuracy flat: the fastest
    flat_lat = _fake([(0, 0.9, 1), (1, 0.95, 1), (2, 0.95, 1)])
    assert balanced_index(flat_lat) == 1  # latency flat: most accurate, smaller T on a tie


def test_sweep_includes_the_limits_and_orders_t():
    s = TwinStream.from_correctness([0.1, 3, 0.5, 2, 1], [0, 1, 0, 1, 1], [1, 1, 1, 1, 1])
    rs, best = threshold_sweep(s, ServiceTime(1.0), ServiceTime(4.0), [2.0, 0.6])
    assert [r.threshold for r in rs] == [0.0, 0.6, 2.0, math.inf]
    assert rs[-1].accuracy == 1.0 and rs[-1].speedup <= 1.0
    assert 0 <= best < len(rs)


def test_format_value():
    assert format_value("threshold", math.inf) == "inf"
    assert format_value("recovery", math.nan) == "-"
    assert format_value("accuracy", 0.9876) == "98.8%"
    assert format_value("speedup", 1.914) == "1.91x"


def test_plot_writes_a_png(tmp_path: Path):
    s = TwinStream.from_correctness([0.1, 3, 0.5, 2, 1], [0, 1, 0, 1, 1], [1, 1, 1, 1, 1])
    rs, best = threshold_sweep(s, ServiceTime(1.0), ServiceTime(4.0), points=5)
    out = plot_sweep(rs, best, tmp_path / "sub" / "sweep.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 5000


def test_empty_sweep_is_refused():
    with pytest.raises(ValueError):
        balanced_index([])
