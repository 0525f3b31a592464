"""The exact folding solver (costmodels.solver): its separable model equals `estimate`,
its fronts equal brute force on small networks, and its fronts behave (fit, are mutually
non-dominated, never shrink with a larger budget)."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import pytest

from costmodels import estimate, get_device
from costmodels.network import divisors, mmv_dim, pe_dim, resolve, simd_dim
from costmodels.solver import HardwareLimits, fastest, objective_values, segment_sums, solve
from costmodels.types import Arith, Device, LayerChoice, LayerSpec, Network, Op, RamStyle
from costmodels.zoo import cnv_network

SMALL = Device(
    part="TINY",
    boards=(),
    family="user",
    lut=16000,
    ff=32000,
    bram18=14,
    uram=0,
    dsp=24,
    dsp_block="DSP48E2",
    clock_mhz=100.0,
)
ARITH = (Arith.LUT, Arith.DSP, Arith.RCCM2)


def tiny_network(a_bits: int = 2) -> Network:
    ch = LayerChoice(w_bits=4, a_bits=a_bits)
    return Network(
        "tiny",
        (3, 8, 8),
        8,
        (
            LayerSpec("c0", Op.CONV, out_channels=4, kernel=3, padding=1, choice=ch),
            LayerSpec("p0", Op.MAXPOOL, kernel=2),
            LayerSpec("c1", Op.CONV, out_channels=8, kernel=3, padding=1, choice=ch),
            LayerSpec("p1", Op.AVGPOOL, kernel=2),
            LayerSpec("fc", Op.DENSE, out_channels=4, choice=replace(ch, a_bits=None)),
        ),
    )


def depthwise_network() -> Network:
    ch = LayerChoice(w_bits=2, a_bits=4)
    return Network(
        "dw",
        (4, 4, 4),
        4,
        (
            LayerSpec("dw", Op.CONV, out_channels=4, kernel=3, groups=4, padding=1, choice=ch),
            LayerSpec("pw", Op.CONV, out_channels=6, kernel=1, choice=ch),
            LayerSpec("fc", Op.DENSE, out_channels=2, choice=replace(ch, a_bits=None)),
        ),
    )


def _random_design(net: Network, rng: random.Random, mmv: bool = True) -> Network:
    choices = {}
    for r in resolve(net):
        if not r.op.is_compute:
            continue
        arith = rng.choice([Arith.AUTO, Arith.LUT, Arith.DSP, Arith.XNOR, Arith.RCCM3])
        choices[r.name] = replace(
            r.choice,
            pe=rng.choice(divisors(pe_dim(r))),
            simd=rng.choice(divisors(simd_dim(r))),
            mmv=rng.choice(divisors(mmv_dim(r))) if mmv else 1,
            arith=arith,
        )
    return net.with_choices(choices)


@pytest.mark.parametrize(
    ("net", "part"),
    [(cnv_network(), "XC7Z020"), (tiny_network(), "XCZU7EV"), (depthwise_network(), "XCZU3EG")],
)
def test_segment_sums_equal_estimate_on_random_designs(net: Network, part: str) -> None:
    device = get_device(part)
    rng = random.Random(7)
    checked = 0
    for _ in range(150):
        design = _random_design(net, rng)
        try:
            cost = estimate(design, device)
        except Exception:  # an arithmetic the layer cannot use: not a design
            continue
        s = segment_sums(design, device)
        assert s["lut"] == pytest.approx(cost.total.lut, rel=1e-12, abs=1e-9)
        assert s["dsp"] == pytest.approx(cost.total.dsp, abs=1e-9)
        assert s["bram18"] == pytest.approx(cost.total.bram18, abs=1e-9)
        assert s["uram"] == pytest.approx(cost.total.uram, abs=1e-9)
        assert s["cycles_per_frame"] == cost.cycles_per_frame
        assert s["latency_cycles"] == cost.latency_cycles
        checked += 1
    assert checked > 50


def _brute_front(net: Network, device: Device, cap: float, objectives, limits) -> set:
    """Every combination of every layer's options, estimated; the fitting ones' Pareto set
    of objective vectors."""
    resolved = [r for r in resolve(net) if r.op.is_compute]
    per_layer = []
    for r in resolved:
        opts = []
        pes = [p for p in divisors(pe_dim(r)) if p <= limits.max_pe]
        simds = [s for s in divisors(simd_dim(r)) if s <= limits.max_simd]
        mmvs = [m for m in divisors(mmv_dim(r)) if m <= limits.max_mmv]
        for a, p, s, m in itertools.product(limits.arith, pes, simds, mmvs):
            opts.append(replace(r.choice, pe=p, simd=s, mmv=m, arith=a))
        per_layer.append(opts)
    vals = []
    for combo in itertools.product(*per_layer):
        design = net.with_choices({r.name: c for r, c in zip(resolved, combo, strict=True)})
        try:
            cost = estimate(design, device)
        except Exception:
            continue
        if cost.fits(cap):
            vals.append(objective_values(cost, objectives))
    kept: list[tuple[float, ...]] = []  # sorted sweep: a point is kept unless dominated
    for v in sorted(set(vals)):
        if not any(all(k <= x for k, x in zip(kv, v, strict=True)) for kv in kept):
            kept.append(v)
    return {tuple(round(float(x), 6) for x in v) for v in kept}


SLOW = pytest.mark.slow


def _rounded(result, objectives) -> set:
    return {tuple(round(x, 6) for x in objective_values(p.cost, objectives)) for p in result.points}


@pytest.mark.parametrize(
    "objectives",
    [
        ("fps", "lut"),
        pytest.param(("latency_ms", "lut"), marks=SLOW),
        pytest.param(("fps", "dsp"), marks=SLOW),
        pytest.param(("fps", "lut", "bram18"), marks=SLOW),
        pytest.param(("lut",), marks=SLOW),
    ],
)
@pytest.mark.parametrize("cap", [60.0, 100.0])
def test_front_equals_brute_force(objectives: tuple[str, ...], cap: float) -> None:
    net = tiny_network()
    limits = HardwareLimits(max_pe=4, max_simd=8, max_mmv=1, arith=ARITH, keep_rccm=False)
    want = _brute_front(net, SMALL, cap, objectives, limits)
    got = solve(net, SMALL, cap_pct=cap, objectives=objectives, limits=limits)
    assert got.exact
    have = _rounded(got, objectives)
    assert have == want
    assert want  # the budgets leave something to find


@pytest.mark.slow
def test_mmv_front_equals_brute_force() -> None:
    net = tiny_network()
    limits = HardwareLimits(max_pe=4, max_simd=4, max_mmv=2, arith=(Arith.LUT,), keep_rccm=False)
    for objectives in (("fps", "lut"), ("latency_ms", "lut")):
        want = _brute_front(net, SMALL, 80.0, objectives, limits)
        got = solve(net, SMALL, cap_pct=80.0, objectives=objectives, limits=limits)
        have = _rounded(got, objectives)
        assert have == want


@pytest.mark.slow
def test_depthwise_front_equals_brute_force() -> None:
    net = depthwise_network()
    limits = HardwareLimits(max_pe=8, max_simd=4, max_mmv=2, arith=(Arith.LUT, Arith.DSP),
                            keep_rccm=False)  # fmt: skip
    for objectives in (("fps", "lut"), ("latency_ms", "lut")):
        want = _brute_front(net, SMALL, 70.0, objectives, limits)
        got = solve(net, SMALL, cap_pct=70.0, objectives=objectives, limits=limits)
        have = _rounded(got, objectives)
        assert have == want


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b


@pytest.mark.parametrize(
    ("net", "device", "objectives", "caps"),
    [
        (cnv_network(), get_device("XC7Z020"), ("fps", "lut"), (50.0, 85.0)),
        (tiny_network(), SMALL, ("latency_ms", "lut"), (60.0, 100.0)),
        (tiny_network(), SMALL, ("fps", "lut", "dsp"), (60.0, 100.0)),
    ],
)
def test_front_fits_is_non_dominated_and_grows_with_the_budget(net, device, objectives, caps):
    _check_front_properties(net, device, objectives, caps)


def _check_front_properties(net, device, objectives, caps, exact: bool = True) -> None:
    fronts = {}
    for cap in caps:
        res = solve(net, device, cap_pct=cap, objectives=objectives)
        assert res.exact is exact
        vals = [objective_values(p.cost, objectives) for p in res.points]
        assert vals
        for p in res.points:
            assert p.cost.fits(cap)
            assert estimate(p.network, device) == p.cost  # one concrete design
        for a, b in itertools.permutations(vals, 2):
            assert not _dominates(a, b)
        fronts[cap] = vals
    small, large = caps
    for v in fronts[small]:  # every small-budget point is matched by the larger budget
        assert any(w == v or _dominates(w, v) for w in fronts[large])


def test_cnv_fastest_is_the_known_maximum() -> None:
    """CNV-W1A1 on XC7Z020 at 85 %: 14,400 cycles per frame (6,944 FPS at 100 MHz) is the
    fastest design that fits (issue 12's exact front; SetFolding stops at 28,224)."""
    res = solve(cnv_network(), get_device("XC7Z020"), cap_pct=85.0, objectives=("fps", "lut"))
    assert res.points[0].cost.cycles_per_frame == 14400
    assert res.points[0].cost.fps == pytest.approx(6944.44, abs=0.01)


def test_nothing_fits_gives_an_empty_front() -> None:
    res = solve(cnv_network(), SMALL, cap_pct=85.0, objectives=("fps", "lut"))
    assert res.points == ()


def residual_networks() -> list[Network]:
    """Two small chains with residual adds: one over a conv, and one with two adds (the
    first bypassing a conv from the network input, the second from a pool's output)."""
    ch = LayerChoice(w_bits=2, a_bits=2)
    fc = LayerSpec("fc", Op.DENSE, out_channels=4, choice=replace(ch, a_bits=None))
    return [
        Network(
            "res",
            (8, 8, 8),
            4,
            (
                LayerSpec("c0", Op.CONV, out_channels=8, kernel=3, padding=1, choice=ch),
                LayerSpec("c1", Op.CONV, out_channels=8, kernel=3, padding=1, choice=ch),
                LayerSpec("r", Op.ADD, source="c0"),
                fc,
            ),
        ),
        Network(
            "res2",
            (4, 8, 8),
            4,
            (
                LayerSpec("c0", Op.CONV, out_channels=4, kernel=3, padding=1, choice=ch),
                LayerSpec("r0", Op.ADD, source="input"),
                LayerSpec("p", Op.MAXPOOL, kernel=2),
                LayerSpec("c1", Op.CONV, out_channels=4, kernel=3, padding=1, choice=ch),
                LayerSpec("r1", Op.ADD, source="p"),
                fc,
            ),
        ),
    ]


@pytest.mark.parametrize("objectives", [("fps", "lut"), ("latency_ms", "lut")])
@pytest.mark.parametrize("net", residual_networks(), ids=lambda n: n.name)
def test_residual_front_equals_brute_force(net: Network, objectives: tuple[str, ...]) -> None:
    """The skip FIFOs carried in the DP state (`_dp_coupled`): exact, equal to every
    combination enumerated (the nominal-FIFO bound missed a point of `res2`'s fronts on
    the small device), and every design canonical."""
    limits = HardwareLimits(max_pe=4, max_simd=8, max_mmv=1, arith=ARITH, keep_rccm=False)
    for device in (SMALL, get_device("XCZU3EG")):
        want = _brute_front(net, device, 60.0, objectives, limits)
        got = solve(net, device, cap_pct=60.0, objectives=objectives, limits=limits)
        assert got.exact and not got.notes
        assert _rounded(got, objectives) == want and want
        for p in got.points:
            assert p.cost == estimate(p.network, device) and p.cost.fits(60.0)


@pytest.mark.parametrize("objectives", [("fps", "lut"), ("latency_ms", "lut")])
@pytest.mark.parametrize("net", residual_networks(), ids=lambda n: n.name)
def test_residual_fronts_fit_are_non_dominated_and_grow_with_the_budget(
    net: Network, objectives: tuple[str, ...]
) -> None:
    _check_front_properties(net, SMALL, objectives, (50.0, 90.0))


def test_residual_adds_fall_back_to_a_bound_when_the_state_grows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past MAX_COUPLED_STATES the skip FIFOs are charged at their floor: the solver says
    its front is not exact and why, reports its certified gap, and every design it returns
    is canonical and fits."""
    import costmodels.solver as solver_mod

    monkeypatch.setattr(solver_mod, "MAX_COUPLED_STATES", 0)
    net = residual_networks()[0]
    device = get_device("XCZU3EG")
    res = solve(net, device, cap_pct=85.0, objectives=("fps", "lut"))
    assert not res.exact and len(res.notes) == 3 and "certified gap" in res.notes[2]
    assert 0.0 <= res.gap < float("inf")
    assert res.points
    for p in res.points:
        assert p.cost == estimate(p.network, device) and p.cost.fits(85.0)


def test_a_larger_residual_network_falls_back_quickly_and_says_so() -> None:
    """Seven 32-channel convs with three adds on XC7Z020: the coupled DP's partial front
    outgrows its limit at the first steps (before the candidate limit: 23 s spent there),
    so the solver falls back to the nominal FIFO bound and says why."""
    ch = LayerChoice(w_bits=2, a_bits=2)
    layers = [LayerSpec("stem", Op.CONV, out_channels=32, kernel=3, padding=1, choice=ch)]
    prev = "stem"
    for b in range(3):
        layers += [
            LayerSpec(f"b{b}a", Op.CONV, out_channels=32, kernel=3, padding=1, choice=ch),
            LayerSpec(f"b{b}b", Op.CONV, out_channels=32, kernel=3, padding=1, choice=ch),
            LayerSpec(f"r{b}", Op.ADD, source=prev),
        ]
        prev = f"r{b}"
    layers.append(LayerSpec("fc", Op.DENSE, out_channels=10, choice=replace(ch, a_bits=None)))
    net = Network("resnet8", (3, 16, 16), 8, tuple(layers))
    device = get_device("XC7Z020")
    res = solve(net, device, objectives=("fps", "lut"))
    assert not res.exact and "gave up" in res.notes[0]
    assert res.points
    for p in res.points:
        assert p.cost == estimate(p.network, device) and p.cost.fits(85.0)


def _digits_like_network() -> Network:
    """A digits-cnn-sized chain (two 3x3 convs with pools, two dense layers) at mixed bits:
    the default study's shape without torch."""
    ch = LayerChoice(w_bits=4, a_bits=4)
    return Network(
        "digits-like",
        (1, 8, 8),
        8,
        (
            LayerSpec("conv1", Op.CONV, out_channels=16, kernel=3, padding=1, choice=ch),
            LayerSpec("pool1", Op.MAXPOOL, kernel=2),
            LayerSpec(
                "conv2",
                Op.CONV,
                out_channels=32,
                kernel=3,
                padding=1,
                choice=replace(ch, w_bits=2, a_bits=2),
            ),
            LayerSpec("pool2", Op.MAXPOOL, kernel=2),
            LayerSpec("fc1", Op.DENSE, out_channels=64, choice=replace(ch, w_bits=8)),
            LayerSpec("fc2", Op.DENSE, out_channels=10, choice=replace(ch, a_bits=None)),
        ),
    )


def wide_network() -> Network:
    """Two 4-bit convs and a dense layer whose weights need BRAM18 (up to 5 per layer as
    PE x SIMD partitions them) and whose multipliers may be DSPs: on `BINDING` both the
    DSP and the BRAM18 budget cut the latency front."""
    ch = LayerChoice(w_bits=4, a_bits=4)
    return Network(
        "wide",
        (8, 6, 6),
        4,
        (
            LayerSpec("c0", Op.CONV, out_channels=16, kernel=3, padding=1, choice=ch),
            LayerSpec("p0", Op.MAXPOOL, kernel=2),
            LayerSpec("c1", Op.CONV, out_channels=32, kernel=3, padding=1, choice=ch),
            LayerSpec("fc", Op.DENSE, out_channels=4, choice=replace(ch, a_bits=None)),
        ),
    )


FASTEST_CASES = [
    # CNV-W1A1 on the PYNQ-Z2 part: LUTs bind at every cap below
    (cnv_network(), "XC7Z020", 85.0, None),
    (cnv_network(), "XC7Z020", 40.0, None),
    (cnv_network(w_bits=2, a_bits=2), "XC7Z020", 100.0, None),
    (cnv_network(), "XCZU3EG", 85.0, HardwareLimits(arith=(Arith.LUT, Arith.DSP))),
    # nothing binds: the per-layer fastest fits
    (tiny_network(), "XCZU3EG", 85.0, None),
    (depthwise_network(), "XCZU3EG", 85.0, None),
    # a small part where budgets bind, and one where nothing fits at all
    (tiny_network(), SMALL, 85.0, HardwareLimits(arith=ARITH)),
    (tiny_network(a_bits=4), SMALL, 45.0, HardwareLimits(arith=ARITH, max_mmv=4)),
    (tiny_network(a_bits=4), SMALL, 30.0, HardwareLimits(arith=ARITH, max_mmv=4)),  # none
    (_digits_like_network(), SMALL, 85.0, None),
    (_digits_like_network(), SMALL, 59.0, None),  # a front of one design
    (_digits_like_network(), SMALL, 70.0, HardwareLimits(arith=ARITH)),
    (_digits_like_network(), SMALL, 50.0, HardwareLimits(arith=ARITH)),  # none
    (_digits_like_network(), "XCZU3EG", 85.0,
     HardwareLimits(ram_style=(RamStyle.AUTO, RamStyle.BLOCK, RamStyle.DISTRIBUTED))),
    (cnv_network(), SMALL, 85.0, None),
    # residual adds: the front's own path
    *[(net, SMALL, 85.0, None) for net in residual_networks()],
]  # fmt: skip


@pytest.mark.parametrize("net,device,cap,limits", FASTEST_CASES)
def test_fastest_is_the_fronts_first_point(net, device, cap, limits) -> None:
    """`fastest` (which does not walk the front) returns `solve`'s first point: the same
    design and the same canonical cost, or None exactly when the front is empty. Asked
    again once the front is solved, it reads the front's first point (`_FPS_LUT_SOLVED`):
    the same answer, without searching."""
    from costmodels import solver

    dev = get_device(device) if isinstance(device, str) else device
    solver._FPS_LUT_SOLVED.clear()
    solver._front_picks.cache_clear()
    got = fastest(net, dev, cap_pct=cap, limits=limits)  # searched, the front not solved
    res = solve(net, dev, cap_pct=cap, objectives=("fps", "lut"), limits=limits)
    searches = solver._fastest_pick.cache_info().misses + solver._fastest_pick.cache_info().hits
    again = fastest(net, dev, cap_pct=cap, limits=limits)  # from the solved front
    after = solver._fastest_pick.cache_info().misses + solver._fastest_pick.cache_info().hits
    assert after == searches
    if not res.points:
        assert got is None and again is None
        return
    for one in (got, again):
        assert one is not None
        assert dict(one.choices) == dict(res.points[0].choices)
        assert one.cost == res.points[0].cost
        assert one.network == res.points[0].network


BINDING = replace(SMALL, dsp=8, bram18=8)
UNBOUND = 10**6


def _brute_costs(net: Network, device: Device, limits: HardwareLimits) -> list:
    """Every combination of every layer's options, estimated (those that estimate)."""
    resolved = [r for r in resolve(net) if r.op.is_compute]
    per_layer = []
    for r in resolved:
        pes = [p for p in divisors(pe_dim(r)) if p <= limits.max_pe]
        simds = [s for s in divisors(simd_dim(r)) if s <= limits.max_simd]
        per_layer.append(
            [replace(r.choice, pe=p, simd=s, arith=a)
             for a, p, s in itertools.product(limits.arith, pes, simds)]
        )  # fmt: skip
    out = []
    for combo in itertools.product(*per_layer):
        design = net.with_choices({r.name: c for r, c in zip(resolved, combo, strict=True)})
        try:
            out.append(estimate(design, device))
        except Exception:
            continue
    return out


def _front_of(costs: list, device: Device, cap: float, objectives) -> set:
    """The Pareto set of the objective vectors of the designs in `costs` that fit `device`
    (the budgets only decide what fits: the estimates do not depend on them)."""
    vals = sorted({objective_values(c, objectives) for c in costs if c.total.fits(device, cap)})
    kept: list[tuple[float, ...]] = []
    for v in vals:
        if not any(all(k <= x for k, x in zip(kv, v, strict=True)) for kv in kept):
            kept.append(v)
    return {tuple(round(float(x), 6) for x in v) for v in kept}


@pytest.mark.parametrize(
    "objectives",
    [
        ("latency_ms", "lut"),
        pytest.param(("latency_ms", "lut", "dsp"), marks=SLOW),
        pytest.param(("latency_ms", "bram18"), marks=SLOW),
        pytest.param(("latency_ms", "dsp"), marks=SLOW),
        pytest.param(("latency_ms",), marks=SLOW),
    ],
)
def test_latency_front_equals_brute_force_where_the_budgets_bind(objectives) -> None:
    """The latency fronts (`_latency_fronts`: per slack bound a DP over summed fill, the
    resources and the budgets that returned designs exceed) equal every combination
    enumerated, on `BINDING` and on it with the DSP or the BRAM18 budget lifted; and those
    budgets bind: lifting either changes the (latency, LUT) front."""
    net = wide_network()
    limits = HardwareLimits(max_pe=4, max_simd=8, max_mmv=1, arith=ARITH, keep_rccm=False)
    costs = _brute_costs(net, BINDING, limits)
    fronts = {}
    for lifted in (None, "dsp", "bram18"):
        device = BINDING if lifted is None else replace(BINDING, **{lifted: UNBOUND})
        for cap in (75.0, 100.0):
            want = _front_of(costs, device, cap, objectives)
            got = solve(net, device, cap_pct=cap, objectives=objectives, limits=limits)
            assert got.exact
            assert _rounded(got, objectives) == want and want
            for p in got.points:
                assert p.cost == estimate(p.network, device) and p.cost.fits(cap)
            fronts[lifted, cap] = want
    if objectives[1:2] == ("lut",):
        for cap in (75.0, 100.0):
            assert fronts[None, cap] != fronts["dsp", cap]
            assert fronts[None, cap] != fronts["bram18", cap]
