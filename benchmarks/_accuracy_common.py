"""Shared helpers of the accuracy benchmarks (not a benchmark itself)."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np

from costmodels.network import kept_channels
from costmodels.types import Arith, LayerChoice, Network


def uniform(net: Network, w_bits: int, a_bits: int, *, mid_only: bool = False,
            arith: Arith | None = None, prune: float = 0.0) -> Network:  # fmt: skip
    """All (or only the middle) compute layers at the given weight/activation bits."""
    layers = net.compute_layers
    out: dict[str, LayerChoice] = {}
    for i, layer in enumerate(layers):
        c = layer.choice or LayerChoice()
        if mid_only and i in (0, len(layers) - 1):
            continue
        last = i == len(layers) - 1
        out[layer.name] = replace(
            c, w_bits=w_bits, a_bits=None if c.a_bits is None else a_bits,
            arith=arith or c.arith, prune=0.0 if last else prune,
        )  # fmt: skip
    return net.with_choices(out)


def random_candidate(net: Network, rng: random.Random) -> Network:
    """A random mixed-precision, pruned candidate (pe chosen so that pruning rounds)."""
    out: dict[str, LayerChoice] = {}
    layers = net.compute_layers
    for i, layer in enumerate(layers):
        c = layer.choice or LayerChoice()
        last = i == len(layers) - 1
        arith = rng.choice([Arith.AUTO] * 5 + [Arith.RCCM2, Arith.RCCM3, Arith.RCCM4])
        prune = 0.0 if last else rng.choice([0.0, 0.0, 0.25, 0.5])
        pe = 4 if layer.out_channels % 4 == 0 else 1
        assert kept_channels(layer.out_channels, prune, pe) >= pe
        out[layer.name] = replace(
            c, w_bits=rng.choice([1, 2, 3, 4, 6, 8]),
            a_bits=None if c.a_bits is None else rng.choice([1, 2, 3, 4, 6, 8]),
            arith=arith, prune=prune, pe=pe,
        )  # fmt: skip
    return net.with_choices(out)


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation with average ranks for ties."""

    def ranks(v: list[float]) -> np.ndarray:
        x = np.asarray(v, dtype=float)
        order = np.argsort(x, kind="stable")
        r = np.empty(len(x))
        r[order] = np.arange(len(x), dtype=float)
        for val in np.unique(x):
            idx = x == val
            r[idx] = r[idx].mean()
        return r

    ra, rb = ranks(a), ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1])
