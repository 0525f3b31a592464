"""Pooling units (FINN `StreamingMaxPool` / `Pool`): compare or add K*K window values per
channel lane, `par` channels per cycle (the width of the incoming stream).
"""

from __future__ import annotations

import functools
import math

from costmodels.memory import place_memory
from costmodels.types import Device, LayerCost, Op, ResolvedLayer, Resources

#: Fixed LUTs/FFs of a pooling unit (counters, control); assumption of the same order as
#: FINN's fixed per-unit constants.
POOL_BASE_LUT = 60.0
POOL_BASE_FF = 60.0


@functools.lru_cache(maxsize=16384)
def pool_cost(layer: ResolvedLayer, device: Device, par: int) -> LayerCost:
    """Max pooling: one comparator plus one register-mux per bit and lane (2 LUT/bit);
    average pooling: an accumulator of bits + log2(K*K) per lane and a constant divider
    (another LUT per bit). A buffer of one output row of partial results per channel.
    Cycles: the input stream, H*W*C/par words."""
    c, h, w = layer.in_shape
    ow = layer.out_shape[2]
    k = layer.spec.kernel
    bits = layer.in_bits
    lanes = max(1, math.gcd(c, par))
    if layer.op is Op.MAXPOOL:
        lane = Resources(lut=2.0 * bits, ff=float(bits))
    else:
        wide = bits + math.ceil(math.log2(max(2, k * k)))
        lane = Resources(lut=2.0 * wide, ff=float(wide))
    buf = place_memory(lanes * bits, math.ceil(ow * c / lanes), device)
    res = lane * lanes + buf + Resources(lut=POOL_BASE_LUT, ff=POOL_BASE_FF)
    cycles = h * w * c // lanes
    fill = int(cycles * min(1.0, (k * w) / (h * w))) + 4
    return LayerCost(layer.name, layer.op, res, cycles, fill, (("pool", res),))


@functools.lru_cache(maxsize=16384)
def add_cost(layer: ResolvedLayer, device: Device, par: int, skip: Resources) -> LayerCost:
    """Residual add (FINN `AddStreams`): one adder of the output width per lane, plus the
    FIFO holding the skip branch while the main branch computes (`skip`, sized by the
    caller from the branch's fill latency)."""
    c, h, w = layer.in_shape
    lanes = max(1, math.gcd(c, par))
    adders = Resources(lut=float(lanes * layer.out_bits), ff=float(lanes * layer.out_bits))
    res = adders + skip + Resources(lut=POOL_BASE_LUT, ff=POOL_BASE_FF)
    cycles = h * w * c // lanes
    return LayerCost(
        layer.name, layer.op, res, cycles, 4, (("adders", adders), ("skip_fifo", skip))
    )
