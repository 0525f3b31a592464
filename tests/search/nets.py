"""Networks the search tests share, built in Python (no spec file needed)."""

from __future__ import annotations

from costmodels.types import LayerChoice, LayerSpec, Network, Op


def cnv(w_bits: int = 1, a_bits: int = 1) -> Network:
    """The BNN-PYNQ CNV topology (Umuroglu et al. 2017; FINN bnn-pynq cnv): 6 convs of
    64-64-128-128-256-256 3x3 filters without padding, 2x2 max pools after conv2 and
    conv4, dense 512-512-10; 8-bit input image 3x32x32."""

    def c(bits_w: int, bits_a: int | None) -> LayerChoice:
        return LayerChoice(w_bits=bits_w, a_bits=bits_a)

    layers = [
        LayerSpec("conv1", Op.CONV, 64, kernel=3, choice=c(w_bits, a_bits)),
        LayerSpec("conv2", Op.CONV, 64, kernel=3, choice=c(w_bits, a_bits)),
        LayerSpec("pool1", Op.MAXPOOL, kernel=2),
        LayerSpec("conv3", Op.CONV, 128, kernel=3, choice=c(w_bits, a_bits)),
        LayerSpec("conv4", Op.CONV, 128, kernel=3, choice=c(w_bits, a_bits)),
        LayerSpec("pool2", Op.MAXPOOL, kernel=2),
        LayerSpec("conv5", Op.CONV, 256, kernel=3, choice=c(w_bits, a_bits)),
        LayerSpec("conv6", Op.CONV, 256, kernel=3, choice=c(w_bits, a_bits)),
        LayerSpec("fc1", Op.DENSE, 512, choice=c(w_bits, a_bits)),
        LayerSpec("fc2", Op.DENSE, 512, choice=c(w_bits, a_bits)),
        LayerSpec("fc3", Op.DENSE, 10, choice=c(w_bits, None)),
    ]
    return Network("cnv", (3, 32, 32), 8, tuple(layers))
