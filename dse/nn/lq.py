"""LQ-Nets learned quantizers (Zhang et al., ECCV 2018; Pan thesis sec. 3.3.2, Fig. 3.7,
Fig. 4.1).

A K-bit LQ code represents q = <b, v>: a code vector b times a learned basis v in R^K.
Weights use b in {-1, +1}^K (2^K levels symmetric about zero when v > 0); activations,
non-negative after ReLU, use b in {0, 1}^K so that code 0 is the value 0 (thesis Fig. 4.1:
"the binary code 0 of the activation value represents the actual value of 0").

The basis is fitted by the quantization-error minimization (QEM) of the LQ-Nets paper,
the thesis' Q*(x) = argmin ||B^T v - x||^2 over B in {-1, 1}^(K x N): alternate

- B-step: every x takes the code of its nearest level (optimal B for fixed v), and
- v-step: v = (B B^T)^-1 B x, the least-squares basis for fixed B (optimal v for fixed B),

so the error never increases from one half-step to the next (`qem` records it).
Initialised at the uniform grid v_i = s * 2^(i-1) with the best s of a grid, the fit is
never worse than the best uniform quantizer with the same 2^K levels.

Weights: each output channel is normalised by its mean magnitude (a per-channel factor
the hardware merges with the batch-norm scale after the accumulator, as for binary
weights: ELB-NN sec. V.B) and one basis per layer is fitted on the normalised weights,
so one table of 2^(Kw+Ka) basis products serves the whole layer (thesis Listing 4.1).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

#: Alternating QEM steps of a post-training fit (LQ-Nets Algorithm 1 runs T_v = 1 step per
#: training iteration; from scratch the error stops moving after about 10-20 here).
QEM_STEPS = 20
#: Weight values a layer's basis is fitted on (a seeded subsample beyond this).
FIT_VALUES = 65_536
#: Candidate scales of the uniform initialisation (fractions of the largest magnitude).
INIT_GRID = 48
#: Momentum of the activation basis in fine-tuning (LQ-Nets sec. 3.2: a moving average
#: of the per-batch QEM solutions, 0.9).
ACT_MOMENTUM = 0.9


@functools.lru_cache(maxsize=32)
def code_matrix(bits: int, signed: bool) -> Tensor:
    """All 2^K code vectors as rows `[2^K, K]`: entries in {-1, +1} (signed) or {0, 1}.
    Row r holds bit i of r in column i (column 0 is the least significant)."""
    r = torch.arange(2**bits).unsqueeze(1)
    bitsel = (r >> torch.arange(bits).unsqueeze(0)) & 1
    out = bitsel.to(torch.float64)
    return out * 2 - 1 if signed else out


def levels(basis: Tensor, signed: bool) -> Tensor:
    """The 2^K quantization levels <b, v> of every code b, in code order."""
    return code_matrix(basis.numel(), signed).to(basis.dtype) @ basis


def nearest_codes(x: Tensor, basis: Tensor, signed: bool) -> Tensor:
    """B-step: the index (code) of the level nearest to each element of `x`."""
    lv = levels(basis, signed)
    order = torch.argsort(lv)
    srt = lv[order]
    mids = (srt[1:] + srt[:-1]) / 2
    return order[torch.bucketize(x, mids)]


def quantize_lq(x: Tensor, basis: Tensor, signed: bool) -> Tensor:
    """Each element of `x` replaced by its nearest LQ level (same dtype as `x`)."""
    b = basis.to(torch.float64)
    q = levels(b, signed)[nearest_codes(x.to(torch.float64), b, signed)]
    return q.to(x.dtype)


def lq_error(x: Tensor, basis: Tensor, signed: bool) -> float:
    """Mean squared quantization error of `x` under `basis`."""
    return float((quantize_lq(x, basis, signed).to(torch.float64) - x.to(torch.float64))
                 .pow(2).mean())  # fmt: skip


def uniform_basis(x: Tensor, bits: int, signed: bool) -> Tensor:
    """The uniform grid v_i = s * 2^(i-1) (levels: odd multiples of s for signed codes,
    0..(2^K - 1) s for {0, 1} codes) with the least squared error over INIT_GRID scales."""
    x64 = x.reshape(-1).to(torch.float64)
    target = x64 if signed else x64.clamp(min=0)
    top = float(target.abs().max()) if x64.numel() else 0.0
    pow2 = 2.0 ** torch.arange(bits, dtype=torch.float64)
    if not top > 0:
        return pow2 * 1e-3
    span = 2**bits - 1  # the top level in units of s, for both codings
    best, best_err = pow2 * (top / span), float("inf")
    for f in torch.linspace(1.0 / INIT_GRID, 1.0, INIT_GRID, dtype=torch.float64):
        v = pow2 * (top * float(f) / span)
        err = lq_error(x64, v, signed)
        if err < best_err:
            best, best_err = v, err
    return best


def qem_step(x: Tensor, basis: Tensor, signed: bool) -> Tensor:
    """One v-step after a B-step: the least-squares basis for the codes `x` now takes.
    Falls back to the old basis if the system is degenerate (never increases the error:
    the old basis is one candidate of the least-squares problem)."""
    x64 = x.reshape(-1).to(torch.float64)
    b64 = basis.to(torch.float64)
    codes = code_matrix(b64.numel(), signed)[nearest_codes(x64, b64, signed)]  # [N, K]
    sol = torch.linalg.lstsq(codes, x64.unsqueeze(1), driver="gelsd").solution.squeeze(1)
    if not bool(torch.isfinite(sol).all()):
        return b64
    new_err = float((codes @ sol - x64).pow(2).mean())
    old_err = float((codes @ b64 - x64).pow(2).mean())
    return sol if new_err <= old_err else b64


@dataclass(frozen=True)
class LQFit:
    """A fitted basis and the mean squared error after initialisation and after each
    alternating step (non-increasing)."""

    basis: Tensor
    errors: tuple[float, ...]


def qem(
    x: Tensor, bits: int, signed: bool, steps: int = QEM_STEPS, init: Tensor | None = None
) -> LQFit:
    """Fit an LQ basis to the values `x` by quantization-error minimization (module
    docstring), starting from `init` or the best uniform grid."""
    x64 = x.reshape(-1).to(torch.float64)
    v = uniform_basis(x64, bits, signed) if init is None else init.to(torch.float64)
    errors = [lq_error(x64, v, signed)]
    for _ in range(steps):
        v = qem_step(x64, v, signed)
        errors.append(lq_error(x64, v, signed))
        if errors[-2] - errors[-1] <= 1e-12 * max(errors[-2], 1e-30):
            break
    return LQFit(v, tuple(errors))


# --------------------------------------------------------------------------- weights


def channel_scale(w: Tensor) -> Tensor:
    """Per-output-channel normaliser: the mean magnitude (1 for an all-zero channel)."""
    e = w.reshape(w.shape[0], -1).abs().mean(dim=1)
    return torch.where(e > 0, e, torch.ones_like(e))


def _per_channel(v: Tensor, w: Tensor) -> Tensor:
    return v.reshape((-1,) + (1,) * (w.dim() - 1))


def fit_weight_basis(w: Tensor, bits: int, steps: int = QEM_STEPS) -> Tensor:
    """The layer's weight basis (signed codes) fitted on its channel-normalised weights."""
    x = (w / _per_channel(channel_scale(w), w)).reshape(-1)
    if x.numel() > FIT_VALUES:
        gen = torch.Generator().manual_seed(0)
        x = x[torch.randperm(x.numel(), generator=gen)[:FIT_VALUES]]
    return qem(x, bits, signed=True, steps=steps).basis


def quantize_weight_lq(w: Tensor, basis: Tensor) -> Tensor:
    """LQ weights: per channel, the mean magnitude times the nearest level of the layer's
    basis to the normalised weight."""
    s = _per_channel(channel_scale(w), w)
    return quantize_lq(w / s, basis, signed=True) * s
