"""QONNX / ONNX models in: a quantized network exported from Brevitas (dynamo or legacy
exporter, weights inline or in an external `.onnx.data` file) or a FINN-cleaned QONNX
model, read into dse's hardware `Network`.

The graph is walked in its (topological) node order and shapes are left to
`costmodels.resolve`, so ONNX shape inference is never run and never stops at QONNX's
custom ops. What each op means here:

- `Conv` -> a `conv` layer (kernel, stride, padding, groups from its attributes;
  out_channels from the weight); `Gemm`/`MatMul` with a constant weight -> `dense`;
- `MaxPool`, `AveragePool`, `GlobalAveragePool` -> `maxpool` / `avgpool`; `Add` of two
  activations -> `add`, a channel `Concat` -> `concat`; a layer reading another tensor than
  the stream so far gets `from` (a branch: projection shortcuts, inception-style blocks);
  `Add`/`Mul`/`Div`/`Sub` with a constant, `Relu`,
  `BatchNormalization`, `Flatten`/`Reshape` (to [N, F]), `Transpose`, `Dropout`, `Identity`,
  `Clip`, `Cast` pass the stream through (scales, biases and batch norm fold into FINN's
  thresholds);
- QONNX quantizers (qonnx `custom_op/general/quant.py`, `bipolar_quant.py`, `trunc.py`):
  `Quant(x, scale, zero_point, bit_width)` with `signed`/`narrow` attributes, its bit-width
  the 4th input (an initializer or a `Constant`); `BipolarQuant` is 1 bit; `Trunc`'s output
  bit-width is its 5th input. On a weight they give the layer's `w_bits` (and `w_type`:
  bipolar for 1 bit, ternary for signed narrow 2 bits, int otherwise); on an activation the
  producing layer's `a_bits` (the network input's bits before the first layer);
- FINN models after `step_qonnx_to_finn`: `MultiThreshold` (output bits from `out_dtype`) and
  FINN's `quantization_annotation` datatypes on weights and the input.

Any other op gets a one-line `SpecError` naming the node and its op.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from costmodels.errors import SpecError
from costmodels.network import INPUT
from costmodels.reading import (
    DATA_BYTES_ENV,
    MAX_DEPTH,
    MAX_MODEL_NODES,
    external_file,
    max_data_bytes,
    read_binary,
)
from costmodels.types import LayerChoice, LayerSpec, Network, Op, WType

logger = logging.getLogger(__name__)

PASS_THROUGH = {
    "Relu",
    "BatchNormalization",
    "Flatten",
    "Transpose",
    "Dropout",
    "Identity",
    "Clip",
    "Cast",
    "Squeeze",
    "Unsqueeze",
}
SCALE_OPS = {"Mul", "Div", "Sub", "Add"}
SUPPORTED = sorted(
    PASS_THROUGH
    | SCALE_OPS
    | {"Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool", "Reshape"}
    | {"Concat"}
    | {"Quant", "BipolarQuant", "Trunc", "MultiThreshold", "Constant", "Pad"}
)

#: Default bits where the model does not say (a float model): 8-bit weights and input.
DEFAULT_BITS = 8


def is_onnx_path(path: str | Path) -> bool:
    return str(path).lower().endswith(".onnx")


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise SpecError(
            "reading ONNX/QONNX models needs the onnx package: pip install 'dse[onnx]'"
        ) from None
    return onnx


def load_model(path: str | Path) -> Any:
    """An `onnx.ModelProto` with its external data loaded, read within the limits of
    `costmodels.reading` (one-line `SpecError` otherwise): a regular file of at most
    `max_data_bytes()`; at most `MAX_MODEL_NODES` nodes and `MAX_DEPTH` levels of subgraphs;
    tensors whose declared sizes and external weight files (beside the model, regular,
    within their file) add up to at most `max_data_bytes()`, checked before any weight is
    read."""
    onnx = _onnx()
    p = Path(path)
    data = read_binary(p, "model file")
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:
        raise SpecError(f"{str(p)!r} is not an ONNX model: {type(exc).__name__}") from None
    del data
    tensors = _check_graphs(model, p)
    _load_external(tensors, p)
    return model


def _check_graphs(model: Any, p: Path) -> list[Any]:
    """Every tensor of the model (initializers and constant attributes, subgraphs and
    functions included), after checking the node count, the subgraph depth and the declared
    tensor sizes (iteratively: no recursion on a hostile depth)."""
    from onnx import AttributeProto, helper

    cap = max_data_bytes()
    todo: list[tuple[Any, int]] = [(model.graph, 1)]
    todo += [(f, 2) for f in model.functions]
    nodes = 0
    declared = 0
    tensors: list[Any] = []
    while todo:
        graph, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise SpecError(
                f"model file {str(p)!r} nests subgraphs deeper than {MAX_DEPTH} levels; refused"
            )
        found = list(getattr(graph, "initializer", ()))
        for node in graph.node:
            nodes += 1
            if nodes > MAX_MODEL_NODES:
                raise SpecError(
                    f"model file {str(p)!r} has more than {MAX_MODEL_NODES:,} nodes; refused"
                )
            for attr in node.attribute:
                if attr.HasField("t"):
                    found.append(attr.t)
                found.extend(attr.tensors)
                if attr.type == AttributeProto.GRAPH:
                    todo.append((attr.g, depth + 1))
                elif attr.type == AttributeProto.GRAPHS:
                    todo.extend((g, depth + 1) for g in attr.graphs)
        for t in found:
            count = 1
            for d in t.dims:
                if d < 0:
                    raise SpecError(
                        f"model file {str(p)!r}: tensor {t.name!r} has a negative size {d}"
                    )
                count *= d
            try:
                item = helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
            except Exception:
                item = 8
            declared += count * item
            if declared > cap:
                raise SpecError(
                    f"model file {str(p)!r}: its tensors declare {declared / 2**20:,.0f} MiB, "
                    f"over the {cap / 2**20:,.0f} MiB limit ({DATA_BYTES_ENV} raises it); "
                    "refused before loading"
                )
        tensors.extend(found)
    return tensors


def _load_external(tensors: list[Any], p: Path) -> None:
    """Read the tensors stored in external files (`.onnx.data`) into the model, each file
    checked by `costmodels.reading.external_file` and every range within its file, the
    total within `max_data_bytes()`."""
    from onnx import TensorProto
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    cap = max_data_bytes()
    total = 0
    plan = []
    for t in tensors:
        if not uses_external_data(t):
            continue
        try:
            info = ExternalDataInfo(t)
            offset = int(info.offset or 0)
            length = None if info.length is None else int(info.length)
        except Exception as exc:
            raise SpecError(
                f"model file {str(p)!r}: tensor {t.name!r} has unreadable external-data "
                f"fields ({type(exc).__name__})"
            ) from None
        try:
            path, size = external_file(p.parent, str(info.location), f"model file {str(p)!r}")
        except SpecError as exc:
            if "not found" in str(exc):
                raise SpecError(
                    f"{str(p)!r}: cannot read its external weights (the .onnx.data file must "
                    f"sit beside it): {exc}"
                ) from None
            raise
        want = size - offset if length is None else length
        if offset < 0 or want < 0 or offset + want > size:
            raise SpecError(
                f"model file {str(p)!r}: tensor {t.name!r} asks for bytes {offset:,}.."
                f"{offset + want:,} of {path.name!r}, which holds {size:,}; refused"
            )
        total += want
        if total > cap:
            raise SpecError(
                f"model file {str(p)!r}: its external weights take {total / 2**20:,.0f} MiB, "
                f"over the {cap / 2**20:,.0f} MiB limit ({DATA_BYTES_ENV} raises it); refused"
            )
        plan.append((t, path, offset, want))
    for t, path, offset, want in plan:
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                blob = fh.read(want)
        except OSError as exc:
            raise SpecError(
                f"{str(p)!r}: cannot read its external weights {path.name!r}: {exc.strerror or exc}"
            ) from None
        if len(blob) != want:
            raise SpecError(f"{str(p)!r}: external weights {path.name!r} ended early")
        t.raw_data = blob
        t.data_location = TensorProto.DEFAULT
        del t.external_data[:]


@dataclass
class _Tensor:
    """What the walk knows about one tensor."""

    layer: str | None  # the dse layer whose output this is (None: the network input)
    const: Any = None  # numpy array for constants (weights, scales, bit-widths)
    bits: int | None = None  # quantized bit-width (weights or activations)
    wtype: WType | None = None
    is_input_path: bool = False
    origin: str = ""  # a constant's initializer name (names the layer)


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _annotations(graph: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for ann in graph.quantization_annotation:
        for kv in ann.quant_parameter_tensor_names:
            if kv.key == "finn_datatype":
                out[ann.tensor_name] = kv.value
    return out


def _finn_bits(dtype: str) -> tuple[int, WType | None] | None:
    """Bits and weight type of a FINN DataType name (BIPOLAR, TERNARY, INT4, UINT8...)."""
    d = dtype.upper()
    if d == "BIPOLAR":
        return 1, WType.BIPOLAR
    if d == "BINARY":
        return 1, WType.BIPOLAR
    if d == "TERNARY":
        return 2, WType.TERNARY
    m = re.fullmatch(r"(U?)INT(\d+)", d)
    if m:
        return int(m.group(2)), WType.INT if not m.group(1) else None
    return None


def _layer_name(weight_name: str, op: Op, counts: dict[str, int], used: set[str]) -> str:
    """A readable unique layer name: the weight's module path where the exporter kept one
    (`features.0.weight` -> `features.0`), else `conv<i>` / `fc<i>`."""
    base = re.sub(r"^(p_|onnx::)", "", weight_name)
    base = re.sub(r"[._](weight|W|kernel)$", "", base)
    base = re.sub(r"[^A-Za-z0-9_.\-]", "_", base).strip("._")
    prefix = "conv" if op is Op.CONV else "fc"
    if not base or base.isdigit() or base in used or len(base) > 64:
        base = f"{prefix}{counts.get(prefix, 0)}"
    counts[prefix] = counts.get(prefix, 0) + 1
    while base in used:
        base += "_"
    used.add(base)
    return base


def _weight_choice(w: _Tensor) -> LayerChoice:
    """The layer's weight bits and type (`w_type` only where it differs from the default
    for its bits); `a_bits` is set later by the activation quantizer, if any."""
    bits = w.bits or DEFAULT_BITS
    wtype = w.wtype if w.bits else None
    if bits == 1:
        wtype = None  # 1 bit is bipolar (a 1-bit signed Quant is {-1, 0}: read as bipolar)
    elif wtype is None and bits == 2:
        wtype = WType.INT  # unsigned 2-bit weights: not ternary
    if wtype is not None and LayerChoice(w_bits=bits).weight_type is wtype:
        wtype = None
    return LayerChoice(w_bits=bits, a_bits=None, w_type=wtype)


def _scalar_int(t: _Tensor | None, node: Any, what: str) -> int:
    if t is None or t.const is None:
        raise SpecError(
            f"node {node.name or node.op_type!r} ({node.op_type}): its {what} must be a "
            "constant (an initializer or a Constant node)"
        )
    v = float(t.const.reshape(-1)[0])
    if not math.isfinite(v) or v < 1 or v != int(v):
        raise SpecError(f"node {node.name or node.op_type!r} ({node.op_type}): {what} {v}")
    return int(v)


def network_from_onnx(path: str | Path, *, name: str | None = None) -> Network:
    """Read a QONNX/ONNX model into a hardware `Network` (see the module docstring). A
    damaged graph the walk cannot follow (tensor sizes that do not match their data,
    missing inputs) is a one-line `SpecError`, like every other bad model."""
    model = load_model(path)
    try:
        return _network(model, path, name)
    except _GRAPH_ERRORS as exc:
        raise SpecError(f"{str(path)!r}: cannot read the model's graph ({_reason(exc)})") from None


# what a walk over a damaged graph raises (UnicodeDecodeError is a ValueError)
_GRAPH_ERRORS = (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError)


def _reason(exc: BaseException) -> str:
    """`TypeName: first line of the message` (at most 200 characters), for one-line errors."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}{': ' + text[0][:200] if text else ''}"


def _network(model: Any, path: str | Path, name: str | None) -> Network:
    from onnx import numpy_helper

    g = model.graph
    tensors: dict[str, _Tensor] = {}
    for init in g.initializer:
        tensors[init.name] = _Tensor(None, const=numpy_helper.to_array(init), origin=init.name)
    ann = _annotations(g)
    for tname, dtype in ann.items():
        fb = _finn_bits(dtype)
        if fb is not None and tname in tensors:
            tensors[tname].bits, tensors[tname].wtype = fb
    data_inputs = [i for i in g.input if i.name not in tensors]
    if not data_inputs:
        raise SpecError(f"{str(path)!r}: the graph has no data input")
    inp = data_inputs[0]  # dynamo lifts constants to inputs; they carry initializers
    dims = [
        d.dim_value if d.HasField("dim_value") else None for d in inp.type.tensor_type.shape.dim
    ]
    if len(dims) not in (2, 4) or any(d is None or d < 1 for d in dims[1:]):
        raise SpecError(
            f"{str(path)!r}: input {inp.name!r} must be [N, C, H, W] or [N, F] with fixed "
            f"sizes, got {dims}"
        )
    input_shape = tuple(int(d) for d in dims[1:] if d is not None)
    input_bits: int | None = None
    fb = _finn_bits(ann.get(inp.name, ""))
    if fb is not None:
        input_bits = fb[0]
    tensors[inp.name] = _Tensor(None, is_input_path=True)

    layers: list[LayerSpec] = []
    index: dict[str, int] = {}
    counts: dict[str, int] = {}
    used: set[str] = set()
    pending_pad = 0
    current: str | None = None  # the layer whose output is the stream now
    notes: list[str] = []

    def get(n: str) -> _Tensor | None:
        return tensors.get(n) if n else None

    def set_out(node: Any, t: _Tensor) -> None:
        for o in node.output:
            tensors[o] = t

    def stream_in(node: Any) -> _Tensor:
        """The node's activation input (the first non-constant one)."""
        for i in node.input:
            t = get(i)
            if t is not None and t.const is None:
                return t
        raise SpecError(f"node {node.name or node.op_type!r} ({node.op_type}): no activation input")

    def set_a_bits(t: _Tensor, bits: int) -> None:
        nonlocal input_bits
        if t.layer is None:
            if t.is_input_path and not layers:
                input_bits = bits
            return
        i = index[t.layer]
        spec = layers[i]
        if spec.choice is not None:
            layers[i] = replace(spec, choice=replace(spec.choice, a_bits=bits))

    def branch(x: _Tensor) -> str | None:
        """`source` of a layer reading `x`: None when `x` is the stream so far, else the
        layer (or the network input) it reads: a branch of a graph network."""
        if x.layer == current:
            return None
        return x.layer or INPUT

    def where(node: Any) -> str:
        return f"node {node.name or '(unnamed)'!r} ({node.op_type})"

    for node in g.node:
        op = node.op_type
        a = _attrs(node)
        if op == "Constant":
            value = a.get("value")
            if value is None:
                raise SpecError(f"{where(node)}: only tensor-valued Constants are read")
            set_out(node, _Tensor(None, const=numpy_helper.to_array(value)))
            continue
        ins = [get(i) for i in node.input]
        all_const = bool(ins) and all(t is not None and t.const is not None for t in ins)
        if all_const and op not in ("Quant", "BipolarQuant", "Trunc"):
            # constant folding of weight preprocessing (Transpose/Reshape/Identity of a weight)
            src = ins[0]
            if op in ("Transpose", "Identity", "Reshape", "Cast", "Squeeze", "Unsqueeze"):
                assert src is not None
                const = src.const
                if op == "Transpose":
                    perm = a.get("perm")
                    const = const.transpose(perm) if perm else const.T
                set_out(node, replace(src, const=const))
                continue
            if op in SCALE_OPS or op == "Clip":
                assert src is not None
                set_out(node, replace(src))
                continue
        if op in ("Quant", "BipolarQuant", "Trunc"):
            x = ins[0]
            if x is None:
                raise SpecError(f"{where(node)}: input {node.input[0]!r} is unknown")
            if op == "Quant":
                bits = _scalar_int(ins[3] if len(ins) > 3 else None, node, "bit-width (4th input)")
                signed, narrow = int(a.get("signed", 1)), int(a.get("narrow", 0))
                if bits == 1:
                    wtype: WType | None = WType.BIPOLAR
                elif bits == 2 and signed and narrow:
                    wtype = WType.TERNARY
                else:
                    wtype = WType.INT if signed else None
            elif op == "BipolarQuant":
                bits, wtype = 1, WType.BIPOLAR
            else:
                bits = _scalar_int(
                    ins[4] if len(ins) > 4 else None, node, "output bit-width (5th input)"
                )
                wtype = None
            if x.const is not None:  # a weight quantizer
                # the dynamo exporter slices weights into anonymous tensors; its quantizer's
                # lifted scale keeps the module path (`conv.weight_quant.export_handler...`)
                owner = next(
                    (
                        m.group(1)
                        for i in node.input[1:]
                        if (m := re.match(r"^(.+?)\.weight_quant\.", i))
                    ),
                    None,
                )
                set_out(node, replace(x, bits=bits, wtype=wtype, origin=owner or x.origin))
            else:
                set_a_bits(x, bits)
                set_out(node, replace(x, bits=bits))
            continue
        if op == "MultiThreshold":
            x = stream_in(node)
            raw = a.get("out_dtype", b"")
            fb = _finn_bits(raw.decode() if isinstance(raw, bytes) else str(raw))
            if fb is None:
                raise SpecError(f"{where(node)}: out_dtype {a.get('out_dtype')!r} is not read")
            set_a_bits(x, fb[0])
            set_out(node, replace(x, bits=fb[0]))
            continue
        if op == "Pad":
            x = stream_in(node)
            pads: list[int] = [int(v) for v in a.get("pads", [])]
            if not pads and len(ins) > 1 and ins[1] is not None and ins[1].const is not None:
                pads = [int(v) for v in ins[1].const.reshape(-1)]
            half = max(1, len(pads) // 2)
            spatial = [p for i, p in enumerate(pads) if i % half >= 2]
            if not spatial or len(set(spatial)) != 1:
                raise SpecError(f"{where(node)}: only equal spatial padding is read, got {pads}")
            pending_pad = spatial[0]
            set_out(node, x)
            continue
        if op == "Conv":
            x = stream_in(node)
            w = ins[1] if len(ins) > 1 else None
            if w is None or w.const is None:
                raise SpecError(f"{where(node)}: the weight must be a constant")
            k = [int(v) for v in a.get("kernel_shape", w.const.shape[2:])]
            strides = [int(v) for v in a.get("strides", [1] * len(k))]
            pads = [int(v) for v in a.get("pads", [0] * (2 * len(k)))]
            dil = [int(v) for v in a.get("dilations", [1] * len(k))]
            if len(k) != 2 or k[0] != k[1] or len(set(strides)) != 1 or len(set(pads)) > 1:
                raise SpecError(
                    f"{where(node)}: only square 2-D kernels with equal strides and padding "
                    f"are read (kernel {k}, strides {strides}, pads {pads})"
                )
            auto_pad = a.get("auto_pad", b"NOTSET")
            if any(d != 1 for d in dil) or auto_pad not in (b"NOTSET", "NOTSET"):
                raise SpecError(f"{where(node)}: dilation and auto_pad are not read")
            lname = _layer_name(w.origin or node.input[1], Op.CONV, counts, used)
            choice = _weight_choice(w)
            if not w.bits:
                notes.append(f"{lname}: float weights, read as {DEFAULT_BITS}-bit")
            layers.append(
                LayerSpec(
                    lname,
                    Op.CONV,
                    out_channels=int(w.const.shape[0]),
                    kernel=k[0],
                    stride=strides[0] if strides[0] != 1 else None,
                    padding=(pads[0] if pads else 0) + pending_pad,
                    groups=int(a.get("group", 1)),
                    source=branch(x),
                    choice=choice,
                )
            )
            pending_pad = 0
            index[lname] = len(layers) - 1
            current = lname
            set_out(node, _Tensor(lname))
            continue
        if op in ("Gemm", "MatMul"):
            x = stream_in(node)
            w = ins[1] if len(ins) > 1 else None
            if w is None or w.const is None or w.const.ndim != 2:
                raise SpecError(f"{where(node)}: the weight must be a constant matrix")
            trans_b = int(a.get("transB", 0)) if op == "Gemm" else 0
            out = int(w.const.shape[0] if trans_b else w.const.shape[1])
            lname = _layer_name(w.origin or node.input[1], Op.DENSE, counts, used)
            if not w.bits:
                notes.append(f"{lname}: float weights, read as {DEFAULT_BITS}-bit")
            choice = _weight_choice(w)
            layers.append(
                LayerSpec(lname, Op.DENSE, out_channels=out, source=branch(x), choice=choice)
            )
            index[lname] = len(layers) - 1
            current = lname
            set_out(node, _Tensor(lname))
            continue
        if op in ("MaxPool", "AveragePool", "GlobalAveragePool"):
            x = stream_in(node)
            pname = f"pool{counts.get('pool', 0)}"
            counts["pool"] = counts.get("pool", 0) + 1
            kind = Op.MAXPOOL if op == "MaxPool" else Op.AVGPOOL
            if op == "GlobalAveragePool":
                # the kernel is the feature map: resolve the size from the layers so far
                from costmodels.network import resolve

                probe = Network("probe", input_shape, input_bits or DEFAULT_BITS, tuple(layers))
                shapes = {r.name: r.out_shape for r in resolve(probe, check_folding=False)}
                shape = shapes.get(x.layer or "", input_shape) if layers else input_shape
                if len(shape) != 3 or shape[1] != shape[2]:
                    raise SpecError(f"{where(node)}: needs a square feature map, got {list(shape)}")
                layers.append(LayerSpec(pname, kind, kernel=int(shape[1]), source=branch(x)))
            else:
                k = [int(v) for v in a.get("kernel_shape", [])]
                strides = [int(v) for v in a.get("strides", k)]
                pads = [int(v) for v in a.get("pads", [0] * 4)]
                if len(k) != 2 or k[0] != k[1] or len(set(strides)) != 1 or len(set(pads)) > 1:
                    raise SpecError(
                        f"{where(node)}: only square 2-D windows are read (kernel {k}, "
                        f"strides {strides}, pads {pads})"
                    )
                layers.append(
                    LayerSpec(
                        pname,
                        kind,
                        kernel=k[0],
                        stride=strides[0] if strides[0] != k[0] else None,
                        padding=(pads[0] if pads else 0) + pending_pad,
                        source=branch(x),
                    )
                )
                pending_pad = 0
            index[pname] = len(layers) - 1
            current = pname
            set_out(node, _Tensor(pname, bits=x.bits))
            continue
        if op == "Add" and all(t is not None and t.const is None for t in ins):
            a0, a1 = ins[0], ins[1]
            assert a0 is not None and a1 is not None
            other = a1 if a0.layer == current else a0 if a1.layer == current else None
            aname = f"add{counts.get('add', 0)}"
            counts["add"] = counts.get("add", 0) + 1
            if other is not None and other.layer != current:
                layers.append(LayerSpec(aname, Op.ADD, source=other.layer or INPUT))
            else:  # neither operand is the stream so far: name both
                both = (a0.layer or INPUT, a1.layer or INPUT)
                layers.append(LayerSpec(aname, Op.ADD, inputs=both))
            index[aname] = len(layers) - 1
            current = aname
            set_out(node, _Tensor(aname))
            continue
        if op == "Concat":
            parts = [t for t in ins if t is not None and t.const is None]
            axis = int(a.get("axis", 1))
            if len(parts) != len(ins) or len(parts) < 2 or axis not in (1, -3):
                raise SpecError(f"{where(node)}: only a channel concat of activations is read")
            cname = f"concat{counts.get('concat', 0)}"
            counts["concat"] = counts.get("concat", 0) + 1
            cat = tuple(t.layer or INPUT for t in parts)
            layers.append(LayerSpec(cname, Op.CONCAT, inputs=cat))
            index[cname] = len(layers) - 1
            current = cname
            set_out(node, _Tensor(cname))
            continue
        if op in SCALE_OPS or op in PASS_THROUGH:
            set_out(node, replace(stream_in(node)))
            continue
        if op == "Reshape":
            x = stream_in(node)
            target = ins[1].const if len(ins) > 1 and ins[1] is not None else None
            if target is None or target.size != 2:
                raise SpecError(f"{where(node)}: only a flatten to [N, F] is read")
            set_out(node, replace(x))
            continue
        raise SpecError(
            f"{where(node)}: not supported by dse's ONNX reader (it reads {', '.join(SUPPORTED)})"
        )

    if not any(layer.op.is_compute for layer in layers):
        raise SpecError(f"{str(path)!r}: no Conv, Gemm or MatMul layer found")
    for n in notes:
        logger.info("%s", n)
    return Network(
        name or Path(path).stem,
        input_shape,
        input_bits if input_bits is not None else DEFAULT_BITS,
        tuple(layers),
    )


def finn_nodes(path: str | Path) -> list[tuple[str, str]]:
    """`(name, op_type)` of the hardware nodes of a FINN model, in graph order, with the
    names `GiveUniqueNodeNames` gives them. A model after `step_create_dataflow_partition`
    is followed into its dataflow partition (at most `MAX_DEPTH` partitions deep: a
    partition naming its own model is refused); abstract op types (after
    `step_convert_to_hw`: `MVAU`, `ConvolutionInputGenerator`...) get the variant FINN's
    `SpecializeLayers` picks (`dse.finn_folding.mvau_impl` for MVAUs). A damaged model
    (attributes of the wrong type or encoding, a partition path that is no path) is a
    one-line `SpecError` naming the file, like every other bad model."""
    p = Path(path)
    for _ in range(MAX_DEPTH):
        model = load_model(p)
        try:
            child = _partition_model(model, p)
            if child is None:
                return _hardware_nodes(model, p)
        except (OSError, *_GRAPH_ERRORS) as exc:
            raise SpecError(f"{str(p)!r}: cannot read the FINN model ({_reason(exc)})") from None
        p = child
    raise SpecError(
        f"FINN model {str(path)!r}: dataflow partitions nest deeper than {MAX_DEPTH} levels "
        "(a partition naming its own model?); refused"
    )


def _partition_model(model: Any, p: Path) -> Path | None:
    """The model file of the first `StreamingDataflowPartition` node (relative paths are
    tried as given, then beside `p`); None when the model has no partition."""
    parts = [n for n in model.graph.node if n.op_type == "StreamingDataflowPartition"]
    if not parts:
        return None
    child = _attrs(parts[0]).get("model", b"")
    text = child.decode() if isinstance(child, bytes) else child
    if not isinstance(text, str) or not text or "\0" in text:
        raise SpecError(
            f"FINN model {str(p)!r}: its StreamingDataflowPartition names no model file "
            f"(model={child!r:.80})"
        )
    child_path = Path(text)
    if not child_path.is_absolute() and not child_path.is_file():
        child_path = p.parent / child_path
    return child_path


def _hardware_nodes(model: Any, p: Path) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    counts: dict[str, int] = {}
    for node in model.graph.node:
        if "fpgadataflow" not in node.domain:
            continue
        op = _specialized(node)
        out.append((f"{op}_{counts.get(op, 0)}", op))
        counts[op] = counts.get(op, 0) + 1
    if not out:
        raise SpecError(
            f"{str(p)!r} has no FINN hardware nodes: pass a model saved at or after "
            "step_convert_to_hw"
        )
    return out


def _specialized(node: Any) -> str:
    from dse.finn_folding import _OP_TYPES, FinnFlow

    op = str(node.op_type)
    if op.endswith(("_hls", "_rtl")) or op not in _OP_TYPES:
        return op
    fixed = _OP_TYPES[op][FinnFlow.FINN_PLUS]
    if fixed is not None:
        return fixed
    a = _attrs(node)

    def s(key: str) -> str:
        v = a.get(key, b"")
        return v.decode() if isinstance(v, bytes) else str(v)

    wb = _finn_bits(s("weightDataType")) or (DEFAULT_BITS, None)
    ib = _finn_bits(s("inputDataType")) or (DEFAULT_BITS, None)
    signed_w = s("weightDataType").upper().startswith(("INT", "BIPOLAR", "TERNARY"))
    rtl = (
        op == "MVAU"
        and int(a.get("noActivation", 0)) == 1
        and int(a.get("binaryXnorMode", 0)) == 0
        and signed_w
        and wb[0] >= 4
        and ib[0] >= 4
    )
    return f"{op}_{'rtl' if rtl else 'hls'}"
