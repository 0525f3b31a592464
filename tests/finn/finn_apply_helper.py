"""Runs inside FINN's environment (finn-plus + qonnx on PYTHONPATH; see test_finn_apply.py):
builds the streamlined graph FINN would have for a design (NHWC Im2Col + MatMul or
XnorPopcountMatMul + MultiThreshold per conv, MaxPoolNHWC, MatMul per dense layer, TopK),
converts it with FINN's own step_convert_to_hw transformations and SpecializeLayers, keeps
the hardware nodes (what step_create_dataflow_partition puts in the dataflow partition) and
applies a folding JSON as step_apply_folding_config does (GiveUniqueNodeNamesRecursive, then
ApplyConfig). Prints JSON: every node's name, op type and applied attributes, and FINN's
warnings.

Usage: python finn_apply_helper.py REQUEST.json   (layers, fpgapart, options, config)
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys

import numpy as np
from finn.transformation.fpgadataflow.convert_to_hw.binary_matrix_vector_activation import (
    InferBinaryMatrixVectorActivation,
)
from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
from finn.transformation.fpgadataflow.convert_to_hw.label_select import InferLabelSelectLayer
from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
    InferQuantizedMatrixVectorActivation,
)
from finn.transformation.fpgadataflow.convert_to_hw.thresholding import InferThresholdingLayer
from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
from finn.transformation.general import ApplyConfig
from finn.transformation.qonnx.give_unique_node_names_recursive import (
    GiveUniqueNodeNamesRecursive,
)
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

GENERAL = "qonnx.custom_op.general"


def act_dtype(bits: int) -> str:
    return "BINARY" if bits == 1 else f"UINT{bits}"


def weight_dtype(bits: int, wtype: str, xnor: bool) -> tuple[str, np.ndarray]:
    if xnor:
        return "BINARY", np.array([0.0, 1.0])
    if wtype == "bipolar":
        return "BIPOLAR", np.array([-1.0, 1.0])
    if wtype == "ternary":
        return "TERNARY", np.array([-1.0, 0.0, 1.0])
    lo, hi = -(2 ** (bits - 1)) + 1, 2 ** (bits - 1) - 1  # narrow range, as Brevitas exports
    return f"INT{bits}", np.arange(lo, hi + 1, dtype=np.float64)


def build(req: dict) -> ModelWrapper:
    rng = np.random.default_rng(0)
    nodes, inits, dtypes, shapes = [], [], {}, {}
    n = [0]

    def name(p: str) -> str:
        n[0] += 1
        return f"{p}{n[0]}"

    def init(arr: np.ndarray, dt: str) -> str:
        t = name("init")
        inits.append(
            helper.make_tensor(t, TensorProto.FLOAT, arr.shape, arr.astype(np.float32).ravel())
        )
        dtypes[t] = dt
        return t

    if len(req["input_shape"]) == 1:
        c, h, w = req["input_shape"][0], 1, 1
        shapes["global_in"] = [1, c]
    else:
        c, h, w = req["input_shape"]
        shapes["global_in"] = [1, h, w, c]
    x = "global_in"
    dtypes[x] = act_dtype(req["input_bits"]) if req["input_bits"] > 1 else "BINARY"
    in_bits = req["input_bits"]
    for layer in req["layers"]:
        kind = layer["kind"]
        if kind in ("conv", "dense"):
            k = layer.get("kernel", 1)
            if kind == "conv" and (k > 1 or layer["stride"] > 1 or layer["padding"] > 0):
                y = name("im2col")
                p = layer["padding"]
                nodes.append(
                    helper.make_node(
                        "Im2Col",
                        [x],
                        [y],
                        domain=GENERAL,
                        stride=[layer["stride"]] * 2,
                        kernel_size=[k, k],
                        pad_amount=[p, p, p, p],
                        pad_value=0,
                        input_shape=f"(1,{h},{w},{c})",
                        name=name("Im2Col_"),
                    )
                )
                dtypes[y] = dtypes[x]
                shapes[y] = [1, layer["out_h"], layer["out_w"], k * k * c]
                x = y
            mw, mh = layer["mw"], layer["out_channels"]
            xnor = layer["w_type"] == "bipolar" and in_bits == 1
            wdt, values = weight_dtype(layer["w_bits"], layer["w_type"], xnor)
            wt = init(rng.choice(values, size=(mw, mh)), wdt)
            y = name("mm")
            op = "XnorPopcountMatMul" if xnor else "MatMul"
            nodes.append(
                helper.make_node(
                    op, [x, wt], [y], domain=GENERAL if xnor else "", name=name(op + "_")
                )
            )
            oshape = [*shapes[x][:-1], mh]
            shapes[y] = oshape
            x = y
            if layer["a_bits"] is not None:
                a = layer["a_bits"]
                steps = 2**a - 1
                thr = np.sort(rng.integers(-mw, mw, size=(mh, steps)), axis=1).astype(np.float64)
                y = name("mt")
                nodes.append(
                    helper.make_node(
                        "MultiThreshold",
                        [x, init(thr, "INT32")],
                        [y],
                        domain=GENERAL,
                        out_dtype=act_dtype(a),
                        name=name("MultiThreshold_"),
                    )
                )
                dtypes[y] = act_dtype(a)
                shapes[y] = oshape
                x = y
                in_bits = a
            else:
                in_bits = 32
            c, h, w = mh, layer["out_h"], layer["out_w"]
        elif kind == "maxpool":
            k, s = layer["kernel"], layer["stride"]
            y = name("pool")
            nodes.append(
                helper.make_node(
                    "MaxPoolNHWC",
                    [x],
                    [y],
                    domain=GENERAL,
                    kernel_shape=[k, k],
                    strides=[s, s],
                    pads=[0, 0, 0, 0],
                    name=name("MaxPoolNHWC_"),
                )
            )
            dtypes[y] = dtypes.get(x, "INT32")
            h, w = layer["out_h"], layer["out_w"]
            shapes[y] = [1, h, w, c]
            x = y
        elif kind == "flatten":
            y = name("flat")
            shape = init(np.array([1, -1]), "INT32")
            inits[-1] = helper.make_tensor(shape, TensorProto.INT64, [2], [1, -1])
            nodes.append(helper.make_node("Reshape", [x, shape], [y], name=name("Reshape_")))
            shapes[y] = [1, int(np.prod(shapes[x][1:]))]
            dtypes[y] = dtypes.get(x, "INT32")
            x = y
        else:
            raise SystemExit(f"helper: layer kind {kind!r} not built")
    if req["label_select"]:
        kk = name("k")
        inits.append(helper.make_tensor(kk, TensorProto.INT64, [1], [1]))
        vals, idx = name("topv"), "global_out"
        nodes.append(helper.make_node("TopK", [x, kk], [vals, idx], axis=-1, name=name("TopK_")))
        outs = [helper.make_tensor_value_info(idx, TensorProto.INT64, None)]
    else:
        outs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)]
    graph = helper.make_graph(
        nodes,
        "streamlined",
        [helper.make_tensor_value_info("global_in", TensorProto.FLOAT, shapes["global_in"])],
        outs,
        initializer=inits,
        value_info=[
            helper.make_tensor_value_info(t, TensorProto.FLOAT, sh)
            for t, sh in shapes.items()
            if t != "global_in"
        ],
    )
    model = ModelWrapper(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    for t, dt in dtypes.items():
        model.set_tensor_datatype(t, DataType[dt])
    model = model.transform(InferShapes())
    model = model.transform(InferDataTypes())
    return model


def main() -> None:
    with open(sys.argv[1]) as f:
        req = json.load(f)
    warnings: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                warnings.append(record.getMessage().strip())

    model = build(req)
    # FINN's step_convert_to_hw order (finn-plus 1.6.1 build_dataflow_steps.py)
    if req["standalone_thresholds"]:
        model = model.transform(InferThresholdingLayer())
    model = model.transform(InferBinaryMatrixVectorActivation())
    model = model.transform(InferQuantizedMatrixVectorActivation())
    model = model.transform(InferLabelSelectLayer())
    model = model.transform(InferThresholdingLayer())
    model = model.transform(InferPool())
    model = model.transform(InferConvInpGen())
    model = model.transform(SpecializeLayers(req["fpgapart"]))
    # step_create_dataflow_partition: the partition holds the hardware nodes
    hw = [nd for nd in model.graph.node if nd.domain.startswith("finn.custom_op.fpgadataflow")]
    others = [f"{nd.op_type}" for nd in model.graph.node if nd not in hw]
    del model.graph.node[:]
    model.graph.node.extend(hw)
    # step_apply_folding_config; FINN's warnings from here on are what the test reads
    logging.getLogger("finn_logger").addHandler(Grab())
    model = model.transform(GiveUniqueNodeNamesRecursive())
    model = model.transform(ApplyConfig(req["config"]), apply_to_subgraphs=True)
    out = []
    for nd in model.graph.node:
        inst = getCustomOp(nd)
        entry = req["config"].get(nd.name, {})
        attrs = {k: inst.get_nodeattr(k) for k in entry}
        for k in ("PE", "SIMD"):
            with contextlib.suppress(AttributeError):
                attrs.setdefault(k, inst.get_nodeattr(k))
        out.append({"name": nd.name, "op_type": nd.op_type, "attrs": attrs})
    print(json.dumps({"nodes": out, "warnings": warnings, "not_hw": others}, default=str))


if __name__ == "__main__":
    main()
