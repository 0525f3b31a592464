"""Typed FINN nodes: the attributes of one hardware unit that its estimators read, parsed
from FINN's node attributes (strings in the shared CSV, values in a build's
final_hw_config.json / ONNX) or built from a dse layer.

FINN data types (qonnx `DataType`): `BINARY` {0, 1}, `BIPOLAR` {-1, +1}, `TERNARY`
{-1, 0, 1}, `INTk` two's complement, `UINTk` unsigned; with `binaryXnorMode=1` an MVAU
reads BINARY as bipolar (FINN `MVAU` docstring).
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass

from costmodels.errors import ConfigError

_DTYPE = re.compile(r"^(U?INT)(\d+)$")


@dataclass(frozen=True)
class FinnType:
    """A FINN data type: bits, whether it is signed, whether it is bipolar (+-1)."""

    bits: int
    signed: bool = False
    bipolar: bool = False

    @classmethod
    def parse(cls, text: str, where: str = "") -> FinnType:
        t = text.strip().upper()
        if t == "BINARY":
            return cls(1)
        if t == "BIPOLAR":
            return cls(1, signed=True, bipolar=True)
        if t == "TERNARY":
            return cls(2, signed=True)
        m = _DTYPE.match(t)
        if m:
            return cls(int(m.group(2)), signed=m.group(1) == "INT")
        if t.startswith("FIXED<") or t.startswith("FLOAT"):
            raise ConfigError(f"{where}: data type {text!r} is not an integer type")
        raise ConfigError(f"{where}: unknown FINN data type {text!r}")


def parse_ints(text: str, where: str, what: str) -> tuple[int, ...]:
    """`[1, 16, 16]` or `16` -> a tuple of ints."""
    try:
        value = ast.literal_eval(text.strip()) if text.strip() else None
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (int(value),)
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        return tuple(int(v) for v in value)
    raise ConfigError(f"{where}: {what} {text!r} is not a list of integers")


def prod(values: tuple[int, ...]) -> int:
    return math.prod(values) if values else 1
