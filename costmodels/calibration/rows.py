"""Ground-truth rows: one FINN node instance of one build with its attributes and what
Vivado synthesized for it.

Two sources, one value type (`NodeRow`):

- the shared CSV format of shared/reference/finn_synth/ (columns `Submodule Instance`,
  the node's FINN attributes, `Total LUT`, `Total FFs`, `BRAM (36k eq.)`, `DSP Blocks`);
- FINN build folders (see `costmodels.calibration.builds`).

Units: the CSVs count BRAM in RAMB36 equivalents (RAMB36 + 0.5 x RAMB18); `NodeRow.bram18`
is in 18 Kb blocks (x 2), the unit of the whole cost model.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from costmodels.errors import ConfigError
from costmodels.reading import read_text

#: FINN op names of the units the model knows (FINN `custom_op/fpgadataflow`, v0.10).
FINN_OPS = (
    "MVAU",
    "VVAU",
    "Thresholding",
    "ConvolutionInputGenerator",
    "FMPadding",
    "StreamingFIFO",
    "StreamingDataWidthConverter",
    "Pool",
    "StreamingMaxPool",
    "LabelSelect",
    "AddStreams",
    "DuplicateStreams",
    "StreamingConcat",
)
#: Columns of the shared CSV that describe the build, not the node (left out of a
#: configuration's identity).
RUN_COLUMNS = frozenset(
    {
        "model_id",
        "session",
        "timestamp",
        "run_name",
        "run_number",
        "is_baseline",
        "fixed_ram_style",
        "fixed_resType",
        "Submodule Instance",
        "base_name",
        "layer_idx",
        "cycles_estimate",
        "estimated_cycles",
        "isRTL",
        "isHLS",
    }
)
RESULT_COLUMNS = ("Total LUT", "Total FFs", "BRAM (36k eq.)", "DSP Blocks")
#: Files larger than this are refused (a CSV of every node of many builds is a few MB).
MAX_CSV_BYTES = 64 * 1024 * 1024
#: Fraction of distinct configurations held out of the fit (by a hash of the
#: configuration, so every rebuild of one configuration lands on the same side).
HELDOUT_FRACTION = 0.2


@dataclass(frozen=True)
class NodeRow:
    """One FINN node of one build: `finn_op` (FINN's op name without `_hls`/`_rtl`),
    `impl` (`hls` | `rtl`), its attributes as FINN writes them (strings), and the
    synthesized LUT, FF, DSP and BRAM18 (18 Kb blocks)."""

    source: str
    model_id: str
    finn_op: str
    impl: str
    attrs: tuple[tuple[str, str], ...]
    lut: float
    ff: float
    dsp: float
    bram18: float
    uram: float = 0.0

    def attr(self, key: str, default: str = "") -> str:
        for k, v in self.attrs:
            if k == key:
                return v
        return default

    @property
    def config_key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """What identifies the configuration: the op, its implementation and every
        non-empty node attribute (the build, session and instance name are not part of it)."""
        return (f"{self.finn_op}_{self.impl}", self.attrs)

    @property
    def heldout(self) -> bool:
        """Whether this row's configuration is in the held-out split: a stable hash of
        `config_key` (SHA-256), HELDOUT_FRACTION of the configurations."""
        digest = hashlib.sha256(repr(self.config_key).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64 < HELDOUT_FRACTION


def split_op(op_type: str) -> tuple[str, str]:
    """`MVAU_hls` -> (`MVAU`, `hls`); a name without a suffix is `hls`."""
    for impl in ("hls", "rtl"):
        if op_type.endswith("_" + impl):
            return op_type[: -len(impl) - 1], impl
    return op_type, "hls"


def _instance_op(instance: str) -> tuple[str, str]:
    """`MVAU_hls_0` / `StreamingFIFO_rtl_0_1` -> (`MVAU`, `hls`)."""
    for impl in ("_hls_", "_rtl_"):
        if impl in instance:
            return instance.split(impl)[0], impl.strip("_")
    return instance.rstrip("_0123456789"), "hls"


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where}: {what} {text!r} must be a finite number >= 0")
    return value


def read_csv(path: str | Path) -> list[NodeRow]:
    """The rows of one CSV in the shared finn_synth format (one-line `ConfigError` naming
    the file and the problem if it is not one; read through `costmodels.reading`: a
    regular UTF-8 file of at most MAX_CSV_BYTES)."""
    p = Path(path)
    text = read_text(p, "calibration data", ConfigError, MAX_CSV_BYTES)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        missing = [c for c in ("Submodule Instance", *RESULT_COLUMNS) if c not in header]
        if missing:
            raise ConfigError(f"{p}: not a finn_synth CSV (missing column {missing[0]!r})")
        return [_row(r, f"{p}:{i + 2}") for i, r in enumerate(reader)]
    except csv.Error as exc:
        raise ConfigError(f"{p}: malformed CSV ({exc})") from None


def _row(r: Mapping[str, str | None], where: str) -> NodeRow:
    instance = r.get("Submodule Instance") or ""
    op_type = r.get("op_type") or ""
    finn_op, impl = split_op(op_type) if op_type else _instance_op(instance)
    if not finn_op:
        raise ConfigError(f"{where}: no op_type and no Submodule Instance")
    attrs = tuple(
        sorted(
            (k, v.strip())
            for k, v in r.items()
            if k is not None
            and k not in RUN_COLUMNS
            and k not in RESULT_COLUMNS
            and k != "op_type"
            and isinstance(v, str)
            and v.strip()
        )
    )
    vals = [_number(r.get(c) or "", c, where) for c in RESULT_COLUMNS]
    return NodeRow(
        source=where,
        model_id=r.get("model_id") or "",
        finn_op=finn_op,
        impl=impl,
        attrs=attrs,
        lut=vals[0],
        ff=vals[1],
        dsp=vals[3],
        bram18=2.0 * vals[2],
    )


@dataclass(frozen=True)
class NodeConfig:
    """One distinct configuration: the rows that rebuilt it, averaged (the finn_synth
    README: the same configuration rebuilt in another session can differ slightly)."""

    row: NodeRow  # the first row, with the averaged results
    n: int
    model_ids: tuple[str, ...]

    @property
    def heldout(self) -> bool:
        return self.row.heldout


def distinct_configs(rows: Iterable[NodeRow]) -> list[NodeConfig]:
    """Rows grouped by `NodeRow.config_key`, results averaged, in first-seen order."""
    groups: dict[object, list[NodeRow]] = {}
    for row in rows:
        groups.setdefault(row.config_key, []).append(row)
    out: list[NodeConfig] = []
    for members in groups.values():
        n = len(members)
        first = members[0]
        avg = NodeRow(
            source=first.source,
            model_id=first.model_id,
            finn_op=first.finn_op,
            impl=first.impl,
            attrs=first.attrs,
            lut=sum(m.lut for m in members) / n,
            ff=sum(m.ff for m in members) / n,
            dsp=sum(m.dsp for m in members) / n,
            bram18=sum(m.bram18 for m in members) / n,
            uram=sum(m.uram for m in members) / n,
        )
        out.append(NodeConfig(avg, n, tuple(sorted({m.model_id for m in members}))))
    return out
