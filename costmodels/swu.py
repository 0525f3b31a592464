"""The sliding-window unit (im2col; FINN `ConvolutionInputGenerator`, Faraone thesis
Sec. 4.2) in front of every conv MVAU: a line buffer of K input rows that streams K*K*C
values per output pixel to the MVAU, SIMD channels per word.
"""

from __future__ import annotations

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
    spec = layer.spec
    c = spec.choice
    assert c is not None
    cin, h, w = layer.in_shape
    k = spec.kernel
    depthwise = spec.groups > 1 and spec.groups == cin
    per_group = cin if depthwise else cin // spec.groups
    simd = math.gcd(cin, c.pe) * c.simd if depthwise else c.simd
    mmv = c.mmv
    reads = math.ceil(h * w * cin / simd)
    writes = math.ceil(layer.num_vectors * k * k * per_group / simd)
    cycles = max(reads, math.ceil(writes / mmv))
    if device is None:
        return cycles, None
    if k == 1 and (spec.stride or 1) == 1:  # 1x1 conv: a pass-through
        return cycles, new_resources(SWU_BASE_LUT / 3, SWU_BASE_FF / 3, 0.0, 0.0, 0.0)
    width = simd * layer.in_bits * mmv
    depth = math.ceil(k * (w + 2 * spec.padding) * cin / (simd * mmv))
    lut, bram18, uram = memory_blocks(width, depth, device.uram, device.bram18)
    # one output register and read mux per lane (one LUT per bit, assumption)
    res = new_resources(lut + width + SWU_BASE_LUT, 0.0 + width + SWU_BASE_FF, 0.0, bram18, uram)
    return cycles, res
