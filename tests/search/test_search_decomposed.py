"""The decomposed search (`--hardware solve` with accuracy objectives): the sampler sees
only accuracy choices and an operating point; each trial's hardware is a design of the
solver's exact front for those choices."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from costmodels import get_device
from costmodels.solver import HardwareLimits, solve
from costmodels.zoo import tfc_network
from dse.hardware import front_solver
from search_spaces import SpaceLimits
from search_spaces.decomposed import HW_POINT, POINTS, DecomposedSpace


def _space() -> DecomposedSpace:
    limits = SpaceLimits(w_bits=(1, 2, 4), a_bits=(1, 2, 4), arith=SpaceLimits().arith)
    hw = HardwareLimits(limits.max_pe, limits.max_simd, 1, limits.arith, True)
    device = get_device("XC7Z020")
    solver = front_solver(device, cap_pct=85.0, clock_mhz=None, limits=hw)
    return DecomposedSpace(
        tfc_network(), limits, search_bits=True, search_prune=True, solver=solver
    )


def test_only_accuracy_choices_and_the_operating_point_are_sampled() -> None:
    space = _space()
    names = set(space.distributions())
    assert HW_POINT in names
    whats = {n.split(".", 1)[1] for n in names if n != HW_POINT}
    assert whats <= {"w_bits", "a_bits", "prune", "wfmt", "threshold", "scaling"}
    assert "w_bits" in whats
    assert not any(n.endswith((".pe", ".simd", ".mmv", ".arith")) for n in names)


def test_operating_point_walks_the_exact_front() -> None:
    space = _space()
    params: dict[str, object] = {
        n: (d.choices[0] if hasattr(d, "choices") else 0)
        for n, d in space.distributions().items()
        if n != HW_POINT
    }
    designs = []
    for point in (0, POINTS - 1):
        cand = space.suggest(optuna.trial.FixedTrial({**params, HW_POINT: point}))
        designs.append(cand)
    slow, fast = designs
    # both are designs of the solver's front at the same accuracy choices
    acc_net = space.accuracy_network({
        ls.name: {"w_bits": ls.w_bits[0], "a_bits": ls.a_bits[0], "prune": ls.prune[0],
                  "threshold": ls.threshold[0], "scaling": ls.scaling[0].value}
        for ls in space.layers
    })  # fmt: skip
    res = solve(
        acc_net, get_device("XC7Z020"), cap_pct=85.0, objectives=("fps", "lut"),
        limits=HardwareLimits(64, 64, 1, SpaceLimits().arith, True),
    )  # fmt: skip
    front = {tuple(sorted((k, repr(v)) for k, v in p.choices.items())) for p in res.points}
    for cand in designs:
        assert tuple(sorted((k, repr(v)) for k, v in cand.choices.items())) in front
    from costmodels import estimate

    dev = get_device("XC7Z020")
    assert estimate(fast.network, dev).fps > estimate(slow.network, dev).fps
    assert estimate(fast.network, dev).total.lut > estimate(slow.network, dev).total.lut
    # the accuracy choices are the sampled ones, whatever the operating point
    for cand in designs:
        assert {c.w_bits for c in cand.choices.values()} <= {1, 8}


@pytest.mark.slow
def test_joint_search_with_the_solver(dse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'j.db'}"
    run = dse("search", "--storage", url, "--hardware", "solve", "--trials", "14",
              "--finetune-steps", "5", "--json")  # fmt: skip
    assert run.code == 0, run.err
    d = run.json()
    assert "solver-fastest" in d["baselines"] and d["pareto"]
    study = optuna.load_study(study_name=d["study"], storage=url)
    sampled = [t for t in study.trials if "baseline" not in t.user_attrs]
    assert sampled and all(HW_POINT in t.params for t in sampled)
    assert not any(k.endswith((".pe", ".simd")) for t in sampled for k in t.params)
    r = dse("report", "--storage", url, "--study", d["study"])
    assert r.code == 0 and "hypervolume" in r.out


def test_a_latency_study_walks_the_exact_latency_front() -> None:
    """With a latency objective (and no FPS) the operating points are designs of the exact
    latency/LUT front, not the FPS/LUT front re-scored: here the two fronts differ, and
    every point the space offers lies on the latency one."""
    from dse.hardware import front_speed

    assert front_speed(("accuracy", "latency_ms", "lut")) == "latency_ms"
    assert front_speed(("accuracy", "fps", "latency_ms")) == "fps"
    assert front_speed(("accuracy", "lut")) == "fps"
    device = get_device("XC7Z020")
    hw = HardwareLimits(64, 64, 1, SpaceLimits().arith, True)
    net = tfc_network()

    def key(choices: object) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((k, repr(v)) for k, v in choices.items()))  # type: ignore[attr-defined]

    fronts = {
        speed: [key(c) for c in front_solver(device, cap_pct=85.0, clock_mhz=None, limits=hw,
                                              speed=speed)(net)]
        for speed in ("fps", "latency_ms")
    }  # fmt: skip
    latency = solve(net, device, cap_pct=85.0, objectives=("latency_ms", "lut"), limits=hw)
    assert fronts["latency_ms"] == [key(p.choices) for p in reversed(latency.points)]
    assert set(fronts["latency_ms"]) != set(fronts["fps"])


def test_a_graph_network_walks_its_fps_front_even_in_a_latency_study() -> None:
    """A graph network's latency front can take the graph DP tens of seconds per accuracy
    configuration: the decomposed search takes its FPS/LUT front instead."""
    from dse.spec import load_network

    net = load_network(Path(__file__).parents[2] / "examples" / "inception-mini.yaml")
    device = get_device("XC7Z020")
    hw = HardwareLimits(8, 8, 1, SpaceLimits().arith, True)
    got = front_solver(device, cap_pct=85.0, clock_mhz=None, limits=hw, speed="latency_ms")(net)
    fps = solve(net, device, cap_pct=85.0, objectives=("fps", "lut"), limits=hw)
    assert [dict(c) for c in got] == [dict(p.choices) for p in reversed(fps.points)]
    assert got
