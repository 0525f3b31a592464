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

from dataclasses import replace

from costmodels.types import Arith, LayerChoice, LayerSpec, Network, Op

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


#: (PE, p) per conv layer of the thesis AlexNet variant, Faraone thesis Table 6.7.
ALEXNET_THESIS_FOLDING: tuple[tuple[int, int], ...] = (
    (96, 4),
    (256, 4),
    (384, 1),
    (384, 2),
    (256, 2),
)


def alexnet_thesis_network(arith: Arith = Arith.DSP, w_bits: int = 8) -> Network:
    """The convolutional part of the Faraone thesis ch. 6 AlexNet variant (7x7/2 conv1,
    Table 6.6/6.7): conv 96, pool, conv 256 (5x5), pool, conv 384, 384, 256 (3x3), on a
    3x224x224 8-bit image, one PE per output channel with p multipliers each (SIMD = p;
    conv1 uses SIMD 3, the divisor of its 3 input channels closest to the thesis p = 4).
    Activations 8-bit; 8-bit weights or RCCM indices (`arith`)."""
    shapes = ((96, 7, 2, 0), (256, 5, 1, 2), (384, 3, 1, 1), (384, 3, 1, 1), (256, 3, 1, 1))
    layers: list[LayerSpec] = []
    for i, ((out, k, s, p), (pe, simd)) in enumerate(
        zip(shapes, ALEXNET_THESIS_FOLDING, strict=True)
    ):
        choice = LayerChoice(
            w_bits=w_bits, a_bits=8, pe=pe, simd=3 if i == 0 else simd, arith=arith
        )
        layers.append(
            LayerSpec(
                f"conv{i + 1}",
                Op.CONV,
                out_channels=out,
                kernel=k,
                stride=s,
                padding=p,
                choice=choice,
            )
        )
        if i in (0, 1):
            layers.append(LayerSpec(f"pool{i + 1}", Op.MAXPOOL, kernel=3, stride=2))
    return Network(f"alexnet-thesis-{arith.value}", (3, 224, 224), 8, tuple(layers), 250.0)


def resnet18_main_path(w_bits: int = 16, a_bits: int = 16, imagenet: bool = True) -> Network:
    """ResNet-18's main path (He et al. 2016): every 3x3 conv of the 8 basic blocks plus the
    stem and the classifier; the three 1x1 downsampling convs of the skip paths are left out
    (under 3 % of the MACs). ImageNet: 7x7/2 stem and 3x3/2 max pool on 224x224; CIFAR-10:
    3x3 stem on 32x32 (the common CIFAR variant). For the engines template, which only
    sums the layers' cycles."""
    ch = LayerChoice(w_bits=w_bits, a_bits=a_bits, pe=1, simd=1)
    layers: list[LayerSpec] = []
    if imagenet:
        layers.append(
            LayerSpec("conv1", Op.CONV, out_channels=64, kernel=7, stride=2, padding=3, choice=ch)
        )
        layers.append(LayerSpec("pool1", Op.MAXPOOL, kernel=3, stride=2, padding=1))
    else:
        layers.append(LayerSpec("conv1", Op.CONV, out_channels=64, kernel=3, padding=1, choice=ch))
    for stage, width in enumerate((64, 128, 256, 512)):
        for block in range(2):
            for j in range(2):
                stride = 2 if stage > 0 and block == 0 and j == 0 else 1
                layers.append(
                    LayerSpec(
                        f"s{stage}b{block}c{j}",
                        Op.CONV,
                        out_channels=width,
                        kernel=3,
                        stride=stride,
                        padding=1,
                        choice=ch,
                    )
                )
    layers.append(LayerSpec("gap", Op.AVGPOOL, kernel=7 if imagenet else 4))
    classes = 1000 if imagenet else 10
    layers.append(LayerSpec("fc", Op.DENSE, out_channels=classes, choice=replace(ch, a_bits=None)))
    shape = (3, 224, 224) if imagenet else (3, 32, 32)
    return Network(f"resnet18-{'imagenet' if imagenet else 'cifar'}", shape, 8, tuple(layers))


def fifty_layer_network() -> Network:
    """A synthetic 50-layer network for the speed benchmark (benchmarks/costmodel_speed.py)
    and the golden test of the optimised hot path: 47 3x3 convs (64-256 channels, padding
    1) with 2 max pools and a dense head, on a 3x32x32 8-bit image."""
    layers: list[LayerSpec] = []
    ch = 64
    for i in range(47):
        if i in (16, 32):
            layers.append(LayerSpec(f"pool{i}", Op.MAXPOOL, kernel=2))
            ch *= 2
        layers.append(
            LayerSpec(
                f"conv{i}",
                Op.CONV,
                out_channels=ch,
                kernel=3,
                padding=1,
                choice=LayerChoice(w_bits=2, a_bits=2, pe=16, simd=16 if i else 3),
            )
        )
    layers.append(
        LayerSpec("fc", Op.DENSE, out_channels=10, choice=LayerChoice(4, None, pe=2, simd=16))
    )
    return Network("fifty", (3, 32, 32), 8, tuple(layers))


def resnet50_main_path(w_bits: int = 2, a_bits: int = 2, first_last_bits: int = 8) -> Network:
    """ResNet-50's main path on 224x224 (He et al. 2016, Table 1): the 7x7/2 stem, a 3x3/2
    max pool, 16 bottleneck blocks (1x1, 3x3, 1x1 convs; 3, 4, 6, 3 per stage, the first
    3x3 of stages 2-4 with stride 2), global average pooling and the 1000-way classifier:
    50 compute layers. The four 1x1 projection convs of the skip paths and the residual
    adds are left out (the layer list is sequential). `first_last_bits` for the stem and
    the classifier (the usual 8-bit first and last layers)."""
    ch = LayerChoice(w_bits=w_bits, a_bits=a_bits, pe=1, simd=1)
    edge = replace(ch, w_bits=first_last_bits)
    layers: list[LayerSpec] = [
        LayerSpec("conv1", Op.CONV, out_channels=64, kernel=7, stride=2, padding=3, choice=edge),
        LayerSpec("pool1", Op.MAXPOOL, kernel=3, stride=2, padding=1),
    ]
    for stage, (width, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3))):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            for j, (out, k) in enumerate(((width, 1), (width, 3), (4 * width, 1))):
                layers.append(
                    LayerSpec(
                        f"s{stage}b{block}c{j}",
                        Op.CONV,
                        out_channels=out,
                        kernel=k,
                        stride=stride if j == 1 else 1,
                        padding=1 if k == 3 else 0,
                        choice=ch,
                    )
                )
    layers.append(LayerSpec("gap", Op.AVGPOOL, kernel=7))
    layers.append(LayerSpec("fc", Op.DENSE, out_channels=1000, choice=replace(edge, a_bits=None)))
    return Network("resnet50-main", (3, 224, 224), 8, tuple(layers))
