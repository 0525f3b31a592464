"""Hostile ONNX/QONNX model files: each is one line `error: ...` from `dse estimate`, exit 2,
no traceback, before the model's weights are read (`costmodels.reading` limits applied by
`dse.onnx_import.load_model`)."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install 'dse[onnx]')")

import onnx
from onnx import TensorProto, helper

from costmodels.reading import MAX_DEPTH, MAX_MODEL_NODES
from dse.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from qonnx_graphs import small_cnv


def _estimate(path: Path, capfd: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capfd.readouterr()
    code = main(["estimate", str(path), "--device", "XC7Z020", "--json"])
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    return code, err


def _refused(path: Path, capfd: pytest.CaptureFixture[str], expect: str) -> str:
    code, err = _estimate(path, capfd)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    assert expect in lines[0], lines[0]
    return lines[0]


def _external(tmp_path: Path) -> tuple[Path, onnx.ModelProto]:
    path = small_cnv(tmp_path / "m.onnx", dynamo=True)
    return path, onnx.load(str(path), load_external_data=False)


def _relocate(model: onnx.ModelProto, **fields: str) -> None:
    """Point every external tensor's fields (location, offset, length) elsewhere."""
    for t in model.graph.initializer:
        for entry in t.external_data:
            if entry.key in fields:
                entry.value = fields[entry.key]


def test_a_device_as_model(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "zero.onnx").symlink_to("/dev/zero")
    _refused(tmp_path / "zero.onnx", capfd, "not a regular file")


def test_a_model_over_the_byte_cap(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = small_cnv(tmp_path / "m.onnx", dynamo=False)
    monkeypatch.setenv("DSE_MAX_DATA_BYTES", str(path.stat().st_size - 1))
    _refused(path, capfd, "DSE_MAX_DATA_BYTES raises it")
    monkeypatch.setenv("DSE_MAX_DATA_BYTES", str(path.stat().st_size))
    assert _estimate(path, capfd)[0] == 0  # the cap itself is accepted


@pytest.mark.parametrize(
    "location, expect",
    [
        ("../secret.bin", "outside the model's folder"),
        ("/etc/passwd", "must be a file beside it"),
        ("zero.data", "not a regular file"),  # a symlink to /dev/zero beside the model
        ("link.data", "outside the model's folder"),  # a symlink out of the folder
    ],
)
def test_external_data_must_be_a_file_beside_the_model(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], location: str, expect: str
) -> None:
    (tmp_path / "secret.bin").write_bytes(b"\0" * 100_000)
    folder = tmp_path / "model"
    folder.mkdir()
    path, model = _external(folder)
    (folder / "zero.data").symlink_to("/dev/zero")
    (folder / "link.data").symlink_to(tmp_path / "secret.bin")
    _relocate(model, location=location)
    onnx.save_model(model, str(path))
    _refused(path, capfd, expect)


def test_external_ranges_past_the_file_or_the_cap(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path, model = _external(tmp_path)
    _relocate(model, length=str(4 << 40))  # 4 TiB "in" a file of a few KB
    onnx.save_model(model, str(path))
    _refused(path, capfd, "which holds")
    _relocate(model, length="16", offset=str(1 << 62))
    onnx.save_model(model, str(path))
    _refused(path, capfd, "which holds")


def test_declared_tensor_sizes_over_the_cap(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """An initializer whose dims claim 2^80 floats (its data is 4 bytes)."""
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, raw_data=b"\0" * 4)
    w.dims.extend([1 << 40, 1 << 40])  # onnx.helper would refuse to build it
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[w],
    )  # fmt: skip
    path = tmp_path / "m.onnx"
    onnx.save_model(helper.make_model(graph), str(path))
    _refused(path, capfd, "over the 1,024 MiB limit")


def test_too_many_nodes(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    nodes = [
        helper.make_node("Identity", [f"t{i}"], [f"t{i + 1}"]) for i in range(MAX_MODEL_NODES + 1)
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info(f"t{MAX_MODEL_NODES + 1}", TensorProto.FLOAT, None)],
    )  # fmt: skip
    path = tmp_path / "m.onnx"
    onnx.save_model(helper.make_model(graph), str(path))
    _refused(path, capfd, f"more than {MAX_MODEL_NODES:,} nodes")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not out[-1] & 0x80:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    """One protobuf field in wire format: a varint, or length-delimited bytes."""
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


@pytest.mark.parametrize("levels", [20, MAX_DEPTH + 1, 5_000])
def test_subgraphs_nested_deep(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], levels: int
) -> None:
    """`If` nodes nested `levels` deep, written in protobuf's wire format by hand (onnx's
    own helpers refuse to build them: protobuf parses at most 100 message levels)."""
    # onnx.proto: GraphProto node=1 name=2; NodeProto input=1 output=2 op_type=4
    # attribute=5; AttributeProto name=1 g=6 type=20 (GRAPH=5); ModelProto ir_version=1
    # graph=7
    node = _field(1, b"x") + _field(2, b"y") + _field(4, b"Identity")
    graph = _field(1, node) + _field(2, b"leaf")
    for level in range(levels):
        attr = _field(1, b"then_branch") + _field(20, 5) + _field(6, graph)
        node = _field(1, b"c") + _field(2, b"y") + _field(4, b"If") + _field(5, attr)
        graph = _field(1, node) + _field(2, f"g{level}".encode())
    path = tmp_path / "m.onnx"
    path.write_bytes(_field(1, 8) + _field(7, graph))
    line = _refused(path, capfd, "")
    # protobuf's recursion limit refuses past ~30 levels (3 messages each) before dse's
    # own MAX_DEPTH (kept for other protobuf backends); shallower, the graph itself is
    # refused (no data input)
    if levels > MAX_DEPTH:
        assert f"deeper than {MAX_DEPTH} levels" in line or "not an ONNX model" in line, line


def test_mutated_models_are_one_line_each(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Random byte flips, truncations and field edits of a valid model: accepted, or one
    line and exit 2 - never a traceback or an "unexpected" error."""
    good = small_cnv(tmp_path / "good.onnx", dynamo=False).read_bytes()
    rng = random.Random(11)
    model = onnx.load_model_from_string(good)
    edits = []
    for t in model.graph.initializer[:4]:
        for dims in ([0], [-3], [7, 7], [], [1 << 62]):
            m = onnx.ModelProto()
            m.CopyFrom(model)
            tt = next(x for x in m.graph.initializer if x.name == t.name)
            del tt.dims[:]
            tt.dims.extend(dims)
            edits.append(m.SerializeToString())
    for node_index in range(0, len(model.graph.node), 3):
        m = onnx.ModelProto()
        m.CopyFrom(model)
        del m.graph.node[node_index].input[:]
        edits.append(m.SerializeToString())
    blobs = list(edits)
    for _ in range(40):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        blobs.append(bytes(data[: rng.randint(len(data) // 2, len(data))]))
    path = tmp_path / "m.onnx"
    for blob in blobs:
        path.write_bytes(blob)
        code, err = _estimate(path, capfd)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        if code == 0:
            continue
        assert code == 2, (code, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert "unexpected" not in lines[0], lines[0]


def test_the_cap_admits_an_ordinary_model(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The external-data model still reads (and its weights are the stored ones)."""
    path = small_cnv(tmp_path / "m.onnx", dynamo=True)
    assert _estimate(path, capfd)[0] == 0
    from dse.onnx_import import load_model

    loaded = load_model(path)
    full = onnx.load(str(path))
    a = {t.name: onnx.numpy_helper.to_array(t) for t in loaded.graph.initializer}
    b = {t.name: onnx.numpy_helper.to_array(t) for t in full.graph.initializer}
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert not os.environ.get("DSE_MAX_DATA_BYTES")
