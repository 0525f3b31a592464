"""The search space: stable scoped names, static choice sets, every sample valid, baselines
reproducible through the parameters, index-to-divisor mapping by hand."""

from __future__ import annotations

import optuna
import pytest

from costmodels import estimate, resolve
from costmodels.devices import get_device
from costmodels.network import simd_dim
from costmodels.types import Arith
from costmodels.zoo import cnv_network, tfc_network
from search_spaces import SearchSpace, SpaceLimits, nearest_divisor
from search_spaces import baselines as bl


def _space(**kw: object) -> SearchSpace:
    return SearchSpace(
        cnv_network(),
        SpaceLimits(**kw),
        search_bits=True,
        search_prune=True,  # type: ignore[arg-type]
    )


def test_nearest_divisor_by_hand() -> None:
    # divisors of 48: 1 2 3 4 6 8 12 16 24 48; 32 sits between 24 and 48:
    # |ln 32 - ln 24| = 0.288 < |ln 48 - ln 32| = 0.405 -> 24
    assert nearest_divisor(32, 48, 64) == 24
    assert nearest_divisor(16, 48, 64) == 16
    assert nearest_divisor(64, 48, 16) == 16  # the cap wins
    # 6 on divisors of 8: |ln 6 - ln 4| = 0.405 > |ln 8 - ln 6| = 0.288 -> 8
    assert nearest_divisor(6, 8, 64) == 8


def test_param_names_scoped_and_static() -> None:
    a, b = _space(), _space()
    assert a.param_names == b.param_names
    assert "conv1.pe" in a.param_names and "conv1.w_bits" in a.param_names
    assert all("." in n for n in a.param_names)
    # first layer weights and last layer weights fixed at 8 bits by default: not searched
    assert "conv0.w_bits" not in a.param_names and "fc2.w_bits" not in a.param_names
    # the last layer (the classes) is never pruned, and has no activation to quantize
    assert "fc2.prune" not in a.param_names and "fc2.a_bits" not in a.param_names
    # about 50 parameters on CNV (MMV off by default), plus the ternary threshold and
    # SYQ scaling of the 7 layers that may be binary/ternary
    assert 59 <= len(a.param_names) <= 69
    # choice sets do not depend on sampled values: same for any trial
    assert [ls.simd for ls in a.layers] == [ls.simd for ls in b.layers]


def test_every_sample_resolves_and_respects_limits() -> None:
    space = _space(max_pe=16, max_simd=32)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(300):
        trial = study.ask()
        cand = space.suggest(trial)
        layers = {r.name: r for r in resolve(cand.network)}  # raises on invalid folding
        for name, c in cand.choices.items():
            assert c.pe <= 16 and c.simd <= 32
            assert simd_dim(layers[name]) % c.simd == 0
            if c.arith is Arith.XNOR:
                assert c.w_bits == 1 and layers[name].in_bits == 1
        study.tell(trial, 0.0)


def test_pruning_upstream_maps_simd_onto_valid_divisor() -> None:
    space = _space()
    raw = {
        ls.name: {"w_bits": 4, "a_bits": 4 if ls.a_bits != (None,) else None, "prune": 0.0,
                  "pe": 1, "simd": 1, "mmv": 1, "arith": Arith.LUT}
        for ls in space.layers
    }  # fmt: skip
    raw["conv0"]["prune"] = 0.25  # 64 -> 48 channels into conv1
    raw["conv0"]["w_bits"] = 8
    raw["fc2"]["w_bits"] = 8
    raw["conv1"]["simd"] = 32  # valid on 64, not on 48
    cand = space.build(raw)
    assert cand.choices["conv1"].simd == 24  # nearest divisor of 48 (see the hand example)
    resolve(cand.network)


def test_baselines_round_trip_through_params() -> None:
    device = get_device("XC7Z020")
    space = SearchSpace(cnv_network(), SpaceLimits(), search_bits=False, search_prune=False)

    def est(c):  # type: ignore[no-untyped-def]
        return estimate(c.network, device)

    sweep = bl.setfolding_sweep(space, est, lambda cost: cost.fits(85.0))
    assert len(sweep) >= 5
    fps = [est(c).fps for _, c in sweep]
    assert fps == sorted(fps)  # each lower target is faster
    # the next halving after the last one does not fit (what "by hand" means here)
    last_target = sweep[-1][0]
    nxt = space.build(bl._fold_for_target(space, bl.default_bits(space), last_target // 2))
    assert not est(nxt).fits(85.0)
    for _, cand in [*sweep, (0, bl.as_given(space))]:
        params = space.params_for(cand.choices)
        again = space.suggest(optuna.trial.FixedTrial(params))
        assert again.choices == cand.choices


def test_as_given_keeps_the_published_folding() -> None:
    space = SearchSpace(cnv_network(), SpaceLimits(), search_bits=False, search_prune=False)
    cand = bl.as_given(space)
    assert [(c.pe, c.simd) for c in cand.choices.values()] == [
        (16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (4, 1)
    ]  # fmt: skip


@pytest.mark.parametrize("net", [cnv_network(), tfc_network()])
def test_smallest_is_no_bigger_than_any_sample(net) -> None:  # type: ignore[no-untyped-def]
    device = get_device("XC7Z020")
    space = SearchSpace(net, SpaceLimits(arith=(Arith.LUT,)), search_bits=True, search_prune=True)
    small = estimate(space.smallest(Arith.LUT).network, device).total.lut
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(100):
        trial = study.ask()
        lut = estimate(space.suggest(trial).network, device).total.lut
        assert lut >= small - 1e-6
        study.tell(trial, 0.0)


def test_static_distributions_equal_what_optuna_infers() -> None:
    space = _space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        space.suggest(trial)
        study.tell(trial, 0.0)
    inferred = optuna.search_space.IntersectionSearchSpace().calculate(study)
    assert inferred == space.distributions()


def test_binary_ternary_extras_reset_where_they_mean_nothing() -> None:
    """A choice's ternary threshold and SYQ scaling are reset to their defaults on weights
    they do not apply to (equal designs, equal accuracy keys); the default threshold is
    the field's own default (TWN's 0.7), read from a constant, since a slotted
    dataclass's class attribute is the slot's descriptor."""
    from costmodels.types import TWN_THRESHOLD, LayerChoice, Scaling
    from search_spaces.space import _normalized

    assert LayerChoice().threshold == TWN_THRESHOLD == 0.7
    moved = _normalized(LayerChoice(w_bits=8, threshold=1.5, scaling=Scaling.ROW))
    assert moved == LayerChoice(w_bits=8) and isinstance(moved.threshold, float)
    ternary = LayerChoice(w_bits=2, threshold=1.5, scaling=Scaling.ROW)
    assert _normalized(ternary) == ternary
    binary = LayerChoice(w_bits=1, threshold=1.5, scaling=Scaling.ROW)
    assert _normalized(binary) == LayerChoice(w_bits=1, scaling=Scaling.ROW)
