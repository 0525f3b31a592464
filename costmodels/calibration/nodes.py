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

from costmodels.calibration.rows import NodeRow
from costmodels.errors import ConfigError
from costmodels.finn_units import (
    DwcNode,
    FifoNode,
    FmPadNode,
    LabelSelectNode,
    MvauNode,
    Node,
    SwuNode,
    ThresholdingNode,
)

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


def _bits(row_attr: str, where: str) -> FinnType:
    return FinnType.parse(row_attr, where)


def node_from_row(row: NodeRow) -> Node | None:
    """The typed FINN node of a ground-truth row, or None when the row lacks the
    attributes its estimator needs (e.g. a FIFO without a width). Malformed attributes
    raise a one-line `ConfigError` naming the row."""
    where = row.source
    a = row.attr
    try:
        match row.finn_op:
            case "MVAU" | "VVAU":
                w = _bits(a("weightDataType"), where)
                i = _bits(a("inputDataType"), where)
                no_act = a("noActivation", "0") == "1"
                out = 0 if no_act else _bits(a("outputDataType"), where).bits
                mw, mh = int(a("MW")), int(a("MH"))
                acc_text = a("accDataType")
                if acc_text:
                    acc = _bits(acc_text, where).bits
                else:
                    acc = i.bits + w.bits + math.ceil(math.log2(max(mw, 2)))
                return MvauNode(
                    mw=mw,
                    mh=mh,
                    pe=int(a("PE", "1")),
                    simd=int(a("SIMD", "1")),
                    w_bits=w.bits,
                    in_bits=i.bits,
                    out_bits=out,
                    acc_bits=acc,
                    xnor=a("binaryXnorMode", "0") == "1",
                    res_type=a("resType", "lut") or "lut",
                    ram_style=a("ram_style", "auto") or "auto",
                    mem_mode=a("mem_mode", "internal_decoupled") or "internal_decoupled",
                    impl=row.impl,
                    depthwise=row.finn_op == "VVAU",
                )
            case "Thresholding":
                out_t = _bits(a("outputDataType"), where)
                return ThresholdingNode(
                    channels=int(a("NumChannels")),
                    pe=int(a("PE", "1")),
                    in_bits=_bits(a("inputDataType"), where).bits,
                    out_bits=out_t.bits,
                    impl=row.impl,
                    num_steps=int(a("numSteps", "0") or 0),
                )
            case "ConvolutionInputGenerator":
                ifm = parse_ints(a("IFMDim"), where, "IFMDim")
                ofm = parse_ints(a("OFMDim"), where, "OFMDim")
                k = parse_ints(a("ConvKernelDim"), where, "ConvKernelDim")
                s = parse_ints(a("Stride", "[1, 1]"), where, "Stride")
                return SwuNode(
                    channels=int(a("IFMChannels")),
                    ifm=(ifm[0], ifm[-1]),
                    ofm=(ofm[0], ofm[-1]),
                    kernel=k[0],
                    stride=s[0],
                    simd=int(a("SIMD", "1")),
                    bits=_bits(a("inputDataType"), where).bits,
                    parallel_window=a("parallel_window", "0") == "1",
                    depthwise=a("depthwise", "0") == "1",
                )
            case "FMPadding":
                img = parse_ints(a("ImgDim"), where, "ImgDim")
                pad = parse_ints(a("Padding"), where, "Padding")
                return FmPadNode(
                    channels=int(a("NumChannels")),
                    img=(img[0], img[-1]),
                    pad=pad[0] + (pad[2] if len(pad) > 2 else pad[0]),
                    simd=int(a("SIMD", "1")),
                    bits=_bits(a("inputDataType"), where).bits,
                )
            case "StreamingFIFO":
                if not a("depth") or not a("inWidth"):
                    return None
                return FifoNode(
                    width=int(float(a("inWidth"))),
                    depth=int(float(a("depth"))),
                    impl_style=a("impl_style", "rtl") or "rtl",
                )
            case "StreamingDataWidthConverter":
                return DwcNode(
                    in_width=int(a("inWidth", "0") or 0),
                    out_width=int(a("outWidth", "0") or 0),
                    impl=row.impl,
                )
            case "LabelSelect":
                return LabelSelectNode(
                    labels=int(a("Labels")),
                    k=int(a("K", "1")),
                    pe=int(a("PE", "1")),
                    in_bits=_bits(a("inputDataType"), where).bits,
                )
    except ValueError as exc:
        raise ConfigError(f"{where}: bad {row.finn_op} attribute ({exc})") from None
    return None
