"""The one codec of `LayerChoice` <-> a JSON-ready dict (stored trials, reports, exports,
spec files): enums as their values, every field of the dataclass, so a new field needs no
change here. Reading fills fields a dict lacks (trials stored before the field existed)
with their defaults."""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, fields
from enum import Enum
from typing import Any

from costmodels.errors import SpecError
from costmodels.types import LayerChoice

#: Always written by `choice_to_dict(compact=True)`: what a reader of a spec expects to see.
ALWAYS = ("w_bits", "a_bits", "pe", "simd")


@functools.cache
def _field_types() -> dict[str, tuple[type, bool]]:
    """Per field: (its value type, whether it may be None)."""
    hints = typing.get_type_hints(LayerChoice)
    out: dict[str, tuple[type, bool]] = {}
    for f in fields(LayerChoice):
        hint = hints[f.name]
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else ()
        if args:
            base = next(a for a in args if a is not type(None))
            out[f.name] = (base, type(None) in args)
        else:
            out[f.name] = (hint, False)
    return out


def choice_to_dict(c: LayerChoice, *, compact: bool = False) -> dict[str, Any]:
    """Every field (enums as values); `compact` leaves out fields at their default except
    `ALWAYS` (how spec files are written)."""
    out: dict[str, Any] = {}
    for f in fields(LayerChoice):
        value = getattr(c, f.name)
        if compact and f.name not in ALWAYS and f.default is not MISSING and value == f.default:
            continue
        out[f.name] = value.value if isinstance(value, Enum) else value
    return out


def choice_from_dict(d: Mapping[str, Any]) -> LayerChoice:
    """The inverse of `choice_to_dict`; `SpecError` names a value of the wrong kind."""
    kw: dict[str, Any] = {}
    for name, (kind, optional) in _field_types().items():
        if name not in d:
            continue
        value = d[name]
        if value is None and optional:
            kw[name] = None
            continue
        try:
            kw[name] = kind(value)
        except (TypeError, ValueError):
            raise SpecError(f"layer choice {name}: {value!r} is not a {kind.__name__}") from None
    return LayerChoice(**kw)
