"""The sliding-window unit (im2col; FINN `ConvolutionInputGenerator`, Faraone thesis
Sec. 4.2) in front of every conv MVAU: a line buffer of K input rows that streams K*K*C
values per output pixel to the MVAU, SIMD channels per word.
"""

from __future__ import annotations

import math

from costmodels.memory import place_memory
from costmodels.types import Device, ResolvedLayer, Resources

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
    c = layer.choice
    cin, h, w = layer.in_shape
    k = layer.spec.kernel
    per_group = cin if layer.is_depthwise else cin // layer.spec.groups
    s = _words_simd(layer)
    reads = math.ceil(h * w * cin / s)
    writes = math.ceil(layer.num_vectors * k * k * per_group / s)
    return max(reads, math.ceil(writes / c.mmv))


def swu_resources(layer: ResolvedLayer, device: Device) -> Resources:
    """Line buffer of K rows (K * W_in * C_in values of the input width, read MMV windows
    at a time) plus control; padding is folded into the addressing."""
    c = layer.choice
    cin, _, w = layer.in_shape
    k = layer.spec.kernel
    if k == 1 and (layer.spec.stride or 1) == 1:
        return Resources(lut=SWU_BASE_LUT / 3, ff=SWU_BASE_FF / 3)  # 1x1 conv: a pass-through
    simd = _words_simd(layer)
    width = simd * layer.in_bits * c.mmv
    depth = math.ceil(k * (w + 2 * layer.spec.padding) * cin / (simd * c.mmv))
    buf = place_memory(width, depth, device)
    # one output register and read mux per lane (one LUT per bit, assumption)
    return Resources(
        buf.lut + width + SWU_BASE_LUT, buf.ff + width + SWU_BASE_FF, 0.0, buf.bram18, buf.uram
    )
