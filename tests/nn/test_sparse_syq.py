"""Sparse ternary (thesis ch. 3) and SYQ granularity (ch. 5) quantizers."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
import torch

from costmodels.types import Arith, LayerChoice, Scaling
from dse.nn import AccuracyEvaluator, Workload
from dse.nn.quant import WeightFormat, WeightKind, quantize_weight, ternarize
from dse.nn.sparse_syq import density, group_index, quantize_scaled

GRANULARITIES = (Scaling.LAYER, Scaling.ROW, Scaling.PIXEL)


def _conv_weight(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(16, 8, 3, 3, generator=gen) * torch.rand(1, 1, 3, 3, generator=gen)
    norm = torch.rand(16, generator=gen) * 2 + 0.1
    return w * norm.reshape(-1, 1, 1, 1), norm


@pytest.mark.parametrize("scaling", (Scaling.CHANNEL, *GRANULARITIES))
def test_sparsity_rises_with_the_threshold(scaling: Scaling) -> None:
    w, norm = _conv_weight(0)
    sparsity = [
        1 - density(quantize_scaled(w, ternary=True, threshold=t, scaling=scaling, norm=norm))
        for t in (0.1, 0.33, 0.7, 1.0, 1.5, 2.0, 3.0)
    ]
    assert all(b >= a for a, b in itertools.pairwise(sparsity)), sparsity
    assert sparsity[0] < 0.3 and sparsity[-1] > 0.85


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ternary", (False, True))
def test_finer_granularity_never_raises_the_error(seed: int, ternary: bool) -> None:
    w, norm = _conv_weight(seed)
    errors = [
        float(
            (quantize_scaled(w, ternary=ternary, threshold=1.0, scaling=s, norm=norm) - w)
            .pow(2)
            .sum()
        )
        for s in GRANULARITIES
    ]
    # layer >= row >= pixel (the groups nest; each scale is the least-squares one)
    assert errors[0] >= errors[1] - 1e-6 and errors[1] >= errors[2] - 1e-6, errors
    assert errors[0] > errors[2]  # the kernel positions were given different magnitudes


def test_group_index_counts() -> None:
    assert group_index((4, 2, 3, 3), Scaling.ROW)[1] == 3
    assert group_index((4, 2, 3, 3), Scaling.PIXEL)[1] == 9
    assert group_index((4, 2, 3, 3), Scaling.LAYER)[1] == 1
    assert group_index((4, 2, 3, 3), Scaling.CHANNEL)[1] == 4
    idx, n = group_index((4, 2, 3, 3), Scaling.PIXEL)
    assert n == 9 and int(idx[1, 1, 2, 0]) == 6  # row 2, column 0
    assert group_index((10, 64), Scaling.PIXEL)[1] == 1  # dense: pixel == layer


def test_symmetric_levels_per_group() -> None:
    """SYQ eq. 5.9: within a group the non-zero levels are +-alpha."""
    w, norm = _conv_weight(3)
    q = quantize_scaled(w, ternary=True, threshold=0.7, scaling=Scaling.PIXEL, norm=norm)
    u = q / norm.reshape(-1, 1, 1, 1)
    for ky in range(3):
        for kx in range(3):
            vals = u[:, :, ky, kx].abs()
            nz = vals[vals > 0]
            assert torch.allclose(nz, nz[0].expand_as(nz), rtol=1e-5)


def test_default_formats_are_unchanged() -> None:
    fmt = WeightFormat.from_choice(LayerChoice(w_bits=2))
    assert fmt.label == "ternary" and fmt.is_plain
    w, _ = _conv_weight(1)
    assert torch.equal(quantize_weight(w, fmt), ternarize(w))
    sparse = WeightFormat.from_choice(
        LayerChoice(w_bits=2, threshold=1.5, scaling=Scaling.LAYER, arith=Arith.SPARSE)
    )
    assert sparse.label == "ternary-t1.5-layer-qp"
    binary = WeightFormat.from_choice(LayerChoice(w_bits=1, threshold=3.0, scaling=Scaling.ROW))
    assert binary.label == "bipolar-row" and binary.kind is WeightKind.BIPOLAR
    assert WeightFormat.from_choice(LayerChoice(w_bits=4, scaling=Scaling.ROW)).label == "int4"


def _sparse_net(cnn: Workload, **kw: object) -> object:
    net = cnn.network
    inner = net.compute_layers[1:-1]
    return net.with_choices({la.name: replace(la.choice, **kw) for la in inner})  # type: ignore[arg-type]


def test_measured_density_is_what_fine_tuning_deploys(cnn: Workload) -> None:
    """Quantization pruning (thesis 3.2.3): the zero mask is fixed while fine-tuning, so
    the density measured before is the density of the fine-tuned weights."""
    ev = AccuracyEvaluator(cnn, finetune_steps=0)
    net = _sparse_net(cnn, w_bits=2, threshold=1.5, arith=Arith.SPARSE)
    measured = ev.densities(net)  # type: ignore[arg-type]
    assert set(measured) == {la.name for la in cnn.network.compute_layers[1:-1]}
    assert all(0.05 < d < 0.6 for d in measured.values()), measured
    model = ev.build_model(net)  # type: ignore[arg-type]
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    x = cnn.inputs("train")[:64]
    y = cnn.data["train"][1][:64]
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    tuned = model.quantized_weights()
    for name, d in measured.items():
        assert round(density(tuned[name][0]), 4) == d
    sparser = ev.densities(_sparse_net(cnn, w_bits=2, threshold=2.5, arith=Arith.SPARSE))  # type: ignore[arg-type]
    assert all(sparser[n] < measured[n] for n in measured)


def test_syq_scales_are_learned(cnn: Workload) -> None:
    """SYQ eq. 5.10: each group's scale gets the sum of its weights' gradients."""
    ev = AccuracyEvaluator(cnn, finetune_steps=0)
    model = ev.build_model(_sparse_net(cnn, w_bits=1, scaling=Scaling.PIXEL))  # type: ignore[arg-type]
    x = cnn.inputs("train")[:32]
    y = cnn.data["train"][1][:32]
    torch.nn.functional.cross_entropy(model(x), y).backward()
    scales = dict(model.syq_scale.items())
    assert scales and all(p.shape == (9,) for k, p in scales.items() if k.startswith("conv"))
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in scales.values())
