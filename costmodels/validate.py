"""The one validation of numbers and names where input enters (spec, device file, config,
command line, `.npz` labels): finite, of the right kind, and within a stated range, before
anything is computed with them. Each limit below is a user-facing limit (docs/reliability.md).
"""

from __future__ import annotations

import math
from typing import Any

from costmodels.errors import DseError, SpecError

MAX_CLOCK_MHZ = 2000.0
"""Fabric clocks of the devices in the catalog top out near 1 GHz (UltraScale+ DSP58 at
~900 MHz); anything above 2 GHz is a typo (Hz for MHz)."""
MAX_INT = 2**40
"""Largest size a spec may give (channels, features, kernel, stride, shape): ~1.1e12 keeps
a 10^12-neuron layer valid and every product of a few sizes inside float range."""
MAX_COUNT = 10**9
"""Largest resource count of a device file (LUT, FF, BRAM18, URAM, DSP)."""
MAX_LAYERS = 2048
"""Largest network (layers in a spec). A search samples ~4 parameters per compute layer:
5 trials of a 2,000-layer network took 30 s on the shared 2-core machine (start-up,
baselines and the sampler included), so 10,000 layers would not finish within a minute."""
MAX_SEED = 2**32 - 1
"""numpy's and torch's seed range is 0..2^32-1."""
MAX_NAME = 256
"""Longest layer, network or device name."""


def finite_in(
    value: Any,
    lo: float,
    hi: float,
    what: str,
    kind: type[DseError] = SpecError,
    *,
    lo_inclusive: bool = False,
) -> float:
    """`value` as a float in (lo, hi] (or [lo, hi]); NaN, infinities, booleans, strings and
    numbers outside the range are one-line `kind` errors."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise kind(f"{what} must be a number, got {value!r}")
    try:
        x = float(value)
    except OverflowError:
        raise kind(f"{what} {_short(value)} is out of range") from None
    if not math.isfinite(x):
        raise kind(f"{what} must be a finite number, got {value!r}")
    low_ok = x >= lo if lo_inclusive else x > lo
    if not low_ok or x > hi:
        bracket = "[" if lo_inclusive else "("
        raise kind(f"{what} {_short(value)} is out of range {bracket}{lo:g}, {hi:g}]")
    return x


def int_in(value: Any, lo: int, hi: int, what: str, kind: type[DseError] = SpecError) -> int:
    """`value` as an int in [lo, hi] (booleans and non-integers refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise kind(f"{what} must be an integer, got {_short(value)}")
    if not lo <= value <= hi:
        raise kind(f"{what} {_short(value)} is out of range {lo}..{hi}")
    return value


def _short(value: Any) -> str:
    """`value` for an error line: huge integers abbreviated (a 401-digit number is one
    line, not five)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**15:
        digits = len(str(abs(value)))
        return f"{'-' if value < 0 else ''}{str(abs(value))[:6]}...({digits} digits)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_name(name: str, what: str, kind: type[DseError] = SpecError) -> str:
    """Refuse a name a terminal would interpret (ESC, NUL, newlines: any non-printable
    character) or longer than `MAX_NAME`, before it is echoed anywhere."""
    if len(name) > MAX_NAME:
        raise kind(f"{what} is {len(name)} characters long; at most {MAX_NAME}")
    bad = next((c for c in name if not c.isprintable()), None)
    if bad is not None:
        raise kind(f"{what} {_short(name)} contains the control character {bad!r}; refused")
    return name


__all__ = [
    "MAX_CLOCK_MHZ",
    "MAX_COUNT",
    "MAX_INT",
    "MAX_LAYERS",
    "MAX_NAME",
    "MAX_SEED",
    "check_name",
    "finite_in",
    "int_in",
]
