"""Reference network descriptions with published foldings, for examples, tests and
benchmarks.

- CNV (BNN-PYNQ, Umuroglu et al. FINN 2017; Xilinx/BNN-PYNQ `cnvW1A1` config.h): six 3x3
  convs (64, 64, 128, 128, 256, 256; no padding) with 2x2 max pooling after the 2nd and 4th,
  then dense 512, 512 and 10 padded to 64 outputs (the issue 2 example), 8-bit input image.
  Folding (PE, SIMD) per compute layer as in BNN-PYNQ / FINN's end-to-end CNV test:
  (16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (4, 1).
- TFC (BNN-PYNQ `tfcW1A1`; FINN end-to-end TFC test): 784 -> 64 -> 64 -> 64 -> 10, binarized
  input; folding (PE, SIMD) = (16, 49), (8, 8), (8, 8), (10, 8).
"""

from __future__ import annotations

from costmodels.types import LayerChoice, LayerSpec, Network, Op

#: (PE, SIMD) of CNV's nine compute layers (BNN-PYNQ cnvW1A1 config.h).
CNV_FOLDING: tuple[tuple[int, int], ...] = (
    (16, 3),
    (32, 32),
    (16, 32),
    (16, 32),
    (4, 32),
    (1, 32),
    (1, 4),
    (1, 8),
    (4, 1),
)


def cnv_layers(
    w_bits: int = 1, a_bits: int = 1, folding: tuple[tuple[int, int], ...] = CNV_FOLDING
) -> tuple[LayerSpec, ...]:
    """The CNV topology's layers (9 compute layers + 2 max pools) with `w_bits`/`a_bits`
    on every compute layer (the last one outputs raw accumulators, `a_bits=None`)."""
    if len(folding) != 9:
        raise ValueError("CNV has 9 compute layers; folding must give 9 (PE, SIMD) pairs")

    def ch(i: int, last: bool = False) -> LayerChoice:
        pe, simd = folding[i]
        return LayerChoice(w_bits=w_bits, a_bits=None if last else a_bits, pe=pe, simd=simd)

    conv = [64, 64, 128, 128, 256, 256]
    layers: list[LayerSpec] = []
    for i, out in enumerate(conv):
        layers.append(LayerSpec(f"conv{i}", Op.CONV, out_channels=out, kernel=3, choice=ch(i)))
        if i in (1, 3):
            layers.append(LayerSpec(f"pool{i // 2}", Op.MAXPOOL, kernel=2))
    for j, out in enumerate((512, 512, 64)):
        layers.append(
            LayerSpec(f"fc{j}", Op.DENSE, out_channels=out, choice=ch(6 + j, last=j == 2))
        )
    return tuple(layers)


def cnv_network(w_bits: int = 1, a_bits: int = 1, clock_mhz: float | None = 100.0) -> Network:
    """BNN-PYNQ CNV on a 3x32x32 8-bit image (CIFAR-10) with its published folding."""
    return Network(
        name=f"cnv-w{w_bits}a{a_bits}",
        input_shape=(3, 32, 32),
        input_bits=8,
        layers=cnv_layers(w_bits, a_bits),
        clock_mhz=clock_mhz,
    )


def tfc_network(clock_mhz: float | None = 100.0) -> Network:
    """BNN-PYNQ TFC-w1a1 on binarized 28x28 MNIST with FINN's end-to-end folding."""
    fold = ((64, 16, 49), (64, 8, 8), (64, 8, 8), (10, 10, 8))
    layers = tuple(
        LayerSpec(
            f"fc{i}",
            Op.DENSE,
            out_channels=out,
            choice=LayerChoice(w_bits=1, a_bits=None if i == 3 else 1, pe=pe, simd=simd),
        )
        for i, (out, pe, simd) in enumerate(fold)
    )
    return Network("tfc-w1a1", (784,), 1, layers, clock_mhz)
