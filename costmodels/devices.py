"""The FPGA device catalog: parts with their resource totals, DSP block type and default
clock, read from `costmodels/data/devices.csv` (a copy of shared/reference/devices.csv)
and `costmodels/data/devices_extra.csv` (parts added by this project, each with its source).

Lookups accept part names ("XC7Z020", "xc7z020clg400-1") and board names ("pynq-z2",
"Ultra96", "ZCU104", "U250") case-insensitively; a path to a YAML file describes a user
device. Unknown names raise `DeviceError` with close suggestions.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from costmodels.errors import DeviceError
from costmodels.reading import read_document
from costmodels.types import Device
from costmodels.validate import MAX_CLOCK_MHZ, MAX_COUNT, check_name, finite_in

logger = logging.getLogger(__name__)

DATA_FILES = ("devices.csv", "devices_extra.csv")


def dsp_block_for(family: str) -> str:
    """The DSP slice of a family: DSP48E1 (25x18 multiplier) on 7-series and Zynq-7000
    (Xilinx UG479, 7 Series DSP48E1 Slice User Guide); DSP48E2 (27x18) on UltraScale and
    UltraScale+ (Xilinx UG579, UltraScale Architecture DSP Slice User Guide)."""
    f = family.lower()
    if "ultrascale" in f:
        return "DSP48E2"
    return "DSP48E1"


def default_clock_mhz(family: str) -> float:
    """Default clock of a family when neither the spec nor the command line gives one.

    - Zynq-7000: 100 MHz, the clock of the BNN-PYNQ / FINN PYNQ-Z1/Z2 builds (FINN's
      build examples use a 10 ns target on Pynq-Z1).
    - Zynq UltraScale+ MPSoC: 150 MHz, TwinDNN Sec. 4 (ResNet-18 on Ultra96 at 150 MHz;
      its CIFAR designs ran at 100, ZCU102 at 200).
    - Kintex UltraScale: 250 MHz, Faraone thesis Table 6.6 (KU115 designs at 250 MHz;
      the Ch. 4 FINN designs closed at 159-233 MHz).
    - Virtex UltraScale+ (Alveo) and anything else: 200 MHz, an assumption in the middle of
      the seeds' UltraScale+ clocks (TwinDNN ZCU102: 200 MHz).
    """
    f = family.lower()
    if "zynq-7000" in f:
        return 100.0
    if "zynq ultrascale+" in f:
        return 150.0
    if "kintex ultrascale" in f and "+" not in f:
        return 250.0
    return 200.0


@dataclass(frozen=True)
class CatalogEntry:
    """A catalog device with the names it answers to and where its numbers come from."""

    device: Device
    names: tuple[str, ...]
    source: str
    notes: str


def _int(value: str) -> int | None:
    value = value.strip().replace(",", "")
    return int(value) if value else None


_PART_RE = re.compile(r"^\s*([A-Za-z0-9]+)\s*(?:\((.*)\))?\s*$")


def _parse_part(text: str) -> tuple[str, tuple[str, ...]]:
    """ "XC7Z020 (xc7z020clg400-1)" -> ("XC7Z020", ("xc7z020clg400-1",));
    "XCZU3EG (xczu3eg-sbva484-1-e / -1-i)" keeps the first full part name."""
    m = _PART_RE.match(text)
    if not m:
        return text.strip(), ()
    short = m.group(1).upper()
    full: list[str] = []
    if m.group(2):
        first = m.group(2).split("/")[0].strip()
        if first:
            full.append(first)
    return short, tuple(full)


def _board_names(text: str) -> tuple[str, ...]:
    """Board names from the `boards` column: "PYNQ-Z1, PYNQ-Z2", "Ultra96 / Ultra96-V2",
    "Alpha Data ADM-PCIe-8K5; FIC-SW (option)". Parenthesised remarks are dropped."""
    text = re.sub(r"\([^)]*\)", "", text)
    parts = re.split(r"[,;/]", text)
    return tuple(p.strip() for p in parts if p.strip())


def _aliases(part: str, full: tuple[str, ...], boards: tuple[str, ...]) -> tuple[str, ...]:
    names = [part, *full]
    for board in boards:
        names.append(board)
        if board.lower().startswith("alveo "):
            names.append(board.split(" ", 1)[1])  # "Alveo U250" -> "U250"
    return tuple(dict.fromkeys(n for n in names if n))


def _read_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    base = resources.files("costmodels") / "data"
    for name in DATA_FILES:
        text = (base / name).read_text(encoding="utf-8")
        rows.extend(csv.DictReader(io.StringIO(text, newline="")))
    return rows


def _entry_from_row(row: Mapping[str, str]) -> CatalogEntry | None:
    part, full = _parse_part(row["part"])
    lut, ff, dsp = _int(row["lut"]), _int(row["ff"]), _int(row["dsp"])
    bram18 = _int(row["bram18"])
    if bram18 is None:
        b36 = _int(row["bram36"])
        bram18 = 2 * b36 if b36 is not None else None
    uram = _int(row["uram"])
    missing = [k for k, v in (("lut", lut), ("bram18", bram18), ("dsp", dsp)) if v is None]
    if missing:
        logger.info("device %s skipped: no %s total in the data", part, "/".join(missing))
        return None
    assert lut is not None and bram18 is not None and dsp is not None
    boards = _board_names(row["boards"])
    family = row["family"].split("(")[0].strip()
    notes = row.get("notes", "") or ""
    if ff is None:
        notes = (notes + "; " if notes else "") + "FF total unknown (carried as 0)"
    if uram is None:
        notes = (notes + "; " if notes else "") + "URAM total unknown (carried as 0)"
    device = Device(
        part=part,
        boards=boards,
        family=family,
        lut=lut,
        ff=ff or 0,
        bram18=bram18,
        uram=uram or 0,
        dsp=dsp,
        dsp_block=dsp_block_for(family),
        clock_mhz=default_clock_mhz(family),
    )
    return CatalogEntry(device, _aliases(part, full, boards), row.get("source", ""), notes)


@functools.lru_cache(maxsize=1)
def _catalog() -> tuple[tuple[CatalogEntry, ...], Mapping[str, CatalogEntry], frozenset[str]]:
    entries: list[CatalogEntry] = []
    index: dict[str, CatalogEntry] = {}
    skipped: set[str] = set()
    for row in _read_rows():
        entry = _entry_from_row(row)
        if entry is None:
            skipped.add(_parse_part(row["part"])[0].lower())
            continue
        entries.append(entry)
        for name in entry.names:
            key = name.lower()
            if key in index and index[key] is not entry:
                raise DeviceError(f"device name {name!r} is used by two catalog rows")
            index[key] = entry
    return tuple(entries), MappingProxyType(index), frozenset(skipped)


def catalog() -> tuple[Device, ...]:
    """Every device of the catalog, in data-file order."""
    return tuple(e.device for e in _catalog()[0])


def catalog_entries() -> tuple[CatalogEntry, ...]:
    """The catalog with names, sources and notes (for `dse devices`)."""
    return _catalog()[0]


USER_DEVICE_KEYS = (
    "part",
    "lut",
    "ff",
    "bram18",
    "uram",
    "dsp",
    "dsp_block",
    "clock_mhz",
    "family",
)


def _device_from_yaml(path: Path) -> Device:
    try:
        data: Any = read_document(path, "device file", DeviceError)  # costmodels.reading
    except (yaml.YAMLError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DeviceError(f"device file {str(path)!r} is not valid YAML/JSON: {first}") from None
    if not isinstance(data, dict):
        raise DeviceError(f"device file {str(path)!r} must hold a mapping of keys")
    for key in data:
        if key not in USER_DEVICE_KEYS:
            close = difflib.get_close_matches(str(key), USER_DEVICE_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DeviceError(f"device file {str(path)!r}: unknown key {key!r}{hint}")
    for key in ("part", "lut", "bram18", "dsp"):
        if key not in data:
            raise DeviceError(f"device file {str(path)!r}: missing key {key!r}")

    def count(key: str) -> int:
        value = data.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            raise DeviceError(
                f"device file {str(path)!r}: {key} must be a count in 0..{MAX_COUNT:,}"
            )
        return value

    family = str(data.get("family", "user"))
    dsp_block = str(data.get("dsp_block", dsp_block_for(family)))
    if dsp_block not in ("DSP48E1", "DSP48E2", "DSP58"):
        raise DeviceError(
            f"device file {str(path)!r}: dsp_block {dsp_block!r} must be DSP48E1, DSP48E2 or DSP58"
        )
    clock = data.get("clock_mhz", default_clock_mhz(family))
    finite_in(clock, 0, MAX_CLOCK_MHZ, f"device file {str(path)!r}: clock_mhz", DeviceError)
    check_name(str(data["part"]), f"device file {str(path)!r}: part", DeviceError)
    return Device(
        part=str(data["part"]),
        boards=(),
        family=family,
        lut=count("lut"),
        ff=count("ff"),
        bram18=count("bram18"),
        uram=count("uram"),
        dsp=count("dsp"),
        dsp_block=dsp_block,
        clock_mhz=float(clock),
    )


def get_device(name_or_path: str) -> Device:
    """The catalog device named by a part or board name (case-insensitive), or a user
    device from a YAML file (keys: part, lut, ff, bram18, uram, dsp, dsp_block, clock_mhz,
    family)."""
    text = name_or_path.strip()
    if text.lower().endswith((".yaml", ".yml", ".json")) or "/" in text or "\\" in text:
        return _device_from_yaml(Path(text))
    entries, index, skipped = _catalog()
    entry = index.get(text.lower())
    if entry is not None:
        return entry.device
    if text.lower() in skipped:
        raise DeviceError(
            f"device {text!r} lacks resource totals in the catalog data; describe it in a "
            "YAML file (part, lut, ff, bram18, uram, dsp) and pass its path"
        )
    names = sorted({n for e in entries for n in e.names})
    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(text.lower(), list(lowered), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(lowered[c]) for c in close)}?" if close else ""
    raise DeviceError(f"unknown device {text!r}{hint} (see `dse devices`)")
