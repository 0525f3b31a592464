"""Quantizers: batch-norm folding, weight formats (binary, ternary, k-bit, AddNet RCCM
coefficient sets), unsigned/signed activation quantization and the KL distribution report.

Every weight quantizer works per output channel (dimension 0) on weights into which the
batch norm is already folded. A per-channel scale is what the hardware realises anyway:
the scale of binary/ternary/RCCM weights is merged with the batch-norm factor into one
per-channel multiplier or threshold set after the accumulator (ELB-NN sec. V.B, "a total
scaling factor alpha*E"; FINN's thresholding unit), so folding BN first and then choosing a
scale per channel loses nothing that the per-layer scale of the seeds would keep.

Rounding is eq. 4.4/6.5 of the Faraone thesis, G(x) = floor(x * 2^f + 1/2) / 2^f, written
here as floor(x / s + 1/2) * s with step s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch
from torch import Tensor, nn

from costmodels.errors import SpecError
from costmodels.types import Arith, LayerChoice, Scaling, WType

# Thesis Table 6.2, "Optimized RCCM coefficients": the positive half of each symmetric set
# (the sets are +-these values; 15, 59 and 207 coefficients including one zero).
RCCM_COEFFICIENTS: dict[Arith, tuple[int, ...]] = {
    Arith.RCCM2: (0, 1, 2, 8, 28, 36, 44, 92),
    Arith.RCCM3: (
        0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13, 14, 16, 23, 29, 30, 32, 63, 69, 70, 72, 87,
        93, 94, 96, 119, 125, 126, 128,
    ),
    Arith.RCCM4: (
        0, 1, 2, 4, 5, 7, 8, 9, 11, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
        28, 29, 30, 31, 32, 33, 34, 36, 37, 38, 39, 40, 46, 48, 54, 58, 64, 69, 70, 71, 74,
        75, 76, 78, 80, 81, 82, 84, 85, 87, 94, 96, 102, 114, 118, 126, 134, 142, 150, 166,
        174, 182, 190, 194, 198, 206, 214, 222, 230, 238, 246, 258, 262, 270, 278, 286, 302,
        310, 318, 326, 334, 382, 398, 446, 450, 526, 566, 574, 582, 614, 622, 654, 662, 670,
        686, 694, 710, 766, 782, 830, 1214,
    ),
}  # fmt: skip

# Ternary threshold factor: w_thres = 0.7 * E(|w|) (ELB-NN sec. IV.A after eq. 2, from
# Li et al., "Ternary weight networks", ref. [8] there).
TERNARY_THRESHOLD = 0.7

# Grid of candidate scales for the RCCM sets and the activation clipping range: fractions of
# the largest magnitude, searched for the least squared error (thesis sec. 6.5.2 chooses the
# scale lambda_l "to minimize the quantization error"; the grid is this project's choice).
SCALE_GRID = 48
BN_EPS_DEFAULT = 1e-5


class WeightKind(str, Enum):
    BIPOLAR = "bipolar"
    TERNARY = "ternary"
    INT = "int"
    RCCM = "rccm"
    LQ = "lq"


@dataclass(frozen=True)
class WeightFormat:
    """How one layer's weights are quantized, derived from its `LayerChoice`.

    An RCCM arithmetic (`rccm2/3/4`) selects the coefficient-set quantizer whatever the
    bit-width; otherwise `w_type` (or its default for `w_bits`) selects binary, ternary,
    uniform symmetric k-bit or LQ-Nets codes with a learned basis (`dse.nn.lq`).
    """

    kind: WeightKind
    bits: int
    arith: Arith | None = None
    threshold: float = TERNARY_THRESHOLD
    scaling: Scaling = Scaling.CHANNEL
    fixed_mask: bool = False

    @classmethod
    def from_choice(cls, choice: LayerChoice) -> WeightFormat:
        """Binary weights take the choice's scaling; ternary ones also its threshold, and
        a fixed zero mask under the `sparse` arithmetic (`dse.nn.sparse_syq`)."""
        if choice.arith.is_rccm:
            return cls(WeightKind.RCCM, choice.w_bits, choice.arith)
        wtype = choice.weight_type
        if wtype is WType.LQ:
            return cls(WeightKind.LQ, choice.w_bits)
        if wtype is WType.BIPOLAR:
            return cls(WeightKind.BIPOLAR, 1, scaling=choice.scaling)
        if wtype is WType.TERNARY:
            return cls(
                WeightKind.TERNARY, 2, threshold=choice.threshold, scaling=choice.scaling,
                fixed_mask=choice.arith is Arith.SPARSE,
            )  # fmt: skip
        if choice.w_bits < 2:
            raise SpecError(f"int weights need w_bits >= 2, got {choice.w_bits}")
        return cls(WeightKind.INT, choice.w_bits)

    @property
    def label(self) -> str:
        """Short stable name: `bipolar`, `ternary`, `int4`, `rccm2`, `lq2`; non-default
        binary/ternary options append `-t<eta>`, `-<scaling>`, `-qp` (fixed zero mask)."""
        if self.kind is WeightKind.INT:
            return f"int{self.bits}"
        if self.kind is WeightKind.LQ:
            return f"lq{self.bits}"
        if self.kind is WeightKind.RCCM:
            assert self.arith is not None
            return self.arith.value
        out = self.kind.value
        if self.kind is WeightKind.TERNARY and self.threshold != TERNARY_THRESHOLD:
            out += f"-t{self.threshold:g}"
        if self.scaling is not Scaling.CHANNEL:
            out += f"-{self.scaling.value}"
        if self.fixed_mask:
            out += "-qp"
        return out

    @property
    def is_plain(self) -> bool:
        """Whether the format is one of the original per-channel quantizers (no SYQ
        scaling, default threshold, no fixed mask)."""
        return (
            self.scaling is Scaling.CHANNEL
            and self.threshold == TERNARY_THRESHOLD
            and not self.fixed_mask
        )


# --------------------------------------------------------------------------- batch norm


def fold_batchnorm(
    weight: Tensor, bias: Tensor | None, bn: nn.BatchNorm1d | nn.BatchNorm2d
) -> tuple[Tensor, Tensor]:
    """Fold an inference-mode batch norm into the preceding conv/dense (TwinDNN eq. 3):

        W_new = gamma * W_old / sqrt(Var + eps),
        b_new = gamma * (b_old - Mean) / sqrt(Var + eps) + beta.

    Returns new tensors (the inputs are not modified). The folded layer gives exactly the
    same outputs as conv/dense followed by the batch norm in eval mode.
    """
    w = weight.detach().to(torch.float32)
    b = torch.zeros(w.shape[0]) if bias is None else bias.detach().to(torch.float32)
    mean = bn.running_mean if bn.running_mean is not None else torch.zeros(w.shape[0])
    var = bn.running_var if bn.running_var is not None else torch.ones(w.shape[0])
    gamma = bn.weight.detach() if bn.weight is not None else torch.ones(w.shape[0])
    beta = bn.bias.detach() if bn.bias is not None else torch.zeros(w.shape[0])
    factor = gamma / torch.sqrt(var + bn.eps)
    shape = (-1,) + (1,) * (w.dim() - 1)
    return (w * factor.reshape(shape)).contiguous(), (b - mean) * factor + beta


def bn_factor(bn: nn.BatchNorm1d | nn.BatchNorm2d, channels: int) -> Tensor:
    """The per-channel factor gamma / sqrt(Var + eps) that `fold_batchnorm` multiplies
    into the weights (TwinDNN eq. 3)."""
    var = bn.running_var if bn.running_var is not None else torch.ones(channels)
    gamma = bn.weight.detach() if bn.weight is not None else torch.ones(channels)
    return (gamma / torch.sqrt(var + bn.eps)).detach().to(torch.float32).clone()


# --------------------------------------------------------------------------- weights


def _rows(w: Tensor) -> Tensor:
    return w.reshape(w.shape[0], -1)


def _per_channel(v: Tensor, w: Tensor) -> Tensor:
    return v.reshape((-1,) + (1,) * (w.dim() - 1))


def binarize(w: Tensor) -> Tensor:
    """Binary weights, ELB-NN eq. 1: w_b = sign(w) * E(|w|), with E(|w|) the mean magnitude
    of the output channel's weights (sign(0) = +1; the thesis eq. 4.1 is the unscaled form).
    """
    e = _rows(w).abs().mean(dim=1)
    sign = torch.where(w >= 0, 1.0, -1.0)
    return sign * _per_channel(e, w)


def ternarize(w: Tensor) -> Tensor:
    """Ternary weights, ELB-NN eq. 2 / thesis eq. 4.2: 0 where |w| <= w_thres, else
    sign(w) * E, with w_thres = 0.7 E(|w|) and E the mean magnitude of the weights above
    the threshold (Li et al., ref. [8] of ELB-NN), per output channel.
    """
    a = _rows(w).abs()
    thres = TERNARY_THRESHOLD * a.mean(dim=1, keepdim=True)
    mask = a > thres
    e = (a * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
    keep = (w.abs() > _per_channel(thres.squeeze(1), w)).to(w.dtype)
    return torch.sign(w) * keep * _per_channel(e, w)


def int_scale(w: Tensor, bits: int) -> Tensor:
    """Per-channel step of symmetric k-bit weights: max|w| / (2^(k-1) - 1)."""
    levels = 2 ** (bits - 1) - 1
    s = _rows(w).abs().amax(dim=1) / levels
    return torch.where(s > 0, s, torch.ones_like(s))


def quantize_int(w: Tensor, bits: int) -> Tensor:
    """Uniform symmetric k-bit weights per output channel: integers in
    [-(2^(k-1)-1), 2^(k-1)-1] times the channel's step (rounding as thesis eq. 4.4)."""
    levels = 2 ** (bits - 1) - 1
    s = _per_channel(int_scale(w, bits), w)
    return torch.clamp(torch.floor(w / s + 0.5), -levels, levels) * s


def rccm_levels(arith: Arith) -> Tensor:
    """The symmetric coefficient set of an RCCM (thesis Table 6.2), ascending."""
    if arith not in RCCM_COEFFICIENTS:
        raise SpecError(f"{arith.value} is not an RCCM arithmetic")
    pos = RCCM_COEFFICIENTS[arith]
    vals = sorted({-c for c in pos} | set(pos))
    return torch.tensor(vals, dtype=torch.float32)


def _nearest(x: Tensor, levels: Tensor) -> Tensor:
    """Nearest level to each element of x (ties go to the larger level)."""
    mids = (levels[1:] + levels[:-1]) / 2
    idx = torch.bucketize(x, mids, right=True)
    return levels[idx]


def rccm_scale(w: Tensor, arith: Arith) -> Tensor:
    """Per-channel scale lambda of an RCCM coefficient set: the candidate (a fraction
    1/SCALE_GRID .. 1 of max|w| / max coefficient) with the least squared quantization
    error of eq. 6.3 (thesis sec. 6.5.2: lambda_l chosen to minimise quantization error)."""
    levels = rccm_levels(arith)
    rows = _rows(w)
    top = rows.abs().amax(dim=1, keepdim=True)  # [C, 1]
    fracs = torch.linspace(1.0 / SCALE_GRID, 1.0, SCALE_GRID).reshape(1, -1)  # [1, G]
    lam = (top / levels[-1]) * fracs  # [C, G]
    lam = torch.where(lam > 0, lam, torch.ones_like(lam))
    x = rows.unsqueeze(1) / lam.unsqueeze(2)  # [C, G, n]
    err = ((_nearest(x, levels) - x) ** 2 * lam.unsqueeze(2) ** 2).sum(dim=2)
    best = err.argmin(dim=1)
    return lam.gather(1, best.unsqueeze(1)).squeeze(1)


def quantize_rccm(w: Tensor, arith: Arith, scale: Tensor | None = None) -> Tensor:
    """AddNet weights (thesis eq. 6.3): each weight becomes the nearest coefficient of the
    RCCM set (Table 6.2) scaled by lambda (per channel; `rccm_scale` unless given)."""
    lam = rccm_scale(w, arith) if scale is None else scale
    lam_b = _per_channel(lam, w)
    return _nearest(w / lam_b, rccm_levels(arith)) * lam_b


def quantize_weight(w: Tensor, fmt: WeightFormat, norm: Tensor | None = None) -> Tensor:
    """Quantize a (folded) weight tensor [out, ...] in the given format; `norm` is the
    per-channel batch-norm factor SYQ granularities scale around (`dse.nn.sparse_syq`)."""
    if fmt.kind in (WeightKind.BIPOLAR, WeightKind.TERNARY) and not fmt.is_plain:
        from dse.nn.sparse_syq import quantize_scaled

        return quantize_scaled(
            w, ternary=fmt.kind is WeightKind.TERNARY, threshold=fmt.threshold,
            scaling=fmt.scaling, norm=norm,
        )  # fmt: skip
    if fmt.kind is WeightKind.BIPOLAR:
        return binarize(w)
    if fmt.kind is WeightKind.TERNARY:
        return ternarize(w)
    if fmt.kind is WeightKind.INT:
        return quantize_int(w, fmt.bits)
    if fmt.kind is WeightKind.LQ:
        from dse.nn.lq import fit_weight_basis, quantize_weight_lq

        return quantize_weight_lq(w, fit_weight_basis(w, fmt.bits))
    assert fmt.arith is not None
    return quantize_rccm(w, fmt.arith)


def filter_msqe(w: Tensor, q: Tensor, *, relative: bool = True) -> Tensor:
    """Mean-squared quantization error of each filter, thesis eq. 4.8:
    MSQE_N = (1/n) sum_z (q_z - w_z)^2 over the filter's n = K*K*I weights.

    `relative` divides by the filter's mean square (the error as a fraction of the
    filter's energy), which makes filters comparable when BN folding has scaled each
    output channel differently.
    """
    err = (_rows(q) - _rows(w)).pow(2).mean(dim=1)
    if not relative:
        return err
    energy = _rows(w).pow(2).mean(dim=1)
    return torch.where(energy > 0, err / energy.clamp(min=1e-30), torch.zeros_like(err))


# --------------------------------------------------------------------------- activations


def act_step(clip: float, bits: int, signed: bool) -> float:
    """Quantization step of a k-bit activation with clipping range `clip`.

    Unsigned (after ReLU, thesis eq. 4.4/6.5 on [0, m]): 2^k - 1 steps over [0, clip].
    Signed: 2^(k-1) - 1 steps over [0, clip] each side; 1-bit signed is the sign
    activation with magnitude `clip`.
    """
    if signed:
        return clip / (2 ** (bits - 1) - 1) if bits > 1 else clip
    return clip / (2**bits - 1)


def act_range(bits: int, signed: bool) -> tuple[float, float]:
    """Integer range (lo, hi) of a k-bit activation code."""
    if signed:
        top = 2 ** (bits - 1) - 1 if bits > 1 else 1
        return float(-top), float(top)
    return 0.0, float(2**bits - 1)


def quantize_activation(x: Tensor, clip: float, bits: int, signed: bool) -> Tensor:
    """Fake-quantize activations: G(x) = s * clamp(floor(x/s + 1/2), lo, hi) (thesis
    eq. 4.4/6.5 with step s = clip / (2^k - 1)); unsigned codes include the ReLU.

    1-bit unsigned is the step {0, s} at s/2, which is the sign activation
    (ELB-NN/FINN bipolar {-1, +1}) up to the affine map b = (sign + 1)/2 that hardware
    folds into the next layer's bias; 1-bit signed is s * sign(x).
    """
    s = act_step(clip, bits, signed)
    if signed and bits == 1:
        return torch.where(x >= 0, s, -s)
    lo, hi = act_range(bits, signed)
    return torch.clamp(torch.floor(x / s + 0.5), lo, hi) * s


def calibrate_clip(samples: Tensor, bits: int, signed: bool) -> float:
    """Clipping range for k-bit activations calibrated on float pre-activations of training
    data: the candidate (fractions of the largest value) with the least squared error
    between the quantized and the float activation (ReLU'd when unsigned)."""
    x = samples.reshape(-1).to(torch.float32)
    target = x if signed else torch.relu(x)
    top = float(target.abs().max()) if x.numel() else 0.0
    if not math.isfinite(top) or top <= 0:
        return 1.0
    clips = top * torch.linspace(1.0 / SCALE_GRID, 1.0, SCALE_GRID, dtype=torch.float64)
    clips = clips.to(torch.float32).reshape(-1, 1)  # [G, 1], all candidates at once
    s = clips / (2 ** (bits - 1) - 1 if signed and bits > 1 else 1 if signed else 2**bits - 1)
    if signed and bits == 1:
        q = torch.where(target >= 0, s, -s)
    else:
        lo, hi = act_range(bits, signed)
        q = torch.clamp(torch.floor(target / s + 0.5), lo, hi) * s
    err = (q - target).pow(2).mean(dim=1)
    return float(clips[int(err.argmin())])


# --------------------------------------------------------------------------- KL report

KL_BINS = 31  # bins of the weight histogram (thesis Fig. 6.5 uses 31 bins)
KL_FLOOR = 1e-6  # probability floor for empty bins of the coefficient histogram


def kl_divergence(p: np.ndarray, r: np.ndarray) -> float:
    """D_KL(P || R) = sum_i P(i) log(P(i)/R(i)) (thesis eq. 6.2), over bins with P > 0.
    `r` is floored at KL_FLOOR and renormalised so empty bins give a finite, large value."""
    p = np.asarray(p, dtype=np.float64)
    r = np.maximum(np.asarray(r, dtype=np.float64), KL_FLOOR)
    p = p / p.sum()
    r = r / r.sum()
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] / r[nz])))


@dataclass(frozen=True)
class KLRow:
    """How well one RCCM coefficient set fits one layer's weights."""

    layer: str
    arith: Arith
    coefficients: int
    kl: float
    rel_msqe: float


def kl_row(layer: str, w: Tensor, arith: Arith) -> KLRow:
    """Distribution match of a layer's folded weights against an RCCM set (thesis sec.
    6.5.1, eq. 6.2): P is the histogram of w / lambda (per-channel scale of eq. 6.3) and R
    the histogram of the coefficients, both over KL_BINS bins on [-c_max, c_max]; also the
    relative quantization error (eq. 4.8 over the whole layer)."""
    levels = rccm_levels(arith)
    lam = rccm_scale(w, arith)
    x = (_rows(w) / lam.unsqueeze(1)).reshape(-1).numpy()
    cmax = float(levels[-1])
    edges = np.linspace(-cmax, cmax, KL_BINS + 1)
    p, _ = np.histogram(np.clip(x, -cmax, cmax), bins=edges)
    r, _ = np.histogram(levels.numpy(), bins=edges)
    q = quantize_rccm(w, arith, lam)
    energy = float(w.pow(2).mean())
    rel = float((q - w).pow(2).mean()) / energy if energy > 0 else 0.0
    return KLRow(layer, arith, len(levels), kl_divergence(p, r), rel)
