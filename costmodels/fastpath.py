"""Memoised shape resolution for the hot path of `estimate` (the search calls it thousands
of times per second with networks that differ in a few layers' choices).

Each non-`add` layer's resolution depends only on the layer, its input shape and its
input bits, so it is cached on exactly that key; the result is the same `ResolvedLayer`
that `costmodels.network.resolve` returns (it runs the same per-layer function). Any
problem falls back to `resolve` itself, which raises its canonical one-line error.
"""

from __future__ import annotations

import functools

from costmodels.network import MAX_BITS, _resolve_one, resolve
from costmodels.types import LayerSpec, Network, Op, ResolvedLayer


@functools.lru_cache(maxsize=16384)
def _resolve_layer(layer: LayerSpec, shape: tuple[int, ...], bits: int) -> ResolvedLayer:
    return _resolve_one(layer, shape, bits, {}, True)


def resolve_cached(network: Network) -> tuple[ResolvedLayer, ...]:
    """`resolve(network)` with per-layer memoisation (identical results and errors)."""
    shape = tuple(network.input_shape)
    bits = network.input_bits
    if (
        not network.layers
        or len(shape) not in (1, 3)
        or min(shape) < 1
        or not 1 <= bits <= MAX_BITS
    ):
        return resolve(network)  # raises the canonical error
    seen: dict[str, ResolvedLayer] = {}
    out: list[ResolvedLayer] = []
    for layer in network.layers:
        if layer.name in seen:
            return resolve(network)  # duplicate name: canonical error
        if layer.op is Op.ADD:
            rl = _resolve_one(layer, shape, bits, seen, True)
        else:
            rl = _resolve_layer(layer, shape, bits)
        seen[layer.name] = rl
        out.append(rl)
        shape, bits = rl.out_shape, rl.out_bits
    return tuple(out)
