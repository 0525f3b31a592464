"""The quick evaluation: accuracy sanity, key contents, determinism, the SQL cache."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from costmodels.errors import SpecError
from costmodels.types import Arith, LayerChoice, Network
from dse.nn import AccuracyCache, AccuracyEvaluator, QuantPolicy, Workload, pin_first_last


def with_all(net: Network, **kw: object) -> Network:
    out = {}
    for layer in net.compute_layers:
        assert layer.choice is not None
        fields = dict(kw)
        if layer.choice.a_bits is None:
            fields.pop("a_bits", None)
        out[layer.name] = replace(layer.choice, **fields)  # type: ignore[arg-type]
    return net.with_choices(out)


def test_float_baselines_are_accurate(cnn: Workload, mlp: Workload) -> None:
    assert cnn.float_accuracy > 0.96 and mlp.float_accuracy > 0.96
    assert cnn.num_classes == 10
    assert cnn.labels("val").shape == (len(cnn.inputs("val")),)


def test_8_bit_ptq_is_close_to_float(cnn: Workload, mlp: Workload) -> None:
    for wl in (cnn, mlp):
        r = AccuracyEvaluator(wl, finetune_steps=0).evaluate(wl.network)
        assert not r.cached and 0.0 <= r.accuracy <= 1.0
        assert r.accuracy >= wl.float_accuracy - 0.015


def test_binary_weights_need_finetuning(mlp: Workload) -> None:
    net = with_all(mlp.network, w_bits=1)
    ptq = AccuracyEvaluator(mlp, finetune_steps=0).evaluate(net).accuracy
    qat = AccuracyEvaluator(mlp, finetune_steps=100).evaluate(net).accuracy
    assert ptq < 0.6 < 0.9 < qat


def test_key_has_exactly_what_affects_accuracy(cnn: Workload) -> None:
    ev = AccuracyEvaluator(cnn, finetune_steps=10, seed=0)
    net = cnn.network
    base = ev.accuracy_key(net)
    conv2 = net.layers[1].choice
    assert conv2 is not None

    def key_with(**kw: object) -> str:
        return ev.accuracy_key(net.with_choices({"conv2": replace(conv2, **kw)}))  # type: ignore[arg-type]

    # folding never changes accuracy
    assert key_with(pe=4, simd=8, mmv=2) == base
    # pruning only through the kept count: 16 filters, pe 4 -> 0.2 and 0.3 both keep 12
    assert key_with(prune=0.2, pe=4) == key_with(prune=0.3, pe=4) != base
    assert key_with(prune=0.2, pe=4) != key_with(prune=0.5, pe=4)
    assert len({base, key_with(w_bits=4), key_with(a_bits=4), key_with(arith=Arith.RCCM2),
                key_with(arith=Arith.RCCM3), key_with(w_bits=1)}) == 6  # fmt: skip
    assert key_with(arith=Arith.DSP) == key_with(arith=Arith.LUT) == base
    assert AccuracyEvaluator(cnn, finetune_steps=10, seed=1).accuracy_key(net) != base
    assert AccuracyEvaluator(cnn, finetune_steps=11, seed=0).accuracy_key(net) != base


def test_deterministic_for_a_seed(cnn: Workload) -> None:
    net = with_all(cnn.network, w_bits=2, a_bits=3)
    a = AccuracyEvaluator(cnn, finetune_steps=15, seed=3)
    b = AccuracyEvaluator(cnn, finetune_steps=15, seed=3)
    assert a.evaluate(net).accuracy == b.evaluate(net).accuracy
    assert np.array_equal(a.outputs(net), b.outputs(net))
    out = a.outputs(net, split="test")
    assert out.shape == (len(cnn.labels("test")), 10)


def test_outputs_agree_with_evaluate(cnn: Workload) -> None:
    ev = AccuracyEvaluator(cnn, finetune_steps=0)
    net = with_all(cnn.network, w_bits=4, a_bits=4)
    acc = float((ev.outputs(net).argmax(axis=1) == cnn.labels("val")).mean())
    assert ev.evaluate(net).accuracy == pytest.approx(acc)


def test_cache_hit_across_evaluator_instances(cnn: Workload, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    net = with_all(cnn.network, w_bits=3, a_bits=4)
    first = AccuracyEvaluator(cnn, finetune_steps=0, cache=AccuracyCache(url)).evaluate(net)
    assert not first.cached and first.seconds > 0
    again = AccuracyEvaluator(cnn, finetune_steps=0, cache=AccuracyCache(url)).evaluate(net)
    assert again.cached and again.accuracy == first.accuracy and again.key == first.key
    rows = sqlite3.connect(tmp_path / "study.db").execute(
        "select key, workload, accuracy from dse_accuracy_cache").fetchall()  # fmt: skip
    assert rows == [(first.key, "digits-cnn", first.accuracy)]


def test_first_value_wins_a_race(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    a, b = AccuracyCache(url), AccuracyCache(url)
    assert a.put("k" * 64, 0.5, "w", 1.0) == 0.5
    assert b.put("k" * 64, 0.9, "w", 1.0) == 0.5  # the duplicate evaluation keeps the first
    assert a.get("k" * 64) == 0.5 and len(b) == 1


@pytest.mark.postgres
def test_cache_on_postgres(postgres_url: str) -> None:
    import uuid

    cache = AccuracyCache(postgres_url)
    key = uuid.uuid4().hex * 2
    assert cache.get(key) is None
    assert cache.put(key, 0.75, "w", 0.1) == 0.75
    assert AccuracyCache(postgres_url).put(key, 0.25, "w", 0.1) == 0.75


def test_bad_networks_are_spec_errors(cnn: Workload, mlp: Workload) -> None:
    ev = AccuracyEvaluator(cnn, finetune_steps=0)
    with pytest.raises(SpecError, match="does not match"):
        ev.evaluate(mlp.network)
    with pytest.raises(SpecError, match="every filter"):
        ev.evaluate(cnn.network.with_choices({"conv1": LayerChoice(prune=1.0)}))
    with pytest.raises(SpecError, match="w_bits"):
        ev.evaluate(cnn.network.with_choices({"conv1": LayerChoice(w_bits=17)}))


def test_first_last_policy_pins_weights(cnn: Workload) -> None:
    net = with_all(cnn.network, w_bits=1)
    pinned = pin_first_last(net, 8)
    bits = [la.choice.w_bits for la in pinned.compute_layers if la.choice]
    assert bits == [8, 1, 1, 1, 1, 8]
    ev = AccuracyEvaluator(cnn, finetune_steps=0, policy=QuantPolicy(first_last_bits=8))
    assert ev.accuracy_key(net) == ev.accuracy_key(pinned)


def test_kl_report_orders_sets(cnn: Workload) -> None:
    rows = AccuracyEvaluator(cnn, finetune_steps=0).kl_report()
    assert len(rows) == 3 * len(cnn.network.compute_layers)
    conv2 = [r for r in rows if r.layer == "conv2"]
    assert [r.coefficients for r in conv2] == [15, 59, 207]
    assert conv2[0].rel_msqe > conv2[1].rel_msqe > conv2[2].rel_msqe
    assert all(np.isfinite(r.kl) and r.kl >= 0 for r in rows)


def test_warm_up_changes_nothing_but_timing(cnn: Workload) -> None:
    net = with_all(cnn.network, w_bits=3, a_bits=2, arith=Arith.RCCM3)
    cold = AccuracyEvaluator(cnn, finetune_steps=0)
    warm = AccuracyEvaluator(cnn, finetune_steps=0)
    warm.warm_up()
    assert np.array_equal(cold.outputs(net), warm.outputs(net))


@pytest.mark.slow
def test_quick_evaluation_orders_clearly_separated_configs(cnn: Workload) -> None:
    ev = AccuracyEvaluator(cnn)  # the default fine-tuning budget
    mid_binary = pin_first_last(with_all(cnn.network, w_bits=1), 8)
    all_binary_a1 = with_all(cnn.network, w_bits=1, a_bits=1)
    accs = [ev.evaluate(n).accuracy for n in (cnn.network, mid_binary, all_binary_a1)]
    assert accs[0] >= accs[1] > accs[2] > 0.5


def _race_writer(url: str, value: float, keys: int) -> list[float]:
    cache = AccuracyCache(url)
    return [cache.put(f"{i:064d}", value, "w", 0.0) for i in range(keys)]


def test_concurrent_writers_agree_on_first_value(tmp_path: Path) -> None:
    import multiprocessing as mp

    url = f"sqlite:///{tmp_path / 'race.db'}"
    with mp.get_context("spawn").Pool(2) as pool:
        a, b = pool.starmap(_race_writer, [(url, 0.25, 40), (url, 0.75, 40)])
    final = [AccuracyCache(url).get(f"{i:064d}") for i in range(40)]
    assert a == b == final  # every writer reads back the one stored value
    assert set(final) <= {0.25, 0.75}
