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

from costmodels.network import INPUT
from costmodels.pruning import ChannelLayout, PruneGraph
from costmodels.types import Op, Scaling
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
from dse.nn.sparse_syq import (
    NORM_FLOOR,
    group_index,
    group_scales,
    quantize_scaled,
    signs,
    ternary_mask,
)
from dse.nn.trace import FloatAct, TracedLayer, TracedModel


def _norm_of(w: Tensor, norm: Tensor | None) -> Tensor:
    """The per-channel normaliser of `w` as a broadcastable tensor (ones without one)."""
    shape = (-1,) + (1,) * (w.dim() - 1)
    if norm is None:
        return torch.ones(w.shape[0], dtype=w.dtype).reshape(shape)
    return norm.abs().to(w.dtype).clamp(min=NORM_FLOOR).reshape(shape)


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


Plan = dict[str, tuple[tuple[int, ...] | None, tuple[int, ...] | None]]


@dataclass(frozen=True)
class Step:
    """One layer of a built network (weights already pruned; for inference also quantized
    and rescaled to the code domain). `inputs` name the values it reads (INPUT: the
    network input); `fact` is the float clamp applied where no quantizer is."""

    name: str
    op: Op
    inputs: tuple[str, ...] = (INPUT,)
    weight: Tensor | None = None
    bias: Tensor | None = None
    stride: int = 1
    padding: int = 0
    groups: int = 1
    act: ActQuant | None = None
    fact: FloatAct | None = None
    kernel: int = 1
    fmt: WeightFormat | None = None


def layout_indices(
    layout: ChannelLayout, kept: dict[int, tuple[int, ...]]
) -> tuple[int, ...] | None:
    """The kept channel indices of a tensor with this layout (None: all are kept)."""
    if not any(g in kept for g, _ in layout.segments):
        return None
    out: list[int] = []
    offset = 0
    for g, n in layout.segments:
        idx = kept.get(g)
        out.extend(offset + i for i in (idx if idx is not None else range(n)))
        offset += n
    return tuple(out)


def channel_plan(traced: TracedModel, graph: PruneGraph, kept: dict[int, tuple[int, ...]]) -> Plan:
    """For each compute layer: (kept output indices, kept input indices) with `None` for
    "all", from the kept channels of each prune group (`kept`: group index -> indices).
    A layer's inputs lose what its input's producers pruned (through pooling, adds and
    concatenations; a dense layer after a feature map loses the channel's H*W inputs); a
    depthwise conv keeps exactly its input's channels; a grouped conv's input indices are
    global (see `sliced_weights`)."""
    plan: Plan = {}
    shapes = {INPUT: traced.input_shape, **{la.name: la.out_shape for la in traced.layers}}
    for layer in traced.layers:
        if not layer.op.is_compute:
            continue
        src = layer.inputs[0]
        in_idx = layout_indices(graph.layouts[src], kept)
        shape = shapes[src]
        depthwise = layer.op is Op.CONV and layer.groups > 1 and layer.groups == shape[0]
        if depthwise:
            plan[layer.name] = (in_idx, None)
            continue
        if in_idx is not None and layer.op is Op.DENSE and len(shape) == 3:
            hw = shape[1] * shape[2]
            in_idx = tuple(c * hw + j for c in in_idx for j in range(hw))
        out_idx = layout_indices(graph.layouts[layer.name], kept)
        plan[layer.name] = (out_idx, in_idx)
    return plan


def _slice(
    w: Tensor, b: Tensor, out_idx: tuple[int, ...] | None, in_idx: tuple[int, ...] | None,
    groups: int = 1,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    n_out = int(w.shape[0])
    rows = torch.tensor(out_idx, dtype=torch.long) if out_idx is not None else None
    if rows is not None:
        w, b = w.index_select(0, rows), b.index_select(0, rows)
    if in_idx is not None and groups > 1:
        # a grouped conv: each output row keeps the kept inputs of its own group, as local
        # indices (the kept inputs are balanced over the groups, so every row keeps as many)
        per_in = int(w.shape[1])
        per_out = n_out // groups
        kept_in = torch.tensor(in_idx, dtype=torch.long)
        orig_rows = rows if rows is not None else torch.arange(n_out)
        index = []
        for o in orig_rows.tolist():
            g = o // per_out
            local = kept_in[(kept_in >= g * per_in) & (kept_in < (g + 1) * per_in)] - g * per_in
            index.append(local)
        idx = torch.stack(index)  # [out', kept_per_group]
        full = idx.view(idx.shape[0], idx.shape[1], *([1] * (w.dim() - 2))).expand(
            -1, -1, *w.shape[2:]
        )
        w = torch.gather(w, 1, full)
    elif in_idx is not None:
        w = w.index_select(1, torch.tensor(in_idx, dtype=torch.long))
    return w.contiguous(), b.contiguous()


def sliced_weights(
    folded: dict[str, tuple[Tensor, Tensor]],
    plan: Plan,
    in_means: dict[str, Tensor] | None = None,
    groups: dict[str, int] | None = None,
) -> dict[str, tuple[Tensor, Tensor]]:
    """The folded float weights of the smaller (pruned) network.

    With `in_means` (each layer's mean input per channel/feature on calibration data), the
    average contribution of the removed input channels is added to the layer's bias
    (mean-activation compensation: the removed channel is replaced by its mean instead of
    by zero; this project's choice, it lets post-training evaluation of pruned candidates
    start near the fine-tuned result - see benchmarks/accuracy_fidelity.py). Grouped convs
    are sliced per group and not compensated.
    """
    out = {}
    for name, (out_idx, in_idx) in plan.items():
        w, b = folded[name]
        g = (groups or {}).get(name, 1)
        if in_idx is not None and in_means is not None and name in in_means and g == 1:
            keep = torch.zeros(w.shape[1], dtype=torch.bool)
            keep[list(in_idx)] = True
            mean = in_means[name].to(w.dtype) * (~keep).to(w.dtype)
            wsum = w.sum(dim=(2, 3)) if w.dim() == 4 else w
            b = b + wsum @ mean
        out[name] = _slice(w, b, out_idx, in_idx, g)
    return out


def _readers(steps: list[Step] | list[TracedLayer]) -> dict[str, int]:
    count: dict[str, int] = {}
    for st in steps:
        for name in st.inputs:
            count[name] = count.get(name, 0) + 1
    return count


def run_codes(
    steps: list[Step], x: Tensor, scale: float, device: torch.device | None = None
) -> Tensor:
    """Run built inference steps on input codes `x` (step `scale`); returns float logits.
    Values are kept only while a later step still reads them; weights are moved to
    `device` (x's device by default)."""
    dev = device or x.device
    vals: dict[str, tuple[Tensor, float]] = {INPUT: (x, scale)}
    left = _readers(steps)
    out = x
    for st in steps:
        args = [vals[n] for n in st.inputs]
        for n in st.inputs:
            left[n] -= 1
            if left[n] == 0:
                del vals[n]
        x, scale = args[0]
        if st.op is Op.CONV:
            w, b = _on(st.weight, dev), _on(st.bias, dev)
            x = F.conv2d(x, w, b, st.stride, st.padding, 1, st.groups)
        elif st.op is Op.DENSE:
            if x.dim() > 2:
                x = x.flatten(1)
            x = F.linear(x, _on(st.weight, dev), _on(st.bias, dev))
        elif st.op is Op.MAXPOOL:
            x = F.max_pool2d(x, st.kernel, st.stride, st.padding)
        elif st.op is Op.AVGPOOL:
            x = F.avg_pool2d(x, st.kernel, st.stride, st.padding)
        elif st.op is Op.ADD:  # in the real-valued domain
            (a, sa), (b, sb) = args
            x, scale = a * sa + b * sb, 1.0
        else:  # concat: codes when the scales agree, else real values
            if all(s == scale for _, s in args):
                x = torch.cat([a for a, _ in args], dim=1)
            else:
                x, scale = torch.cat([a * s for a, s in args], dim=1), 1.0
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
                if st.fact is not None:
                    x = st.fact(x)
                scale = 1.0
        elif st.fact is not None and st.op in (Op.ADD, Op.CONCAT):
            if scale != 1.0:
                x, scale = x * scale, 1.0
            x = st.fact(x)
        if left.get(st.name, 0):
            vals[st.name] = (x, scale)
        out = x if scale == 1.0 else x * scale
    return out


def _on(t: Tensor | None, device: torch.device) -> Tensor:
    assert t is not None  # compute steps always carry weights
    return t if t.device == device else t.to(device)


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
        name=layer.name, op=layer.op, inputs=layer.inputs, weight=w.contiguous(),
        bias=b.contiguous(), stride=layer.stride or 1, padding=layer.padding,
        groups=_groups(layer, w), act=act, fact=layer.act,
    )  # fmt: skip


def _groups(layer: TracedLayer, w: Tensor) -> int:
    """A conv's groups for its (possibly pruned) weight: a depthwise conv keeps one group
    per remaining channel."""
    if layer.groups > 1 and layer.groups == layer.in_shape[0] == layer.out_shape[0]:
        return int(w.shape[0])
    return layer.groups


def other_step(layer: TracedLayer) -> Step:
    """A pooling, add or concat layer."""
    return Step(
        name=layer.name, op=layer.op, inputs=layer.inputs, kernel=layer.kernel,
        stride=layer.stride or layer.kernel, padding=layer.padding, fact=layer.act,
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
        norms: dict[str, Tensor | None] | None = None,
    ) -> None:
        super().__init__()
        self.layers = list(traced.layers)
        self.readers = _readers(self.layers)
        self.fmts = fmts
        self.acts = dict(acts)
        # LQ-Nets bases, refitted during fine-tuning (not by gradients: LQ-Nets Alg. 1)
        self.lq_basis: dict[str, Tensor] = dict(lq_basis or {})
        self.weight = nn.ParameterDict()
        self.bias = nn.ParameterDict()
        self.rccm_lambda: dict[str, Tensor] = {}
        # SYQ (non-default binary/ternary formats): learned group scales, fixed zero masks
        self.syq_scale = nn.ParameterDict()
        self.syq: dict[str, tuple[Tensor | None, Tensor | None]] = {}  # norm, fixed mask
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
            elif fmt.kind in (WeightKind.BIPOLAR, WeightKind.TERNARY) and not fmt.is_plain:
                self._init_syq(name, w, fmt, (norms or {}).get(name))

    def _init_syq(self, name: str, w: Tensor, fmt: WeightFormat, norm: Tensor | None) -> None:
        """Learned symmetric scales of a SYQ layer, initialised to the least-squares
        (mean-magnitude) value of each group (thesis 5.5.2), and the zero mask of the
        initial quantization kept fixed under quantization pruning (thesis 3.2.3)."""
        ternary = fmt.kind is WeightKind.TERNARY
        mask = None
        if ternary and fmt.fixed_mask:
            mask = ternary_mask(w, fmt.threshold, fmt.scaling, norm)
        self.syq[name] = (norm, mask)
        if fmt.scaling is not Scaling.CHANNEL:
            u = w / _norm_of(w, norm)
            m = (
                mask
                if mask is not None
                else (ternary_mask(w, fmt.threshold, fmt.scaling, norm) if ternary else None)
            )
            groups, n_groups = group_index(tuple(w.shape), fmt.scaling)
            alpha = group_scales(u, signs(u, m), groups, n_groups)
            self.syq_scale[self._key(name)] = nn.Parameter(alpha)

    def _syq_weight(self, name: str, w: Tensor) -> Tensor:
        """Q = n * alpha_g * s with a straight-through sign (dQ/dw = alpha_g, SYQ eq. 5.11)
        and learned alpha (dE/dalpha_g = sum over the group, eq. 5.10); channel scaling
        keeps its per-channel least-squares scales, recomputed every step."""
        fmt = self.fmts[name]
        norm, mask = self.syq[name]
        ternary = fmt.kind is WeightKind.TERNARY
        if fmt.scaling is Scaling.CHANNEL:
            with torch.no_grad():
                q = quantize_scaled(
                    w, ternary=ternary, threshold=fmt.threshold, scaling=fmt.scaling,
                    norm=norm, mask=mask,
                )  # fmt: skip
            return w + (q - w).detach()
        n = _norm_of(w, norm)
        u = w / n
        with torch.no_grad():
            m = mask
            if ternary and m is None:
                m = ternary_mask(w, fmt.threshold, fmt.scaling, norm)
            s = signs(u, m if ternary else None)
        s_ste = u + (s - u).detach()
        groups, _ = group_index(tuple(w.shape), fmt.scaling)
        return n * self.syq_scale[self._key(name)][groups] * s_ste

    @staticmethod
    def _key(name: str) -> str:
        return name.replace(".", "__")

    def quantized_weight(self, name: str) -> Tensor:
        w = self.weight[self._key(name)]
        fmt = self.fmts[name]
        if name in self.syq:
            return self._syq_weight(name, w)
        with torch.no_grad():
            if fmt.kind is WeightKind.RCCM:
                assert fmt.arith is not None
                q = quantize_rccm(w, fmt.arith, self.rccm_lambda[name].to(w.device))
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
        vals: dict[str, Tensor] = {INPUT: x}
        left = dict(self.readers)
        for layer in self.layers:
            args = [vals[n] for n in layer.inputs]
            for n in layer.inputs:
                left[n] -= 1
                if left[n] == 0:
                    del vals[n]
            x = args[0]
            if layer.op.is_compute:
                w = self.quantized_weight(layer.name)
                b = self.bias[self._key(layer.name)]
                if layer.op is Op.CONV:
                    g = _groups(layer, w)
                    x = F.conv2d(x, w, b, layer.stride or 1, layer.padding, 1, g)
                else:
                    x = F.linear(x.flatten(1) if x.dim() > 2 else x, w, b)
                act = self.acts[layer.name]
                if act is not None and act.basis is not None and self.training:
                    act = self._update_act_basis(layer.name, act, x.detach())
                if act is not None:
                    x = fake_quant_act(x, act)
                elif layer.act is not None:
                    x = layer.act(x)
            elif layer.op is Op.MAXPOOL:
                x = F.max_pool2d(x, layer.kernel, layer.stride or layer.kernel, layer.padding)
            elif layer.op is Op.AVGPOOL:
                x = F.avg_pool2d(x, layer.kernel, layer.stride or layer.kernel, layer.padding)
            elif layer.op is Op.ADD:
                x = args[0] + args[1]
            else:
                x = torch.cat(args, dim=1)
            if (
                not layer.op.is_compute
                and layer.act is not None
                and layer.op in (Op.ADD, Op.CONCAT)
            ):
                x = layer.act(x)
            if left.get(layer.name, 0):
                vals[layer.name] = x
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
