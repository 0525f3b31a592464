"""A twin design's two halves over one workload, their validation and the default pair.

TwinDNN (seed 000, Sec. 1 and 3.2): the *compressed* network has binary or ternary weights
and computes in LUTs (a multiplexer selecting -A/0/+A, or XNOR-popcount for binary
activations); the *accurate* one is moderately quantized (k-bit) and multiplies in DSPs
(here also RCCMs, Faraone thesis ch. 6). Both are the same workload's network with different
per-layer choices, so they see the same inputs and produce the same classes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from costmodels.network import resolve, valid_pe, valid_simd
from costmodels.types import Arith, LayerChoice, Network
from dse.twin.errors import PairError

#: Arithmetic a compressed layer may use: LUT add/sub multiplexers or XNOR-popcount
#: (`auto` resolves to one of them for 1-2-bit weights).
COMPRESSED_ARITH = (Arith.AUTO, Arith.LUT, Arith.XNOR)
#: Arithmetic an accurate layer may use: DSP multipliers or RCCMs (`auto`: the model's pick).
ACCURATE_ARITH = (Arith.AUTO, Arith.DSP, Arith.RCCM2, Arith.RCCM3, Arith.RCCM4, Arith.LUT)


@dataclass(frozen=True)
class TwinPair:
    """The compressed and the accurate network of one twin design (validated on creation)."""

    compressed: Network
    accurate: Network

    def __post_init__(self) -> None:
        check_same_workload(self.compressed, self.accurate)
        check_compressed(self.compressed)


def _signature(net: Network) -> tuple[object, ...]:
    return (
        tuple(net.input_shape),
        tuple((layer.name, layer.op, layer.out_channels, layer.kernel) for layer in net.layers),
    )


def check_same_workload(compressed: Network, accurate: Network) -> None:
    """Both halves must be the same network structure (only per-layer choices differ)."""
    if _signature(compressed) != _signature(accurate):
        raise PairError(
            f"the compressed network {compressed.name!r} and the accurate network "
            f"{accurate.name!r} differ in structure: both halves must be the same workload's "
            "network with different per-layer choices"
        )


def check_compressed(network: Network) -> None:
    """Every compute layer binary or ternary (1- or 2-bit weights) with LUT/XNOR arithmetic;
    `PairError` naming the first layer that is not."""
    for layer in network.compute_layers:
        c = layer.choice or LayerChoice()
        if c.w_bits > 2:
            raise PairError(
                f"the compressed network must be binary/ternary: layer {layer.name!r} has "
                f"{c.w_bits}-bit weights (use w_bits 1 or 2)"
            )
        if c.arith not in COMPRESSED_ARITH:
            raise PairError(
                f"the compressed network computes in LUTs: layer {layer.name!r} uses "
                f"{c.arith.value} (use lut, xnor or auto)"
            )


def _fold(network: Network, w_bits: int, a_bits: int, arith: Arith, par: int) -> Network:
    """Every compute layer at `w_bits`/`a_bits` (the last keeps raw outputs) and the
    largest PE and SIMD not above `par` that fold it."""
    choices = {}
    for r in resolve(network, check_folding=False):
        if not r.op.is_compute:
            continue
        c = r.choice
        pe = max(d for d in valid_pe(r) if d <= par)
        simd = max(d for d in valid_simd(r) if d <= par)
        choices[r.name] = replace(
            c,
            w_bits=w_bits,
            w_type=None,
            a_bits=None if c.a_bits is None else a_bits,
            arith=arith,
            pe=pe,
            simd=simd,
            mmv=1,
            prune=0.0,
        )
    return network.with_choices(choices)


def default_pair(network: Network) -> TwinPair:
    """Built-in halves: compressed = ternary weights, 2-bit activations, LUT arithmetic,
    PE = SIMD <= 16; accurate = 8-bit weights, 4-bit activations, DSP multipliers,
    PE = SIMD <= 4 (on digits-cnn they take 26k and 19k LUT, 78 % of an XCZU3EG with the
    overhead, `dse twin-sweep` prints it)."""
    cmp_net = _fold(network, 2, 2, Arith.LUT, 16)
    acc_net = _fold(network, 8, 4, Arith.DSP, 4)
    return TwinPair(
        replace(cmp_net, name=f"{network.name}-compressed"),
        replace(acc_net, name=f"{network.name}-accurate"),
    )
