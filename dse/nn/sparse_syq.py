"""Sparse ternary weights (Faraone thesis ch. 3) and SYQ scaling granularity (ch. 5).

Binary and ternary weights here are Q = n_c * alpha_g * s, with s in {-1, +1} (binary) or
{-1, 0, +1} (ternary), alpha_g one symmetric scale per scale group g (SYQ eq. 5.9: one
factor serves both +alpha and -alpha), and n_c a per-output-channel normaliser that the
hardware absorbs into the thresholds for free:

- `channel` (this project's default): groups are output channels and n_c = 1, i.e. one
  scale per channel on the batch-norm-folded weights (`quant.binarize`/`ternarize`).
- `layer` / `row` / `pixel` (SYQ, thesis 5.4): 1, K or K^2 groups shared by every channel
  (row g = kernel row, pixel g = kernel position); n_c is the batch-norm factor
  gamma / sqrt(var + eps) folded into the channel, so SYQ scales the *unfolded* weights
  as the thesis trains them and the batch norm stays a per-channel affine (thresholds).

The ternary zero set is |u| <= eta * E(|u|) with u = w / n_c (thesis eq. 3.1 with the
threshold eta a multiple of the mean magnitude, as TWN / ELB-NN's 0.7), per channel for
`channel`, per layer otherwise (the thesis' eta is one hyperparameter per layer). A larger
eta zeroes more weights (thesis 3.2.1). Given the signs and zeros, the least-squares scale
of a group is the mean magnitude of its non-zero weights, which is also SYQ's
initialisation (thesis 5.5.2); groups nest (pixel within row within layer), so a finer
granularity can never raise the squared error on a fixed tensor.

Quantization pruning (thesis 3.2.3, eq. 3.6-3.8 with sigma = eta): for the `sparse`
arithmetic the zero mask of the initial quantization is kept fixed while fine-tuning, so
the density the cost model is given is exactly the deployed one.
"""

from __future__ import annotations

import torch
from torch import Tensor

from costmodels.types import Scaling

#: Smallest per-channel normaliser magnitude (a batch norm with gamma ~ 0 would divide
#: by zero; its channel is then scaled as if unnormalised).
NORM_FLOOR = 1e-12


def group_index(shape: tuple[int, ...], scaling: Scaling) -> tuple[Tensor, int]:
    """The scale group of every weight of a tensor [out, in, K, K] (conv) or [out, in]
    (dense), and the number of groups: output channel (`channel`), one group (`layer`),
    kernel row (`row`, K groups) or kernel position (`pixel`, K^2 groups). Dense layers
    (and 1x1 convs) have one row and one pixel, so row = pixel = layer there."""
    n = shape[0]
    if scaling is Scaling.CHANNEL:
        idx = torch.arange(n).reshape((-1,) + (1,) * (len(shape) - 1)).expand(shape)
        return idx.contiguous(), n
    if scaling is Scaling.LAYER or len(shape) != 4:
        return torch.zeros(shape, dtype=torch.long), 1
    k_h, k_w = shape[2], shape[3]
    if scaling is Scaling.ROW:
        idx = torch.arange(k_h).reshape(1, 1, k_h, 1).expand(shape)
        return idx.contiguous(), k_h
    idx = torch.arange(k_h * k_w).reshape(1, 1, k_h, k_w).expand(shape)
    return idx.contiguous(), k_h * k_w


def _normalised(w: Tensor, scaling: Scaling, norm: Tensor | None) -> tuple[Tensor, Tensor]:
    """(u, n) with u = w / n and n broadcastable to w (ones for `channel` or no norm)."""
    shape = (-1,) + (1,) * (w.dim() - 1)
    if scaling is Scaling.CHANNEL or norm is None:
        n = torch.ones(w.shape[0], dtype=w.dtype).reshape(shape)
    else:
        n = norm.abs().to(w.dtype).clamp(min=NORM_FLOOR).reshape(shape)
    return w / n, n


def ternary_mask(
    w: Tensor, threshold: float, scaling: Scaling, norm: Tensor | None = None
) -> Tensor:
    """Non-zero positions of ternary weights: |u| > eta * E(|u|), the mean taken per
    output channel for `channel` scaling and over the layer otherwise (thesis eq. 3.1)."""
    u, _ = _normalised(w, scaling, norm)
    a = u.abs()
    if scaling is Scaling.CHANNEL:
        mean = a.reshape(a.shape[0], -1).mean(dim=1).reshape((-1,) + (1,) * (w.dim() - 1))
    else:
        mean = a.mean()
    return a > threshold * mean


def signs(w: Tensor, mask: Tensor | None) -> Tensor:
    """sign(w) with sign(0) = +1, zeroed outside `mask` (None: binary, no zeros)."""
    s = torch.where(w >= 0, 1.0, -1.0).to(w.dtype)
    return s if mask is None else s * mask.to(w.dtype)


def group_scales(u: Tensor, s: Tensor, groups: Tensor, n_groups: int) -> Tensor:
    """Least-squares scale of each group for fixed signs s: sum |u| over the group's
    non-zeros / their count (SYQ initialisation, thesis 5.5.2); 0 for an all-zero group."""
    nz = (s != 0).to(u.dtype)
    num = torch.zeros(n_groups, dtype=u.dtype).index_add_(0, groups.reshape(-1),
                                                          (u.abs() * nz).reshape(-1))  # fmt: skip
    den = torch.zeros(n_groups, dtype=u.dtype).index_add_(0, groups.reshape(-1), nz.reshape(-1))
    return num / den.clamp(min=1.0)


def quantize_scaled(
    w: Tensor,
    *,
    ternary: bool,
    threshold: float,
    scaling: Scaling,
    norm: Tensor | None = None,
    mask: Tensor | None = None,
    scales: Tensor | None = None,
) -> Tensor:
    """Binary/ternary weights Q = n * alpha_g * s (module docstring). `mask` fixes the
    ternary zeros (quantization pruning); `scales` gives the group scales (learned ones
    while fine-tuning), else the least-squares ones."""
    u, n = _normalised(w, scaling, norm)
    if ternary and mask is None:
        mask = ternary_mask(w, threshold, scaling, norm)
    s = signs(u, mask if ternary else None)
    groups, n_groups = group_index(tuple(w.shape), scaling)
    alpha = group_scales(u, s, groups, n_groups) if scales is None else scales
    return n * alpha[groups] * s


def density(q: Tensor) -> float:
    """Ratio of non-zero weights (gamma, thesis 3.4.4) of a quantized tensor."""
    return float((q != 0).float().mean()) if q.numel() else 0.0
