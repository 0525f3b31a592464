"""Per-FINN-node unit estimates calibrated on real synthesis.

Each FINN hardware node (`MVAU`, `Thresholding`, `ConvolutionInputGenerator`, ...) is a
frozen dataclass of the attributes its cost depends on. Its LUT / FF / DSP / BRAM18 / URAM
are linear in a handful of *feature terms* whose shape comes from how the unit is built
(cited per term below); the coefficients are fitted by `costmodels.calibration.fit` and
live in a versioned profile (`costmodels/data/calibration/*.yaml`), not in this file.

Shapes (where each term comes from):

- MVAU (FINN-hlslib `Matrix_Vector_Activate_Batch`, FINN `MVAU_hls`/`MVAU_rtl`, FINN-R
  Sec. 4): PE x SIMD lanes (XNOR for binaryXnorMode, LUT multipliers ~ W x A partial
  products, or DSPs for resType dsp), an adder tree of SIMD product-wide operands per PE,
  an accumulator per PE, 2^B - 1 threshold comparators of the accumulator width per PE
  (thresholds are fused: **reported inside MVAU**, as in a FINN build's hierarchy), the
  input buffer of MW x A bits that the PE rows share, and in `internal_decoupled` mode a
  weight streamer whose memory is P*Q*W bits wide and MW*MH/(P*Q) deep: in BRAM
  (`vivado_bram18`) for `ram_style: block`, in LUTs growing with width x depth/64 (ROM64X1,
  UG474) and with depth (address decode) for `distributed`, URAM for `ultra`.
- DSP (resType dsp, HLS): one DSP per lane (FINN `MVAU_hls.dsp_estimation` without the
  ceil((W+A)/48) that never exceeds 1 below 48 bits); RTL: FINN's ceil(PE/4) * SIMD on
  DSP48E1 plus a constant, both fitted.
- Thresholding (FINN `Thresholding_rtl`, binary search): per PE, B stages comparing the
  input width, threshold storage of (2^B - 1) x input width bits x C/PE deep.
- ConvolutionInputGenerator (FINN `ConvolutionInputGenerator_rtl`, default
  implementation style): a line buffer of (K-1) x W x C + K x C values of SIMD x bits
  width in LUTRAM (ram_style distributed in every synthesized row), counters of
  log2(depth) bits, SIMD x bits output register (x K*K for parallel_window).
- FMPadding (FINN `FMPadding_rtl`): counters of log2(image) bits, SIMD x bits datapath.
- StreamingFIFO (FINN `StreamingFIFO_rtl`, Q_srl): SRL16 per bit per 16 entries, pointer
  counters of log2(depth) bits.
- StreamingDataWidthConverter, LabelSelect, Pool, StreamingMaxPool, AddStreams,
  DuplicateStreams: per-lane datapath plus control (see each `features_*`).

Units: `bram18` in 18 Kb blocks (the finn_synth CSVs count RAMB36 equivalents, x 2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from costmodels.memory import uram_blocks
from costmodels.types import Resources

RESOURCES = ("lut", "ff", "dsp", "bram18", "uram")
Features = dict[str, dict[str, float]]  # resource -> term -> value


def next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


#: Width (bits) of one RAMB36 / RAMB18 at a power-of-two depth, as Vivado 2023.2 packed
#: FINN's weight streamers on xc7z020 (UG473 Table 1-7 aspect ratios; RAMB18 at 512 deep
#: holds 32 data bits, at 4K none: a RAMB36 4Kx9 is used). Derived from the 256 block
#: configurations of shared/reference/finn_synth/MVAU.csv (benchmarks/calibration.py).
_BRAM_PORTS = {512: (72, 32), 1024: (36, 18), 2048: (18, 9), 4096: (9, 0)}


def vivado_bram18(width: int, depth: int) -> int:
    """RAMB18 blocks (RAMB36 = 2) Vivado uses for a `width x depth` ROM of a FINN weight
    streamer: the width padded to whole bytes, the depth to a power of two (at least 512);
    beyond 4K words cascades of RAMB36 4Kx9; otherwise as many RAMB36 as the width fills
    at that depth and one RAMB18 for a remainder that fits its port (else one more RAMB36).
    Reproduces every block-style MVAU configuration of the finn_synth data deeper than 32
    words (tests/costmodels/test_finn_units.py)."""
    if width <= 0 or depth <= 0:
        return 0
    w = 8 * math.ceil(width / 8)
    d = max(512, next_pow2(depth))
    if d > 4096:
        return 2 * (d // 4096) * math.ceil(w / 9)
    full, half = _BRAM_PORTS[d]
    n36, rem = divmod(w, full)
    if rem == 0:
        return 2 * n36
    return 2 * n36 + (1 if rem <= half else 2)


def _log2(n: int) -> float:
    return float(max(1, math.ceil(math.log2(max(n, 2)))))


@dataclass(frozen=True)
class MvauNode:
    """A FINN MVAU (or VVAU for `depthwise`): FINN's attribute names in comments."""

    mw: int  # MW
    mh: int  # MH
    pe: int  # PE
    simd: int  # SIMD
    w_bits: int  # weightDataType bits
    in_bits: int  # inputDataType bits
    out_bits: int  # outputDataType bits; 0 with noActivation=1
    acc_bits: int  # accDataType bits
    xnor: bool = False  # binaryXnorMode
    res_type: str = "lut"  # resType: lut | dsp
    ram_style: str = "auto"  # block | distributed | ultra | auto
    mem_mode: str = "internal_decoupled"
    impl: str = "hls"  # hls | rtl
    mmv: int = 1
    depthwise: bool = False

    @property
    def finn_op(self) -> str:
        return "VVAU" if self.depthwise else "MVAU"

    @property
    def wmem_depth(self) -> int:
        return max(1, self.mw * self.mh // (self.pe * self.simd))

    @property
    def weight_style(self) -> str:
        """Where the weights go: FINN's rule for `auto` (LUTRAM up to 128 words,
        `MVAU.bram_estimation`), none for `external`."""
        if self.mem_mode == "external":
            return "none"
        if self.ram_style == "auto":
            return "distributed" if self.wmem_depth <= 128 else "block"
        return self.ram_style


def features_mvau(n: MvauNode) -> Features:
    p, q, w, a = n.pe, n.simd, n.w_bits, n.in_bits
    rtl = n.impl == "rtl"
    dsp = not n.xnor and (rtl or n.res_type == "dsp")
    lutmul = not n.xnor and not dsp
    pb = 1 if n.xnor else w + a
    lanes = p * q * n.mmv
    thr = (2**n.out_bits - 1) if n.out_bits else 0
    d = n.wmem_depth
    width = p * q * w
    style = n.weight_style
    dist = style == "distributed"
    ibuf = n.mw * a if not rtl else 0
    lut = {
        "const_hls": 0.0 if rtl else 1.0,
        "const_rtl": 1.0 if rtl else 0.0,
        "xnor_lanes": float(lanes) if n.xnor else 0.0,
        "lut_mult_pp": float(lanes * w * a) if lutmul else 0.0,
        "tree_bits": float(lanes * pb) if not dsp else 0.0,
        "dsp_tree_bits": float(lanes * (pb + _log2(q))) if dsp and not rtl else 0.0,
        "rtl_lanes": float(lanes) if rtl else 0.0,
        "acc_bits": float(p * n.mmv * n.acc_bits),
        "thr_compare_bits": float(p * n.mmv * thr * n.acc_bits),
        "wmem_lutram": float(width * math.ceil(d / 64)) if dist else 0.0,
        "wmem_decode": float(d) if dist else 0.0,
        "wmem_cascade": float(width * max(0, d // 4096)) if style == "block" else 0.0,
        "input_buffer_bits": float(ibuf),
        "addr_bits": _log2(d),
    }
    hls_lut_lanes = float(lanes * pb) if not rtl and not dsp else 0.0
    ff = {
        "const_hls": lut["const_hls"],
        "const_rtl": lut["const_rtl"],
        "lane_bits": hls_lut_lanes,
        "dsp_lane_bits": float(lanes * pb) if dsp and not rtl else 0.0,
        "rtl_lanes": float(lanes) if rtl else 0.0,
        "acc_bits": float(p * n.mmv * n.acc_bits),
        "thr_bits": float(p * n.mmv * thr * n.acc_bits),
        "stream_bits": 0.0 if rtl else float(width),
        "input_buffer_bits": float(ibuf),
        "wmem_decode": float(d) if dist else 0.0,
    }
    dsp_f = {
        "hls_dsp_lanes": float(lanes) if dsp and not rtl else 0.0,
        "rtl_const": 1.0 if rtl else 0.0,
        "rtl_dsp48e1": float(math.ceil(p / 4) * q) if rtl else 0.0,
    }
    bram = {"weights_block": float(vivado_bram18(width, d)) if style == "block" else 0.0}
    uram = {"weights_ultra": float(uram_blocks(width, d)) if style == "ultra" else 0.0}
    return {"lut": lut, "ff": ff, "dsp": dsp_f, "bram18": bram, "uram": uram}


@dataclass(frozen=True)
class ThresholdingNode:
    channels: int  # NumChannels
    pe: int
    in_bits: int
    out_bits: int
    impl: str = "rtl"
    num_steps: int = 0  # numSteps; 0: 2^out_bits - 1

    finn_op = "Thresholding"

    @property
    def steps(self) -> int:
        return self.num_steps or 2**self.out_bits - 1


def features_thresholding(n: ThresholdingNode) -> Features:
    """A one-step threshold (one comparison per PE) costs a per-PE constant; each further
    step adds a comparator stage of the input width and its pipeline registers
    (`Thresholding_rtl`'s binary search). The finn_synth rows (784 channels, 8-bit
    inputs, PE 1..56) are linear in PE for both 1 and 2 steps."""
    extra = float(n.pe * max(0, n.steps - 1) * n.in_bits)
    return {
        "lut": {"const": 1.0, "pe": float(n.pe), "extra_step_bits": extra},
        "ff": {"const": 1.0, "pe": float(n.pe), "extra_step_bits": extra},
    }


@dataclass(frozen=True)
class SwuNode:
    """FINN ConvolutionInputGenerator (sliding window)."""

    channels: int
    ifm: tuple[int, int]
    ofm: tuple[int, int]
    kernel: int
    stride: int
    simd: int
    bits: int
    parallel_window: bool = False
    depthwise: bool = False
    mmv: int = 1

    finn_op = "ConvolutionInputGenerator"

    @property
    def buffer_words(self) -> int:
        """(K-1) full input rows plus K pixels, SIMD channels per word (FINN
        `ConvolutionInputGenerator_rtl` default style buffer)."""
        _, w = self.ifm
        k, c = self.kernel, self.channels
        return max(1, math.ceil(((k - 1) * w * c + k * c) / self.simd))


def features_swu(n: SwuNode) -> Features:
    width = n.simd * n.bits * n.mmv
    depth = n.buffer_words
    out_width = width * (n.kernel * n.kernel if n.parallel_window else 1)
    return {
        "lut": {
            "const": 1.0,
            "buffer_lutram": float(width * math.ceil(depth / 64)),
            "addr_bits": _log2(depth) + _log2(n.ifm[0] * n.ifm[1]),
            "out_bits": float(out_width),
        },
        "ff": {
            "const": 1.0,
            "addr_bits": _log2(depth) + _log2(n.ifm[0] * n.ifm[1]),
            "out_bits": float(out_width),
        },
    }


@dataclass(frozen=True)
class FmPadNode:
    channels: int
    img: tuple[int, int]
    pad: int  # total padding of both sides of one dimension
    simd: int
    bits: int

    finn_op = "FMPadding"


def features_fmpad(n: FmPadNode) -> Features:
    width = n.simd * n.bits
    counters = _log2(n.img[0] + n.pad) + _log2(n.img[1] + n.pad) + _log2(n.channels // n.simd)
    return {
        "lut": {"const": 1.0, "counter_bits": counters, "data_bits": float(width)},
        "ff": {"const": 1.0, "counter_bits": counters, "data_bits": float(width)},
    }


@dataclass(frozen=True)
class FifoNode:
    width: int  # bits per word
    depth: int
    impl_style: str = "rtl"

    finn_op = "StreamingFIFO"


#: FIFOs deeper than this are Vivado AXI-Stream FIFO IP (`impl_style: vivado`) rather
#: than the SRL-based Q_srl: FINN `SetFIFODepths(max_qsrl_depth=256)`.
MAX_QSRL_DEPTH = 256


def features_fifo(n: FifoNode) -> Features:
    """Q_srl (`impl_style: rtl`): SRL16 per bit per 16 entries, pointer counters.
    Vivado FIFO IP (`impl_style: vivado`, FINN's choice above MAX_QSRL_DEPTH): its memory
    in RAMB18s by `vivado_bram18` (counted, not fitted; no such row in finn_synth) and
    pointer/flag logic (priors.yaml)."""
    if n.impl_style == "vivado":
        return {
            "lut": {"vivado_const": 1.0, "pointer_bits": _log2(n.depth)},
            "ff": {"vivado_const": 1.0, "pointer_bits": _log2(n.depth)},
            "bram18": {"vivado_bram": float(vivado_bram18(n.width, n.depth))},
        }
    srl = float(n.width * math.ceil(n.depth / 16)) if n.depth > 2 else 0.0
    return {
        "lut": {
            "const": 1.0,
            "srl16_bits": srl,
            "shallow_bits": float(n.width) if n.depth <= 2 else 0.0,
            "pointer_bits": _log2(n.depth),
        },
        "ff": {
            "const": 1.0,
            "data_bits": float(n.width),
            "pointer_bits": _log2(n.depth),
        },
    }


@dataclass(frozen=True)
class DwcNode:
    in_width: int
    out_width: int
    impl: str = "rtl"

    finn_op = "StreamingDataWidthConverter"


def features_dwc(n: DwcNode) -> Features:
    """A shift register of lcm(in, out) bits (FINN `StreamingDataWidthConverter`);
    the HLS version (`_hls`) buffers through an extra stage (its own constant)."""
    known = n.in_width > 0 and n.out_width > 0  # rows without widths fit the constants
    buf = float(math.lcm(n.in_width, n.out_width)) if known else 0.0
    rtl = n.impl == "rtl"
    return {
        "lut": {"const_rtl": float(rtl), "const_hls": float(not rtl), "buffer_bits": buf},
        "ff": {"const_rtl": float(rtl), "const_hls": float(not rtl), "buffer_bits": buf},
    }


@dataclass(frozen=True)
class LabelSelectNode:
    labels: int
    k: int
    pe: int
    in_bits: int

    finn_op = "LabelSelect"


def features_labelselect(n: LabelSelectNode) -> Features:
    """Top-K over `labels` values: K comparators of the input width per PE and the
    K best (value, index) registers."""
    idx = _log2(n.labels)
    return {
        "lut": {"const": 1.0, "compare_bits": float(n.pe * n.k * n.in_bits), "index_bits": idx},
        "ff": {"const": 1.0, "store_bits": float(n.k * (n.in_bits + idx)), "index_bits": idx},
    }


@dataclass(frozen=True)
class StreamNode:
    """A per-lane streaming unit without its own calibration rows: `StreamingMaxPool`,
    `Pool`, `AddStreams`, `DuplicateStreams`, `StreamingConcat`. `lanes` values of `bits` per cycle;
    `buffer_bits` of line buffer (max pooling keeps one output row)."""

    op: str
    lanes: int
    bits: int
    buffer_words: int = 0
    kernel: int = 1

    @property
    def finn_op(self) -> str:
        return self.op


def features_stream(n: StreamNode) -> Features:
    width = n.lanes * n.bits
    return {
        "lut": {
            "const": 1.0,
            "datapath_bits": float(width),
            "buffer_lutram": float(width * math.ceil(n.buffer_words / 64)),
        },
        "ff": {"const": 1.0, "datapath_bits": float(width)},
    }


Node = (
    MvauNode
    | ThresholdingNode
    | SwuNode
    | FmPadNode
    | FifoNode
    | DwcNode
    | LabelSelectNode
    | StreamNode
)


def features(node: Node) -> Features:
    """The feature terms of `node` per resource."""
    match node:
        case MvauNode():
            return features_mvau(node)
        case ThresholdingNode():
            return features_thresholding(node)
        case SwuNode():
            return features_swu(node)
        case FmPadNode():
            return features_fmpad(node)
        case FifoNode():
            return features_fifo(node)
        case DwcNode():
            return features_dwc(node)
        case LabelSelectNode():
            return features_labelselect(node)
        case StreamNode():
            return features_stream(node)
    raise TypeError(f"not a FINN node: {node!r}")  # pragma: no cover


Coefficients = Mapping[str, Mapping[str, Mapping[str, float]]]  # op -> resource -> term


def unit_resources(node: Node, coefficients: Coefficients) -> Resources:
    """`node`'s resources: per resource, the sum of its feature terms times the
    profile's coefficients (a term the profile does not know counts 0)."""
    coef = coefficients.get(node.finn_op, {})
    values: dict[str, float] = {}
    for resource, terms in features(node).items():
        cr = coef.get(resource, {})
        values[resource] = sum(v * cr.get(t, 0.0) for t, v in terms.items())
    return Resources(
        lut=values.get("lut", 0.0),
        ff=values.get("ff", 0.0),
        dsp=values.get("dsp", 0.0),
        bram18=values.get("bram18", 0.0),
        uram=values.get("uram", 0.0),
    )
