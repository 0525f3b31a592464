"""The network description file (YAML or JSON): loading, validation and dumping.

A spec describes a fixed accelerator design in its hardware view (see README and issue 2):

    name: cnv-w1a1
    input: {shape: [3, 32, 32], bits: 8}
    clock_mhz: 100                 # optional
    layers:
      - {name: conv0, op: conv, out_channels: 64, kernel: 3, w_bits: 1, a_bits: 1, pe: 16, simd: 3}
      - {name: pool0, op: maxpool, kernel: 2}
      - {name: fc0, op: dense, out_features: 512, w_bits: 1, a_bits: 1, pe: 1, simd: 4}

`input.type` and a compute layer's `a_type` are `unsigned|signed|bipolar|lq` (default:
bipolar at 1 bit, unsigned above); `w_type` is `bipolar|ternary|int`; FINN's
implementation attributes per compute layer: `ram_style` (`auto|block|distributed|ultra`),
`mem_mode` (`internal_embedded|internal_decoupled|external`), `impl` (`auto|hls|rtl`);
`auto` (or leaving a key out) keeps the cost model's own choice.

Each layer reads the previous one unless `from` names another (`input` is the network
input): an `add` adds the previous layer and `from` (or `from: [a, b]`), a `concat`
stacks the channels of `from: [a, b, ...]` in order, any other layer reads `from`.

Every problem is a one-line `SpecError` naming the layer and the key; unknown keys get a
"did you mean" suggestion. `dump_network` writes a spec that loads back to an equal
`Network` (so estimates are identical).
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import yaml

from costmodels.codec import choice_to_dict
from costmodels.errors import SpecError
from costmodels.reading import read_document
from costmodels.types import (
    Arith,
    Impl,
    LayerChoice,
    LayerSpec,
    MemMode,
    Network,
    NumType,
    Op,
    RamStyle,
    Scaling,
    WType,
)
from costmodels.validate import MAX_CLOCK_MHZ, MAX_INT, MAX_LAYERS, check_name, finite_in

E = TypeVar("E", bound=Enum)

TOP_KEYS = ("name", "input", "clock_mhz", "layers")
INPUT_KEYS = ("shape", "bits", "type")
CHOICE_KEYS = (
    "w_bits",
    "a_bits",
    "w_type",
    "a_type",
    "pe",
    "simd",
    "mmv",
    "arith",
    "prune",
    "ram_style",
    "mem_mode",
    "impl",
    "threshold",
    "scaling",
    "density",
)
OP_KEYS: Mapping[Op, tuple[str, ...]] = {
    Op.CONV: ("out_channels", "kernel", "stride", "padding", "groups", "from", *CHOICE_KEYS),
    Op.DENSE: ("out_features", "from", *CHOICE_KEYS),
    Op.MAXPOOL: ("kernel", "stride", "padding", "from"),
    Op.AVGPOOL: ("kernel", "stride", "padding", "from"),
    Op.ADD: ("from",),
    Op.CONCAT: ("from",),
}
ALL_LAYER_KEYS = tuple(dict.fromkeys(["name", "op", *(k for ks in OP_KEYS.values() for k in ks)]))


def _suggest(key: str, valid: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _enum(kind: type[E], raw: object, key: str, layer: str | None) -> E:
    """`raw` as a member of the string enum `kind`, case-insensitively, or a one-line
    SpecError listing the valid values (and the closest one). `layer` None: the input."""
    try:
        return kind(str(raw).lower())
    except ValueError:
        valid = tuple(str(m.value) for m in kind)
        where = f"layer {layer!r}: " if layer is not None else "input: "
        raise SpecError(
            f"{where}{key} {raw!r} is not one of {', '.join(valid)}"
            + _suggest(str(raw).lower(), valid)
        ) from None


def _where(layer: str | None) -> str:
    return f"layer {layer!r}: " if layer else ""


def _int(d: Mapping[str, Any], key: str, layer: str | None, default: int | None = None) -> int:
    if key not in d:
        if default is None:
            raise SpecError(f"{_where(layer)}missing key {key!r}")
        return default
    value = d[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{_where(layer)}{key} must be an integer, got {value!r}")
    if abs(value) > MAX_INT:  # costmodels.validate: magnitudes before any arithmetic
        raise SpecError(f"{_where(layer)}{key} {_big(value)} is larger than {MAX_INT:,}")
    return value


def _big(value: int) -> str:
    text = str(value)
    return text if len(text) <= 20 else f"{text[:6]}...({len(text)} digits)"


def _check_keys(d: Mapping[str, Any], valid: tuple[str, ...], what: str) -> None:
    for key in d:
        if isinstance(key, str) and key in valid:
            continue
        name = str(key)
        if name in ALL_LAYER_KEYS and not what.startswith(("top", "input")):
            # a real key of another layer kind: suggest this kind's closest key
            alias = {"out_channels": "out_features", "out_features": "out_channels"}.get(name)
            close = [alias] if alias in valid else difflib.get_close_matches(name, valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SpecError(f"{what}key {name!r} does not apply here{hint}")
        hint = _suggest(name, valid)
        if not hint and not what.startswith(("top", "input")):
            hint = _suggest(name, ALL_LAYER_KEYS)
        raise SpecError(f"{what}unknown key {name!r}{hint}")


def _choice(d: Mapping[str, Any], name: str) -> LayerChoice:
    w_bits = _int(d, "w_bits", name)
    if "a_bits" not in d:
        raise SpecError(f"layer {name!r}: missing key 'a_bits' (use null for no activation)")
    a_raw = d["a_bits"]
    if a_raw is not None and (isinstance(a_raw, bool) or not isinstance(a_raw, int)):
        raise SpecError(f"layer {name!r}: a_bits must be an integer or null, got {a_raw!r}")
    w_type = None if d.get("w_type") is None else _enum(WType, d["w_type"], "w_type", name)
    a_type = None if d.get("a_type") is None else _enum(NumType, d["a_type"], "a_type", name)
    arith = _enum(Arith, d.get("arith", "auto"), "arith", name)
    ram_style = _enum(RamStyle, d.get("ram_style", "auto"), "ram_style", name)
    mem_mode = (
        None if d.get("mem_mode") is None else _enum(MemMode, d["mem_mode"], "mem_mode", name)
    )
    impl = _enum(Impl, d.get("impl", "auto"), "impl", name)
    prune = d.get("prune", 0.0)
    if isinstance(prune, bool) or not isinstance(prune, (int, float)) or not math.isfinite(prune):
        raise SpecError(f"layer {name!r}: prune must be a number in [0, 1), got {prune!r}")
    if not 0.0 <= prune < 1.0:
        raise SpecError(f"layer {name!r}: prune={prune} must be in [0, 1)")
    return LayerChoice(
        w_bits=w_bits,
        a_bits=a_raw,
        w_type=w_type,
        pe=_int(d, "pe", name, 1),
        simd=_int(d, "simd", name, 1),
        mmv=_int(d, "mmv", name, 1),
        arith=arith,
        prune=float(prune),
        ram_style=ram_style,
        mem_mode=mem_mode,
        impl=impl,
        a_type=a_type,
        **sparse_syq_fields(d, name),
    )


def sparse_syq_fields(d: Mapping[str, Any], name: str) -> dict[str, Any]:
    """`threshold`, `scaling` and `density` of a layer's choice (Faraone thesis ch. 3 and
    5), validated, as LayerChoice keyword arguments (only the keys present)."""
    out: dict[str, Any] = {}
    if d.get("scaling") is not None:
        out["scaling"] = _enum(Scaling, d["scaling"], "scaling", name)
    for key, lo, hi in (("threshold", 0.0, math.inf), ("density", 0.0, 1.0)):
        if d.get(key) is None:
            continue
        v = d[key]
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
        if not ok or not (lo < v < hi if key == "threshold" else lo <= v <= hi):
            want = "a positive number" if key == "threshold" else "a number in [0, 1]"
            raise SpecError(f"layer {name!r}: {key} must be {want}, got {v!r}")
        out[key] = float(v)
    return out


def _layer(d: Any, index: int) -> LayerSpec:
    if not isinstance(d, Mapping):
        raise SpecError(f"layer #{index}: must be a mapping of keys, got {d!r}")
    name = d.get("name")
    if not isinstance(name, str) or not name:
        raise SpecError(f"layer #{index}: missing key 'name' (a non-empty string)")
    check_name(name, f"layer #{index}: name")  # no terminal control characters
    if "op" not in d:
        raise SpecError(f"layer {name!r}: missing key 'op'")
    op = _enum(Op, d["op"], "op", name)
    _check_keys(d, ("name", "op", *OP_KEYS[op]), f"layer {name!r} ({op.value}): ")

    source = _source(d, name, op)
    if op in (Op.ADD, Op.CONCAT):
        if isinstance(source, tuple):
            if (op is Op.CONCAT and len(source) < 2) or (op is Op.ADD and len(source) != 2):
                what = "an add reads 2" if op is Op.ADD else "a concat reads 2 or more"
                raise SpecError(f"layer {name!r}: {what} layers: `from: [a, b]`")
            return LayerSpec(name=name, op=op, inputs=source)
        if op is Op.CONCAT:
            raise SpecError(
                f"layer {name!r}: a concat needs `from: [a, b, ...]` (the layers it stacks)"
            )
        if source is None:
            raise SpecError(f"layer {name!r}: missing key 'from' (the layer whose output is added)")
        return LayerSpec(name=name, op=op, source=source)
    if isinstance(source, tuple):
        raise SpecError(f"layer {name!r}: a {op.value} layer reads one layer: `from: <name>`")
    if op is Op.CONV:
        stride = d.get("stride")
        if stride is not None:
            stride = _int(d, "stride", name)
        return LayerSpec(
            name=name,
            op=op,
            out_channels=_int(d, "out_channels", name),
            kernel=_int(d, "kernel", name, 1),
            stride=stride,
            padding=_int(d, "padding", name, 0),
            groups=_int(d, "groups", name, 1),
            choice=_choice(d, name),
            source=source,
        )
    if op is Op.DENSE:
        return LayerSpec(
            name=name,
            op=op,
            out_channels=_int(d, "out_features", name),
            choice=_choice(d, name),
            source=source,
        )
    stride = d.get("stride")
    if stride is not None:
        stride = _int(d, "stride", name)
    return LayerSpec(
        name=name,
        op=op,
        kernel=_int(d, "kernel", name),
        stride=stride,
        padding=_int(d, "padding", name, 0),
        source=source,
    )


def _source(d: Mapping[str, Any], name: str, op: Op) -> str | tuple[str, ...] | None:
    """The `from` key: a layer name (or `input`, the network input), or a list of them."""
    if "from" not in d:
        return None
    raw = d["from"]
    if isinstance(raw, str) and raw:
        return raw
    if isinstance(raw, list) and raw and all(isinstance(r, str) and r for r in raw):
        return tuple(raw)
    raise SpecError(f"layer {name!r} ({op.value}): from must be a layer name or a list of names")


def network_from_dict(d: Any) -> Network:
    """Build a `Network` from a parsed spec (the structure of the YAML/JSON file).

    Validates keys and types (one-line `SpecError`); shapes and folding are checked later by
    `costmodels.resolve`.
    """
    if not isinstance(d, Mapping):
        raise SpecError("a network spec must be a mapping with keys name, input, layers")
    _check_keys(d, TOP_KEYS, "top level: ")
    for key in ("name", "input", "layers"):
        if key not in d:
            raise SpecError(f"top level: missing key {key!r}")
    name = d["name"]
    if not isinstance(name, str) or not name:
        raise SpecError("top level: name must be a non-empty string")
    check_name(name, "top level: name")
    inp = d["input"]
    if not isinstance(inp, Mapping):
        raise SpecError("input: must be a mapping {shape: [...], bits: N, type: ...}")
    _check_keys(inp, INPUT_KEYS, "input: ")
    if "shape" not in inp or "bits" not in inp:
        raise SpecError(f"input: missing key {'shape' if 'shape' not in inp else 'bits'!r}")
    shape = inp["shape"]
    if (
        not isinstance(shape, (list, tuple))
        or not shape
        or len(shape) > 4
        or any(isinstance(s, bool) or not isinstance(s, int) or abs(s) > MAX_INT for s in shape)
    ):
        raise SpecError(
            f"input: shape must be a list of 1 to 4 integers up to {MAX_INT:,}, got "
            f"{str(shape)[:60]}"
        )
    bits = inp["bits"]
    if isinstance(bits, bool) or not isinstance(bits, int) or abs(bits) > MAX_INT:
        raise SpecError(f"input: bits must be an integer, got {str(bits)[:30]}")
    in_type = None if inp.get("type") is None else _enum(NumType, inp["type"], "type", None)
    if in_type is NumType.BIPOLAR and bits != 1:
        raise SpecError(f"input: type bipolar needs bits 1, got {bits}")
    if in_type is NumType.LQ:
        raise SpecError("input: type lq applies to a layer's outputs, not the network input")
    clock = d.get("clock_mhz")
    if clock is not None:
        if isinstance(clock, bool) or not isinstance(clock, (int, float)) or not clock > 0:
            raise SpecError(f"top level: clock_mhz must be a positive number, got {clock!r}")
        finite_in(clock, 0, MAX_CLOCK_MHZ, "top level: clock_mhz")
    layers = d["layers"]
    if not isinstance(layers, list):
        raise SpecError("top level: layers must be a list")
    if not layers:
        raise SpecError(f"network {name!r} has no layers")
    if len(layers) > MAX_LAYERS:
        raise SpecError(
            f"network {name!r} has {len(layers):,} layers; at most {MAX_LAYERS:,} "
            "(costmodels.validate.MAX_LAYERS)"
        )
    return Network(
        name=name,
        input_shape=tuple(shape),
        input_bits=bits,
        layers=tuple(_layer(layer, i) for i, layer in enumerate(layers)),
        clock_mhz=float(clock) if clock is not None else None,
        input_type=in_type,
    )


def load_network(path: str | Path) -> Network:
    """Read a YAML or JSON spec file, or a QONNX/ONNX model (`dse.onnx_import`), into a
    `Network`."""
    p = Path(path)
    if p.suffix.lower() == ".onnx":
        from dse.onnx_import import network_from_onnx

        return network_from_onnx(p)
    try:
        data = read_document(p, "spec file", SpecError)  # costmodels.reading: the limits
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(f"spec file {str(p)!r} is not valid YAML/JSON: {first}") from None
    return network_from_dict(data)


def _choice_dict(c: LayerChoice) -> dict[str, Any]:
    return choice_to_dict(c, compact=True)


def network_to_dict(net: Network) -> dict[str, Any]:
    """The spec structure of `net` (inverse of `network_from_dict`); defaults are omitted."""
    layers: list[dict[str, Any]] = []
    for layer in net.layers:
        d: dict[str, Any] = {"name": layer.name, "op": layer.op.value}
        if layer.op is Op.CONV:
            d["out_channels"] = layer.out_channels
        elif layer.op is Op.DENSE:
            d["out_features"] = layer.out_channels
        if layer.op in (Op.CONV, Op.MAXPOOL, Op.AVGPOOL):
            d["kernel"] = layer.kernel
            if layer.stride is not None:
                d["stride"] = layer.stride
            if layer.padding:
                d["padding"] = layer.padding
        if layer.op is Op.CONV and layer.groups != 1:
            d["groups"] = layer.groups
        if layer.inputs:
            d["from"] = list(layer.inputs)
        elif layer.source:
            d["from"] = layer.source
        if layer.choice is not None and layer.op.is_compute:
            d.update(_choice_dict(layer.choice))
        layers.append(d)
    out: dict[str, Any] = {
        "name": net.name,
        "input": {"shape": list(net.input_shape), "bits": net.input_bits},
    }
    if net.input_type is not None:
        out["input"]["type"] = net.input_type.value
    if net.clock_mhz is not None:
        out["clock_mhz"] = net.clock_mhz
    out["layers"] = layers
    return out


class _FlowDict(dict[str, Any]):
    """A mapping dumped in flow style (one layer per line)."""


class _Dumper(yaml.SafeDumper):
    pass


def _represent_flow(dumper: yaml.SafeDumper, data: _FlowDict) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)


_Dumper.add_representer(_FlowDict, _represent_flow)


def dump_network(net: Network) -> str:
    """The YAML spec of `net`: one flow-style line per layer; loads back to an equal
    `Network`."""
    d = network_to_dict(net)
    d["input"] = _FlowDict(d["input"])
    d["layers"] = [_FlowDict(layer) for layer in d["layers"]]
    return yaml.dump(d, Dumper=_Dumper, sort_keys=False, width=120, default_flow_style=False)
