"""Stream plumbing units of a dataflow accelerator with branches: FINN's `DuplicateStreams`
(one stream fanned out to several consumers), `StreamingConcat` (channel concatenation)
and `AddStreams` (the residual add, `costmodels.pool.add_cost`).

Sources: FINN `src/finn/custom_op/fpgadataflow/duplicatestreams.py` and `concat.py`
(v0.10): both move one word of the stream per cycle, so their expected cycles are the
stream's words, H*W*C / lanes (`get_exp_cycles`); FINN gives them no LUT estimate of their
own (the base class returns 0). The LUT/FF figures below are therefore ASSUMPTIONS of the
same kind as the pooling unit's: a register per output bit and lane, a k:1 multiplexer per
output bit (a LUT6 implements a 4:1 mux, UG574 ch. 2), and the fixed control constants of
`costmodels.pool`.
"""

from __future__ import annotations

import functools
import math

from costmodels.pool import POOL_BASE_FF, POOL_BASE_LUT
from costmodels.types import Device, LayerCost, Op, ResolvedLayer, Resources


def _words(shape: tuple[int, ...], lanes: int) -> int:
    return max(1, math.prod(shape) // max(1, lanes))


@functools.lru_cache(maxsize=4096)
def duplicate_resources(shape: tuple[int, ...], bits: int, lanes: int, outputs: int) -> Resources:
    """A `DuplicateStreams` unit copying a stream of `lanes` x `bits` to `outputs` consumers:
    an output register and one LUT of handshake per bit and output (ASSUMPTION, see module
    docstring), plus the fixed control."""
    width = max(1, lanes) * bits
    return Resources(
        lut=float(width * outputs) + POOL_BASE_LUT, ff=float(width * outputs) + POOL_BASE_FF
    )


@functools.lru_cache(maxsize=4096)
def concat_cost(
    layer: ResolvedLayer,
    device: Device,
    in_channels: tuple[int, ...],
    lanes: int,
    fifos: Resources,
) -> LayerCost:
    """`StreamingConcat` of inputs with `in_channels` channels each (same H, W), `lanes`
    channels per word: per output bit and lane a k:1 multiplexer (ceil((k-1)/3) LUT6) and a
    register; cycles = output words H*W*sum(C)/lanes (FINN `get_exp_cycles`). `fifos` are
    the input FIFOs that hold early branches until the latest one arrives (sized by the
    caller from the branches' fill latencies, as for `add_cost`)."""
    del device
    k = len(in_channels)
    width = lanes * layer.out_bits
    mux = Resources(lut=float(width * math.ceil((k - 1) / 3)), ff=float(width))
    res = mux + fifos + Resources(lut=POOL_BASE_LUT, ff=POOL_BASE_FF)
    cycles = _words(layer.out_shape, lanes)
    return LayerCost(layer.name, Op.CONCAT, res, cycles, 4, (("mux", mux), ("branch_fifos", fifos)))


def duplicate_cycles(shape: tuple[int, ...], lanes: int) -> int:
    """`DuplicateStreams` moves one word per cycle: H*W*C / lanes (FINN `get_exp_cycles`)."""
    return _words(shape, lanes)
