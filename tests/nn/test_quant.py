"""Quantizers against hand-worked examples, BN folding equivalence, KL and calibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from costmodels.types import Arith, LayerChoice, WType
from dse.nn.quant import (
    WeightFormat,
    WeightKind,
    act_step,
    binarize,
    calibrate_clip,
    filter_msqe,
    fold_batchnorm,
    kl_divergence,
    quantize_activation,
    quantize_int,
    quantize_rccm,
    quantize_weight,
    rccm_levels,
    rccm_scale,
    ternarize,
)


def t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def test_binary_is_sign_times_mean_magnitude_per_channel() -> None:
    # channel 0: mean|w| = (0.5+1.5+1+1)/4 = 1.0; channel 1: 0.1, and sign(0) = +1
    q = binarize(t([[0.5, -1.5, 1.0, -1.0], [0.2, -0.2, 0.0, 0.0]]))
    assert torch.allclose(q, t([[1, -1, 1, -1], [0.1, -0.1, 0.1, 0.1]]))


def test_ternary_threshold_and_scale() -> None:
    # mean|w| = 3.5/4 = 0.875, threshold 0.7*0.875 = 0.6125; kept 1.0 and -2.0, E = 1.5
    q = ternarize(t([[1.0, -0.2, 0.3, -2.0]]))
    assert torch.allclose(q, t([[1.5, 0.0, 0.0, -1.5]]))


def test_int_k_bit_symmetric_per_channel() -> None:
    # 3 bits: levels -3..3, step max|w|/3 = 1/3; w/s = 3, -1.5, 0.78, 0 -> floor(x+1/2)
    q = quantize_int(t([[1.0, -0.5, 0.26, 0.0]]), 3)
    assert torch.allclose(q, t([[1.0, -1 / 3, 1 / 3, 0.0]]))
    # 8 bits: 127 levels, error at most half a step
    w = torch.randn(4, 50)
    err = (quantize_int(w, 8) - w).abs().amax(dim=1)
    assert (err <= w.abs().amax(dim=1) / 127 / 2 + 1e-6).all()


def test_rccm_sets_match_thesis_table_6_2() -> None:
    assert [len(rccm_levels(a)) for a in (Arith.RCCM2, Arith.RCCM3, Arith.RCCM4)] == [15, 59, 207]
    lv = rccm_levels(Arith.RCCM2)
    assert torch.equal(lv, -lv.flip(0))  # symmetric around zero
    assert lv.tolist()[7:] == [0, 1, 2, 8, 28, 36, 44, 92]


def test_rccm_nearest_scaled_coefficient() -> None:
    # lambda 0.1: w/lambda = 9, -3, 20 -> nearest of +-{0,1,2,8,28,36,44,92}: 8, -2, 28
    q = quantize_rccm(t([[0.9, -0.3, 2.0]]), Arith.RCCM2, torch.tensor([0.1]))
    assert torch.allclose(q, t([[0.8, -0.2, 2.8]]))


def test_rccm_scale_minimises_error() -> None:
    torch.manual_seed(0)
    w = torch.randn(8, 64)
    for arith in (Arith.RCCM2, Arith.RCCM3, Arith.RCCM4):
        naive = w.abs().amax(dim=1) / rccm_levels(arith)[-1]
        e_best = (quantize_rccm(w, arith, rccm_scale(w, arith)) - w).pow(2).sum(dim=1)
        e_naive = (quantize_rccm(w, arith, naive) - w).pow(2).sum(dim=1)
        assert (e_best <= e_naive + 1e-6).all()
    errs = [float((quantize_weight(w, WeightFormat(WeightKind.RCCM, 8, a)) - w).pow(2).mean())
            for a in (Arith.RCCM2, Arith.RCCM3, Arith.RCCM4)]  # fmt: skip
    assert errs[0] > errs[1] > errs[2]  # more adders, more coefficients, less error


def test_weight_format_follows_layer_choice() -> None:
    assert WeightFormat.from_choice(LayerChoice(w_bits=1)).label == "bipolar"
    assert WeightFormat.from_choice(LayerChoice(w_bits=2)).label == "ternary"
    assert WeightFormat.from_choice(LayerChoice(w_bits=2, w_type=WType.INT)).label == "int2"
    assert WeightFormat.from_choice(LayerChoice(w_bits=6)).label == "int6"
    assert WeightFormat.from_choice(LayerChoice(w_bits=8, arith=Arith.RCCM3)).label == "rccm3"


def test_activation_quantization_hand_examples() -> None:
    # unsigned 2 bits on [0, 3]: step 1, floor(x + 1/2) clamped to 0..3 (ReLU included)
    x = torch.tensor([-1.0, 0.4, 0.5, 2.6, 5.0])
    assert quantize_activation(x, 3.0, 2, False).tolist() == [0.0, 0.0, 1.0, 3.0, 3.0]
    # 1 bit unsigned (the sign activation up to an affine map): step {0, 2} at 1
    x = torch.tensor([0.9, 1.0, 3.0])
    assert quantize_activation(x, 2.0, 1, False).tolist() == [0.0, 2.0, 2.0]
    # signed 1 bit: s * sign(x)
    assert quantize_activation(torch.tensor([-0.1, 0.0, 4.0]), 1.5, 1, True).tolist() == [
        -1.5,
        1.5,
        1.5,
    ]
    # signed 3 bits on [-3, 3]: step 1
    assert quantize_activation(torch.tensor([-4.0, -1.4, 2.5]), 3.0, 3, True).tolist() == [
        -3.0,
        -1.0,
        3.0,
    ]
    assert act_step(255.0, 8, False) == 1.0


def test_calibrated_clip_shrinks_with_fewer_bits() -> None:
    torch.manual_seed(0)
    x = torch.randn(20000).abs() ** 2  # long-tailed, like post-ReLU activations
    c8, c2 = calibrate_clip(x, 8, False), calibrate_clip(x, 2, False)
    assert c2 < c8 <= float(x.max())
    assert c8 > 0.5 * float(x.max())


@pytest.mark.parametrize("conv", [True, False])
def test_batchnorm_fold_is_exact(conv: bool) -> None:
    torch.manual_seed(0)
    layer: nn.Module = nn.Conv2d(3, 5, 3, padding=1) if conv else nn.Linear(7, 5)
    bn: nn.Module = nn.BatchNorm2d(5) if conv else nn.BatchNorm1d(5)
    bn.running_mean.uniform_(-1, 1)  # type: ignore[operator]
    bn.running_var.uniform_(0.5, 2)  # type: ignore[operator]
    bn.weight.data.uniform_(-2, 2)  # type: ignore[union-attr]
    bn.bias.data.uniform_(-1, 1)  # type: ignore[union-attr]
    bn.eval()
    x = torch.randn(4, 3, 6, 6) if conv else torch.randn(4, 7)
    w, b = fold_batchnorm(layer.weight, layer.bias, bn)  # type: ignore[arg-type]
    ref = bn(layer(x))
    out = (
        torch.nn.functional.conv2d(x, w, b, padding=1)
        if conv
        else torch.nn.functional.linear(x, w, b)
    )
    assert torch.allclose(out, ref, atol=1e-5)


def test_msqe_eq_4_8() -> None:
    w = t([[1.0, -1.0, 0.5, -0.5]])
    q = binarize(w)  # E = 0.75 -> errors 0.25, 0.25, 0.25, 0.25 -> squared 0.0625
    assert float(filter_msqe(w, q, relative=False)[0]) == pytest.approx(0.0625)
    assert float(filter_msqe(w, q)[0]) == pytest.approx(0.0625 / 0.625)


def test_kl_divergence_eq_6_2() -> None:
    p = np.array([0.5, 0.5])
    assert kl_divergence(p, p) == pytest.approx(0.0)
    assert kl_divergence(p, np.array([0.25, 0.75])) == pytest.approx(
        0.5 * np.log(0.5 / 0.25) + 0.5 * np.log(0.5 / 0.75)
    )
