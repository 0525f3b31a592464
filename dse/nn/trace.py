"""One layer list for both worlds: trace a torch model into the hardware `Network` and into
the layer program the quantized evaluation runs.

The model is traced with `torch.fx` and a sample input (shapes by `ShapeProp`). Conv2d and
Linear (any `groups`, with or without bias) become `conv`/`dense` layers named like their
modules; a BatchNorm right after one is folded into it (TwinDNN eq. 3); an activation
right after one (or after an add/concat) is part of its output quantizer: `ReLU`, `ReLU6`
and `Hardtanh` are clamps (Brevitas' QuantReLU / QuantHardTanh: unsigned or signed
quantized activations), `Identity` and `Dropout` vanish. MaxPool2d/AvgPool2d (and
`AdaptiveAvgPool2d`, `x.mean((2, 3))` when they pool evenly) become pooling layers;
`a + b` (or `dse.nn.Add`) an `add`, `torch.cat(..., dim=1)` a `concat`. Flatten in its
usual spellings (`nn.Flatten`, `torch.flatten`, `x.flatten(1)`, `x.view(x.size(0), -1)`,
`x.reshape(N, -1)`, `squeeze`) vanishes: a dense layer flattens its input. The layers form
a graph in execution order (branches such as projection shortcuts read an earlier layer);
anything else is a one-line `WorkloadError` saying what to use instead.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx
import torch.nn.functional as F
from torch import Tensor, nn
from torch.fx.passes.shape_prop import ShapeProp

from costmodels.errors import WorkloadError
from costmodels.network import INPUT
from costmodels.types import LayerChoice, LayerSpec, Network, Op
from dse.nn.models import Add

SUPPORTED = (
    "Conv2d (any groups), Linear, BatchNorm1d/2d after them, ReLU, ReLU6, Hardtanh, Identity, "
    "Dropout, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten/view/reshape, "
    "a + b (or dse.nn.Add), torch.cat(dim=1)"
)

#: What to use instead of common unsupported layers.
INSTEAD: dict[str, str] = {
    "LeakyReLU": "ReLU (or Hardtanh for signed activations)",
    "PReLU": "ReLU (or Hardtanh for signed activations)",
    "GELU": "ReLU",
    "SiLU": "ReLU",
    "ELU": "ReLU",
    "Sigmoid": "Hardtanh (a clamp) or no activation",
    "Tanh": "Hardtanh (what Brevitas' QuantHardTanh quantizes)",
    "Hardswish": "ReLU6",
    "Hardsigmoid": "ReLU6",
    "Softmax": "nothing: return the logits (argmax is unchanged)",
    "LogSoftmax": "nothing: return the logits (argmax is unchanged)",
    "LayerNorm": "BatchNorm after a Conv2d/Linear (folded into it)",
    "GroupNorm": "BatchNorm after a Conv2d/Linear (folded into it)",
    "InstanceNorm2d": "BatchNorm after a Conv2d/Linear (folded into it)",
    "AdaptiveMaxPool2d": "MaxPool2d with the window that pools evenly",
    "Upsample": "a strided conv or pooling (no upsampling unit)",
    "ConvTranspose2d": "Conv2d",
    "Conv1d": "Conv2d on [N, C, 1, W] data",
    "MultiheadAttention": "Conv2d/Linear layers",
    "mul": "an add (no element-wise product unit)",
    "matmul": "Linear",
    "sigmoid": "Hardtanh (a clamp) or no activation",
    "tanh": "Hardtanh",
    "softmax": "nothing: return the logits",
    "log_softmax": "nothing: return the logits",
}


@dataclass(frozen=True)
class FloatAct:
    """A clamp activation `min(max(x, lo), hi)` (`None`: unbounded on that side): ReLU is
    (0, None), ReLU6 (0, 6), Hardtanh (min_val, max_val). Quantized, a clamp starting at 0
    is an unsigned quantizer, anything else a signed one (Brevitas QuantReLU /
    QuantHardTanh), with the clipping range capped at the clamp's bound."""

    lo: float | None = None
    hi: float | None = None

    def then(self, other: FloatAct) -> FloatAct:
        """This clamp followed by `other` (a clamp again)."""
        lo = (
            self.lo if other.lo is None else other.lo if self.lo is None else max(self.lo, other.lo)
        )
        hi = (
            self.hi if other.hi is None else other.hi if self.hi is None else min(self.hi, other.hi)
        )
        return FloatAct(lo, hi)

    @property
    def unsigned(self) -> bool:
        return self.lo is not None and self.lo >= 0.0

    @property
    def bound(self) -> float | None:
        """The largest |value| the clamp lets through, if bounded."""
        if self.hi is None or (self.lo is None and not self.unsigned):
            return None
        return max(abs(self.hi), abs(self.lo or 0.0))

    def __call__(self, x: Tensor) -> Tensor:
        if self.lo == 0.0 and self.hi is None:
            return torch.relu(x)
        return torch.clamp(x, self.lo, self.hi)


RELU = FloatAct(0.0, None)


@dataclass
class TracedLayer:
    """One layer of the traced program (mutable while tracing, then left alone)."""

    name: str
    op: Op
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    module: nn.Module | None = None  # Conv2d / Linear
    bn: nn.Module | None = None
    act: FloatAct | None = None
    kernel: int = 1
    stride: int | None = None
    padding: int = 0
    groups: int = 1
    inputs: tuple[str, ...] = ()  # the layers read (INPUT: the model input)
    users: int = 0  # how many layers read this output

    @property
    def relu(self) -> bool:
        """Whether the output is non-negative (an unsigned activation)."""
        return self.act is not None and self.act.unsigned

    @property
    def source(self) -> str | None:
        """An add's second operand (the residual branch)."""
        return self.inputs[1] if self.op is Op.ADD and len(self.inputs) > 1 else None


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


def _is_tensor(node: torch.fx.Node) -> bool:
    meta = node.meta.get("tensor_meta")
    return meta is not None and hasattr(meta, "shape")


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def check_accepts(model: nn.Module, sample: Tensor) -> None:
    """Run `model` once on `sample` (eval mode, no grad): a model that does not accept the
    data (shape, channels, dtype) is a one-line `WorkloadError` naming the module that
    failed and torch's reason, not a traceback."""
    entered: list[str] = []
    names = {id(m): n for n, m in model.named_modules()}
    hooks = [
        m.register_forward_pre_hook(lambda mod, _args: entered.append(names.get(id(mod), "")))
        for m in model.modules()
        if not list(m.children())
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(sample)
    except Exception as exc:
        where = f" in {entered[-1]!r}" if entered and entered[-1] else ""
        dtypes = {p.dtype for p in model.parameters()}
        hint = ""
        if dtypes and dtypes != {sample.dtype}:
            hint = (
                f" (the model's parameters are {sorted(map(str, dtypes))[0]}; call model.float())"
            )
        raise WorkloadError(
            f"the model does not accept the data (input {list(sample.shape[1:])}, "
            f"{str(sample.dtype).replace('torch.', '')}){where}: {_first_line(exc)}{hint}"
        ) from None
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)


class _Tracer:
    """Walks the fx graph once, building the layer program."""

    def __init__(self, gm: torch.fx.GraphModule, input_shape: tuple[int, ...]) -> None:
        self.modules = dict(gm.named_modules())
        self.traced = TracedModel(input_shape=input_shape)
        self.by_name: dict[str, TracedLayer] = {}
        # which layer produced each tensor node's value (INPUT = the model input)
        self.producer: dict[str, str] = {}
        # fx nodes whose value is a layer's raw output (before any folded BN/activation)
        self.raw: dict[str, torch.fx.Node] = {}

    # ----------------------------------------------------------------- helpers

    def src(self, node: torch.fx.Node) -> str:
        if node.name not in self.producer:
            raise WorkloadError(f"{node.name!r} is not a tensor the model's layers produced")
        return self.producer[node.name]

    def new_layer(
        self, node: torch.fx.Node, layer: TracedLayer, inputs: list[torch.fx.Node]
    ) -> None:
        if layer.name in self.by_name or layer.name == INPUT:
            layer.name = f"{layer.name}_{len(self.traced.layers)}"
        layer.inputs = tuple(self.src(i) for i in inputs)
        for name in layer.inputs:
            if name != INPUT:
                self.by_name[name].users += 1
        self.traced.layers.append(layer)
        self.by_name[layer.name] = layer
        self.producer[node.name] = layer.name
        self.raw[layer.name] = node

    def single_use(self, inp: torch.fx.Node) -> TracedLayer | None:
        """The layer whose output `inp` is, if nothing else reads that value."""
        name = self.producer.get(inp.name)
        if name is None or name == INPUT:
            return None
        layer = self.by_name[name]
        return layer if len(inp.users) == 1 else None

    def pass_through(self, node: torch.fx.Node, inp: torch.fx.Node) -> None:
        self.producer[node.name] = self.src(inp)

    # ----------------------------------------------------------------- attachments

    def batch_norm(self, node: torch.fx.Node, inp: torch.fx.Node, mod: nn.Module) -> None:
        layer = self.single_use(inp)
        if (
            layer is None
            or not layer.op.is_compute
            or layer.bn is not None
            or layer.act is not None
            or self.raw.get(layer.name) is not inp
        ):
            raise WorkloadError(
                f"batch norm {node.name!r} must directly follow a Conv2d/Linear whose output "
                "nothing else reads (it is folded into that layer)"
            )
        layer.bn = mod
        self.pass_through(node, inp)
        self.raw[layer.name] = node

    def activation(self, node: torch.fx.Node, inp: torch.fx.Node, act: FloatAct, what: str) -> None:
        name = self.producer.get(inp.name)
        layer = self.by_name.get(name or "")
        if layer is not None and layer.op is Op.MAXPOOL and len(inp.users) == 1:
            # max-pooling and a clamp commute: move the clamp onto the layer before it
            prev = self.by_name.get(layer.inputs[0])
            if (
                prev is not None
                and (prev.op.is_compute or prev.op in (Op.ADD, Op.CONCAT))
                and prev.users == 1
            ):
                prev.act = act if prev.act is None else prev.act.then(act)
                self.pass_through(node, inp)
                return
        if layer is not None and layer.act is not None and _implied(layer.act, act):
            self.pass_through(node, inp)  # e.g. relu(relu(x)): nothing to add
            return
        layer = self.single_use(inp)
        if layer is None or layer.op not in (Op.CONV, Op.DENSE, Op.ADD, Op.CONCAT):
            raise WorkloadError(
                f"{what} {node.name!r} must follow a Conv2d/Linear (after its BatchNorm), an "
                "add or a concat whose output nothing else reads"
            )
        layer.act = act if layer.act is None else layer.act.then(act)
        self.pass_through(node, inp)

    # ----------------------------------------------------------------- layers

    def conv_or_dense(
        self, node: torch.fx.Node, inp: torch.fx.Node, mod: nn.Module, name: str
    ) -> None:
        is_conv = isinstance(mod, nn.Conv2d)
        layer = TracedLayer(
            name=name,
            op=Op.CONV if is_conv else Op.DENSE,
            in_shape=_shape(inp),
            out_shape=_shape(node),
            module=mod,
        )
        if isinstance(mod, nn.Conv2d):
            layer.kernel = _pair(mod.kernel_size, "kernel", name)
            layer.stride = _pair(mod.stride, "stride", name)
            if isinstance(mod.padding, str):
                raise WorkloadError(
                    f"layer {name!r}: padding={mod.padding!r} is not supported; use a number"
                )
            if mod.padding_mode != "zeros":
                raise WorkloadError(
                    f"layer {name!r}: padding_mode={mod.padding_mode!r}; use 'zeros'"
                )
            layer.padding = _pair(mod.padding, "padding", name)
            layer.groups = int(mod.groups)
            if _pair(mod.dilation, "dilation", name) != 1:
                raise WorkloadError(f"layer {name!r}: dilated convolutions are not supported")
            if len(layer.in_shape) != 3:
                raise WorkloadError(f"layer {name!r}: conv on a flattened input")
        elif len(layer.in_shape) not in (1, 3):
            raise WorkloadError(
                f"layer {name!r}: Linear on a {len(layer.in_shape) + 1}-D tensor; flatten before it"
            )
        self.new_layer(node, layer, [inp])

    def pool(
        self, node: torch.fx.Node, inp: torch.fx.Node, name: str, is_max: bool,
        kernel: Any, stride: Any, padding: Any, ceil: bool = False, dilation: Any = 1,
    ) -> None:  # fmt: skip
        if _pair(dilation, "dilation", name) != 1:
            raise WorkloadError(f"layer {name!r}: dilated pooling is not supported")
        if ceil:
            raise WorkloadError(f"layer {name!r}: ceil_mode pooling is not supported")
        k = _pair(kernel, "kernel", name)
        s = _pair(stride if stride not in (None, []) else k, "stride", name)
        layer = TracedLayer(
            name=name, op=Op.MAXPOOL if is_max else Op.AVGPOOL, in_shape=_shape(inp),
            out_shape=_shape(node), kernel=k, stride=s, padding=_pair(padding, "padding", name),
        )  # fmt: skip
        if len(layer.in_shape) != 3:
            raise WorkloadError(f"layer {name!r}: pooling needs a [C, H, W] input")
        self.new_layer(node, layer, [inp])

    def global_pool(self, node: torch.fx.Node, inp: torch.fx.Node, name: str) -> None:
        """Average pooling to an evenly divided output (AdaptiveAvgPool2d, mean over H, W):
        kernel = stride = H / out."""
        in_shape, out_shape = _shape(inp), _shape(node)
        if len(in_shape) != 3:
            raise WorkloadError(f"layer {name!r}: pooling needs a [C, H, W] input")
        out_hw = out_shape[1:] if len(out_shape) == 3 else (1, 1)
        h, w = in_shape[1:]
        if h != w or out_hw[0] != out_hw[1] or h % out_hw[0]:
            raise WorkloadError(
                f"layer {name!r}: adaptive average pooling from {h}x{w} to "
                f"{out_hw[0]}x{out_hw[1]} does not pool evenly; use AvgPool2d"
            )
        k = h // out_hw[0]
        layer = TracedLayer(name, Op.AVGPOOL, in_shape, (in_shape[0], *out_hw), kernel=k, stride=k)
        self.new_layer(node, layer, [inp])

    def add(self, node: torch.fx.Node, a: torch.fx.Node, b: torch.fx.Node, name: str) -> None:
        if _shape(a) != _shape(b):
            raise WorkloadError(
                f"add {name!r}: operands {list(_shape(a))} and {list(_shape(b))} differ (no "
                "broadcasting)"
            )
        layer = TracedLayer(name, Op.ADD, _shape(a), _shape(node))
        # the operand computed later streams in first: it is the `previous` layer of the add
        order = {la.name: i for i, la in enumerate(self.traced.layers)}
        ins = sorted([a, b], key=lambda n: order.get(self.src(n), -1), reverse=True)
        self.new_layer(node, layer, ins)

    def concat(self, node: torch.fx.Node, parts: list[Any], dim: int, name: str) -> None:
        if not parts or not all(isinstance(p, torch.fx.Node) for p in parts):
            raise WorkloadError(f"concat {name!r}: torch.cat of a list of tensors only")
        shapes = [_shape(p) for p in parts]
        rank = len(shapes[0]) + 1
        if dim < 0:
            dim += rank
        if dim != 1 or rank != 4:
            raise WorkloadError(
                f"concat {name!r}: only channel concatenation of [N, C, H, W] tensors (dim=1) "
                "is supported"
            )
        if len(parts) == 1:
            self.pass_through(node, parts[0])
            return
        layer = TracedLayer(name, Op.CONCAT, _shape(node), _shape(node))
        self.new_layer(node, layer, parts)

    def reshape(self, node: torch.fx.Node, inp: torch.fx.Node, what: str) -> None:
        src, out = _shape(inp), _shape(node)
        if out == src or (len(out) == 1 and out[0] == math.prod(src)):
            self.pass_through(node, inp)
            return
        raise WorkloadError(
            f"{what} {node.name!r} reshapes {list(src)} to {list(out)}; only flattening "
            "(to [N, -1]) is supported"
        )

    # ----------------------------------------------------------------- dispatch

    def module(self, node: torch.fx.Node, inputs: list[torch.fx.Node]) -> None:
        mod = self.modules[str(node.target)]
        name = str(node.target)
        inp = inputs[0] if inputs else None
        if inp is None:
            raise WorkloadError(f"layer {name!r} has no tensor input")
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            self.conv_or_dense(node, inp, mod, name)
        elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            self.batch_norm(node, inp, mod)
        elif isinstance(mod, nn.ReLU):
            self.activation(node, inp, RELU, "ReLU")
        elif isinstance(mod, nn.ReLU6):
            self.activation(node, inp, FloatAct(0.0, 6.0), "ReLU6")
        elif isinstance(mod, nn.Hardtanh):
            self.activation(node, inp, FloatAct(float(mod.min_val), float(mod.max_val)), "Hardtanh")
        elif isinstance(mod, (nn.MaxPool2d, nn.AvgPool2d)):
            is_max = isinstance(mod, nn.MaxPool2d)
            if (
                not is_max
                and not getattr(mod, "count_include_pad", True)
                and _pair(mod.padding, "padding", name)
            ):
                raise WorkloadError(f"layer {name!r}: count_include_pad=False with padding")
            self.pool(
                node, inp, name, is_max, mod.kernel_size, mod.stride, mod.padding,
                bool(getattr(mod, "ceil_mode", False)), getattr(mod, "dilation", 1),
            )  # fmt: skip
        elif isinstance(mod, nn.AdaptiveAvgPool2d):
            self.global_pool(node, inp, name)
        elif isinstance(mod, Add):
            self.add(node, inputs[0], inputs[1], name)
        elif isinstance(mod, (nn.Identity, nn.Dropout, nn.Dropout2d, nn.AlphaDropout)):
            self.pass_through(node, inp)
        elif isinstance(mod, (nn.Flatten, nn.Unflatten)):
            self.reshape(node, inp, type(mod).__name__)
        else:
            self.refuse(type(mod).__name__, f"layer {name!r} ({type(mod).__name__})")

    def refuse(self, kind: str, what: str) -> None:
        instead = INSTEAD.get(kind) or INSTEAD.get(kind.rstrip("_"))
        hint = f"; use {instead} instead" if instead else f"; supported: {SUPPORTED}"
        raise WorkloadError(f"unsupported {what}{hint}")

    def function(self, node: torch.fx.Node, inputs: list[torch.fx.Node]) -> None:
        t = node.target
        fname = getattr(t, "__name__", str(t))
        kw = node.kwargs
        args = node.args
        if t in (torch.relu, F.relu, torch.relu_, F.relu_):
            self.activation(node, inputs[0], RELU, "ReLU")
        elif t is F.relu6:
            self.activation(node, inputs[0], FloatAct(0.0, 6.0), "ReLU6")
        elif t in (F.hardtanh, F.hardtanh_):
            lo = float(_arg(args, kw, 1, "min_val", -1.0))
            hi = float(_arg(args, kw, 2, "max_val", 1.0))
            self.activation(node, inputs[0], FloatAct(lo, hi), "Hardtanh")
        elif t in (torch.clamp, torch.clip):
            lo, hi = _arg(args, kw, 1, "min", None), _arg(args, kw, 2, "max", None)
            self.activation(node, inputs[0], _clamp(lo, hi, node.name), "clamp")
        elif t in (torch.flatten, torch.reshape, torch.squeeze):
            self.reshape(node, inputs[0], fname)
        elif t in (F.dropout, F.dropout2d, F.alpha_dropout):
            self.pass_through(node, inputs[0])
        elif t in (operator.add, torch.add, operator.iadd) and len(inputs) == 2:
            self.add(node, inputs[0], inputs[1], node.name)
        elif t in (torch.cat, torch.concat, getattr(torch, "concatenate", torch.cat)):
            self.concat(
                node,
                list(_arg(args, kw, 0, "tensors", [])),
                int(_arg(args, kw, 1, "dim", 0)),
                node.name,
            )
        elif t in (F.max_pool2d, F.avg_pool2d):
            is_max = t is F.max_pool2d
            k = _arg(args, kw, 1, "kernel_size", None)
            s = _arg(args, kw, 2, "stride", None)
            p = _arg(args, kw, 3, "padding", 0)
            ceil = _arg(args, kw, 5 if is_max else 4, "ceil_mode", False)
            dil = _arg(args, kw, 4, "dilation", 1) if is_max else 1
            self.pool(node, inputs[0], node.name, is_max, k, s, p, bool(ceil), dil)
        elif t is F.adaptive_avg_pool2d:
            self.global_pool(node, inputs[0], node.name)
        elif t is torch.mean:
            self.mean(node, inputs[0], _arg(args, kw, 1, "dim", None))
        else:
            self.refuse(fname, f"operation {fname!r} in the model's forward()")

    def method(self, node: torch.fx.Node, inputs: list[torch.fx.Node]) -> None:
        m = str(node.target)
        args, kw = node.args, node.kwargs
        if m in ("relu", "relu_"):
            self.activation(node, inputs[0], RELU, "ReLU")
        elif m in ("clamp", "clamp_", "clip"):
            lo, hi = _arg(args, kw, 1, "min", None), _arg(args, kw, 2, "max", None)
            self.activation(node, inputs[0], _clamp(lo, hi, node.name), "clamp")
        elif m in ("view", "reshape", "flatten", "squeeze"):
            self.reshape(node, inputs[0], f".{m}()")
        elif m in ("contiguous", "float", "clone", "detach"):
            self.pass_through(node, inputs[0])
        elif m in ("add", "add_") and len(inputs) == 2:
            self.add(node, inputs[0], inputs[1], node.name)
        elif m == "mean":
            self.mean(node, inputs[0], _arg(args, kw, 1, "dim", None))
        else:
            self.refuse(m, f"method .{m}() in the model's forward()")

    def mean(self, node: torch.fx.Node, inp: torch.fx.Node, dim: Any) -> None:
        dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
        rank = len(_shape(inp)) + 1
        if rank == 4 and sorted(d % 4 for d in dims if isinstance(d, int)) == [2, 3]:
            self.global_pool(node, inp, node.name)
        else:
            raise WorkloadError(
                f"mean {node.name!r}: only the mean over H and W of [N, C, H, W] (global "
                "average pooling) is supported"
            )


def _arg(args: tuple[Any, ...], kw: Any, pos: int, key: str, default: Any) -> Any:
    if key in kw:
        return kw[key]
    return args[pos] if len(args) > pos else default


def _clamp(lo: Any, hi: Any, name: str) -> FloatAct:
    if any(isinstance(v, torch.fx.Node) for v in (lo, hi)):
        raise WorkloadError(f"clamp {name!r}: bounds must be numbers")
    return FloatAct(None if lo is None else float(lo), None if hi is None else float(hi))


def _implied(have: FloatAct, new: FloatAct) -> bool:
    """Whether clamping by `new` after `have` changes nothing."""
    return have.then(new) == have


def trace_model(model: nn.Module, sample: Tensor) -> TracedModel:
    """Trace `model` on `sample` (a batch, at least 2 rows, so BatchNorm1d traces) into its
    layer program. Raises `WorkloadError` naming the first unsupported operation."""
    check_accepts(model, sample)
    was_training = model.training
    model.eval()
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as exc:
        raise WorkloadError(
            f"cannot trace the model with torch.fx (data-dependent control flow in forward()?): "
            f"{_first_line(exc)}"
        ) from None
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(sample)
    except Exception as exc:
        raise WorkloadError(
            f"the model fails on a sample input of shape {list(sample.shape[1:])}: "
            f"{_first_line(exc.__cause__ or exc)}"
        ) from None
    finally:
        model.train(was_training)
    tracer = _Tracer(gm, tuple(int(d) for d in sample.shape[1:]))
    out_node: torch.fx.Node | None = None
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if INPUT in tracer.producer.values():
                raise WorkloadError("models with more than one input are not supported")
            tracer.producer[node.name] = INPUT
            continue
        if node.op == "output":
            out = node.args[0]
            if not isinstance(out, torch.fx.Node) or out.name not in tracer.producer:
                raise WorkloadError("the model must return one tensor: the last layer's output")
            out_node = out
            continue
        if node.op == "get_attr":
            raise WorkloadError(f"unsupported use of a parameter {node.target!r} in forward()")
        if not _is_tensor(node):
            continue  # sizes and shapes (x.size(0), x.shape[0]): not part of the data path
        inputs = [
            a for a in node.args if isinstance(a, torch.fx.Node) and a.name in tracer.producer
        ]
        if node.op == "call_module":
            tracer.module(node, inputs)
        elif node.op == "call_function":
            tracer.function(node, inputs)
        elif node.op == "call_method":
            tracer.method(node, inputs)
    traced = tracer.traced
    if not traced.compute_layers:
        raise WorkloadError("the model has no Conv2d or Linear layer")
    assert out_node is not None
    last = tracer.producer[out_node.name]
    if last != traced.layers[-1].name:
        raise WorkloadError(f"the model must return its last layer's output, not {last!r}")
    for layer in traced.layers[:-1]:
        if layer.users == 0:
            raise WorkloadError(f"layer {layer.name!r}: its output is never used")
    return traced


def default_choice(layer: TracedLayer, last: bool) -> LayerChoice:
    """The default design choice of a traced compute layer: 8-bit weights, 8-bit output
    activations (none for the classifier's logits), no folding, no pruning."""
    return LayerChoice(w_bits=8, a_bits=None if last else 8)


def to_network(traced: TracedModel, name: str, input_bits: int = 8) -> Network:
    """The hardware `Network` of a traced model, layer names equal to torch module names.
    A layer reading something other than the layer before it gets `from`."""
    compute = traced.compute_layers
    specs: list[LayerSpec] = []
    prev = INPUT
    for layer in traced.layers:
        ins = layer.inputs
        source = ins[0] if len(ins) == 1 and ins[0] != prev else None
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
                    source=source,
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
                    source=source,
                )
            )
        elif layer.op is Op.ADD and ins[0] == prev:
            specs.append(LayerSpec(layer.name, Op.ADD, source=ins[1]))
        else:
            specs.append(LayerSpec(layer.name, layer.op, inputs=tuple(ins)))
        prev = layer.name
    return Network(
        name=name, input_shape=traced.input_shape, input_bits=input_bits, layers=tuple(specs)
    )
