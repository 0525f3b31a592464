"""Small QONNX graphs built with onnx.helper the way Brevitas' exporters write them
(legacy: weights inline; dynamo: weights in an external .onnx.data file and lifted tensors
listed as graph inputs), and a FINN-style model after step_qonnx_to_finn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QONNX = "qonnx.custom_op.general"


class Builder:
    def __init__(self, dynamo: bool = False) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.dynamo = dynamo
        self.n = 0
        self.rng = np.random.default_rng(0)

    def name(self, p: str) -> str:
        self.n += 1
        return f"{p}_{self.n}"

    def init(self, name: str, arr: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(arr.astype(np.float32), name))
        return name

    def const(self, value: float) -> str:
        """A bit-width as a Constant node (dynamo) or an initializer (legacy)."""
        out = self.name("c")
        arr = np.array(value, dtype=np.float32)
        if self.dynamo:
            self.nodes.append(
                helper.make_node("Constant", [], [out], value=numpy_helper.from_array(arr))
            )
            return out
        return self.init(out, arr)

    def quant(self, x: str, bits: int, signed: int, narrow: int = 0) -> str:
        out = self.name("q")
        s, z, b = self.const(0.1), self.const(0.0), self.const(bits)
        self.nodes.append(
            helper.make_node(
                "Quant",
                [x, s, z, b],
                [out],
                domain=QONNX,
                signed=signed,
                narrow=narrow,
                rounding_mode="ROUND",
                name=self.name("Quant"),
            )
        )
        return out

    def bipolar(self, x: str) -> str:
        out = self.name("bq")
        self.nodes.append(
            helper.make_node("BipolarQuant", [x, self.const(1.0)], [out], domain=QONNX)
        )
        return out

    def node(self, op: str, ins: list[str], **attrs: object) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, ins, [out], name=self.name(op), **attrs))
        return out

    def weight(self, name: str, shape: tuple[int, ...]) -> str:
        return self.init(name, self.rng.standard_normal(shape))

    def save(self, path: Path, inp: str, shape: list[int], out: str) -> Path:
        inputs = [helper.make_tensor_value_info(inp, TensorProto.FLOAT, shape)]
        if self.dynamo:  # lifted tensors appear as graph inputs too
            inputs += [
                helper.make_tensor_value_info(t.name, TensorProto.FLOAT, list(t.dims))
                for t in self.inits
                if t.dims
            ]
        graph = helper.make_graph(
            self.nodes,
            "g",
            inputs,
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
            initializer=self.inits,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(QONNX, 1)]
        )
        if self.dynamo:
            onnx.save_model(
                model,
                str(path),
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=path.name + ".data",
                size_threshold=0,
            )
        else:
            onnx.save_model(model, str(path))
        return path


def small_cnv(path: Path, *, dynamo: bool) -> Path:
    """input 3x8x8 uint8 -> conv 3x3 pad 1 (4-bit int w, BN, ReLU, 4-bit act) -> maxpool 2
    -> conv 3x3 (bipolar w, 2-bit act) -> flatten -> Gemm 32 (ternary w, 3-bit act)
    -> MatMul 10 (8-bit w, no act quant)."""
    b = Builder(dynamo)
    x = b.quant("inp", 8, signed=0)
    w0 = b.quant(b.weight("features.0.weight", (16, 3, 3, 3)), 4, signed=1, narrow=1)
    y = b.node("Conv", [x, w0], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    bn = [b.weight(f"features.1.{k}", (16,)) for k in ("weight", "bias", "mean", "var")]
    y = b.node("BatchNormalization", [y, *bn])
    y = b.node("Relu", [y])
    y = b.quant(y, 4, signed=0)
    y = b.node("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    w1 = b.bipolar(b.weight("features.4.weight", (8, 16, 3, 3)))
    y = b.node("Conv", [y, w1], kernel_shape=[3, 3])
    y = b.quant(y, 2, signed=0)
    y = b.node("Flatten", [y], axis=1)
    w2 = b.quant(b.weight("classifier.0.weight", (32, 32)), 2, signed=1, narrow=1)
    y = b.node("Gemm", [y, w2, b.weight("classifier.0.bias", (32,))], transB=1)
    y = b.node("Relu", [y])
    y = b.quant(y, 3, signed=0)
    w3 = b.quant(b.weight("classifier.2.weight", (32, 10)), 8, signed=1, narrow=1)
    y = b.node("MatMul", [y, w3])
    y = b.node("Mul", [y, b.const(0.5)])
    return b.save(path, "inp", [1, 3, 8, 8], y)
