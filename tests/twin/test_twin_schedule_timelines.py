"""Hand-worked timelines of the TwinDNN scheduler (seed 000 Sec. 3.3, Fig. 2).

Notation: C = compressed (0), A = accurate (1); every input is available at t = 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dse.twin import ServiceTime, TwinStream, simulate

C, A = 0, 1


def stream(
    margin: list[float], cmp_right: list[bool] | None = None, acc_right: list[bool] | None = None
) -> TwinStream:
    n = len(margin)
    return TwinStream.from_correctness(
        margin,
        np.ones(n, bool) if cmp_right is None else cmp_right,
        np.ones(n, bool) if acc_right is None else acc_right,
    )


def test_four_inputs_one_recheck_wait():
    """Lc = 1 ms, La = 3 ms, margins [0.5, 2, 0.2, 3], T = 1.

    t=0  C takes 0 (margin 0.5 < 1: re-check request ready at 1)
    t=0  A: queue empty at 0 (request 0 is still in flight) -> takes fresh 1, busy to 3
    t=1  C takes 2 (margin 0.2 < 1: request ready at 2)
    t=2  C takes 3 (margin 3 >= 1: final at 3); the source is depleted
    t=3  A re-checks 0 (3..6), then 2 (6..9)
    makespan 9; latency per input 9/4; A alone: 4 x 3 = 12 -> speed-up 12/9.
    """
    r = simulate(
        stream([0.5, 2, 0.2, 3]), 1.0, ServiceTime(1.0), ServiceTime(3.0), keep_timeline=True
    )
    tl = r.timeline
    assert tl is not None
    assert tl.first.tolist() == [C, A, C, C]
    assert tl.answered_by.tolist() == [A, A, A, C]
    assert tl.start_ms.tolist() == [0, 0, 1, 2]
    assert np.allclose(tl.recheck_ms, [3, math.nan, 6, math.nan], equal_nan=True)
    assert tl.finish_ms.tolist() == [6, 3, 9, 3]
    assert r.makespan_ms == 9
    assert r.latency_ms == pytest.approx(9 / 4)
    assert r.throughput_fps == pytest.approx(1e3 * 4 / 9)
    assert r.mean_response_ms == pytest.approx((6 + 3 + 8 + 1) / 4)
    assert r.recheck_fraction == 0.5
    assert r.accurate_fresh_fraction == 0.25
    assert r.accurate_work == 3
    assert r.accurate_alone_latency_ms == 3.0
    assert r.speedup == pytest.approx(12 / 9)


def test_t_zero_splits_the_stream():
    """T = 0, Lc = 1, La = 3: C takes 0@0, A takes 1@0 (C wins the tie for 0), C takes
    2@1 and 3@2; nothing re-checked, makespan 3 (A's single input)."""
    r = simulate(
        stream([0.5, 2, 0.2, 3]), 0.0, ServiceTime(1.0), ServiceTime(3.0), keep_timeline=True
    )
    assert r.timeline is not None
    assert r.timeline.first.tolist() == [C, A, C, C]
    assert r.timeline.finish_ms.tolist() == [1, 3, 2, 3]
    assert r.makespan_ms == 3
    assert r.recheck_fraction == 0
    assert r.speedup == pytest.approx(12 / 3)


def test_t_infinite_every_answer_is_accurate():
    """T = inf: C takes 0, 2, 3 at 0, 1, 2; all three are re-checked after A's fresh input 1:
    A runs 1 (0..3), 0 (3..6), 2 (6..9), 3 (9..12) - exactly A alone's makespan."""
    r = simulate(
        stream([0.5, 2, 0.2, 3]), math.inf, ServiceTime(1.0), ServiceTime(3.0), keep_timeline=True
    )
    assert r.timeline is not None
    assert r.timeline.answered_by.tolist() == [A, A, A, A]
    assert r.timeline.finish_ms.tolist() == [6, 3, 9, 12]
    assert r.makespan_ms == 12
    assert r.speedup == 1.0


def test_accurate_waits_for_inflight_request_once_source_is_depleted():
    """Two inputs, Lc = 2, La = 1, T = 1, margins [0, 5].

    t=0  C takes 0 (request ready at 2); A: queue empty -> fresh 1 (0..1)
    t=1  A idle, source depleted, request in flight: waits until 2, re-checks 0 (2..3).
    """
    r = simulate(stream([0.0, 5.0]), 1.0, ServiceTime(2.0), ServiceTime(1.0), keep_timeline=True)
    assert r.timeline is not None
    assert r.timeline.finish_ms.tolist() == [3, 1]
    assert r.timeline.recheck_ms[0] == 2
    assert r.mean_response_ms == pytest.approx((3 + 1) / 2)


def test_pipelined_accelerators_accept_every_ii():
    """Dataflow accounting: C with II 1 / latency 4, A with II 2 / latency 5, T = 1,
    margins [0, 9, 9, 9].

    t=0  C accepts 0 (request ready at 4); A accepts fresh 1 (answer at 5, accepts again at 2)
    t=1  C accepts 2 (final at 5)
    t=2  both can accept: the tie goes to C, which accepts 3 (final at 6); source depleted
    t=2  A: request 0 still in flight -> waits; t=4 accepts the re-check of 0 (answer 9).
    A alone: (4 - 1) * 2 + 5 = 11 ms for 4 inputs.
    """
    r = simulate(
        stream([0, 9, 9, 9]), 1.0, ServiceTime(4.0, 1.0), ServiceTime(5.0, 2.0), keep_timeline=True
    )
    assert r.timeline is not None
    assert r.timeline.first.tolist() == [C, A, C, C]
    assert r.timeline.start_ms.tolist() == [0, 0, 1, 2]
    assert r.timeline.recheck_ms[0] == 4
    assert r.timeline.finish_ms.tolist() == [9, 5, 5, 6]
    assert r.makespan_ms == 9
    assert r.accurate_alone_latency_ms == pytest.approx(11 / 4)


def test_recovery_and_accuracy_from_answers():
    """Accuracy counts the final answer: inputs 0 and 2 re-checked and 1 taken fresh by A
    (A is right on all), input 3 final from C (C is wrong there); R by hand."""
    s = stream(
        [0.5, 2, 0.2, 3], cmp_right=[False, True, True, False], acc_right=[True, True, True, True]
    )
    r = simulate(s, 1.0, ServiceTime(1.0), ServiceTime(3.0))
    # answered by [A, A, A, C] -> hits [1, 1, 1, 0]
    assert r.accuracy == 0.75
    assert r.accuracy_compressed == 0.5
    assert r.accuracy_accurate == 1.0
    # R = 1 - (1 - 0.75) / (1 - 0.5) = 0.5
    assert r.recovery == pytest.approx(0.5)


def test_cascade_policy_timeline():
    """Cascade reference: C takes everything (0, 1, 2, 3 at 0, 1, 2, 3), A only re-checks
    0 (ready 1: 1..4) and 2 (ready 3: 4..7)."""
    r = simulate(
        stream([0.5, 2, 0.2, 3]),
        1.0,
        ServiceTime(1.0),
        ServiceTime(3.0),
        policy="cascade",
        keep_timeline=True,
    )
    assert r.timeline is not None
    assert r.timeline.first.tolist() == [C, C, C, C]
    assert r.timeline.finish_ms.tolist() == [4, 2, 7, 4]
    assert r.makespan_ms == 7
