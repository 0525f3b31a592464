"""The sliding-window unit (im2col; FINN `ConvolutionInputGenerator`, Faraone thesis
Sec. 4.2) in front of every conv MVAU: a line buffer of K input rows that streams K*K*C
values per output pixel to the MVAU, SIMD channels per word.
"""

from __future__ import annotations

import functools
import math

from costmodels.memory import memory_blocks
from costmodels.types import Device, ResolvedLayer, Resources
from costmodels.util import new_resources

#: Fixed LUTs of a sliding-window unit (address counters, stream control); FINN's
#: `ConvolutionInputGenerator.lut_estimation` starts from a constant of the same order
#: (300 LUT for the whole unit); we count 150 for the control and let the buffer and
#: the MMV read ports add the rest. Assumption pending calibration.
SWU_BASE_LUT = 150.0
SWU_BASE_FF = 150.0


def _words_simd(layer: ResolvedLayer) -> int:
    """Values per stream word: SIMD input channels for a conv; PE channels times SIMD
    window taps for a depthwise conv (FINN VVAU streams PE channels x SIMD taps)."""
    c = layer.choice
    if layer.is_depthwise:
        return math.gcd(layer.in_channels, c.pe) * c.simd
    return c.simd


def swu_cycles(layer: ResolvedLayer) -> int:
    """Cycles per frame: the larger of reading the input (H*W*C/SIMD words) and writing
    the windows (OH*OW*K*K*C_group/(SIMD*MMV) words)."""
    return swu_cost(layer, None)[0]


def swu_resources(layer: ResolvedLayer, device: Device) -> Resources:
    """Line buffer of K rows (K * W_in * C_in values of the input width, read MMV windows
    at a time) plus control; padding is folded into the addressing."""
    res = swu_cost(layer, device)[1]
    assert res is not None
    return res


def swu_cost(layer: ResolvedLayer, device: Device | None) -> tuple[int, Resources | None]:
    """(`swu_cycles`, `swu_resources`) of a conv's sliding window in one pass (the
    resources only with a `device`)."""
    uram, bram18 = (device.uram, device.bram18) if device is not None else (0, 0)
    cycles, lut, ff, b18, u = swu_numbers(layer, uram, bram18)
    if device is None:
        return cycles, None
    return cycles, new_resources(lut, ff, 0.0, b18, u)


def swu_numbers(
    layer: ResolvedLayer, uram: int, bram18: int
) -> tuple[int, float, float, float, float]:
    """(cycles, LUT, FF, BRAM18, URAM) of a conv's sliding window on a device with `uram`
    and `bram18` blocks, as plain numbers (`window_numbers` on the layer's geometry; the
    composer sums them without building a `Resources`)."""
    spec = layer.spec
    c = spec.choice
    assert c is not None
    cin, h, w = layer.in_shape
    groups = spec.groups
    depthwise = groups > 1 and groups == cin
    return window_numbers(
        cin, h, w, spec.kernel, spec.stride or 1, spec.padding,
        cin if depthwise else cin // groups, layer.num_vectors,
        math.gcd(cin, c.pe) * c.simd if depthwise else c.simd,
        c.mmv, layer.in_bits, uram, bram18,
    )  # fmt: skip


@functools.lru_cache(maxsize=16384)
def window_numbers(
    cin: int,
    h: int,
    w: int,
    k: int,
    stride: int,
    padding: int,
    per_group: int,
    num_vectors: int,
    simd: int,
    mmv: int,
    in_bits: int,
    uram_total: int,
    bram18_total: int,
) -> tuple[int, float, float, float, float]:
    """`swu_cost` on plain integers, as (cycles, LUT, FF, BRAM18, URAM): `per_group` input
    channels per group, `simd` values per stream word; memoised, since a search repeats
    these far more often than whole layers.

    Cycles: the larger of reading the input (H*W*C/SIMD words) and writing the windows
    (OH*OW*K*K*C_group/(SIMD*MMV) words). Resources: a line buffer of K rows (K * W_in *
    C_in values of the input width, read MMV windows at a time) plus control; padding is
    folded into the addressing; a 1x1 conv with stride 1 is a pass-through."""
    reads = math.ceil(h * w * cin / simd)
    writes = math.ceil(num_vectors * k * k * per_group / simd)
    cycles = max(reads, math.ceil(writes / mmv))
    if k == 1 and stride == 1:  # 1x1 conv: a pass-through
        return cycles, SWU_BASE_LUT / 3, SWU_BASE_FF / 3, 0.0, 0.0
    width = simd * in_bits * mmv
    depth = math.ceil(k * (w + 2 * padding) * cin / (simd * mmv))
    lut, bram18, uram = memory_blocks(width, depth, uram_total, bram18_total)
    # one output register and read mux per lane (one LUT per bit, assumption)
    return cycles, lut + width + SWU_BASE_LUT, 0.0 + width + SWU_BASE_FF, bram18, uram
