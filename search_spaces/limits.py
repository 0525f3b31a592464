"""The limits of a search space: which bits, pruning ratios, folding and arithmetic the
search may pick. A frozen value that the study configuration builds and fingerprints."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from costmodels.errors import ConfigError
from costmodels.network import MAX_BITS
from costmodels.types import Arith, NumType, RamStyle, Scaling, WType

ALL_BITS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16)
DEFAULT_ARITH: tuple[Arith, ...] = (
    Arith.LUT,
    Arith.DSP,
    Arith.RCCM2,
    Arith.RCCM3,
    Arith.RCCM4,
    Arith.XNOR,
    Arith.SPARSE,
)
#: Ternary thresholds searched (multiples of the mean weight magnitude; 0.7 is TWN's, the
#: larger ones give the sparse layers of Faraone thesis 3.2.1).
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.7, 1.0, 1.5, 2.0)


@dataclass(frozen=True)
class FixedChoice:
    """Values one layer keeps whatever the search samples (e.g. 8-bit first and last
    layers, the usual choice for quantized networks: FINN BNN-PYNQ, Faraone thesis
    sec. 3.2). `None` fields are searched."""

    w_bits: int | None = None
    a_bits: int | None = None
    prune: float | None = None
    arith: Arith | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("w_bits", "a_bits", "prune"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.arith is not None:
            out["arith"] = self.arith.value
        return out


@dataclass(frozen=True)
class SpaceLimits:
    """What the search may choose, per compute layer.

    `search_bits` / `search_prune` `None` mean "only when accuracy is an objective": in a
    cost-only search fewer bits and more pruning are free wins, so the spec's values stay.
    `fixed` maps a layer name, or `first` / `last` (the first and last compute layers), to
    values that are not searched. `max_pe` / `max_simd` / `max_mmv` cap the folding
    (`max_mmv` 1 turns MMV off, as FINN's default flow does). `ram_style` lists where
    weights may live (FINN `ram_style`): with more than one, the sampled search has a
    per-layer `<layer>.ram_style` parameter; the default, `auto` alone, keeps the cost
    model's own placement there (the decomposed search's solver chooses among every style
    the device holds either way, `dse.hardware`).
    """

    w_bits: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8)
    a_bits: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8)
    prune: tuple[float, ...] = (0.0, 0.125, 0.25, 0.375, 0.5)
    max_pe: int = 64
    max_simd: int = 64
    max_mmv: int = 1
    arith: tuple[Arith, ...] = DEFAULT_ARITH
    #: weight quantizers: `None` the default for the bits (bipolar/ternary/int), `lq`
    w_types: tuple[WType | None, ...] = (None,)
    #: activation quantizers: `None` uniform, `lq` LQ-Nets codes
    a_types: tuple[NumType | None, ...] = (None,)
    threshold: tuple[float, ...] = DEFAULT_THRESHOLDS
    scaling: tuple[Scaling, ...] = tuple(Scaling)
    ram_style: tuple[RamStyle, ...] = (RamStyle.AUTO,)
    search_bits: bool | None = None
    search_prune: bool | None = None
    fixed: tuple[tuple[str, FixedChoice], ...] = field(
        default=(("first", FixedChoice(w_bits=8, a_bits=None)), ("last", FixedChoice(w_bits=8)))
    )

    def __post_init__(self) -> None:
        for name in ("w_bits", "a_bits"):
            bits = getattr(self, name)
            if not bits:
                raise ConfigError(f"space.{name} must list at least one bit-width")
            bad = [b for b in bits if not 1 <= b <= MAX_BITS]
            if bad:
                raise ConfigError(f"space.{name}: {bad[0]} is out of range 1..{MAX_BITS}")
        if not self.prune:
            raise ConfigError("space.prune must list at least one ratio (0 for none)")
        bad_ratio = [r for r in self.prune if not 0.0 <= r < 1.0]
        if bad_ratio:
            raise ConfigError(f"space.prune: ratio {bad_ratio[0]} must be in [0, 1)")
        for name in ("max_pe", "max_simd", "max_mmv"):
            if getattr(self, name) < 1:
                raise ConfigError(f"space.{name} must be >= 1")
        if not self.arith:
            raise ConfigError("space.arith must list at least one arithmetic")
        if not self.w_types or any(t not in (None, WType.LQ) for t in self.w_types):
            raise ConfigError("space.w_types must list some of: default, lq")
        if not self.a_types or any(t not in (None, NumType.LQ) for t in self.a_types):
            raise ConfigError("space.a_types must list some of: int, lq")
        if not self.threshold or not all(math.isfinite(t) and t > 0 for t in self.threshold):
            raise ConfigError("space.threshold must list positive numbers (e.g. 0.7, 1.5)")
        if not self.scaling:
            raise ConfigError("space.scaling must list at least one of channel, layer, row, pixel")
        if not self.ram_style:
            raise ConfigError(
                "space.ram_style must list at least one of auto, block, distributed, ultra"
            )

    def fixed_for(self, layer: str, *, first: bool, last: bool) -> FixedChoice:
        """The fixed values of one layer: its own entry over `first`/`last`."""
        table = dict(self.fixed)
        merged: dict[str, Any] = {}
        for key, applies in (("first", first), ("last", last), (layer, True)):
            if applies and key in table:
                merged.update({k: v for k, v in vars(table[key]).items() if v is not None})
        return FixedChoice(**merged)

    def as_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready form (used for the study fingerprint and the config echo)."""
        return {
            "w_bits": list(self.w_bits),
            "a_bits": list(self.a_bits),
            "prune": list(self.prune),
            "max_pe": self.max_pe,
            "max_simd": self.max_simd,
            "max_mmv": self.max_mmv,
            "arith": [a.value for a in self.arith],
            "threshold": list(self.threshold),
            "scaling": [g.value for g in self.scaling],
            "search_bits": self.search_bits,
            "search_prune": self.search_prune,
            "fixed": {name: fc.as_dict() for name, fc in self.fixed},
            # only when searched, so that older studies keep their fingerprint
            **({"w_types": [t.value if t else "default" for t in self.w_types]}
               if self.w_types != (None,) else {}),
            **({"a_types": [t.value if t else "int" for t in self.a_types]}
               if self.a_types != (None,) else {}),
            **({"ram_style": [r.value for r in self.ram_style]}
               if self.ram_style != (RamStyle.AUTO,) else {}),
        }  # fmt: skip


def parse_fixed(raw: Mapping[str, Any]) -> tuple[tuple[str, FixedChoice], ...]:
    """`{layer: {w_bits: 8, ...}}` from a config file into `SpaceLimits.fixed`."""
    out: list[tuple[str, FixedChoice]] = []
    if not isinstance(raw, Mapping):
        raise ConfigError("space.fixed must be a mapping like {conv1: {w_bits: 8}}")
    for name, values in raw.items():
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise ConfigError(f"space.fixed.{name} must be a mapping like {{w_bits: 8}}")
        unknown = set(values) - {"w_bits", "a_bits", "prune", "arith"}
        if unknown:
            raise ConfigError(
                f"space.fixed.{name}: unknown key {sorted(unknown)[0]!r} "
                "(expected w_bits, a_bits, prune, arith)"
            )
        arith = values.get("arith")
        try:
            fc = FixedChoice(
                w_bits=None if values.get("w_bits") is None else int(values["w_bits"]),
                a_bits=None if values.get("a_bits") is None else int(values["a_bits"]),
                prune=None if values.get("prune") is None else float(values["prune"]),
                arith=None if arith is None else Arith(str(arith).lower()),
            )
        except (TypeError, ValueError, OverflowError) as exc:
            raise ConfigError(f"space.fixed.{name}: {exc}") from None
        out.append((str(name), fc))
    return tuple(out)


def parse_types(raw: Any, what: str) -> tuple[Any, ...]:
    """`default,lq` (weights) or `int,lq` (activations) into `SpaceLimits.w_types` /
    `a_types` values (`None` for the default/uniform quantizer)."""
    items = [x.strip() for x in raw.split(",")] if isinstance(raw, str) else list(raw)
    out: list[Any] = []
    plain = "default" if what == "w_types" else "int"
    for item in items:
        name = str(item).strip().lower()
        if name in (plain, "auto", "none", "uniform") or (what == "w_types" and name == "int"):
            out.append(None)
        elif name == "lq":
            out.append(WType.LQ if what == "w_types" else NumType.LQ)
        else:
            raise ConfigError(f"space.{what}: unknown quantizer {name!r} (expected {plain}, lq)")
    return tuple(dict.fromkeys(out))
