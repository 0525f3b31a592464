"""The folding solver on graph-shaped networks (concats, parallel branches, explicit
`inputs`, adds of two branches): the graph DP's model equals `estimate` term for term,
its fronts equal brute force, and when it gives up the relaxed bound's front is a lower
bound whose certified gap holds against brute force. Also `fifo_floor`, the FIFO bound
both fallbacks charge."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from costmodels import estimate, get_device
from costmodels.memory import fifo_cost
from costmodels.solver import (
    HardwareLimits,
    fifo_floor,
    is_graph,
    objective_values,
    segment_sums,
    solve,
)
from costmodels.types import Arith, LayerChoice, LayerSpec, Network, Op
from dse.spec import network_from_dict
from tests.costmodels.test_solver import (
    ARITH,
    SMALL,
    _brute_front,
    _random_design,
    _rounded,
    residual_networks,
)

SLOW = pytest.mark.slow
CH = LayerChoice(w_bits=2, a_bits=2)
FC = LayerSpec("fc", Op.DENSE, out_channels=4, choice=replace(CH, a_bits=None))


def fixture_network() -> Network:
    """tests/fixtures/graph_net.yaml: projection shortcut (an add of two branches), concat
    of an add and a conv, depthwise conv, global pooling."""
    path = Path(__file__).parents[1] / "fixtures" / "graph_net.yaml"
    return network_from_dict(yaml.safe_load(path.read_text()))


def inception_input() -> Network:
    """Two convs reading the network input (a DuplicateStreams on it), concatenated."""
    return Network(
        "incep_in",
        (4, 6, 6),
        4,
        (
            LayerSpec("b1", Op.CONV, out_channels=4, kernel=1, choice=CH),
            LayerSpec(
                "b2", Op.CONV, out_channels=4, kernel=3, padding=1, source="input", choice=CH
            ),
            LayerSpec("cat", Op.CONCAT, inputs=("b1", "b2")),
            FC,
        ),
    )


def inception_three() -> Network:
    """A stem, three branches (1x1; 3x3; 1x1 then 3x3) into a three-way concat, then an
    add of two of the branches' outputs is not possible (widths differ): the concat feeds
    a pool and the classifier."""
    return Network(
        "incep3",
        (4, 6, 6),
        4,
        (
            LayerSpec("stem", Op.CONV, out_channels=4, kernel=3, padding=1, choice=CH),
            LayerSpec("b1", Op.CONV, out_channels=2, kernel=1, choice=CH),
            LayerSpec("b2", Op.CONV, out_channels=4, kernel=3, padding=1, source="stem", choice=CH),
            LayerSpec("b3a", Op.CONV, out_channels=2, kernel=1, source="stem", choice=CH),
            LayerSpec("b3b", Op.CONV, out_channels=2, kernel=3, padding=1, choice=CH),
            LayerSpec("cat", Op.CONCAT, inputs=("b1", "b2", "b3b")),
            LayerSpec("pool", Op.MAXPOOL, kernel=2),
            FC,
        ),
    )


def two_branch_add() -> Network:
    """An add of two parallel convs (explicit `inputs`, neither the previous layer's
    shortcut of the other)."""
    return Network(
        "branch_add",
        (4, 6, 6),
        4,
        (
            LayerSpec("stem", Op.CONV, out_channels=4, kernel=1, choice=CH),
            LayerSpec("a", Op.CONV, out_channels=4, kernel=3, padding=1, choice=CH),
            LayerSpec("b", Op.CONV, out_channels=4, kernel=1, source="stem", choice=CH),
            LayerSpec("sum", Op.ADD, inputs=("a", "b")),
            FC,
        ),
    )


GRAPHS = [fixture_network, inception_input, inception_three, two_branch_add]


@pytest.mark.parametrize("make", GRAPHS, ids=lambda f: f.__name__)
def test_graph_networks_are_graphs(make) -> None:
    assert is_graph(make())
    assert not is_graph(residual_networks()[1])


@pytest.mark.parametrize("part", ["XC7Z020", "XCZU7EV"])
@pytest.mark.parametrize("make", GRAPHS, ids=lambda f: f.__name__)
def test_graph_sums_equal_estimate_on_random_designs(make, part: str) -> None:
    """The graph DP's model of one design (`segment_sums`) is the composer's, term for
    term: DuplicateStreams, branch FIFOs, concat lanes, the longest-path fill."""
    net, device = make(), get_device(part)
    rng = random.Random(11)
    checked = 0
    for _ in range(200):
        design = _random_design(net, rng)
        try:
            cost = estimate(design, device)
        except Exception:  # an arithmetic the layer cannot use: not a design
            continue
        s = segment_sums(design, device)
        for r in ("lut", "dsp", "bram18", "uram"):
            assert s[r] == pytest.approx(getattr(cost.total, r), rel=1e-12, abs=1e-9), r
        assert s["cycles_per_frame"] == cost.cycles_per_frame
        assert s["latency_cycles"] == cost.latency_cycles
        checked += 1
    assert checked > 20


LIMITS = {
    "fixture_network": HardwareLimits(max_pe=2, max_simd=2, arith=(Arith.LUT,), keep_rccm=False),
    "inception_input": HardwareLimits(
        max_pe=4, max_simd=8, arith=(Arith.LUT, Arith.DSP), keep_rccm=False
    ),
    "inception_three": HardwareLimits(max_pe=2, max_simd=2, arith=(Arith.LUT,), keep_rccm=False),
    "two_branch_add": HardwareLimits(
        max_pe=2, max_simd=2, arith=(Arith.LUT, Arith.DSP), keep_rccm=False
    ),
}
#: Per network a device and cap where the budgets cut the front (checked below: the
#: brute-force front at 100 % has a point the capped one lacks).
CUT = {
    "fixture_network": ("XC7Z020", 20.0),
    "inception_input": ("TINY", 36.0),
    "inception_three": ("TINY", 46.0),
    "two_branch_add": ("TINY", 44.0),
}


def _device(part: str):
    return SMALL if part == "TINY" else get_device(part)


@pytest.mark.parametrize(
    "objectives", [("fps", "lut"), ("latency_ms", "lut"), pytest.param(("fps", "lut", "dsp"),
                                                                       marks=SLOW)]
)  # fmt: skip
@pytest.mark.parametrize("make", GRAPHS, ids=lambda f: f.__name__)
def test_graph_front_equals_brute_force(make, objectives: tuple[str, ...]) -> None:
    """Exact on every graph shape: equal to every combination estimated, at a cap where
    the budgets bind and at 100 %; every design canonical and fitting."""
    net = make()
    limits = LIMITS[make.__name__]
    part, cap = CUT[make.__name__]
    device = _device(part)
    fronts = {}
    for c in (cap, 100.0):
        want = _brute_front(net, device, c, objectives, limits)
        got = solve(net, device, cap_pct=c, objectives=objectives, limits=limits)
        assert got.exact and not got.notes and got.gap == 0.0
        assert _rounded(got, objectives) == want and want
        for p in got.points:
            assert p.cost == estimate(p.network, device) and p.cost.fits(c)
        fronts[c] = want
    assert fronts[cap] != fronts[100.0]  # the cap binds


@pytest.mark.parametrize("objectives", [("fps", "lut"), pytest.param(("latency_ms", "lut"),
                                                                    marks=SLOW)])  # fmt: skip
@pytest.mark.parametrize(
    "net", [pytest.param(residual_networks()[0], marks=SLOW), residual_networks()[1]],
    ids=lambda n: n.name,
)  # fmt: skip
def test_graph_dp_on_residual_chains_equals_brute_force(
    net: Network, objectives: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The graph DP also solves the residual chains `_dp_coupled` handles (there the add's
    late input is read off the fills, as the composer does), with the same fronts."""
    import costmodels.solver as solver_mod

    monkeypatch.setattr(solver_mod, "is_graph", lambda n: True)
    limits = HardwareLimits(max_pe=4, max_simd=8, max_mmv=1, arith=ARITH, keep_rccm=False)
    for device in (SMALL, get_device("XCZU3EG")):
        want = _brute_front(net, device, 60.0, objectives, limits)
        got = solve(net, device, cap_pct=60.0, objectives=objectives, limits=limits)
        assert got.exact and _rounded(got, objectives) == want and want


def _check_gap(res, want: set, objectives: tuple[str, ...]) -> None:
    """The certified gap's claim against brute force: at every speed s of the exact front,
    the returned front's least resource at speed <= s is at most (1 + gap) x the exact
    front's (and never below it: the returned designs are real ones)."""
    assert res.gap >= 0.0  # infinite when a speed point of the bound has no design
    got = [objective_values(p.cost, objectives) for p in res.points]
    for s, best in sorted(want):
        ub = min((r for sp, r in got if sp <= s + 1e-9), default=float("inf"))
        assert best - 1e-6 <= ub <= best * (1.0 + res.gap) + 1e-6


@pytest.mark.parametrize("objectives", [("fps", "lut"), ("latency_ms", "lut")])
@pytest.mark.parametrize("make", GRAPHS, ids=lambda f: f.__name__)
def test_relaxed_graph_bound_and_its_certified_gap(
    make, objectives: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_GRAPH_STATES the relaxed DP (branch FIFOs at their floor, fills out of the
    key): not exact, says so, every design canonical and fitting, and the gap it reports
    holds against the exact front enumerated."""
    import costmodels.solver as solver_mod

    monkeypatch.setattr(solver_mod, "MAX_GRAPH_STATES", 0)
    net, limits = make(), LIMITS[make.__name__]
    device = get_device("XC7Z020")
    want = _brute_front(net, device, 100.0, objectives, limits)
    res = solve(net, device, cap_pct=100.0, objectives=objectives, limits=limits)
    assert not res.exact and "gave up" in res.notes[0] and "certified gap" in res.notes[-1]
    assert res.points
    for p in res.points:
        assert p.cost == estimate(p.network, device) and p.cost.fits(100.0)
    _check_gap(res, want, objectives)


@pytest.mark.parametrize("objectives", [("fps", "lut"), ("latency_ms", "lut")])
@pytest.mark.parametrize(
    "net", [pytest.param(residual_networks()[0], marks=SLOW), residual_networks()[1]],
    ids=lambda n: n.name,
)  # fmt: skip
def test_residual_fallback_gap_holds_against_brute_force(
    net: Network, objectives: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The residual chains' fallback (skip FIFOs at `fifo_floor`, solved by the segment
    front): its certified gap holds against every combination enumerated."""
    import costmodels.solver as solver_mod

    monkeypatch.setattr(solver_mod, "MAX_COUPLED_STATES", 0)
    limits = HardwareLimits(max_pe=4, max_simd=8, max_mmv=1, arith=ARITH, keep_rccm=False)
    device = get_device("XCZU3EG")
    want = _brute_front(net, device, 60.0, objectives, limits)
    res = solve(net, device, cap_pct=60.0, objectives=objectives, limits=limits)
    assert not res.exact and res.notes[-1].startswith("bound: ")
    if objectives[0] == "fps":  # the latency bound's fastest points were dropped over budget
        assert res.gap < float("inf") and "certified gap" in res.notes[-1]
    else:
        assert res.gap == float("inf") and "no returned design is as fast" in res.notes[-1]
    _check_gap(res, want, objectives)


WIDTHS = (1, 2, 4, 6, 7, 8, 9, 16, 18, 36, 64, 72, 73, 144, 288)


@pytest.mark.parametrize("part", ["XC7Z020", "XCZU7EV"])  # without and with URAM
def test_fifo_floor_is_the_componentwise_least_fifo(part: str) -> None:
    """`fifo_floor(w)` is at most every FIFO of width w and depth 32..70,000, attains each
    of its columns, and grows with the width; the depth-32 FIFO the old nominal bound
    charged is not a floor (a deep FIFO in BRAM keeps fewer LUTs from width 7 on)."""
    device = get_device(part)
    depths = list(range(32, 5000)) + list(range(5000, 70001, 97))
    prev = None
    for w in WIDTHS:
        floor = fifo_floor(w, device)
        costs = [fifo_cost(w, d, device) for d in depths]
        for col in ("lut", "ff", "dsp", "bram18", "uram"):
            least = min(getattr(c, col) for c in costs)
            assert getattr(floor, col) == least, (w, col)
        if prev is not None:
            assert all(getattr(prev, c) <= getattr(floor, c) for c in ("lut", "ff", "bram18"))
        prev = floor
    nominal = fifo_cost(16, 32, get_device(part))
    assert nominal.lut > fifo_floor(16, get_device(part)).lut


def test_graph_dp_gives_up_with_a_solver_error_past_its_work_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the Pareto filters' comparisons pass MAX_GRAPH_WORK in the exact and then the
    relaxed DP, `solve` raises `SolverError` (the search then samples hardware) instead
    of running for minutes."""
    import costmodels.solver as solver_mod

    monkeypatch.setattr(solver_mod, "MAX_GRAPH_WORK", 10)
    with pytest.raises(solver_mod.SolverError, match="Pareto filter passed 10 comparisons"):
        solve(inception_three(), get_device("XC7Z020"), limits=LIMITS["inception_three"])


def test_fastest_on_a_graph_network_is_the_fronts_first_point() -> None:
    """`fastest` on a graph network (no segment tables: the graph DP's front)."""
    from costmodels.solver import fastest

    net, limits = inception_input(), LIMITS["inception_input"]
    device = get_device("XC7Z020")
    best = fastest(net, device, limits=limits)
    front = solve(net, device, objectives=("fps", "lut"), limits=limits)
    assert best is not None and best.cost == front.points[0].cost
