"""Sparse ternary layers (Faraone thesis ch. 3): weights stored compressed in
sign-magnitude run-length form, decoded by a hardware decompressor per weight stream, and
only the non-zero weights computed.

The `sparse` arithmetic of a conv/dense unit. Per PE and SIMD lane one decompressor walks
its stream of (sign, zero-run) entries and emits one (input address, weight) pair per
cycle (thesis 3.4.1); the MMV lanes of that (PE, SIMD) position share it (data reuse,
thesis 3.4.4 and Fig. 3.5: one decoded weight serves several output pixels). Each lane is
a conditional add/sub (the zeros never reach it). Because each lane reads the input
vector at data-dependent addresses, the lanes need their own copy of the input vector
(the irregular access the thesis names as the difficulty of sparsity on parallel
hardware, 3.4): a double-buffered bank per (PE pair, SIMD lane). Counts are expected values
for zeros spread independently over the weights (load imbalance between lanes is not
modelled).
"""

from __future__ import annotations

import math

from costmodels.errors import SpecError
from costmodels.memory import lutram_luts, place_memory
from costmodels.types import Device, LayerChoice, Op, ResolvedLayer, Resources, Scaling, WType

#: LUTs of one run-length decompressor producing an address and a weight per cycle:
#: Faraone thesis Sec. 3.4.1, Vivado HLS 2017.1 *estimate* at 250 MHz (seed_results row 12).
DECOMPRESSOR_LUT = 112.0
#: FFs of one decompressor (run counter, address register, entry register); assumption:
#: half the LUTs, like the MVAU base (the thesis gives no FF figure).
DECOMPRESSOR_FF = 56.0
#: Widest run field considered for the run-length code (bits).
MAX_RUN_BITS = 16
#: Read ports of one input-buffer RAM (RAMB18 true dual port, UG573; RAM64X1D, UG574):
#: two PEs share one copy of the input vector.
INPUT_BUFFER_READ_PORTS = 2
#: Input-vector banks of at most this many bits are LUTRAM (RAM64X1D, UG574 ch. 5): a
#: RAMB18 for a few hundred bits would waste nearly all of it (assumption; a quarter of a
#: RAMB18's 16 Kb).
INPUT_BUFFER_LUTRAM_BITS = 4096


def check_sparse(choice: LayerChoice, layer: str = "") -> float:
    """The measured non-zero ratio of a `sparse` layer, or a one-line SpecError: the
    arithmetic needs ternary weights (the sign-magnitude code stores one sign bit per
    non-zero, thesis 3.2.4) and the density of the quantized weights (never guessed)."""
    if choice.weight_type is not WType.TERNARY:
        raise SpecError(
            f"layer {layer!r}: arith sparse needs ternary weights (w_bits 2), got "
            f"w_bits={choice.w_bits}"
        )
    if choice.scaling in (Scaling.ROW, Scaling.PIXEL):
        raise SpecError(
            f"layer {layer!r}: arith sparse with scaling {choice.scaling.value} is not "
            "modelled (use scaling channel or layer)"
        )
    if choice.density is None:
        raise SpecError(
            f"layer {layer!r}: arith sparse needs density (the measured ratio of non-zero "
            "weights, 0..1; `dse search` measures it on the quantized trained weights)"
        )
    return choice.density


def rle_entries_per_weight(density: float, run_bits: int) -> float:
    """Stream entries per weight of the run-length code with `run_bits`-bit runs.

    Each non-zero is one entry holding its sign and the zero-run before it (thesis 3.2.4,
    RLE); a run field of all ones (M = 2^r - 1) is an escape entry that skips M zeros
    without a weight. With zeros spread independently (probability 1 - gamma each) a run L
    is geometric, P(L >= k) = (1-gamma)^k, so escapes per non-zero are
    E[floor(L/M)] = sum_j (1-gamma)^(jM) = q/(1-q), q = (1-gamma)^M, and entries per weight
    = gamma (1 + q/(1-q)) = gamma / (1 - q). For gamma -> 0 the limit is 1/M.
    """
    m = 2**run_bits - 1
    if density <= 0.0:
        return 1.0 / m
    q = (1.0 - density) ** m
    return density / (1.0 - q)


def rle_run_bits(density: float) -> int:
    """The run width r (1..16) with the fewest bits per weight, (1 + r) * entries."""
    return min(
        range(1, MAX_RUN_BITS + 1),
        key=lambda r: ((1 + r) * rle_entries_per_weight(density, r), r),
    )


def rle_bits_per_weight(density: float) -> float:
    """Stored bits per weight of the compressed form (sign + run per entry), at the best
    run width: e.g. gamma = 0.25 -> r = 3, 4 * 0.25 / (1 - 0.75^7) = 1.154 bits per weight
    instead of 2 for dense ternary."""
    r = rle_run_bits(density)
    return (1 + r) * rle_entries_per_weight(density, r)


def reuse_factor(layer: ResolvedLayer, batch: int = 1) -> int:
    """The data reuse R available to one decoded weight (thesis 3.4.4): the batch B for a
    dense layer, B x output pixels for a convolution."""
    if layer.op is Op.DENSE:
        return batch
    return batch * layer.num_vectors


def effective_op_cost(density: float, c_op: float, c_decoder: float, reuse: float) -> float:
    """The effective cost of one operation of a sparse ternary layer, thesis 3.4.4:
    C_e = gamma * (C_op + C_d / R), with gamma the non-zero ratio, C_op the cost of one
    operation, C_d that of one decoder and R the data reuse."""
    if reuse <= 0:
        raise SpecError(f"data reuse R must be positive, got {reuse}")
    return density * (c_op + c_decoder / reuse)


def sparse_entries(layer: ResolvedLayer, density: float) -> tuple[int, int]:
    """(run bits, stream entries per (PE, SIMD lane) and output row): the expected entries
    of one lane's share of one output row, rounded up (what the lane spends cycles on)."""
    c = layer.choice
    r = rle_run_bits(density)
    per_row = rle_entries_per_weight(density, r) * layer.mw / c.simd
    return r, max(1, math.ceil(per_row - 1e-9))


def sparse_cycles(layer: ResolvedLayer) -> int:
    """Cycles per frame of a sparse unit: (MH/PE) * entries per lane and row *
    ceil(vectors/MMV) - FINN's (MH/PE)(MW/SIMD)(N/MMV) with the MW/SIMD dense steps
    replaced by the lane's non-zeros and escapes (one entry per cycle, thesis 3.4.1)."""
    c = layer.choice
    density = check_sparse(c, layer.name)
    _, entries = sparse_entries(layer, density)
    return (layer.mh // c.pe) * entries * math.ceil(layer.num_vectors / c.mmv)


def sparse_memory_parts(
    layer: ResolvedLayer, device: Device
) -> tuple[tuple[str, float, float, float, float, float], ...]:
    """The parts a sparse unit has instead of (or besides) a dense one, as (name, LUT, FF,
    DSP, BRAM18, URAM): the compressed weight memory (one per PE, SIMD entries of 1 + r
    bits wide, entries deep), the decompressors (PE x SIMD, each shared by the MMV lanes)
    and the input-vector copies the lanes read at decoded addresses (double-buffered,
    MW/SIMD words of A x MMV bits per SIMD bank, one copy per two PEs)."""
    c = layer.choice
    density = check_sparse(c, layer.name)
    r, entries = sparse_entries(layer, density)
    rows = layer.mh // c.pe
    w = place_memory(c.simd * (1 + r), rows * entries, device)
    weights = ("weights", w.lut * c.pe, w.ff * c.pe, 0.0, w.bram18 * c.pe, w.uram * c.pe)
    n_dec = c.pe * c.simd
    dec = ("decompressors", n_dec * DECOMPRESSOR_LUT, n_dec * DECOMPRESSOR_FF, 0.0, 0.0, 0.0)
    copies = math.ceil(c.pe / INPUT_BUFFER_READ_PORTS) * c.simd
    width, depth = layer.in_bits * c.mmv, 2 * (layer.mw // c.simd)
    if width * depth <= INPUT_BUFFER_LUTRAM_BITS:
        b = Resources(lut=float(lutram_luts(width, depth)))
    else:
        b = place_memory(width, depth, device)
    buf = ("input_buffers", b.lut * copies, b.ff * copies, 0.0, b.bram18 * copies, b.uram * copies)
    return (weights, dec, buf)
