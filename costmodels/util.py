"""Small helpers shared by the unit estimators."""

from __future__ import annotations

from collections.abc import Iterable

from costmodels.types import Resources


def sum_resources(items: Iterable[Resources]) -> Resources:
    """The sum of `items` built in one pass (one `Resources` instead of one per `+`;
    this is on the search's hot path)."""
    lut = ff = dsp = bram18 = uram = 0.0
    for r in items:
        lut += r.lut
        ff += r.ff
        dsp += r.dsp
        bram18 += r.bram18
        uram += r.uram
    return Resources(lut, ff, dsp, bram18, uram)
