"""Per-layer design choices from a YAML/JSON file (the `--spec` of `dse evaluate`).

Accepted shapes (layer names are the workload's, see `dse workloads` / `Workload.network`)::

    conv2: {w_bits: 1, a_bits: 2, prune: 0.25}     # a mapping name -> choice
    fc2: {w_bits: 8, a_bits: null, arith: rccm2}

    layers:                                          # or under `layers`, as a mapping
      conv2: {w_bits: 2}                             # or a list of {name: ..., ...}

A full network spec (as `dse` dumps it) works too: structural keys (op, out_channels,
kernel, ...) of listed layers are ignored, `input: {bits: N}` sets the input bits.
Layers not named keep their current choice; unnamed keys keep their current value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from costmodels.errors import SpecError
from costmodels.reading import read_document
from costmodels.types import Arith, LayerChoice, Network, NumType, WType
from dse.spec import sparse_syq_fields

CHOICE_KEYS = ("w_bits", "a_bits", "w_type", "a_type", "pe", "simd", "mmv", "arith", "prune",
               "threshold", "scaling", "density")  # fmt: skip
STRUCTURE_KEYS = ("name", "op", "out_channels", "out_features", "kernel", "stride", "padding",
                  "groups", "from")  # fmt: skip


def read_choices(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a choices file into {layer name: {key: value}} (keys checked, values not yet)."""
    p = Path(path)
    try:
        doc = read_document(p, "choices file", SpecError)  # costmodels.reading: limits
    except (yaml.YAMLError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(f"cannot read {p}: {first}") from None
    if isinstance(doc, Mapping) and "layers" in doc:
        doc = doc["layers"]
    elif isinstance(doc, Mapping):
        doc = {k: v for k, v in doc.items() if k not in ("name", "input", "clock_mhz")}
    out: dict[str, dict[str, Any]] = {}
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                raise SpecError(f"{p}: layer #{i + 1} must be a mapping with a 'name'")
            choice = {k: v for k, v in item.items() if k not in STRUCTURE_KEYS}
            if "op" in item and item["op"] not in ("conv", "dense"):
                continue
            out[item["name"]] = _checked(choice, item["name"], p)
    elif isinstance(doc, Mapping):
        for name, choice in doc.items():
            if not isinstance(choice, Mapping):
                raise SpecError(f"{p}: layer {name!r} must map to its choices, e.g. {{w_bits: 4}}")
            out[str(name)] = _checked(dict(choice), str(name), p)
    else:
        raise SpecError(f"{p}: expected a mapping of layer name -> choices")
    return out


def read_input_bits(path: str | Path) -> int | None:
    """`input: {bits: N}` of a choices/spec file, if present (call after `read_choices`)."""
    doc = read_document(path, "choices file", SpecError)
    inp = doc.get("input") if isinstance(doc, Mapping) else None
    if not isinstance(inp, Mapping) or "bits" not in inp:
        return None
    return _int(inp["bits"], "bits", "input")


def _checked(choice: dict[str, Any], name: str, p: Path) -> dict[str, Any]:
    for key in choice:
        if key not in CHOICE_KEYS:
            raise SpecError(
                f"{p}: layer {name!r}: unknown key {key!r}; valid: {', '.join(CHOICE_KEYS)}"
            )
    return choice


def _int(v: Any, key: str, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise SpecError(f"layer {name!r}: {key} must be an integer, got {v!r}")
    return v


def apply_choices(network: Network, raw: Mapping[str, Mapping[str, Any]]) -> Network:
    """`network` with the given per-layer choices applied over the current ones."""
    names = {layer.name: layer for layer in network.compute_layers}
    new: dict[str, LayerChoice] = {}
    for name, d in raw.items():
        if name not in names:
            raise SpecError(
                f"no compute layer {name!r} in {network.name!r}; layers: {', '.join(names)}"
            )
        c = names[name].choice or LayerChoice()
        fields: dict[str, Any] = {}
        for key, v in d.items():
            if key in ("w_bits", "pe", "simd", "mmv"):
                fields[key] = _int(v, key, name)
            elif key == "a_bits":
                fields[key] = None if v is None else _int(v, key, name)
            elif key == "prune":
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise SpecError(f"layer {name!r}: prune must be a number in [0, 1), got {v!r}")
                fields[key] = float(v)
            elif key == "w_type":
                fields[key] = None if v is None else _enum(WType, v, key, name)
            elif key == "a_type":
                fields[key] = None if v is None else _enum(NumType, v, key, name)
            elif key == "arith":
                fields[key] = _enum(Arith, v, key, name)
        fields.update(sparse_syq_fields(d, name))
        new[name] = replace(c, **fields)
    return network.with_choices(new)


def _enum(cls: type[WType] | type[NumType] | type[Arith], v: Any, key: str, name: str) -> Any:
    try:
        return cls(str(v).lower())
    except ValueError:
        valid = ", ".join(m.value for m in cls)
        raise SpecError(f"layer {name!r}: {key} {v!r} is not one of {valid}") from None


def uniform_choices(network: Network, w_bits: int | None, a_bits: int | None) -> Network:
    """Every compute layer at `w_bits` weights and (where it has activations) `a_bits`
    activations; `None` keeps the current value."""
    new: dict[str, LayerChoice] = {}
    for layer in network.compute_layers:
        c = layer.choice or LayerChoice()
        if w_bits is not None:
            c = replace(c, w_bits=w_bits, w_type=None)
        if a_bits is not None and c.a_bits is not None:
            c = replace(c, a_bits=a_bits)
        new[layer.name] = c
    return network.with_choices(new)
