"""The `twin:` settings of a study (TwinDNN mode): the margin T is compared against, its
upper end, the pair's resource overhead model and whether the halves are pipelined. Below
the configuration and the storage (it imports only the twin's pure modules)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from costmodels.errors import ConfigError
from dse.twin.resources import OverheadModel
from dse.twin.schedule import Margin

#: Default upper end of T for raw margins: on digits-cnn the compressed half's raw margins
#: reach ~22 (`dse twin-sweep` prints them); for softmax margins T lives in [0, 1].
DEFAULT_T_MAX_RAW = 16.0
TWIN_KEYS = ("margin", "t_max", "overhead", "pipelined")


@dataclass(frozen=True)
class TwinSettings:
    """The `twin:` mapping of a study config (all optional)."""

    margin: Margin = Margin.RAW
    t_max: float | None = None
    overhead: str = "mean"
    pipelined: bool = False

    def __post_init__(self) -> None:
        if self.t_max is not None and not (math.isfinite(self.t_max) and self.t_max > 0):
            raise ConfigError(f"twin.t_max {self.t_max} must be a positive number")
        OverheadModel.parse(self.overhead)  # validates

    @property
    def threshold_max(self) -> float:
        if self.t_max is not None:
            return self.t_max
        return 1.0 if self.margin is Margin.SOFTMAX else DEFAULT_T_MAX_RAW

    @property
    def overhead_model(self) -> OverheadModel:
        return OverheadModel.parse(self.overhead)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any] | None) -> TwinSettings:
        if not raw:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError("twin: must be a mapping like {margin: raw, t_max: 16}")
        unknown = set(raw) - set(TWIN_KEYS)
        if unknown:
            raise ConfigError(
                f"twin: unknown key {sorted(unknown)[0]!r} (expected {', '.join(TWIN_KEYS)})"
            )
        try:
            margin = Margin(str(raw.get("margin", "raw")).lower())
        except ValueError:
            raise ConfigError(f"twin.margin {raw.get('margin')!r} must be raw or softmax") from None
        t_max = raw.get("t_max")
        try:
            return cls(
                margin=margin,
                t_max=None if t_max is None else float(t_max),
                overhead=str(raw.get("overhead", "mean")),
                pipelined=bool(raw.get("pipelined", False)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"twin: {exc}") from None

    def as_dict(self) -> dict[str, Any]:
        return {
            "margin": self.margin.value,
            "t_max": self.threshold_max,
            "overhead": self.overhead,
            "pipelined": self.pipelined,
        }
