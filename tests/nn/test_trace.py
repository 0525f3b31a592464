"""One layer list for both worlds: traced networks, names, shapes and pruning agreement."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import Tensor, nn

from costmodels.errors import WorkloadError
from costmodels.network import resolve
from costmodels.types import LayerChoice, Op
from dse.nn import AccuracyEvaluator, Add, Workload
from dse.nn.trace import to_network, trace_model


def test_cnn_network_uses_torch_module_names(cnn: Workload) -> None:
    net = cnn.network
    torch_names = {n for n, m in cnn.model.named_modules()
                   if isinstance(m, (nn.Conv2d, nn.Linear, nn.MaxPool2d))}  # fmt: skip
    assert [layer.name for layer in net.layers] == [
        "conv1", "conv2", "pool1", "conv3", "conv4", "pool2", "fc1", "fc2"
    ]  # fmt: skip
    assert {layer.name for layer in net.layers} == torch_names
    assert net.input_shape == (1, 8, 8)
    for layer in net.compute_layers:
        assert layer.choice is not None and layer.choice.w_bits == 8
        assert layer.choice.pe == layer.choice.simd == 1
    assert net.compute_layers[-1].choice == LayerChoice(w_bits=8, a_bits=None)
    shapes = [r.out_shape for r in resolve(net)]
    assert shapes == [(16, 8, 8), (16, 8, 8), (16, 4, 4), (32, 4, 4), (32, 4, 4), (32, 2, 2),
                      (64,), (10,)]  # fmt: skip


def test_bn_and_relu_are_attached_not_layers(mlp: Workload) -> None:
    assert [layer.name for layer in mlp.network.layers] == ["fc1", "fc2", "fc3", "fc4"]
    traced = mlp.traced
    assert [(lay.bn is not None, lay.relu) for lay in traced.layers] == [
        (True, True), (True, True), (True, True), (False, False)
    ]  # fmt: skip


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, padding=1)
        self.add = Add()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.a(x))
        x = self.add(self.b(x), x).relu()
        out: Tensor = self.fc(torch.flatten(self.gap(x), 1))
        return out


def test_residual_add_and_global_pool_trace() -> None:
    traced = trace_model(_Residual(), torch.randn(2, 1, 6, 6))
    net = to_network(traced, "res")
    assert [(la.name, la.op) for la in net.layers] == [
        ("a", Op.CONV), ("b", Op.CONV), ("add", Op.ADD), ("gap", Op.AVGPOOL), ("fc", Op.DENSE)
    ]  # fmt: skip
    assert net.layers[2].source == "a"
    assert resolve(net)[-2].out_shape == (4, 1, 1)


class _Sigmoid(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.fc(x))


class _Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.b(x) * self.a(x)
        return out


@pytest.mark.parametrize(("model", "words"), [(_Sigmoid(), "sigmoid"), (_Branchy(), "mul")])
def test_unsupported_models_are_one_line_workload_errors(model: nn.Module, words: str) -> None:
    with pytest.raises(WorkloadError) as info:
        trace_model(model, torch.randn(2, 4))
    assert words in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("ratios", [(0.25, 0.5, 0.5, 0.0, 0.75), (0.5, 0.0, 0.3, 0.7, 0.1)])
def test_pruned_torch_shapes_equal_resolve(cnn: Workload, ratios: tuple[float, ...]) -> None:
    net = cnn.network
    choices = {}
    for layer, ratio in zip(net.compute_layers[:-1], ratios, strict=True):
        assert layer.choice is not None
        pe = 2 if layer.out_channels % 2 == 0 else 1
        choices[layer.name] = replace(layer.choice, prune=ratio, pe=pe)
    net = net.with_choices(choices)
    model = AccuracyEvaluator(cnn, finetune_steps=0).build_model(net)
    resolved = {r.name: r for r in resolve(net)}
    shapes: dict[str, tuple[int, ...]] = {}
    for r in resolved.values():
        if r.op is Op.CONV:
            w = model.weight[r.name]
            assert tuple(w.shape) == (r.out_channels, r.in_channels, r.spec.kernel, r.spec.kernel)
            shapes[r.name] = tuple(w.shape)
        elif r.op is Op.DENSE:
            assert tuple(model.weight[r.name].shape) == (r.out_channels, r.mw)
    # the next layer lost the pruned inputs: a real smaller network
    assert shapes["conv2"][1] == resolved["conv1"].out_channels < 16
    with torch.no_grad():
        out = model(cnn.inputs("val")[:5])
    assert tuple(out.shape) == (5, 10)
