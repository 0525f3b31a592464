"""LQ-Nets quantizers and the table / bit-plane arithmetics in the search space and the
study configuration."""

from __future__ import annotations

import optuna
import pytest

from costmodels import estimate, get_device
from costmodels.errors import ConfigError
from costmodels.types import Arith, NumType, WType
from costmodels.zoo import cnv_network
from dse.config import build_config
from search_spaces import SearchSpace, SpaceLimits


def lq_space() -> SearchSpace:
    limits = SpaceLimits(
        w_bits=(2, 4),
        a_bits=(2, 4),
        w_types=(None, WType.LQ),
        a_types=(None, NumType.LQ),
        arith=(Arith.LUT, Arith.DSP, Arith.TABLE, Arith.BITPLANE),
    )
    return SearchSpace(cnv_network(), limits, search_bits=True, search_prune=False)


def test_types_are_sampled_parameters() -> None:
    space = lq_space()
    dists = space.distributions()
    assert "conv1.w_type" in dists and "conv1.a_type" in dists
    assert set(dists["conv1.w_type"].choices) == {"none", "lq"}
    assert set(dists["conv1.a_type"].choices) == {"none", "lq"}


def test_every_lq_sample_gets_an_lq_arithmetic_and_estimates() -> None:
    space = lq_space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    dev = get_device("XCKU115")
    seen_lq = seen_lq_act = 0
    for _ in range(40):
        trial = study.ask()
        cand = space.suggest(trial)
        prev_lq = False
        for layer in cand.network.compute_layers:
            c = layer.choice
            assert c is not None
            if c.w_type is WType.LQ or prev_lq:
                assert c.arith in (Arith.TABLE, Arith.BITPLANE), (layer.name, c)
            seen_lq += c.w_type is WType.LQ
            seen_lq_act += c.a_type is NumType.LQ
            prev_lq = c.a_type is NumType.LQ
        estimate(cand.network, dev)  # never a SpecError
        study.tell(trial, 0.0)
    assert seen_lq > 0 and seen_lq_act > 0
    # params_for reproduces an LQ design
    params = space.params_for(cand.choices)
    again = space.suggest(optuna.trial.FixedTrial(params))
    assert {n: (c.w_type, c.a_type) for n, c in again.choices.items()} == {
        n: (c.w_type, c.a_type) for n, c in cand.choices.items()
    }


def test_config_parses_types() -> None:
    cfg = build_config({"space": {"w_types": "default,lq", "a_types": ["int", "lq"]}})
    assert cfg.space.w_types == (None, WType.LQ) and cfg.space.a_types == (None, NumType.LQ)
    assert cfg.space.as_dict()["w_types"] == ["default", "lq"]
    assert "w_types" not in build_config({}).space.as_dict()  # older studies keep their hash
    with pytest.raises(ConfigError, match="unknown quantizer 'sparse'"):
        build_config({"space": {"w_types": "sparse"}})
