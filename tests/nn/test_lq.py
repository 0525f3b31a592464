"""LQ-Nets quantizers: the alternating fit, its advantage over uniform levels, and the
quick evaluation with LQ weights and activations."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
import torch

from costmodels.errors import SpecError
from costmodels.types import LayerChoice, Network, NumType, WType
from dse.nn import AccuracyEvaluator, Workload
from dse.nn.lq import (
    code_matrix,
    fit_weight_basis,
    levels,
    lq_error,
    qem,
    quantize_weight_lq,
    uniform_basis,
)
from dse.nn.qnet import QatNet
from dse.nn.quant import WeightFormat, WeightKind, quantize_int


def gaussian(n: int = 8_000, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_qem_error_never_increases(bits: int, signed: bool) -> None:
    x = gaussian() if signed else gaussian().abs() * 1.7
    # start from a deliberately poor basis so the steps have work to do
    fit = qem(x, bits, signed, steps=15, init=torch.ones(bits, dtype=torch.float64) * 0.05)
    errs = fit.errors
    assert len(errs) >= 2
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(errs)), errs
    assert errs[-1] < errs[0]


def test_lq_beats_uniform_at_equal_bits() -> None:
    x = gaussian()
    for bits in (2, 3, 4):
        fit = qem(x, bits, signed=True)
        uni = lq_error(x, uniform_basis(x, bits, True), True)  # best-scale 2^K-level grid
        q_int = quantize_int(x.float().reshape(1, -1), bits).double().reshape(-1)
        project_uniform = float((q_int - x).pow(2).mean())  # symmetric int, max scaling
        assert fit.errors[-1] < uni < project_uniform, (bits, fit.errors[-1], uni)
    # 2-bit Gaussian: Lloyd-Max optimum is 0.1175 (Max 1960); uniform 4 levels ~0.1188
    assert qem(x, 2, signed=True).errors[-1] == pytest.approx(0.1175, abs=0.004)


def test_codes_and_levels() -> None:
    assert code_matrix(2, True).tolist() == [[-1, -1], [1, -1], [-1, 1], [1, 1]]
    assert code_matrix(2, False).tolist() == [[0, 0], [1, 0], [0, 1], [1, 1]]
    # the thesis' example (4.1.1): basis 1.1 and 0.5 -> levels -1.6, -0.6, 0.6, 1.6 for
    # weights; activation code 0 is the value 0 (Fig. 4.1)
    v = torch.tensor([0.5, 1.1], dtype=torch.float64)
    assert sorted(round(float(q), 6) for q in levels(v, True)) == [-1.6, -0.6, 0.6, 1.6]
    assert sorted(round(float(q), 6) for q in levels(v, False)) == [0.0, 0.5, 1.1, 1.6]


def test_weight_quantizer_per_channel_scale_and_levels() -> None:
    w = torch.randn(8, 4, 3, 3, generator=torch.Generator().manual_seed(1))
    w[3] *= 10.0  # a channel with a much larger scale keeps its relative precision
    basis = fit_weight_basis(w, 2)
    q = quantize_weight_lq(w, basis)
    for c in range(8):
        assert len(torch.unique(q[c])) <= 4
    rel = ((q - w).pow(2).sum(dim=(1, 2, 3)) / w.pow(2).sum(dim=(1, 2, 3))).max()
    assert rel < 0.3
    assert WeightFormat.from_choice(LayerChoice(w_bits=2, w_type=WType.LQ)).label == "lq2"


def with_all(net: Network, **kw: object) -> Network:
    out = {}
    for layer in net.compute_layers:
        assert layer.choice is not None
        fields = dict(kw)
        if layer.choice.a_bits is None:
            fields.pop("a_bits", None)
            fields.pop("a_type", None)
        out[layer.name] = replace(layer.choice, **fields)  # type: ignore[arg-type]
    return net.with_choices(out)


def test_evaluation_lq_beats_uniform_2_bit_post_training(cnn: Workload) -> None:
    ev = AccuracyEvaluator(cnn, finetune_steps=0)
    uni = with_all(cnn.network, w_bits=2, a_bits=2, w_type=WType.INT)
    lq = with_all(cnn.network, w_bits=2, a_bits=2, w_type=WType.LQ, a_type=NumType.LQ)
    a_uni, a_lq = ev.evaluate(uni).accuracy, ev.evaluate(lq).accuracy
    # 2-bit post-training accuracy depends on the float training, which differs between
    # CPUs (vector kernels round differently): +0.14 (0.646 vs 0.507) on an AMD EPYC, more
    # than +0.2 on the machine this test was written on. 0.05 is 18 of the 359 validation
    # images, well outside one image's noise, and the weight errors are tested exactly above.
    assert a_lq > a_uni + 0.05, (a_lq, a_uni)
    # the key knows LQ activations; LQ weights have their own format label
    only_w = with_all(cnn.network, w_bits=2, a_bits=2, w_type=WType.LQ)
    assert len({ev.accuracy_key(n) for n in (uni, lq, only_w)}) == 3


def test_finetune_moves_the_bases(cnn: Workload) -> None:
    net = with_all(cnn.network, w_bits=2, a_bits=2, w_type=WType.LQ, a_type=NumType.LQ)
    ev = AccuracyEvaluator(cnn, finetune_steps=0)
    model = ev.build_model(net)
    assert isinstance(model, QatNet)
    conv2 = "conv2"
    w0 = model.lq_basis[conv2].clone()
    a0 = model.acts[conv2]
    assert a0 is not None and a0.basis is not None
    model.train()
    x = cnn.inputs("train")[:64]
    with torch.no_grad():  # as an optimizer step would: the weights move, the basis follows
        w = model.weight[conv2]
        w.add_(0.5 * w.abs().mean() * torch.randn(w.shape, generator=torch.Generator()))
    model(x)
    assert not torch.equal(model.lq_basis[conv2], w0)
    a1 = model.acts[conv2]
    assert a1 is not None and a1.basis != a0.basis
    assert ev.config(net)[1][1].fmt.kind is WeightKind.LQ


def test_lq_bits_are_checked(cnn: Workload) -> None:
    ev = AccuracyEvaluator(cnn, finetune_steps=0)
    with pytest.raises(SpecError, match="lq weights need w_bits"):
        ev.evaluate(with_all(cnn.network, w_bits=10, w_type=WType.LQ))
    with pytest.raises(SpecError, match="lq activations need a_bits"):
        ev.evaluate(with_all(cnn.network, a_bits=9, a_type=NumType.LQ))
