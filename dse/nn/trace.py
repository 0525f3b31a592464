"""One layer list for both worlds: trace a torch model into the hardware `Network` and into
the layer program the quantized evaluation runs.

The model is traced with `torch.fx` and a sample input (shapes by `ShapeProp`). Conv2d and
Linear become `conv`/`dense` layers named like their modules; a BatchNorm right after one
is folded into it (TwinDNN eq. 3) and a ReLU right after is part of its activation
quantizer; MaxPool2d/AvgPool2d (and a square AdaptiveAvgPool2d to 1x1) become pooling
layers; `dse.nn.models.Add` or `a + b` becomes an `add` layer. Flatten, Dropout and
Identity vanish (a dense layer flattens its input). The layers must form a chain (each
consumes the previous one's output), residual adds aside; anything else is a one-line
`WorkloadError`.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx
from torch import Tensor, nn
from torch.fx.passes.shape_prop import ShapeProp

from costmodels.errors import WorkloadError
from costmodels.types import LayerChoice, LayerSpec, Network, Op
from dse.nn.models import Add

_IDENTITY_MODULES = (nn.Identity, nn.Dropout, nn.Flatten)
_RELU_FUNCS = (torch.relu, torch.nn.functional.relu)
_FLATTEN_FUNCS = (torch.flatten,)
_ADD_FUNCS = (operator.add, torch.add, operator.iadd)
_RESHAPE_METHODS = ("view", "reshape", "flatten", "contiguous")


@dataclass
class TracedLayer:
    """One layer of the traced program (mutable while tracing, then left alone)."""

    name: str
    op: Op
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    module: nn.Module | None = None  # Conv2d / Linear
    bn: nn.Module | None = None
    relu: bool = False
    kernel: int = 1
    stride: int | None = None
    padding: int = 0
    groups: int = 1
    source: str | None = None
    users: int = 0  # how many later layers read this output besides the next one


@dataclass
class TracedModel:
    """The traced layer program of a model, in execution order."""

    input_shape: tuple[int, ...]
    layers: list[TracedLayer] = field(default_factory=list)

    def layer(self, name: str) -> TracedLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def compute_layers(self) -> list[TracedLayer]:
        return [layer for layer in self.layers if layer.op.is_compute]


def _pair(v: Any, what: str, name: str) -> int:
    if isinstance(v, (tuple, list)):
        if len(set(v)) != 1:
            raise WorkloadError(f"layer {name!r}: non-square {what} {tuple(v)} is not supported")
        return int(v[0])
    return int(v)


def _shape(node: torch.fx.Node) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta")
    if meta is None or not hasattr(meta, "shape"):
        raise WorkloadError(f"cannot infer the shape of {node.name!r} while tracing the model")
    return tuple(int(d) for d in meta.shape[1:])


def trace_model(model: nn.Module, sample: Tensor) -> TracedModel:
    """Trace `model` on `sample` (a batch, at least 2 rows, so BatchNorm1d traces) into its
    layer program. Raises `WorkloadError` naming the first unsupported operation."""
    was_training = model.training
    model.eval()
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WorkloadError(f"cannot trace the model with torch.fx: {msg}") from None
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(sample)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WorkloadError(
            f"the model fails on a sample input of shape {list(sample.shape[1:])}: {msg}"
        ) from None
    finally:
        model.train(was_training)
    modules = dict(gm.named_modules())
    traced = TracedModel(input_shape=tuple(int(d) for d in sample.shape[1:]))
    # Which layer produced each fx node's value ("" = the network input).
    producer: dict[str, str] = {}
    head = ""  # the chain head: the layer whose output the next layer must consume
    by_name: dict[str, TracedLayer] = {}

    def add_layer(layer: TracedLayer, inp: torch.fx.Node) -> None:
        nonlocal head
        src = producer.get(inp.name)
        if src != head:
            raise WorkloadError(
                f"layer {layer.name!r} reads {src or 'the input'!r}, not the layer before it "
                f"({head or 'the input'!r}); only chains with residual adds are supported"
            )
        traced.layers.append(layer)
        by_name[layer.name] = layer
        head = layer.name

    def attach(node: torch.fx.Node, inp: torch.fx.Node, what: str) -> None:
        src = producer.get(inp.name, "")
        layer = by_name.get(src)
        if layer is None or src != head:
            raise WorkloadError(f"{what} {node.name!r} must directly follow a conv/dense layer")
        if what == "batch norm":
            if not layer.op.is_compute or layer.bn is not None or layer.relu:
                raise WorkloadError(
                    f"batch norm {node.name!r} must directly follow a conv/dense layer"
                )
            layer.bn = modules[str(node.target)]
        else:  # relu
            if layer.relu:
                pass  # relu(relu(x)) == relu(x)
            elif layer.op.is_compute or layer.op is Op.ADD:
                layer.relu = True
            elif layer.op is Op.MAXPOOL:
                # max-pool and ReLU commute: move the ReLU onto the compute layer before it.
                idx = traced.layers.index(layer)
                prev = traced.layers[idx - 1] if idx > 0 else None
                if prev is None or not prev.op.is_compute or prev.users:
                    raise WorkloadError(f"ReLU {node.name!r} must follow a conv/dense layer")
                prev.relu = True
            else:
                raise WorkloadError(f"ReLU {node.name!r} must follow a conv/dense layer")
        producer[node.name] = src

    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if producer:
                raise WorkloadError("models with more than one input are not supported")
            producer[node.name] = ""
            continue
        if node.op == "output":
            out = node.args[0]
            if not isinstance(out, torch.fx.Node) or producer.get(out.name) != head or not head:
                raise WorkloadError("the model must return one tensor: the last layer's output")
            continue
        if node.op == "get_attr":
            raise WorkloadError(f"unsupported use of a parameter {node.target!r} in forward()")
        inputs = [a for a in node.args if isinstance(a, torch.fx.Node)]
        if node.op == "call_module":
            mod = modules[str(node.target)]
            name = str(node.target)
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                is_conv = isinstance(mod, nn.Conv2d)
                layer = TracedLayer(
                    name=name,
                    op=Op.CONV if is_conv else Op.DENSE,
                    in_shape=_shape(inputs[0]),
                    out_shape=_shape(node),
                    module=mod,
                )
                if isinstance(mod, nn.Conv2d):
                    layer.kernel = _pair(mod.kernel_size, "kernel", name)
                    layer.stride = _pair(mod.stride, "stride", name)
                    if isinstance(mod.padding, str):
                        raise WorkloadError(
                            f"layer {name!r}: padding={mod.padding!r} is not supported; "
                            "use a number"
                        )
                    layer.padding = _pair(mod.padding, "padding", name)
                    layer.groups = int(mod.groups)
                    if _pair(mod.dilation, "dilation", name) != 1:
                        raise WorkloadError(
                            f"layer {name!r}: dilated convolutions are not supported"
                        )
                add_layer(layer, inputs[0])
                producer[node.name] = name
            elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                attach(node, inputs[0], "batch norm")
            elif isinstance(mod, nn.ReLU):
                attach(node, inputs[0], "ReLU")
            elif isinstance(mod, (nn.MaxPool2d, nn.AvgPool2d)):
                is_max = isinstance(mod, nn.MaxPool2d)
                if is_max and _pair(getattr(mod, "dilation", 1), "dilation", name) != 1:
                    raise WorkloadError(f"layer {name!r}: dilated pooling is not supported")
                if getattr(mod, "ceil_mode", False):
                    raise WorkloadError(f"layer {name!r}: ceil_mode pooling is not supported")
                k = _pair(mod.kernel_size, "kernel", name)
                s = _pair(mod.stride if mod.stride is not None else k, "stride", name)
                layer = TracedLayer(
                    name=name,
                    op=Op.MAXPOOL if is_max else Op.AVGPOOL,
                    in_shape=_shape(inputs[0]),
                    out_shape=_shape(node),
                    kernel=k,
                    stride=s,
                    padding=_pair(mod.padding, "padding", name),
                )
                add_layer(layer, inputs[0])
                producer[node.name] = name
            elif isinstance(mod, nn.AdaptiveAvgPool2d):
                in_shape, out_shape = _shape(inputs[0]), _shape(node)
                if out_shape[1:] != (1, 1) or in_shape[1] != in_shape[2]:
                    raise WorkloadError(
                        f"layer {name!r}: only square global average pooling is supported"
                    )
                layer = TracedLayer(
                    name, Op.AVGPOOL, in_shape, out_shape, kernel=in_shape[1], stride=in_shape[1]
                )
                add_layer(layer, inputs[0])
                producer[node.name] = name
            elif isinstance(mod, Add):
                _add(node, name, inputs, producer, by_name, traced, add_layer)
            elif isinstance(mod, _IDENTITY_MODULES):
                producer[node.name] = producer.get(inputs[0].name, "")
            else:
                raise WorkloadError(
                    f"unsupported layer {name!r} ({type(mod).__name__}); supported: Conv2d, "
                    "Linear, BatchNorm, ReLU, MaxPool2d, AvgPool2d, Flatten, Dropout, Add"
                )
        elif node.op == "call_function":
            if node.target in _RELU_FUNCS:
                attach(node, inputs[0], "ReLU")
            elif node.target in _FLATTEN_FUNCS:
                producer[node.name] = producer.get(inputs[0].name, "")
            elif node.target in _ADD_FUNCS and len(inputs) == 2:
                _add(node, node.name, inputs, producer, by_name, traced, add_layer)
            else:
                fname = getattr(node.target, "__name__", str(node.target))
                raise WorkloadError(f"unsupported operation {fname!r} in the model's forward()")
        elif node.op == "call_method":
            if node.target == "relu":
                attach(node, inputs[0], "ReLU")
            elif node.target in _RESHAPE_METHODS:
                producer[node.name] = producer.get(inputs[0].name, "")
            elif node.target == "add" and len(inputs) == 2:
                _add(node, node.name, inputs, producer, by_name, traced, add_layer)
            else:
                raise WorkloadError(f"unsupported method .{node.target}() in the model's forward()")
    if not traced.compute_layers:
        raise WorkloadError("the model has no Conv2d or Linear layer")
    _check_flatten(traced)
    return traced


def _add(
    node: torch.fx.Node,
    name: str,
    inputs: list[torch.fx.Node],
    producer: dict[str, str],
    by_name: dict[str, TracedLayer],
    traced: TracedModel,
    add_layer: Any,
) -> None:
    a, b = (producer.get(i.name, "") for i in inputs)
    head = traced.layers[-1].name if traced.layers else ""
    main, other = (inputs[0], b) if a == head else (inputs[1], a)
    if other == "" or other not in by_name:
        raise WorkloadError(f"add {name!r} must add two layer outputs (not the raw input)")
    by_name[other].users += 1
    layer = TracedLayer(name, Op.ADD, _shape(main), _shape(node), source=other)
    add_layer(layer, main)
    producer[node.name] = name


def _check_flatten(traced: TracedModel) -> None:
    prev: tuple[int, ...] = traced.input_shape
    for layer in traced.layers:
        if layer.op is Op.CONV and len(layer.in_shape) != 3:
            raise WorkloadError(f"layer {layer.name!r}: conv on a flattened input")
        if layer.op is Op.DENSE and len(layer.in_shape) != 1:
            raise WorkloadError(
                f"layer {layer.name!r}: Linear on a {len(layer.in_shape) + 1}-D tensor; "
                "flatten before it"
            )
        prev = layer.out_shape
    del prev


def default_choice(layer: TracedLayer, last: bool) -> LayerChoice:
    """The default design choice of a traced compute layer: 8-bit weights, 8-bit output
    activations (none for the classifier's logits), no folding, no pruning."""
    return LayerChoice(w_bits=8, a_bits=None if last else 8)


def to_network(traced: TracedModel, name: str, input_bits: int = 8) -> Network:
    """The hardware `Network` of a traced model, layer names equal to torch module names."""
    compute = traced.compute_layers
    specs: list[LayerSpec] = []
    for layer in traced.layers:
        if layer.op.is_compute:
            specs.append(
                LayerSpec(
                    name=layer.name,
                    op=layer.op,
                    out_channels=layer.out_shape[0],
                    kernel=layer.kernel,
                    stride=layer.stride if layer.op is Op.CONV else None,
                    padding=layer.padding,
                    groups=layer.groups,
                    choice=default_choice(layer, layer is compute[-1]),
                )
            )
        elif layer.op in (Op.MAXPOOL, Op.AVGPOOL):
            specs.append(
                LayerSpec(
                    layer.name,
                    layer.op,
                    kernel=layer.kernel,
                    stride=layer.stride,
                    padding=layer.padding,
                )
            )
        else:
            specs.append(LayerSpec(layer.name, Op.ADD, source=layer.source))
    return Network(
        name=name, input_shape=traced.input_shape, input_bits=input_bits, layers=tuple(specs)
    )
