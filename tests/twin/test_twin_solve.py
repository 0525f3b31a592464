"""Twin mode with the exact folding solver (`dse search --mode twin --hardware solve`,
`dse.twin.solve`): the merged pair front against brute force over every folding of a tiny
pair, its designs all fit and none dominates another, and the CLI runs (search, report,
export, estimate) with TPE and NSGA-II."""

from __future__ import annotations

import functools
import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pytest

from costmodels import estimate, get_device
from costmodels.network import divisors, pe_dim, resolve, simd_dim
from costmodels.solver import FrontPoint, HardwareLimits
from costmodels.types import Arith, Network, NetworkCost, RamStyle
from dse.cli import main
from dse.spec import load_network, network_from_dict
from dse.twin.resources import OverheadModel, pair_resources
from dse.twin.schedule import Policy, TwinStream, simulate
from dse.twin.solve import PairSolver, pareto_order, service_time, thin
from search_spaces import SpaceLimits
from search_spaces.decomposed import HW_POINT
from search_spaces.twin import THRESHOLD, TwinSolvedSpace

DEVICE = get_device("XCZU3EG")
OVERHEAD = OverheadModel.default()
T = 1.0


def _tiny(w_bits: int, a_bits: int) -> Network:
    return network_from_dict({
        "name": "tiny", "input": {"shape": [12], "bits": 4},
        "layers": [
            {"name": "fc0", "op": "dense", "out_features": 8, "w_bits": w_bits, "a_bits": a_bits},
            {"name": "fc1", "op": "dense", "out_features": 4, "w_bits": w_bits, "a_bits": None},
        ],
    })  # fmt: skip


def _stream() -> TwinStream:
    rng = np.random.default_rng(3)
    n = 60
    return TwinStream.from_correctness(
        rng.exponential(1.0, n), rng.random(n) < 0.7, rng.random(n) < 0.9
    )


CMP_LIMITS = HardwareLimits(4, 4, 1, (Arith.LUT,), True, (RamStyle.AUTO, RamStyle.DISTRIBUTED))
ACC_LIMITS = HardwareLimits(4, 4, 1, (Arith.DSP, Arith.LUT), True, (RamStyle.AUTO,))


def _solver(
    cap_pct: float, max_half_points: int = 1000, policy: Policy = Policy.TWIN
) -> PairSolver:
    stream = _stream()
    return PairSolver(
        DEVICE, cap_pct=cap_pct, clock_mhz=None, compressed_limits=CMP_LIMITS,
        accurate_limits=ACC_LIMITS, overhead=OVERHEAD, pipelined=False,
        objectives=("accuracy", "latency_ms", "lut"), stream=lambda c, a: stream,
        max_half_points=max_half_points, policy=policy,
    )  # fmt: skip


def _every_design(network: Network, limits: HardwareLimits) -> list[Network]:
    """Every folding, arithmetic and memory style of `network` the limits allow."""
    per_layer = []
    for rl in resolve(network):
        if not rl.op.is_compute:
            continue
        opts = [
            replace(rl.choice, pe=p, simd=s, arith=a, ram_style=r)
            for p in divisors(pe_dim(rl)) if p <= limits.max_pe
            for s in divisors(simd_dim(rl)) if s <= limits.max_simd
            for a in limits.arith
            for r in (limits.ram_style or (rl.choice.ram_style,))
        ]  # fmt: skip
        per_layer.append([(rl.name, c) for c in opts])
    return [network.with_choices(dict(combo)) for combo in itertools.product(*per_layer)]


@functools.cache
def _every_cost() -> tuple[list[NetworkCost], list[NetworkCost]]:
    """Every design's cost of the tiny compressed (2/2 bits) and accurate (8/4) halves."""
    return (
        [estimate(n, DEVICE) for n in _every_design(_tiny(2, 2), CMP_LIMITS)],
        [estimate(n, DEVICE) for n in _every_design(_tiny(8, 4), ACC_LIMITS)],
    )


def _brute_front(
    cmp: Network, acc: Network, cap_pct: float, policy: Policy
) -> list[tuple[float, float]]:
    stream = _stream()
    cmp_costs, acc_costs = _every_cost()
    assert len(cmp_costs) * len(acc_costs) > 1000  # a real enumeration
    memo: dict[tuple[int, int], float] = {}
    found = []
    for c in cmp_costs:
        for a in acc_costs:
            total = pair_resources(c.total, a.total, DEVICE, OVERHEAD)
            if not total.fits(DEVICE, cap_pct):
                continue
            key = (c.latency_cycles, a.latency_cycles)
            if key not in memo:
                tc = service_time(FrontPoint({}, cmp, c), pipelined=False)
                ta = service_time(FrontPoint({}, acc, a), pipelined=False)
                memo[key] = simulate(stream, T, tc, ta, policy=policy).latency_ms
            found.append((memo[key], total.lut))
    values = np.array(found)
    return sorted((round(values[i, 0], 12), round(values[i, 1], 6)) for i in pareto_order(values))


def _hypervolume(points: list[tuple[float, float]], ref: tuple[float, float]) -> float:
    """Area dominated by (latency, LUT) points, both minimized, up to `ref`."""
    area, best = 0.0, ref[0]
    pts = sorted(points, key=lambda p: p[1])
    for i, (lat, lut) in enumerate(pts):
        best = min(best, lat)
        area += (ref[0] - best) * ((pts[i + 1][1] if i + 1 < len(pts) else ref[1]) - lut)
    return area


@pytest.mark.parametrize("cap_pct", [30.5, pytest.param(85.0, marks=pytest.mark.slow)])
@pytest.mark.parametrize("policy", [Policy.CASCADE, Policy.TWIN])
def test_pair_front_against_brute_force_on_a_tiny_pair(cap_pct: float, policy: Policy) -> None:
    """Every folding of both halves (PE/SIMD up to 4, LUT or DSP for the accurate half,
    two memory styles for the compressed one), every pair that fits the shared budget
    scored by the scheduler at T: the Pareto front of (latency per input, pair LUT).
    With the cascade schedule (the twin's speed monotone in each half's service time) it
    equals the merge of the halves' exact fronts; with the paper's scheduler, which is not
    monotone, brute force finds one more pair (a half slower at equal LUTs making the pair
    faster) and the merge keeps >= 0.999 of its hypervolume. At a 30.5% cap the LUT
    budget binds: the Table 1 overhead is 14.7% of the device's LUTs and each half
    carries its shell, so the pairs need 29.8% to 31.9%."""
    cmp, acc = _tiny(2, 2), _tiny(8, 4)
    got = _solver(cap_pct, policy=policy).front(cmp, acc, T)
    assert got
    mine = sorted((round(p.result.latency_ms, 12), round(p.total.lut, 6)) for p in got)
    brute = [(float(a), float(b)) for a, b in _brute_front(cmp, acc, cap_pct, policy)]
    if policy is Policy.CASCADE:
        assert mine == brute
    else:
        ref = (max(p[0] for p in brute) * 2, DEVICE.lut * cap_pct / 100)
        assert _hypervolume(mine, ref) >= 0.999 * _hypervolume(brute, ref)
        assert len(mine) >= len(brute) - 2


def test_pair_front_fits_is_non_dominated_and_ordered() -> None:
    got = _solver(30.5).front(_tiny(2, 2), _tiny(8, 4), T)
    assert len(got) >= 2
    for p in got:  # each half is a concrete design whose canonical cost is the stored one
        assert p.total.fits(DEVICE, 30.5)
        assert estimate(p.compressed.network, DEVICE).total == p.compressed.cost.total
        assert p.total == pair_resources(
            p.compressed.cost.total, p.accurate.cost.total, DEVICE, OVERHEAD
        )
    luts = [p.total.lut for p in got]
    lats = [p.result.latency_ms for p in got]
    assert luts == sorted(luts) and lats == sorted(lats, reverse=True)
    assert len(set(luts)) == len(luts) and len(set(lats)) == len(lats)
    # a budget nothing fits: an empty front, and the outputs were never asked for
    asked = []
    solver = _solver(25.0)
    solver.stream = lambda c, a: asked.append(1) or _stream()  # type: ignore[assignment, func-returns-value]
    assert solver.front(_tiny(2, 2), _tiny(8, 4), T) == [] and not asked


def test_thinning_keeps_both_ends() -> None:
    pts = list(range(50))
    kept = thin(pts, 24)  # type: ignore[arg-type]
    assert len(kept) == 24 and kept[0] == 0 and kept[-1] == 49
    assert thin(pts[:5], 24) == pts[:5]  # type: ignore[arg-type]


def test_solved_space_samples_accuracy_threshold_and_point_only() -> None:
    from costmodels.zoo import cnv_network

    net = cnv_network()
    space = TwinSolvedSpace(
        net, SpaceLimits(), t_max=8.0, search_prune=True, pair_front=lambda c, a, t: []
    )
    names = set(space.distributions())
    assert THRESHOLD in names and HW_POINT in names
    whats = {n.split(".")[-1] for n in names - {THRESHOLD, HW_POINT}}
    assert whats <= {"w_bits", "a_bits", "prune", "wfmt", "threshold", "scaling"}
    assert "acc.conv1.wfmt" in names and not any(
        n.startswith("cmp.") and "wfmt" in n for n in names
    )
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    cand = space.suggest(trial)  # nothing fits (empty front): the folded pair
    assert trial.distributions == space.distributions()
    assert all(la.choice and la.choice.pe == 1 for la in cand.accurate.network.compute_layers)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_twin_search_with_the_solver(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`dse search --mode twin --hardware solve`: every trial is one concrete pair that
    reports, exports and re-estimates half by half to the stored numbers."""
    url = f"sqlite:///{tiny / 's.db'}"
    common = ("--storage", url, "--study", "ts")
    code, out, err = _run(
        capsys, "search", "--mode", "twin", "--workload", "tinywl:make", "--hardware", "solve",
        "--trials", "8", "--finetune-steps", "2", "--json", *common,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["feasible"] >= 2
    study = optuna.load_study(study_name="ts", storage=url)
    sampled = [t for t in study.trials if "baseline" not in t.user_attrs]
    assert sampled and all(HW_POINT in t.params and THRESHOLD in t.params for t in sampled)
    assert not any(k.endswith((".pe", ".simd", ".arith")) for t in sampled for k in t.params)
    code, out, err = _run(capsys, "report", "--format", "json", *common)
    assert code == 0, err
    row = next(r for r in json.loads(out)["front"] if "baseline" not in str(r.get("label")))
    number = str(row["trial"])
    code, _, err = _run(capsys, "export", "--trial", number, "-o", str(tiny / "p.yaml"), *common)
    assert code == 0, err
    stored = study.trials[int(number)].user_attrs["cost"]
    for half in ("compressed", "accurate"):
        net = load_network(tiny / f"p.{half}.yaml")
        assert estimate(net, DEVICE).total.lut == pytest.approx(stored[half]["lut"], abs=1e-3)
    # the study resumes in the mode it was made in: its parameters are choice indices
    # and an operating point, which a sampled search would misread
    search = ("search", "--mode", "twin", "--workload", "tinywl:make", "--trials", "1",
              "--finetune-steps", "2", *common)  # fmt: skip
    n_before = len(study.trials)
    code, _, err = _run(capsys, *search, "--hardware", "sample")
    assert code == 2 and "hardware: None -> " not in err and "hardware: solve -> None" in err
    code, out, err = _run(capsys, *search, "--hardware", "solve", "--json")
    assert code == 0 and json.loads(out)["trials_total"] == n_before + 1, err


@pytest.mark.slow
def test_twin_search_with_the_solver_and_nsga2(
    tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """NSGA-II breeds a second generation (population 8) over the solved space's
    declared parameters."""
    code, out, err = _run(
        capsys, "search", "--mode", "twin", "--workload", "tinywl:make", "--hardware", "solve",
        "--sampler", "nsga2", "--trials", "12", "--finetune-steps", "2", "--json",
        "--storage", f"sqlite:///{tiny / 's.db'}", "--study", "tn",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["trials_new"] == 12
