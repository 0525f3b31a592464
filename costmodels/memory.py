"""On-chip memories: how a `width x depth` bit array maps onto RAMB18 blocks, UltraRAM or
LUTRAM, and what each mapping costs.

Sources:
- RAMB18 aspect ratios 16Kx1, 8Kx2, 4Kx4, 2Kx9, 1Kx18 and (simple dual port) 512x36:
  Xilinx UG473 Table 1-7 (7 series) / UG573 Table 1-10 (UltraScale); the same table drives
  FINN's `bram_estimation` (FINN-R, Blott et al. 2018).
- UltraRAM: 4K x 72 bits per block, UG573 ch. 2.
- LUTRAM: one LUT6 of a SLICEM holds 64 x 1 bits (RAM64X1D/S), UG474 ch. 5 / UG574 ch. 5;
  a shift-register LUT holds 32 x 1 bits (SRLC32E), used for shallow FIFOs.
"""

from __future__ import annotations

import functools
import math

from costmodels.types import Device, RamStyle, Resources

#: (width, depth) shapes of one RAMB18 (UG473 Table 1-7 / UG573 Table 1-10).
BRAM18_SHAPES: tuple[tuple[int, int], ...] = (
    (1, 16384),
    (2, 8192),
    (4, 4096),
    (9, 2048),
    (18, 1024),
    (36, 512),
)
URAM_WIDTH, URAM_DEPTH = 72, 4096  # UG573 ch. 2
LUTRAM_DEPTH = 64  # RAM64X1, UG574 ch. 5
SRL_DEPTH = 32  # SRLC32E, UG574 ch. 5
#: Memories at most this deep go to LUTRAM: FINN's `lut_estimation`/`bram_estimation`
#: treat an embedded weight memory with WMEM <= 128 as distributed RAM (FINN MVAU_hls).
LUTRAM_MAX_DEPTH = 128
#: URAM is only considered for memories at least this deep (below it a 4K-deep block
#: wastes more than 75 % of its depth; assumption, UG573 ch. 2 recommends URAM for deep
#: buffers).
URAM_MIN_DEPTH = 1024

MemoryCost = tuple[float, float, float]  # LUT, BRAM18, URAM
FifoCost = tuple[float, float, float, float]  # LUT, FF, BRAM18, URAM
_NO_MEMORY: MemoryCost = (0.0, 0.0, 0.0)


def bram18_blocks(width: int, depth: int) -> int:
    """RAMB18 blocks for a `width x depth` memory: the cheapest of the block's aspect
    ratios, replicated across width and depth (UG573 Table 1-10)."""
    if width <= 0 or depth <= 0:
        return 0
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in BRAM18_SHAPES)


def uram_blocks(width: int, depth: int) -> int:
    """UltraRAM blocks (4K x 72, UG573 ch. 2) for a `width x depth` memory."""
    if width <= 0 or depth <= 0:
        return 0
    return math.ceil(width / URAM_WIDTH) * math.ceil(depth / URAM_DEPTH)


def lutram_luts(width: int, depth: int) -> int:
    """LUTs for a `width x depth` distributed RAM: one LUT6 per bit of width per 64 words
    (RAM64X1, UG574 ch. 5)."""
    if width <= 0 or depth <= 0:
        return 0
    return width * math.ceil(depth / LUTRAM_DEPTH)


@functools.lru_cache(maxsize=16384)
def memory_blocks(width: int, depth: int, uram_total: int, bram18_total: int) -> MemoryCost:
    """`place_memory` on plain integers, as (LUT, BRAM18, URAM): the device enters only
    through its URAM and BRAM18 totals, so the hot path memoises on small int tuples."""
    if width <= 0 or depth <= 0:
        return _NO_MEMORY
    if depth <= LUTRAM_MAX_DEPTH:
        return (float(lutram_luts(width, depth)), 0.0, 0.0)
    b18 = bram18_blocks(width, depth)
    if uram_total > 0 and depth >= URAM_MIN_DEPTH and bram18_total > 0:
        u = uram_blocks(width, depth)
        if u / uram_total < b18 / bram18_total:
            return (0.0, 0.0, float(u))
    return (0.0, float(b18), 0.0)


@functools.lru_cache(maxsize=16384)
def place_memory(width: int, depth: int, device: Device) -> Resources:
    """Where a read-only `width x depth` memory goes and what it costs.

    Shallow memories (depth <= 128) become LUTRAM (FINN's rule, see `LUTRAM_MAX_DEPTH`);
    deeper ones go to RAMB18 blocks, or to UltraRAM when the device has it, the memory is
    deep enough and the URAMs take a smaller share of the device's URAM than the RAMB18s
    would of its BRAM (the scarcer resource decides).
    """
    lut, bram18, uram = memory_blocks(width, depth, device.uram, device.bram18)
    return Resources(lut=lut, bram18=bram18, uram=uram)


@functools.lru_cache(maxsize=16384)
def fifo_numbers(width: int, depth: int, uram_total: int, bram18_total: int) -> FifoCost:
    """`fifo_cost` on plain integers, as (LUT, FF, BRAM18, URAM) (see `fifo_cost`)."""
    if width <= 0 or depth <= 0:
        return (0.0, 0.0, 0.0, 0.0)
    ctrl = 2 * max(1, math.ceil(math.log2(depth))) + 8
    if depth <= 2 * SRL_DEPTH:
        return (float(width * math.ceil(depth / SRL_DEPTH) + ctrl), float(width + ctrl), 0.0, 0.0)
    lut, bram18, uram = memory_blocks(width, depth, uram_total, bram18_total)
    return (lut + float(ctrl), 0.0 + float(width + ctrl), bram18 + 0.0, uram + 0.0)


@functools.lru_cache(maxsize=16384)
def fifo_cost(width: int, depth: int, device: Device) -> Resources:
    """A stream FIFO: SRL shift registers (one LUT per bit per 32 entries, SRLC32E,
    UG574 ch. 5) up to 64 entries deep, a RAM otherwise; plus 2*log2(depth)+8 LUTs and FFs
    of read/write pointers and flags (counters, one LUT per bit; assumption)."""
    lut, ff, bram18, uram = fifo_numbers(width, depth, device.uram, device.bram18)
    return Resources(lut=lut, ff=ff, bram18=bram18, uram=uram)


@functools.lru_cache(maxsize=16384)
def place_memory_as(width: int, depth: int, device: Device, style: RamStyle) -> Resources:
    """A read-only `width x depth` memory where FINN's `ram_style` puts it: `block` in
    RAMB18s (`bram18_blocks`), `distributed` in LUTRAM (`lutram_luts`), `ultra` in
    UltraRAM (`uram_blocks`; a device without URAM then does not fit), `auto` by
    `place_memory`'s rule."""
    match style:
        case RamStyle.BLOCK:
            return Resources(bram18=float(bram18_blocks(width, depth)))
        case RamStyle.DISTRIBUTED:
            return Resources(lut=float(lutram_luts(width, depth)))
        case RamStyle.ULTRA:
            return Resources(uram=float(uram_blocks(width, depth)))
        case _:
            return place_memory(width, depth, device)
