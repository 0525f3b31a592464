"""Limits and (conditional) monotonicity of the TwinDNN scheduler simulation.

What holds always (any stream, any service times):
- T = 0: nothing is re-checked; the two accelerators split the stream greedily and run
  independently.
- T = inf: every answer is the accurate network's; makespan >= the accurate network alone.
- Accuracy lies between the two cascade bounds (`cascade_bounds`).
- Cascade policy: re-check set nested in T, so re-checks, accurate work and makespan are
  monotone; accuracy is monotone when the accurate network is right wherever the
  compressed one is.
What holds only under a condition (paper's twin policy): accuracy(T1) <= accuracy(T2) when
the accurate network is right wherever the compressed one is on m < T2 and the two agree on
correctness where m >= T2. Without it - and for makespan, re-check fraction and accurate
work at all - the tests below show counterexamples.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dse.twin import ServiceTime, TwinStream, cascade_bounds, simulate

C, A = 0, 1
THRESHOLDS = [0.0, 0.5, 1.5, 2.5, 3.5, math.inf]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[TwinStream, ServiceTime, ServiceTime]:
    n = draw(st.integers(1, 14))
    margin = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    cr = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    ar = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    lc = draw(st.integers(1, 6))
    la = draw(st.integers(1, 9))
    ic = draw(st.integers(1, lc))
    ia = draw(st.integers(1, la))
    s = TwinStream.from_correctness(np.array(margin, float), cr, ar)
    return s, ServiceTime(float(lc), float(ic)), ServiceTime(float(la), float(ia))


def _greedy_split(n: int, c: ServiceTime, a: ServiceTime) -> float:
    """Two independent accelerators taking inputs in order, earliest free first (ties: C)."""
    tc = ta = 0.0
    end = 0.0
    for _ in range(n):
        if tc <= ta:
            end, tc = max(end, tc + c.latency_ms), tc + c.interval_ms
        else:
            end, ta = max(end, ta + a.latency_ms), ta + a.interval_ms
    return end


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_t_zero_runs_both_independently(sc: tuple[TwinStream, ServiceTime, ServiceTime]):
    s, c, a = sc
    r = simulate(s, 0.0, c, a, keep_timeline=True)
    assert r.timeline is not None
    assert r.recheck_fraction == 0
    assert np.array_equal(r.timeline.first, r.timeline.answered_by)
    assert np.isnan(r.timeline.recheck_ms).all()
    assert r.makespan_ms == pytest.approx(_greedy_split(s.n, c, a))
    hits = np.where(r.timeline.first == A, s.acc_right, s.cmp_right)
    assert r.accuracy == pytest.approx(hits.mean())


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_t_infinite_is_the_accurate_network(sc: tuple[TwinStream, ServiceTime, ServiceTime]):
    s, c, a = sc
    r = simulate(s, math.inf, c, a, keep_timeline=True)
    assert r.timeline is not None
    assert (r.timeline.answered_by == A).all()
    assert r.accuracy == pytest.approx(s.accuracy_accurate)
    assert r.accurate_work == s.n
    assert r.makespan_ms >= a.alone_makespan_ms(s.n) - 1e-9
    assert r.latency_ms >= r.accurate_alone_latency_ms - 1e-12
    assert r.speedup <= 1.0 + 1e-12


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.sampled_from(THRESHOLDS))
def test_every_input_answered_once_and_bounds_hold(
    sc: tuple[TwinStream, ServiceTime, ServiceTime], t: float
):
    s, c, a = sc
    r = simulate(s, t, c, a, keep_timeline=True)
    tl = r.timeline
    assert tl is not None
    rechecked = (tl.first == C) & (tl.answered_by == A)
    # An input with margin < T is always answered by the accurate network.
    assert (tl.answered_by[s.margin < t] == A).all()
    # Re-checked exactly the compressed network's low-margin inputs.
    assert np.array_equal(rechecked, (tl.first == C) & (s.margin < t))
    assert r.accurate_work == int(np.count_nonzero(tl.first == A) + rechecked.sum())
    # Causality: an answer never precedes its service; a re-check follows the C answer.
    lat = np.where(tl.answered_by == A, a.latency_ms, c.latency_ms)
    assert (tl.finish_ms >= tl.start_ms + np.minimum(lat, c.latency_ms) - 1e-9).all()
    assert (tl.recheck_ms[rechecked] >= tl.start_ms[rechecked] + c.latency_ms - 1e-9).all()
    lo, hi = cascade_bounds(s, t)
    assert lo - 1e-12 <= r.accuracy <= hi + 1e-12


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_cascade_policy_is_monotone(sc: tuple[TwinStream, ServiceTime, ServiceTime]):
    """Cascade: the re-check set {m < T} is nested, A serves a FIFO queue that only gains
    jobs, so re-checks, accurate work and makespan never decrease with T."""
    s, c, a = sc
    rs = [simulate(s, t, c, a, policy="cascade") for t in THRESHOLDS]
    for lo, hi in pairwise(rs):
        assert hi.recheck_fraction >= lo.recheck_fraction
        assert hi.accurate_work >= lo.accurate_work
        assert hi.makespan_ms >= lo.makespan_ms - 1e-9
    if np.all(s.acc_right >= s.cmp_right):
        for lo, hi in pairwise(rs):
            assert hi.accuracy >= lo.accuracy - 1e-12


@st.composite
def agreeing_scenarios(
    draw: st.DrawFn,
) -> tuple[TwinStream, ServiceTime, ServiceTime, float, float]:
    """Streams meeting the stated condition for T1 < T2: the accurate network right wherever
    the compressed one is on m < T2, equal correctness on m >= T2."""
    s, c, a = draw(scenarios())
    t1, t2 = sorted(
        draw(st.lists(st.sampled_from(THRESHOLDS), min_size=2, max_size=2, unique=True))
    )
    acc = np.where(s.margin >= t2, s.cmp_right, s.acc_right | s.cmp_right)
    return TwinStream.from_correctness(s.margin, s.cmp_right, acc), c, a, t1, t2


@settings(max_examples=400, deadline=None)
@given(agreeing_scenarios())
def test_twin_accuracy_monotone_under_the_stated_condition(
    sc: tuple[TwinStream, ServiceTime, ServiceTime, float, float],
):
    s, c, a, t1, t2 = sc
    r1, r2 = simulate(s, t1, c, a), simulate(s, t2, c, a)
    assert r1.accuracy <= r2.accuracy + 1e-12
    # At T2 the accuracy is the cascade's: sum_{m<T2} a + sum_{m>=T2} c.
    expect = np.where(s.margin < t2, s.acc_right, s.cmp_right).mean()
    assert r2.accuracy == pytest.approx(expect)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_dominating_accurate_network_bounds_twin_accuracy(
    sc: tuple[TwinStream, ServiceTime, ServiceTime],
):
    """Accurate right wherever compressed is: cascade(T) <= twin(T) <= twin(inf)."""
    s, c, a = sc
    s = TwinStream.from_correctness(s.margin, s.cmp_right, s.acc_right | s.cmp_right)
    top = simulate(s, math.inf, c, a).accuracy
    for t in THRESHOLDS:
        r = simulate(s, t, c, a)
        assert simulate(s, t, c, a, policy="cascade").accuracy <= r.accuracy + 1e-12
        assert r.accuracy <= top + 1e-12


@settings(max_examples=300, deadline=None, derandomize=True)
@given(scenarios())
def test_observed_makespan_between_the_extremes(
    sc: tuple[TwinStream, ServiceTime, ServiceTime],
):
    """Observed, not proven (so derandomized): with L_acc >= L_cmp the makespan at any T
    lies between T = 0 and T = inf."""
    s, c, a = sc
    if a.latency_ms < c.latency_ms:
        a = ServiceTime(c.latency_ms + a.latency_ms, a.ii_ms)
    lo = simulate(s, 0.0, c, a).makespan_ms
    hi = simulate(s, math.inf, c, a).makespan_ms
    for t in THRESHOLDS:
        assert lo - 1e-9 <= simulate(s, t, c, a).makespan_ms <= hi + 1e-9


def test_counterexample_accuracy_drops_although_accurate_dominates():
    """Accurate right everywhere, compressed wrong only on input 4 (margin 2); Lc = 2, La = 4.

    T = 0:   C 0@0, A 1@0 (..4), C 2@2, C 3@4 (tie), A 4@4 -> input 4 answered by A: 5/5.
    T = 0.5: C 0@0 (margin 0 -> request at 2), A 1@0, C 2@2, C 3@4, A re-checks 0@4 (..8),
             C takes 4@6 -> margin 2 >= 0.5, final and wrong: 4/5.
    """
    s = TwinStream.from_correctness([0, 3, 2, 4, 2], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1])
    c, a = ServiceTime(2.0), ServiceTime(4.0)
    r0 = simulate(s, 0.0, c, a, keep_timeline=True)
    r1 = simulate(s, 0.5, c, a, keep_timeline=True)
    assert r0.timeline is not None and r1.timeline is not None
    assert r0.timeline.first.tolist() == [C, A, C, C, A]
    assert r1.timeline.first.tolist() == [C, A, C, C, C]
    assert r0.accuracy == 1.0
    assert r1.accuracy == 0.8


def test_counterexample_makespan_drops_as_t_rises():
    """Lc = 2, La = 3, margins [1, 0, 2, 2, 2, 0] - the tail effect.

    T = 0.5: C 0@0, A 1@0 (..3), C 2@2, A 3@3 (..6), C 4@4, C 5@6 (margin 0: request at 8)
             -> A waits and re-checks 5 at 8..11: makespan 11.
    T = 1.5: C 0@0 (request at 2), A 1@0 (..3), C 2@2, A re-checks 0@3 (..6), C 3@4, C 4@6,
             A takes 5 fresh at 6 (..9): makespan 9.
    """
    s = TwinStream.from_correctness([1, 0, 2, 2, 2, 0], [1] * 6, [1] * 6)
    c, a = ServiceTime(2.0), ServiceTime(3.0)
    lo = simulate(s, 0.5, c, a, keep_timeline=True)
    hi = simulate(s, 1.5, c, a, keep_timeline=True)
    assert lo.timeline is not None and hi.timeline is not None
    assert lo.timeline.answered_by.tolist() == [C, A, C, A, C, A]
    assert hi.timeline.answered_by.tolist() == [A, A, C, C, C, A]
    assert lo.makespan_ms == 11
    assert hi.makespan_ms == 9


def test_counterexample_recheck_fraction_and_work_drop_as_t_rises():
    """Lc = 2, La = 3, margins [1, 0, 2, 2, 2, 0, 2, 0].

    T = 0.5: C takes 0, 2, 4, 5, 7 at 0, 2, 4, 6, 8; A takes 1, 3, 6 fresh at 0, 3, 6 and
             re-checks 5 (9..12) and 7 (12..15): 2/8 re-checked, A works 5 times, makespan 15.
    T = 1.5: C takes 0 (re-checked at 3..6), 2, 3, 4, 6 at 0, 2, 4, 6, 8; A takes 1, 5, 7
             fresh at 0, 6, 9: 1/8 re-checked, A works 4 times, makespan 12.
    """
    s = TwinStream.from_correctness([1, 0, 2, 2, 2, 0, 2, 0], [1] * 8, [1] * 8)
    c, a = ServiceTime(2.0), ServiceTime(3.0)
    lo = simulate(s, 0.5, c, a, keep_timeline=True)
    hi = simulate(s, 1.5, c, a, keep_timeline=True)
    assert lo.timeline is not None and hi.timeline is not None
    assert lo.timeline.first.tolist() == [C, A, C, A, C, C, A, C]
    assert lo.timeline.finish_ms.tolist() == [2, 3, 4, 6, 6, 12, 9, 15]
    assert hi.timeline.first.tolist() == [C, A, C, C, C, A, C, A]
    assert hi.timeline.finish_ms.tolist() == [6, 3, 4, 6, 8, 9, 10, 12]
    assert (lo.recheck_fraction, lo.accurate_work, lo.makespan_ms) == (2 / 8, 5, 15)
    assert (hi.recheck_fraction, hi.accurate_work, hi.makespan_ms) == (1 / 8, 4, 12)
