"""Filter pruning: which output filters a layer keeps.

How many: `costmodels.network.kept_channels(n, ratio, pe)` (the single source of truth,
N % PE == 0 after pruning, thesis sec. 4.5.2), read off `resolve(network)`. Which: the
filters ranked by quantization error (MSQE, thesis eq. 4.8 and sec. 4.5.3: the filters with
the highest error are pruned) or by L1 magnitude (the smallest are pruned). The next
layer's input channels are then removed too (see `dse.nn.qnet`), so the pruned network is a
real smaller network whose shapes equal `resolve()`'s.
"""

from __future__ import annotations

from enum import Enum

import numpy as np
from torch import Tensor

from dse.nn.quant import WeightFormat, WeightKind, filter_msqe, quantize_weight


class PruneRank(str, Enum):
    """Filter ranking: `msqe` (thesis eq. 4.8, for bitwise networks), `l1` (magnitude), or
    `auto`: MSQE for binary/ternary layers (where the thesis shows it helps, Fig. 4.3) and
    L1 for the rest."""

    AUTO = "auto"
    MSQE = "msqe"
    L1 = "l1"


def filter_importance(w: Tensor, fmt: WeightFormat, rank: PruneRank) -> np.ndarray:
    """Importance of each output filter of a folded weight tensor (higher = keep)."""
    if rank is PruneRank.AUTO:
        low = fmt.kind in (WeightKind.BIPOLAR, WeightKind.TERNARY)
        rank = PruneRank.MSQE if low else PruneRank.L1
    if rank is PruneRank.MSQE:
        return -filter_msqe(w, quantize_weight(w, fmt)).numpy().astype(np.float64)
    return w.reshape(w.shape[0], -1).abs().sum(dim=1).numpy().astype(np.float64)


def kept_filters(w: Tensor, fmt: WeightFormat, kept: int, rank: PruneRank) -> tuple[int, ...]:
    """Indices (ascending) of the `kept` most important filters; ties keep the lower index."""
    n = int(w.shape[0])
    if kept >= n:
        return tuple(range(n))
    imp = filter_importance(w, fmt, rank)
    order = np.argsort(-imp, kind="stable")[:kept]
    return tuple(int(i) for i in sorted(order))


def balanced_top(importance: np.ndarray, kept: int, blocks: int = 1) -> tuple[int, ...]:
    """Indices (ascending) of the `kept` most important channels, `kept / blocks` from each
    of `blocks` equal contiguous blocks (a grouped conv's groups keep equally many);
    ties keep the lower index."""
    n = len(importance)
    blocks = max(1, blocks)
    if kept >= n:
        return tuple(range(n))
    size, per = n // blocks, kept // blocks
    out: list[int] = []
    for j in range(blocks):
        part = importance[j * size : (j + 1) * size]
        order = np.argsort(-part, kind="stable")[:per]
        out.extend(j * size + int(i) for i in order)
    return tuple(sorted(out))
