"""QONNX/ONNX models in: both Brevitas exporter styles, FINN-style annotations, errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install 'dse[onnx]')")

import onnx
from onnx import TensorProto, helper

from costmodels.errors import SpecError
from costmodels.types import Op, WType
from dse.onnx_import import finn_nodes, network_from_onnx
from dse.spec import dump_network, load_network, network_from_dict, network_to_dict

sys.path.insert(0, str(Path(__file__).parent))
from qonnx_graphs import QONNX, Builder, small_cnv


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo-external-data"])
def test_layers_bits_and_widths_are_the_models(tmp_path: Path, dynamo: bool) -> None:
    path = small_cnv(tmp_path / "m.onnx", dynamo=dynamo)
    if dynamo:
        assert (tmp_path / "m.onnx.data").stat().st_size > 4 * (16 * 27 + 8 * 144)
    net = network_from_onnx(path)
    assert net.input_shape == (3, 8, 8) and net.input_bits == 8
    assert [(la.name, la.op) for la in net.layers] == [
        ("features.0", Op.CONV),
        ("pool0", Op.MAXPOOL),
        ("features.4", Op.CONV),
        ("classifier.0", Op.DENSE),
        ("classifier.2", Op.DENSE),
    ]
    c0, _, c1, d0, d1 = net.layers
    assert (c0.out_channels, c0.kernel, c0.padding) == (16, 3, 1)
    assert (c1.out_channels, c1.padding) == (8, 0)
    assert (d0.out_channels, d1.out_channels) == (32, 10)
    bits = [
        (la.choice.w_bits, la.choice.weight_type, la.choice.a_bits) for la in net.compute_layers
    ]  # type: ignore[union-attr]
    assert bits == [
        (4, WType.INT, 4),
        (1, WType.BIPOLAR, 2),
        (2, WType.TERNARY, 3),  # signed narrow 2-bit Quant: {-1, 0, 1}
        (8, WType.INT, None),  # no activation quantizer after the last layer
    ]
    # the spec of the result round-trips
    again = network_from_dict(network_to_dict(net))
    assert again == net
    spec = tmp_path / "m.yaml"
    spec.write_text(dump_network(net))
    assert load_network(spec) == net


def test_load_network_reads_onnx_and_names_a_missing_data_file(tmp_path: Path) -> None:
    path = small_cnv(tmp_path / "m.onnx", dynamo=True)
    assert load_network(path).compute_layers
    (tmp_path / "m.onnx.data").unlink()
    with pytest.raises(SpecError, match=r"external weights.*\.onnx\.data"):
        load_network(path)


def test_an_unsupported_node_is_named_with_its_op(tmp_path: Path) -> None:
    b = Builder()
    w = b.quant(b.weight("fc.weight", (16, 4)), 4, signed=1, narrow=1)
    y = b.node("MatMul", ["inp", w])
    b.nodes.append(helper.make_node("Softmax", [y], ["sm"], name="head/softmax"))
    path = b.save(tmp_path / "m.onnx", "inp", [1, 16], "sm")
    with pytest.raises(SpecError) as err:
        network_from_onnx(path)
    msg = str(err.value)
    assert "'head/softmax' (Softmax)" in msg and "\n" not in msg


def test_residual_global_pool_and_trunc(tmp_path: Path) -> None:
    b = Builder()
    x = b.quant("inp", 8, signed=0)
    w0 = b.quant(b.weight("stem.weight", (8, 3, 3, 3)), 4, signed=1, narrow=1)
    s = b.quant(
        b.node("Relu", [b.node("Conv", [x, w0], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]),
        4,
        signed=0,
    )
    w1 = b.quant(b.weight("block.weight", (8, 8, 3, 3)), 4, signed=1, narrow=1)
    y = b.quant(b.node("Conv", [s, w1], kernel_shape=[3, 3], pads=[1, 1, 1, 1]), 4, signed=0)
    y = b.node("Add", [y, s])
    y = b.node("GlobalAveragePool", [y])
    trunc_out = b.name("t")
    b.nodes.append(
        helper.make_node(
            "Trunc",
            [y, b.const(1.0), b.const(0.0), b.const(8), b.const(5)],
            [trunc_out],
            domain=QONNX,
        )
    )
    y = b.node("Reshape", [trunc_out, b.init("shape", np.array([1, -1]))])
    w2 = b.quant(b.weight("fc.weight", (10, 8)), 4, signed=1, narrow=1)
    y = b.node("Gemm", [y, w2], transB=1)
    net = network_from_onnx(b.save(tmp_path / "r.onnx", "inp", [1, 3, 8, 8], y))
    ops = [(la.name, la.op, la.source, la.kernel) for la in net.layers]
    assert ops == [
        ("stem", Op.CONV, None, 3),
        ("block", Op.CONV, None, 3),
        ("add0", Op.ADD, "stem", 1),
        ("pool0", Op.AVGPOOL, None, 8),  # global: the 8x8 feature map
        ("fc", Op.DENSE, None, 1),
    ]
    from costmodels.network import resolve

    assert resolve(net)[-1].in_bits == 5  # Trunc's output bit-width


def test_finn_model_annotations_and_node_names(tmp_path: Path) -> None:
    """A FINN model after step_qonnx_to_finn: MultiThreshold activations and datatypes in
    quantization_annotation; after step_convert_to_hw: MVAU nodes named as FINN will."""
    b = Builder()
    w = b.weight("fc.weight", (16, 8))
    thr = b.init("thr", np.zeros((8, 3)))
    y = b.node("MatMul", ["inp", w])
    out = b.name("mt")
    b.nodes.append(
        helper.make_node(
            "MultiThreshold", [y, thr], [out], domain="qonnx.custom_op.general", out_dtype="UINT2"
        )
    )
    path = b.save(tmp_path / "f.onnx", "inp", [1, 16], out)
    m = onnx.load(str(path))
    for tname, dt in (("fc.weight", "INT4"), ("inp", "UINT8")):
        ann = onnx.TensorAnnotation(tensor_name=tname)
        ann.quant_parameter_tensor_names.append(
            onnx.StringStringEntryProto(key="finn_datatype", value=dt)
        )
        m.graph.quantization_annotation.append(ann)
    onnx.save_model(m, str(path))
    net = network_from_onnx(path)
    (fc,) = net.layers
    assert fc.choice is not None and (fc.choice.w_bits, fc.choice.a_bits) == (4, 2)
    assert net.input_bits == 8

    hw = helper.make_graph(
        [
            helper.make_node(
                "ConvolutionInputGenerator", ["a"], ["b"], domain="finn.custom_op.fpgadataflow"
            ),
            helper.make_node(
                "MVAU",
                ["b", "w"],
                ["c"],
                domain="finn.custom_op.fpgadataflow",
                noActivation=1,
                binaryXnorMode=0,
                inputDataType="UINT8",
                weightDataType="INT8",
            ),
            helper.make_node(
                "MVAU",
                ["c", "w2"],
                ["d"],
                domain="finn.custom_op.fpgadataflow",
                noActivation=0,
                inputDataType="UINT8",
                weightDataType="INT8",
            ),
            helper.make_node(
                "LabelSelect_hls", ["d"], ["e"], domain="finn.custom_op.fpgadataflow.hls"
            ),
        ],
        "hw",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4, 4, 3])],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)],
    )
    onnx.save_model(helper.make_model(hw), str(tmp_path / "hw.onnx"))
    assert finn_nodes(tmp_path / "hw.onnx") == [
        ("ConvolutionInputGenerator_rtl_0", "ConvolutionInputGenerator_rtl"),
        ("MVAU_rtl_0", "MVAU_rtl"),
        ("MVAU_hls_0", "MVAU_hls"),
        ("LabelSelect_hls_0", "LabelSelect_hls"),
    ]


def test_estimate_search_export_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A QONNX model goes dse estimate -> dse search -> dse export --format finn-folding."""
    import json

    from dse.cli import main

    def run(*args: object) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        cap = capsys.readouterr()
        return code, cap.out, cap.err

    model = small_cnv(tmp_path / "m.onnx", dynamo=True)
    code, out, err = run("estimate", model, "--device", "XC7Z020", "--json")
    assert code == 0, err
    est = json.loads(out)
    assert [r["name"] for r in est["layers"]][:2] == ["features.0", "pool0"]
    url = f"sqlite:///{tmp_path / 's.db'}"
    code, out, err = run(
        "search",
        "--workload",
        model,
        "--device",
        "XC7Z020",
        "--storage",
        url,
        "--trials",
        "12",
        "--study",
        "m",
        "--json",
    )
    assert code == 0, err
    trial = json.loads(out)["pareto"][0]["trial"]
    code, out, err = run("export", "--storage", url, "--trial", trial, "--format", "finn-folding")
    assert code == 0, err
    cfg = json.loads(out)
    mvaus = [k for k in cfg if k.startswith("MVAU")]
    assert len(mvaus) == 4 and mvaus[:3] == ["MVAU_hls_0", "MVAU_hls_1", "MVAU_hls_2"]
    assert len([k for k in cfg if k.startswith("ConvolutionInputGenerator_rtl_")]) == 3
    code, out, err = run("export", "--storage", url, "--trial", trial, "-o", tmp_path / "d.yaml")
    assert code == 0, err
    net = load_network(tmp_path / "d.yaml")
    assert [la.name for la in net.layers] == [la.name for la in network_from_onnx(model).layers]


def test_branches_and_concat(tmp_path: Path) -> None:
    """An inception-style block: two convs read the stem, a channel Concat joins them."""
    from costmodels.network import resolve

    b = Builder()
    x = b.quant("inp", 8, signed=0)
    w0 = b.quant(b.weight("stem.weight", (8, 3, 3, 3)), 4, signed=1, narrow=1)
    s = b.quant(b.node("Conv", [x, w0], kernel_shape=[3, 3], pads=[1, 1, 1, 1]), 4, signed=0)
    w1 = b.quant(b.weight("b1.weight", (4, 8, 1, 1)), 4, signed=1, narrow=1)
    y1 = b.quant(b.node("Conv", [s, w1], kernel_shape=[1, 1]), 4, signed=0)
    w2 = b.quant(b.weight("b2.weight", (6, 8, 3, 3)), 4, signed=1, narrow=1)
    y2 = b.quant(b.node("Conv", [s, w2], kernel_shape=[3, 3], pads=[1, 1, 1, 1]), 4, signed=0)
    y = b.node("Concat", [y1, y2], axis=1)
    y = b.node("GlobalAveragePool", [y])
    y = b.node("Flatten", [y], axis=1)
    w3 = b.quant(b.weight("fc.weight", (10, 10)), 4, signed=1, narrow=1)
    y = b.node("Gemm", [y, w3], transB=1)
    net = network_from_onnx(b.save(tmp_path / "g.onnx", "inp", [1, 3, 8, 8], y))
    got = [(la.name, la.op, la.source, la.inputs) for la in net.layers]
    assert got == [
        ("stem", Op.CONV, None, ()),
        ("b1", Op.CONV, None, ()),
        ("b2", Op.CONV, "stem", ()),
        ("concat0", Op.CONCAT, None, ("b1", "b2")),
        ("pool0", Op.AVGPOOL, None, ()),
        ("fc", Op.DENSE, None, ()),
    ]
    assert resolve(net)[3].out_shape == (10, 8, 8)
