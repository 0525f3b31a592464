"""FINN's own analytical estimator for matrix-vector units, reproduced formula for formula
as a side-by-side baseline (`dse estimate --estimator finn`).

Source: AMD FINN / finn-plus 1.6.1, `src/finn/custom_op/fpgadataflow/`:
`matrixvectoractivation.py` (`bram_estimation`, `uram_estimation`, `get_exp_cycles`),
`hls/matrixvectoractivation_hls.py` (`lut_estimation`, `dsp_estimation`) and
`rtl/matrixvectoractivation_rtl.py` (LUT 0, DSP by DSP block); the constants c0 = 300,
c1 = 1.1 are FINN-R's (Blott et al., TRETS 2018). Checked against every row of
tests/fixtures/finn_mvau_estimates.csv (tests/costmodels/test_finn.py).

FINN leaves out FIFOs, sliding windows, pooling and the shell; so does this baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from costmodels.arith import resolve_arith
from costmodels.network import resolve
from costmodels.types import (
    Arith,
    Device,
    Impl,
    LayerCost,
    MemMode,
    Network,
    NetworkCost,
    NumType,
    Resources,
)


@dataclass(frozen=True)
class FinnMvau:
    """The attributes of one FINN MVAU node that its estimator reads."""

    mw: int
    mh: int
    pe: int
    simd: int
    w_bits: int
    a_bits: int
    out_bits: int
    num_vectors: int = 1
    input_signed: bool = False
    res_type: str = "lut"  # "lut" | "dsp"
    mem_mode: str = "internal_decoupled"  # | "internal_embedded" | "external"
    ram_style: str = "auto"  # | "block" | "distributed" | "ultra"
    ram_style_thresholds: str = "auto"  # | "block" | "distributed"
    no_activation: bool = False
    backend: str = "hls"  # | "rtl"
    dsp_block: str = "DSP48E2"
    acc_datatype_bits: int = 32  # FINN's accDataType default INT32


@dataclass(frozen=True)
class FinnEstimate:
    lut: int
    bram18: int
    uram: int
    dsp: int
    cycles: int


def _wmem(n: FinnMvau) -> int:
    return n.mw * n.mh // (n.pe * n.simd)


def finn_cycles(n: FinnMvau) -> int:
    """`get_exp_cycles`: (MH/PE) * (MW/SIMD) * prod(numInputVectors), MMV fixed to 1."""
    return int((n.mh / n.pe) * (n.mw / n.simd) * n.num_vectors)


def finn_bram18(n: FinnMvau) -> int:
    """`bram_estimation`: RAMB18 in SDP mode (UG573 Table 1-10) for a PE*SIMD*W-wide,
    MW*MH/(PE*SIMD)-deep weight memory; 0 for LUTRAM/URAM/external weights."""
    omega = (n.mw * n.mh) / (n.pe * n.simd)
    width = n.pe * n.simd * n.w_bits
    if (
        (n.mem_mode == "internal_decoupled" and n.ram_style in ("distributed", "ultra"))
        or (n.mem_mode == "internal_embedded" and _wmem(n) <= 128)
        or n.mem_mode == "external"
    ):
        return 0
    if width == 1:
        return math.ceil(omega / 16384)
    if width == 2:
        return math.ceil(omega / 8192)
    if width <= 4:
        return math.ceil(omega / 4096) * math.ceil(width / 4)
    if width <= 9:
        return math.ceil(omega / 2048) * math.ceil(width / 9)
    if width <= 18 or omega > 512:
        return math.ceil(omega / 1024) * math.ceil(width / 18)
    return math.ceil(omega / 512) * math.ceil(width / 36)


def finn_uram(n: FinnMvau) -> int:
    """`uram_estimation`: 72-bit x 4K blocks, only for `ram_style=ultra` (decoupled) or
    embedded memories deeper than 128."""
    omega = (n.mw * n.mh) / (n.pe * n.simd)
    width = n.pe * n.simd * n.w_bits
    if (
        (n.mem_mode == "internal_decoupled" and n.ram_style != "ultra")
        or (n.mem_mode == "internal_embedded" and _wmem(n) <= 128)
        or n.mem_mode == "external"
    ):
        return 0
    return math.ceil(width / 72) * math.ceil(omega / 4096)


def finn_acc_bits(n: FinnMvau) -> int:
    """The accumulator width FINN's LUT estimate uses: min(accDataType bits, the data-type
    bound of arXiv:2301.13376): alpha = log2(MW) + W + A - 1 - signed(input)."""
    alpha = math.log(n.mw, 2) + n.w_bits + n.a_bits - 1 - int(n.input_signed)
    bound = math.ceil(alpha + math.log(1 + 2.0**-alpha, 2) + 1)
    return min(n.acc_datatype_bits, bound)


def finn_lut(n: FinnMvau) -> int:
    """`lut_estimation` (HLS backend; the RTL backend reports 0):
    300 + 1.1 * PE * (mult + addertree + acc + thr + comp) + LUTRAM weights."""
    if n.backend == "rtl":
        return 0
    p, q, w, a = n.pe, n.simd, n.w_bits, n.a_bits
    c0, c1, c2 = 300, 1.1, 0
    if (n.mem_mode == "internal_decoupled" and n.ram_style == "distributed") or (
        n.mem_mode == "internal_embedded" and _wmem(n) <= 128
    ):
        c2 = (p * q * w) * math.ceil(_wmem(n) / 64)
    mult = 0 if n.res_type == "dsp" else q * (2 * math.ceil((w + a) / 6) - 1) * (w + a)
    addertree = (w + a) * (2 * q - 1)
    acc = finn_acc_bits(n)
    thr = comp = 0
    if not n.no_activation and n.ram_style_thresholds == "distributed":
        b = n.out_bits
        tmem = n.mh // n.pe
        thr = (2**b - 1) * acc * math.ceil(tmem / 64)
        comp = (2**b - 1) * acc
    return int(c0 + c1 * (p * (mult + addertree + acc + thr + comp)) + c2)


def finn_dsp(n: FinnMvau) -> int:
    """`dsp_estimation`: HLS: PE*SIMD*ceil((W+A)/48) for resType dsp; RTL: PE*ceil(SIMD/3)
    on DSP58, ceil(PE/4)*SIMD on DSP48."""
    if n.backend == "rtl":
        if n.dsp_block == "DSP58":
            return int(n.pe * math.ceil(n.simd / 3))
        return int(math.ceil(n.pe / 4) * n.simd)
    if n.res_type == "dsp":
        return int(n.pe * n.simd * math.ceil((n.w_bits + n.a_bits) / 48))
    return 0


def finn_estimate(n: FinnMvau) -> FinnEstimate:
    return FinnEstimate(finn_lut(n), finn_bram18(n), finn_uram(n), finn_dsp(n), finn_cycles(n))


def estimate_finn(network: Network, device: Device, clock_mhz: float | None = None) -> NetworkCost:
    """The FINN-formula baseline for a whole network: every conv/dense layer as a FINN
    MVAU (the layer's `impl`, `mem_mode` (default internal_decoupled) and `ram_style`;
    resType dsp when our arithmetic resolves to DSP, else lut; signed or bipolar inputs,
    a 1-bit input by default, are signed for the accumulator bound; MMV ignored as FINN
    does). Pooling, windows, FIFOs and the
    shell cost nothing, as in FINN's estimator; their cycles are not counted either."""
    layers = resolve(network)
    clock = clock_mhz or network.clock_mhz or device.clock_mhz
    costs: list[LayerCost] = []
    total = Resources()
    for rl in layers:
        if not rl.op.is_compute:
            continue
        c = rl.choice
        arith = resolve_arith(c, rl.in_bits, rl.name, rl.in_type)
        in_type = rl.input_type
        node = FinnMvau(
            mw=rl.mw,
            mh=rl.mh,
            pe=c.pe,
            simd=c.simd,
            w_bits=c.w_bits,
            a_bits=rl.in_bits,
            out_bits=rl.out_bits,
            num_vectors=rl.num_vectors,
            res_type="dsp" if arith is Arith.DSP else "lut",
            mem_mode=(c.mem_mode or MemMode.INTERNAL_DECOUPLED).value,
            ram_style=c.ram_style.value,
            no_activation=c.a_bits is None,
            backend="rtl" if c.impl is Impl.RTL else "hls",
            dsp_block=device.dsp_block,
            # FINN's BNN inputs are bipolar: signed for the accumulator bound
            input_signed=in_type in (NumType.SIGNED, NumType.BIPOLAR),
        )
        est = finn_estimate(node)
        res = Resources(
            lut=float(est.lut), dsp=float(est.dsp), bram18=float(est.bram18), uram=float(est.uram)
        )
        costs.append(LayerCost(rl.name, rl.op, res, est.cycles, est.cycles))
        total = total + res
    if not costs:
        from costmodels.errors import SpecError

        raise SpecError(f"network {network.name!r} has no conv/dense layer for the FINN estimator")
    ii = max(c.cycles for c in costs)
    return NetworkCost(
        network=network.name,
        device=device,
        clock_mhz=clock,
        layers=tuple(costs),
        shell=Resources(),
        total=total,
        cycles_per_frame=ii,
        latency_cycles=sum(c.cycles for c in costs),
    )
