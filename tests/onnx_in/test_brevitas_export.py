"""A real Brevitas export read back (optional, slow): a small quantized CNN exported with
both of Brevitas' QONNX exporters (legacy, and dynamo with its external .onnx.data) reads
back with the model's layers, bits and widths. Skips where brevitas is not installed;
`DSE_BREVITAS_SITE` may name a folder brevitas was installed into with
`pip install --no-deps --target DIR brevitas dependencies unfoldNd onnxoptimizer`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
if os.environ.get("DSE_BREVITAS_SITE"):
    sys.path.append(os.environ["DSE_BREVITAS_SITE"])
pytest.importorskip("onnx", reason="the onnx extra is not installed")
pytest.importorskip("brevitas", reason="brevitas is not installed (optional: see docstring)")
pytest.importorskip("onnxoptimizer", reason="brevitas' QONNX export needs onnxoptimizer")


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_brevitas_export_reads_back(tmp_path: Path, dynamo: bool) -> None:
    import brevitas.nn as qnn
    import torch
    from brevitas.export import export_qonnx
    from torch import nn

    from costmodels.types import Op, WType
    from dse.onnx_import import network_from_onnx

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
            self.conv = qnn.QuantConv2d(3, 8, 3, padding=1, weight_bit_width=4, bias=False)
            self.bn = nn.BatchNorm2d(8)
            self.act = qnn.QuantReLU(bit_width=3)
            self.pool = nn.MaxPool2d(2)
            self.fc = qnn.QuantLinear(8 * 4 * 4, 10, bias=True, weight_bit_width=2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.act(self.bn(self.conv(self.inp(x))))
            return self.fc(torch.flatten(self.pool(x), 1))

    path = tmp_path / "net.onnx"
    export_qonnx(Net().eval(), torch.randn(1, 3, 8, 8), export_path=str(path), dynamo=dynamo)
    if dynamo:
        assert path.with_name("net.onnx.data").is_file()
    net = network_from_onnx(path)
    assert net.input_shape == (3, 8, 8) and net.input_bits == 8
    assert [la.op for la in net.layers] == [Op.CONV, Op.MAXPOOL, Op.DENSE]
    conv, _, fc = net.layers
    assert conv.name == "conv" and fc.name == "fc"
    assert (conv.out_channels, conv.kernel, conv.padding) == (8, 3, 1)
    assert conv.choice is not None and fc.choice is not None
    assert (conv.choice.w_bits, conv.choice.a_bits) == (4, 3)
    assert (fc.choice.w_bits, fc.choice.weight_type, fc.choice.a_bits) == (2, WType.TERNARY, None)
    assert fc.out_channels == 10
