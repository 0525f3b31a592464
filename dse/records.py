"""What a trial stores, as typed values with one codec each (STYLE: a stored record is a
typed value, not string keys and positional lists).

`TrialAttrs` is everything `dse` writes into a trial's Optuna user attributes and reads
back; `LayerCostRow` is one unit's cost in it. The stored form is unchanged (the same keys,
each row a compact list `[name, op, lut, ff, dsp, bram18, uram, cycles]`), so studies
written before stay readable and Optuna's own tools see the same attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from costmodels.types import LayerCost

ATTR_CANDIDATE = "candidate"
ATTR_COST = "cost"
ATTR_LAYERS = "layers"
ATTR_ACCURACY = "accuracy"
ATTR_TIMING = "timing"
ATTR_STATUS = "status"
ATTR_BASELINE = "baseline"
ATTR_ERROR = "error"
ATTR_TWIN = "twin"
STUDY_ATTR = "dse"  # study user attr: {version, fingerprint, definition, network, ...}
RESOURCE_KEYS = ("lut", "dsp", "bram18", "uram")


@dataclass(frozen=True)
class LayerCostRow:
    """One hardware unit's cost as a trial stores it (rounded as stored)."""

    name: str
    op: str
    lut: float
    ff: float
    dsp: float
    bram18: float
    uram: float
    cycles: int

    @classmethod
    def of(cls, lc: LayerCost) -> LayerCostRow:
        r = lc.resources
        return cls(
            lc.name,
            lc.op.value,
            round(r.lut, 1),
            round(r.ff, 1),
            round(r.dsp, 2),
            round(r.bram18, 2),
            round(r.uram, 2),
            lc.cycles,
        )

    def encode(self) -> list[Any]:
        return [
            self.name, self.op, self.lut, self.ff, self.dsp, self.bram18, self.uram, self.cycles
        ]  # fmt: skip

    @classmethod
    def decode(cls, row: Sequence[Any]) -> LayerCostRow:
        name, op, lut, ff, dsp, bram18, uram, cycles = row
        return cls(str(name), str(op), lut, ff, dsp, bram18, uram, int(cycles))

    def prefixed(self, prefix: str) -> LayerCostRow:
        return replace(self, name=prefix + self.name)


@dataclass(frozen=True)
class TrialAttrs:
    """The attributes of one trial: its design per layer (`candidate`, the `LayerChoice`
    codec's dicts), the cost summary and per-unit rows, the accuracy (None: not
    evaluated), timings, the status line, an error, a baseline label, and a mode's own
    extras (`twin`)."""

    candidate: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    cost: Mapping[str, Any] | None = None
    layers: tuple[LayerCostRow, ...] | None = None
    accuracy: float | None = None
    timing: Mapping[str, Any] | None = None
    status: str | None = None
    error: str | None = None
    baseline: str | None = None
    twin: Mapping[str, Any] | None = None

    def encode(self) -> dict[str, Any]:
        """The user attributes to store (absent fields are left out, as before)."""
        out: dict[str, Any] = {ATTR_CANDIDATE: dict(self.candidate)}
        if self.cost is not None:
            out[ATTR_COST] = dict(self.cost)
        if self.layers is not None:
            out[ATTR_LAYERS] = [r.encode() for r in self.layers]
        if self.twin is not None:
            out[ATTR_TWIN] = dict(self.twin)
        if self.status is not None:  # an evaluated trial: accuracy may be None
            out[ATTR_ACCURACY] = self.accuracy
            out[ATTR_TIMING] = dict(self.timing or {})
            out[ATTR_STATUS] = self.status
        if self.error is not None:
            out[ATTR_ERROR] = self.error
        if self.baseline is not None:
            out[ATTR_BASELINE] = self.baseline
        return out

    @classmethod
    def decode(cls, attrs: Mapping[str, Any]) -> TrialAttrs:
        rows = attrs.get(ATTR_LAYERS)
        acc = attrs.get(ATTR_ACCURACY)
        return cls(
            candidate=attrs.get(ATTR_CANDIDATE) or {},
            cost=attrs.get(ATTR_COST),
            layers=None if rows is None else tuple(LayerCostRow.decode(r) for r in rows),
            accuracy=None if acc is None else float(acc),
            timing=attrs.get(ATTR_TIMING),
            status=attrs.get(ATTR_STATUS),
            error=attrs.get(ATTR_ERROR),
            baseline=attrs.get(ATTR_BASELINE),
            twin=attrs.get(ATTR_TWIN),
        )
