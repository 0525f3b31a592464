"""Sparse ternary units (Faraone thesis 3.4) and SYQ scaling multipliers (5.7.2), worked
by hand."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest

from costmodels import estimate, get_device
from costmodels.errors import SpecError
from costmodels.network import resolve
from costmodels.sparse import (
    DECOMPRESSOR_LUT,
    effective_op_cost,
    reuse_factor,
    rle_bits_per_weight,
    rle_entries_per_weight,
    rle_run_bits,
)
from costmodels.syq import sub_products_per_cycle
from costmodels.types import Arith, LayerChoice, LayerSpec, Network, Op, Scaling
from dse.spec import dump_network, network_from_dict

DEV = get_device("ultra96")


def _dense(choice: LayerChoice, in_bits: int = 2) -> Network:
    return Network("d", (64,), in_bits, (LayerSpec("fc", Op.DENSE, 16, choice=choice),))


def _parts(net: Network) -> dict[str, tuple[float, float, float]]:
    cost = estimate(net, DEV, detail=True)
    return {k: (r.lut, r.dsp, r.bram18) for k, r in cost.layers[0].breakdown}


def test_rle_code_by_hand() -> None:
    # gamma = 0.25: r = 3 -> M = 7, q = 0.75^7 = 0.13348, entries/weight = 0.25/(1-q)
    assert rle_run_bits(0.25) == 3
    assert rle_entries_per_weight(0.25, 3) == pytest.approx(0.25 / (1 - 0.75**7))
    assert rle_bits_per_weight(0.25) == pytest.approx(4 * 0.288511, rel=1e-5)  # 1.154 < 2
    # r = 2 and r = 4 cost more: 3 * 0.25/(1-0.75^3) = 1.297, 5 * 0.25/(1-0.75^15) = 1.267
    assert 3 * rle_entries_per_weight(0.25, 2) == pytest.approx(1.2973, rel=1e-4)
    # dense: one entry per weight, 1-bit runs: 2 bits, as dense ternary
    assert rle_run_bits(1.0) == 1 and rle_bits_per_weight(1.0) == pytest.approx(2.0)
    # all zeros: only escapes, 1/M entries per weight at the widest run
    assert rle_entries_per_weight(0.0, 4) == pytest.approx(1 / 15)


def test_rle_bits_never_rise_as_density_falls() -> None:
    bits = [rle_bits_per_weight(d / 100) for d in range(100, 0, -5)]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(bits))


def test_effective_op_cost_and_reuse() -> None:
    # thesis 3.4.4: C_e = gamma (C_op + C_d / R) = 0.3 * (5 + 112/16) = 3.6
    assert effective_op_cost(0.3, 5.0, 112.0, 16) == pytest.approx(3.6)
    conv = Network(
        "c", (4, 8, 8), 2,
        (LayerSpec("c", Op.CONV, 8, kernel=3, choice=LayerChoice(w_bits=2, a_bits=2)),),
    )  # fmt: skip
    (rc,) = resolve(conv)
    assert reuse_factor(rc, batch=2) == 2 * 36  # R = B x output pixels (6 x 6)
    (rd,) = resolve(_dense(LayerChoice(w_bits=2, a_bits=2)))
    assert reuse_factor(rd, batch=4) == 4  # R = B for a dense layer
    with pytest.raises(SpecError):
        effective_op_cost(0.3, 5.0, 112.0, 0)


def test_sparse_unit_by_hand() -> None:
    """64 -> 16 dense layer, PE 2, SIMD 4, 2-bit inputs, gamma 0.25 (r = 3):
    entries per lane and row = ceil(0.288511 * 64 / 4) = ceil(4.616) = 5;
    cycles = (16/2) * 5 = 40 (dense: 8 * 16 = 128);
    decompressors 2 * 4 * 112 = 896 LUT; lanes 8 x 2 LUT (+/-A) = 16;
    weights: 4 * (1+3) = 16 bits x 8 * 5 = 40 deep -> LUTRAM 16 LUT per PE = 32;
    input copies: ceil(2/2) * 4 banks of 2 bits x 2 * 16 words -> 2 LUT each = 8."""
    sparse = LayerChoice(w_bits=2, a_bits=2, pe=2, simd=4, arith=Arith.SPARSE, density=0.25)
    cost = estimate(_dense(sparse), DEV, detail=True)
    assert cost.layers[0].cycles == 40
    dense = estimate(_dense(replace(sparse, arith=Arith.AUTO)), DEV)
    assert dense.layers[0].cycles == 128
    parts = _parts(_dense(sparse))
    assert parts["decompressors"][0] == 2 * 4 * DECOMPRESSOR_LUT == 896
    assert parts["multipliers"][0] == 8 * 2
    assert parts["weights"][0] == 32
    assert parts["input_buffers"][0] == 8


def test_sparse_needs_ternary_weights_and_a_measured_density() -> None:
    with pytest.raises(SpecError, match="needs density"):
        estimate(_dense(LayerChoice(w_bits=2, a_bits=2, arith=Arith.SPARSE)), DEV)
    with pytest.raises(SpecError, match="ternary"):
        estimate(_dense(LayerChoice(w_bits=1, a_bits=2, arith=Arith.SPARSE, density=0.5)), DEV)
    with pytest.raises(SpecError, match="density"):
        estimate(_dense(LayerChoice(w_bits=2, a_bits=2, arith=Arith.SPARSE, density=1.5)), DEV)


def test_sparser_is_never_slower_and_mmv_shares_decompressors() -> None:
    conv = Network(
        "c", (32, 10, 10), 2,
        (LayerSpec("c", Op.CONV, 32, kernel=3, padding=1,
                   choice=LayerChoice(w_bits=2, a_bits=2, pe=4, simd=8, arith=Arith.SPARSE)),),
    )  # fmt: skip
    cycles = []
    for d in (1.0, 0.6, 0.3, 0.1, 0.02):
        c = replace(conv.layers[0].choice, density=d)  # type: ignore[arg-type]
        cycles.append(estimate(conv.with_choices({"c": c}), DEV).cycles_per_frame)
    assert all(b <= a for a, b in itertools.pairwise(cycles)) and cycles[-1] < cycles[0]
    base = replace(conv.layers[0].choice, density=0.2)  # type: ignore[arg-type]
    one = _parts(conv.with_choices({"c": base}))
    five = _parts(conv.with_choices({"c": replace(base, mmv=5)}))
    assert five["decompressors"] == one["decompressors"]  # R = MMV lanes share one
    assert five["multipliers"][0] == 5 * one["multipliers"][0]


def _table_5_7(scaling: Scaling, simd: int = 32, pe: int = 32) -> Network:
    """Thesis Table 5.7's MVTU: I = 384, N = 256, K = 3, binary weights, 2-bit act."""
    ch = LayerChoice(w_bits=1, a_bits=2, pe=pe, simd=simd, scaling=scaling)
    return Network("t57", (384, 3, 3), 2, (LayerSpec("c", Op.CONV, 256, kernel=3, choice=ch),))


def test_syq_multipliers_grow_with_pe_only() -> None:
    """Table 5.7: one scaling multiplier per PE (DSP: 8-bit scale x 8-bit sub-dot-product),
    BRAM unchanged; layer/channel scales need none (absorbed into thresholds)."""
    for pe in (32, 64):
        plain = estimate(_table_5_7(Scaling.LAYER, pe=pe), DEV).layers[0].resources
        pixel = estimate(_table_5_7(Scaling.PIXEL, pe=pe), DEV).layers[0].resources
        row = estimate(_table_5_7(Scaling.ROW, pe=pe), DEV).layers[0].resources
        assert plain.dsp == 0 and pixel.dsp == pe and row.dsp == pe
        assert pixel.bram18 == plain.bram18 == 64
        assert math.isclose(pixel.lut, plain.lut, rel_tol=0.05)
    chan = estimate(_table_5_7(Scaling.CHANNEL), DEV)
    assert chan.total == estimate(_table_5_7(Scaling.LAYER), DEV).total


def test_syq_on_dense_layers_and_int_weights() -> None:
    # K = 1: row and pixel are one group, like layer-wise: no multiplier
    net = _dense(LayerChoice(w_bits=1, a_bits=2, pe=2, simd=4, scaling=Scaling.PIXEL))
    assert estimate(net, DEV).total.dsp == 0
    with pytest.raises(SpecError, match="binary or ternary"):
        estimate(_dense(LayerChoice(w_bits=4, a_bits=2, scaling=Scaling.ROW)), DEV)


def test_sub_products_per_cycle() -> None:
    assert sub_products_per_cycle(32, 384) == 1  # SIMD divides the pixel group
    assert sub_products_per_cycle(6, 3) == 2  # a chunk covers two whole groups
    assert sub_products_per_cycle(8, 3) == 4  # ceil(8/3) + 1 straddled


def test_spec_round_trip_and_errors() -> None:
    d = {
        "name": "n",
        "input": {"shape": [64], "bits": 2},
        "layers": [
            {"name": "fc", "op": "dense", "out_features": 16, "w_bits": 2, "a_bits": 2,
             "arith": "sparse", "density": 0.25, "threshold": 1.5, "scaling": "layer"},
        ],
    }  # fmt: skip
    net = network_from_dict(d)
    c = net.layers[0].choice
    assert c is not None and (c.density, c.threshold, c.scaling) == (0.25, 1.5, Scaling.LAYER)
    import yaml

    assert network_from_dict(yaml.safe_load(dump_network(net))) == net
    for key, bad in (("density", 2), ("threshold", 0), ("scaling", "pixels")):
        layer = {**d["layers"][0], key: bad}  # type: ignore[index]
        with pytest.raises(SpecError, match=key):
            network_from_dict({**d, "layers": [layer]})
