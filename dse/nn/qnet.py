"""The quantized, pruned network as something torch can run: a fast integer-domain
inference path (post-training quantization) and a trainable fake-quantized module
(quantization-aware fine-tuning with the straight-through estimator).

Inference works on activation *codes* as the hardware does: a compute layer with input
codes x (step s_in) and output step s_out computes floor(conv(x, Q(W) * s_in / s_out) +
b / s_out + 1/2), clamped to the code range (thesis eq. 4.4/6.5 with the scales folded into
the weights, FINN's thresholding in arithmetic form), so a layer costs one conv plus two
in-place element-wise ops: no more than conv + batch norm + ReLU in the float model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from costmodels.errors import SpecError
from costmodels.types import Op
from dse.nn.lq import ACT_MOMENTUM, channel_scale, qem_step, quantize_weight_lq
from dse.nn.quant import (
    WeightFormat,
    WeightKind,
    act_range,
    act_step,
    quantize_rccm,
    quantize_weight,
    rccm_scale,
)
from dse.nn.trace import TracedLayer, TracedModel


@dataclass(frozen=True)
class LayerQuant:
    """Accuracy-relevant configuration of one compute layer (what the cache key hashes)."""

    name: str
    fmt: WeightFormat
    a_bits: int | None
    kept: int
    a_lq: bool = False  # LQ-Nets activation codes (dse.nn.lq) instead of uniform steps


@dataclass(frozen=True)
class ActQuant:
    """A calibrated activation quantizer: k bits, signed or not, clipping range; or, with
    `basis`, LQ-Nets codes (b in {0, 1}^K unsigned, thesis Fig. 4.1; {-1, 1}^K signed)
    times that basis, whose values the inference path carries as they are (scale 1)."""

    bits: int
    signed: bool
    clip: float
    basis: tuple[float, ...] | None = None

    @property
    def step(self) -> float:
        if self.basis is not None:
            return 1.0
        return act_step(self.clip, self.bits, self.signed)

    def lq_levels(self) -> Tensor:
        """The sorted LQ levels (float32) of an LQ activation quantizer."""
        assert self.basis is not None
        from dse.nn.lq import levels

        basis = torch.tensor(self.basis, dtype=torch.float64)
        return torch.sort(levels(basis, self.signed)).values.to(torch.float32)

    @property
    def code_range(self) -> tuple[float, float]:
        return act_range(self.bits, self.signed)


@dataclass(frozen=True)
class Step:
    """One layer of a built network (weights already pruned; for inference also quantized
    and rescaled to the code domain)."""

    name: str
    op: Op
    weight: Tensor | None = None
    bias: Tensor | None = None
    stride: int = 1
    padding: int = 0
    groups: int = 1
    act: ActQuant | None = None
    relu: bool = False
    kernel: int = 1
    source: str | None = None
    keep_output: bool = False  # a later add reads this layer's output
    fmt: WeightFormat | None = None


def channel_plan(
    traced: TracedModel, kept: dict[str, tuple[int, ...] | None]
) -> dict[str, tuple[tuple[int, ...] | None, tuple[int, ...] | None]]:
    """For each compute layer: (kept output indices, kept input indices) with `None` for
    "all". Pruned outputs of a layer remove the matching inputs of the next compute layer
    (through pooling; a dense layer after a feature map loses the channel's H*W inputs)."""
    plan: dict[str, tuple[tuple[int, ...] | None, tuple[int, ...] | None]] = {}
    current: tuple[int, ...] | None = None
    shape: tuple[int, ...] = traced.input_shape
    by_name = {layer.name: layer for layer in traced.layers}
    pruned_sources: set[str] = set()
    for layer in traced.layers:
        if layer.op.is_compute:
            in_idx = current
            if in_idx is not None and layer.op is Op.DENSE and len(shape) == 3:
                hw = shape[1] * shape[2]
                in_idx = tuple(c * hw + j for c in in_idx for j in range(hw))
            if in_idx is not None and layer.groups != 1:
                raise SpecError(
                    f"layer {layer.name!r}: a grouped conv cannot follow a pruned layer"
                )
            out_idx = kept.get(layer.name)
            if out_idx is not None and layer.groups != 1:
                raise SpecError(f"layer {layer.name!r}: a grouped conv cannot be pruned")
            if out_idx is not None and layer.users:
                raise SpecError(f"layer {layer.name!r} feeds a residual add and cannot be pruned")
            plan[layer.name] = (out_idx, in_idx)
            current = out_idx
            if out_idx is not None:
                pruned_sources.add(layer.name)
        elif layer.op is Op.ADD:
            src = by_name[layer.source or ""]
            if current is not None:
                raise SpecError(
                    f"add {layer.name!r}: its input was pruned; pruning before a residual add is "
                    "not supported"
                )
            del src
        shape = layer.out_shape
    return plan


def _slice(
    w: Tensor, b: Tensor, out_idx: tuple[int, ...] | None, in_idx: tuple[int, ...] | None
) -> tuple[Tensor, Tensor]:
    if out_idx is not None:
        oi = torch.tensor(out_idx, dtype=torch.long)
        w, b = w.index_select(0, oi), b.index_select(0, oi)
    if in_idx is not None:
        w = w.index_select(1, torch.tensor(in_idx, dtype=torch.long))
    return w.contiguous(), b.contiguous()


def sliced_weights(
    folded: dict[str, tuple[Tensor, Tensor]],
    plan: dict[str, tuple[tuple[int, ...] | None, tuple[int, ...] | None]],
    in_means: dict[str, Tensor] | None = None,
) -> dict[str, tuple[Tensor, Tensor]]:
    """The folded float weights of the smaller (pruned) network.

    With `in_means` (each layer's mean input per channel/feature on calibration data), the
    average contribution of the removed input channels is added to the layer's bias
    (mean-activation compensation: the removed channel is replaced by its mean instead of
    by zero; this project's choice, it lets post-training evaluation of pruned candidates
    start near the fine-tuned result - see benchmarks/accuracy_fidelity.py).
    """
    out = {}
    for name, (out_idx, in_idx) in plan.items():
        w, b = folded[name]
        if in_idx is not None and in_means is not None and name in in_means:
            keep = torch.zeros(w.shape[1], dtype=torch.bool)
            keep[list(in_idx)] = True
            mean = in_means[name].to(w.dtype) * (~keep).to(w.dtype)
            wsum = w.sum(dim=(2, 3)) if w.dim() == 4 else w
            b = b + wsum @ mean
        out[name] = _slice(w, b, out_idx, in_idx)
    return out


def run_codes(steps: list[Step], x: Tensor, scale: float) -> Tensor:
    """Run built inference steps on input codes `x` (step `scale`); returns float logits."""
    saved: dict[str, tuple[Tensor, float]] = {}
    for st in steps:
        if st.op is Op.CONV:
            x = F.conv2d(x, st.weight, st.bias, st.stride, st.padding, 1, st.groups)  # type: ignore[arg-type]
        elif st.op is Op.DENSE:
            if x.dim() > 2:
                x = x.flatten(1)
            x = F.linear(x, st.weight, st.bias)  # type: ignore[arg-type]
        elif st.op is Op.MAXPOOL:
            x = F.max_pool2d(x, st.kernel, st.stride, st.padding)
        elif st.op is Op.AVGPOOL:
            x = F.avg_pool2d(x, st.kernel, st.stride, st.padding)
        else:  # add, in the real-valued domain
            other, other_scale = saved[st.source or ""]
            x = x * scale + other * other_scale
            scale = 1.0
            if st.relu:
                x = torch.relu(x)
        if st.op.is_compute:
            if st.act is not None and st.act.basis is not None:
                x = nearest_level(x, st.act.lq_levels())
                scale = 1.0
            elif st.act is not None:
                if st.act.signed and st.act.bits == 1:
                    x = torch.where(x >= 0, 1.0, -1.0)
                else:
                    lo, hi = st.act.code_range
                    x = x.floor_().clamp_(lo, hi)
                scale = st.act.step
            else:
                if st.relu:
                    x = x.relu_()
                scale = 1.0
        if st.keep_output:
            saved[st.name] = (x, scale)
    return x * scale if scale != 1.0 else x


def build_inference_step(
    layer: TracedLayer,
    q_weight: Tensor,
    bias: Tensor,
    act: ActQuant | None,
    in_scale: float,
) -> Step:
    """One compute layer in the code domain: weights Q(W) * s_in / s_out, bias b / s_out
    + 1/2 (the rounding offset of eq. 4.4), or plain Q(W) * s_in and b without an
    activation quantizer (1-bit signed: no offset, the sign is taken at 0)."""
    if act is None or act.basis is not None:  # raw or LQ: real-valued outputs
        w, b = q_weight * in_scale, bias
    else:
        s_out = act.step
        w = q_weight * (in_scale / s_out)
        b = bias / s_out + (0.0 if act.signed and act.bits == 1 else 0.5)
    return Step(
        name=layer.name, op=layer.op, weight=w.contiguous(), bias=b.contiguous(),
        stride=layer.stride or 1, padding=layer.padding, groups=layer.groups, act=act,
        relu=layer.relu, keep_output=layer.users > 0,
    )  # fmt: skip


def other_step(layer: TracedLayer) -> Step:
    """A pooling or add layer."""
    return Step(
        name=layer.name, op=layer.op, kernel=layer.kernel, stride=layer.stride or layer.kernel,
        padding=layer.padding, relu=layer.relu, source=layer.source, keep_output=layer.users > 0,
    )  # fmt: skip


# --------------------------------------------------------------------------- QAT


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: object, x: Tensor) -> Tensor:
        return torch.floor(x + 0.5)

    @staticmethod
    def backward(ctx: object, grad: Tensor) -> Tensor:
        return grad


def nearest_level(x: Tensor, lv: Tensor) -> Tensor:
    """Each element of `x` replaced by the nearest of the sorted levels `lv`."""
    mids = (lv[1:] + lv[:-1]) / 2
    return lv[torch.bucketize(x, mids)]


def fake_quant_act(x: Tensor, act: ActQuant) -> Tensor:
    """Activation fake-quantization with a clipped straight-through estimator (gradient 1
    inside the clipping range, 0 outside; thesis eq. 6.4); for LQ codes the range is the
    lowest to the highest level (LQ-Nets sec. 3.2)."""
    if act.basis is not None:
        lv = act.lq_levels()
        xc = torch.clamp(x, float(lv[0]), float(lv[-1]))
        return xc + (nearest_level(xc.detach(), lv) - xc).detach()
    s = act.step
    lo, hi = act.code_range
    if act.signed and act.bits == 1:
        xc = torch.clamp(x, -s, s)
        return xc + (torch.where(x >= 0, s, -s) - xc).detach()
    xc = torch.clamp(x, lo * s, hi * s)
    return torch.clamp(_RoundSTE.apply(xc / s), lo, hi) * s


class QatNet(nn.Module):
    """The pruned network with trainable float weights, fake-quantized in the forward pass
    with the straight-through estimator (thesis eq. 6.4: dL/dw = dL/dq)."""

    def __init__(
        self,
        traced: TracedModel,
        weights: dict[str, tuple[Tensor, Tensor]],
        fmts: dict[str, WeightFormat],
        acts: dict[str, ActQuant | None],
        rccm_lambda: dict[str, Tensor] | None = None,
        lq_basis: dict[str, Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.layers = list(traced.layers)
        self.fmts = fmts
        self.acts = dict(acts)
        # LQ-Nets bases, refitted during fine-tuning (not by gradients: LQ-Nets Alg. 1)
        self.lq_basis: dict[str, Tensor] = dict(lq_basis or {})
        self.weight = nn.ParameterDict()
        self.bias = nn.ParameterDict()
        self.rccm_lambda: dict[str, Tensor] = {}
        for name, (w, b) in weights.items():
            key = self._key(name)
            self.weight[key] = nn.Parameter(w.clone())
            self.bias[key] = nn.Parameter(b.clone())
            fmt = fmts[name]
            if fmt.kind is WeightKind.RCCM:
                assert fmt.arith is not None
                # lambda stays at its distribution-matched initial value during fine-tuning
                given = (rccm_lambda or {}).get(name)
                self.rccm_lambda[name] = given if given is not None else rccm_scale(w, fmt.arith)

    @staticmethod
    def _key(name: str) -> str:
        return name.replace(".", "__")

    def quantized_weight(self, name: str) -> Tensor:
        w = self.weight[self._key(name)]
        fmt = self.fmts[name]
        with torch.no_grad():
            if fmt.kind is WeightKind.RCCM:
                assert fmt.arith is not None
                q = quantize_rccm(w, fmt.arith, self.rccm_lambda[name])
            elif fmt.kind is WeightKind.LQ:
                basis = self.lq_basis[name]
                if self.training:  # one QEM step per iteration (LQ-Nets Algorithm 1)
                    norm = w / channel_scale(w).reshape((-1,) + (1,) * (w.dim() - 1))
                    basis = qem_step(_sample(norm), basis, signed=True)
                    self.lq_basis[name] = basis
                q = quantize_weight_lq(w, basis)
            else:
                q = quantize_weight(w, fmt)
        return w + (q - w).detach()

    def forward(self, x: Tensor) -> Tensor:
        saved: dict[str, Tensor] = {}
        for layer in self.layers:
            if layer.op.is_compute:
                w = self.quantized_weight(layer.name)
                b = self.bias[self._key(layer.name)]
                if layer.op is Op.CONV:
                    x = F.conv2d(x, w, b, layer.stride or 1, layer.padding, 1, layer.groups)
                else:
                    x = F.linear(x.flatten(1) if x.dim() > 2 else x, w, b)
                act = self.acts[layer.name]
                if act is not None and act.basis is not None and self.training:
                    act = self._update_act_basis(layer.name, act, x.detach())
                if act is not None:
                    x = fake_quant_act(x, act)
                elif layer.relu:
                    x = torch.relu(x)
            elif layer.op is Op.MAXPOOL:
                x = F.max_pool2d(x, layer.kernel, layer.stride or layer.kernel, layer.padding)
            elif layer.op is Op.AVGPOOL:
                x = F.avg_pool2d(x, layer.kernel, layer.stride or layer.kernel, layer.padding)
            else:
                x = x + saved[layer.source or ""]
                if layer.relu:
                    x = torch.relu(x)
            if layer.users:
                saved[layer.name] = x
        return x

    def _update_act_basis(self, name: str, act: ActQuant, x: Tensor) -> ActQuant:
        """LQ-Nets sec. 3.2: one QEM step on this batch's (ReLU'd) pre-activations, blended
        into the basis with a moving average (momentum ACT_MOMENTUM)."""
        target = x if act.signed else torch.relu(x)
        assert act.basis is not None
        old = torch.tensor(act.basis, dtype=torch.float64)
        new = qem_step(_sample(target), old, act.signed)
        blended = ACT_MOMENTUM * old + (1 - ACT_MOMENTUM) * new
        act = ActQuant(act.bits, act.signed, act.clip, tuple(float(v) for v in blended))
        self.acts[name] = act
        return act

    def quantized_weights(self) -> dict[str, tuple[Tensor, Tensor]]:
        """The quantized weights (exactly what the forward pass uses) and biases, per layer."""
        with torch.no_grad():
            return {
                layer.name: (
                    self.quantized_weight(layer.name).detach().clone(),
                    self.bias[self._key(layer.name)].detach().clone(),
                )
                for layer in self.layers
                if layer.op.is_compute
            }


#: Values of one tensor a fine-tuning QEM step sees (a seeded subsample beyond this).
QEM_SAMPLE = 8192


def _sample(x: Tensor) -> Tensor:
    flat = x.detach().reshape(-1)
    if flat.numel() <= QEM_SAMPLE:
        return flat
    gen = torch.Generator().manual_seed(flat.numel())
    return flat[torch.randint(flat.numel(), (QEM_SAMPLE,), generator=gen)]
