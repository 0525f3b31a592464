"""Ground-truth rows from FINN build folders.

A FINN build (`build_dataflow`) with out-of-context synthesis writes
`report/post_synth_resources.json` (or, read when that file is missing, Vivado's
`report_utilization -hierarchical` text report: any `*.rpt` under `report/` whose table
has `Instance` and `Total LUTs` columns) (per node instance: LUT, FF, BRAM_36K, BRAM_18K, URAM,
DSP48E/DSP, from Vivado's hierarchical utilization) and `final_hw_config.json` (per node
instance: its folding and implementation attributes). A node's instance name
(`MVAU_hls_0`) gives its op. Attributes the estimator needs but the folder does not hold
(FINN keeps shapes and data types in the ONNX, which dse does not read) make the node
unusable; a folder with no usable node is an error naming the folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from costmodels.calibration.rows import NodeRow, _instance_op
from costmodels.errors import ConfigError
from costmodels.reading import parse_document, read_text

RESOURCES_JSON = Path("report") / "post_synth_resources.json"
HW_CONFIG_JSON = Path("final_hw_config.json")
MAX_JSON_BYTES = 32 * 1024 * 1024

_KEYS = {
    "lut": ("LUT", "Total LUTs", "Total LUT", "LUTs"),
    "ff": ("FF", "FFs", "Total FFs", "Registers"),
    "dsp": ("DSP48E", "DSP", "DSP Blocks", "DSPs"),
    "uram": ("URAM",),
}


def _read_json(path: Path) -> Any:
    """A JSON file of a build folder, through `costmodels.reading` (regular file, size,
    nesting depth)."""
    if not path.exists():
        raise ConfigError(f"{path}: not found (is this a FINN build folder?)")
    text = read_text(path, "build report", ConfigError, MAX_JSON_BYTES)
    try:
        return parse_document(text, str(path), ConfigError, as_json=True)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _num(d: Mapping[str, Any], keys: tuple[str, ...], where: str) -> float:
    for k in keys:
        if k in d:
            v = d[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"{where}: {k} = {v!r} is not a count")
            return float(v)
    return 0.0


_NODE = re.compile(r"^[A-Za-z]+_(hls|rtl)_\d+(_\d+)?$")
_HIER_COLS = {
    "Total LUTs": "LUT",
    "FFs": "FF",
    "RAMB36": "BRAM_36K",
    "RAMB18": "BRAM_18K",
    "URAM": "URAM",
    "DSP Blocks": "DSP",
    "DSP48 Blocks": "DSP",
}


def read_hierarchical_report(path: Path) -> dict[str, dict[str, float]]:
    """Per FINN node instance (the first, outermost row of each name) of a Vivado
    `report_utilization -hierarchical` table: LUT, FF, BRAM_36K, BRAM_18K, URAM, DSP."""
    lines = read_text(path, "utilization report", ConfigError, MAX_JSON_BYTES).splitlines()
    header: list[str] | None = None
    out: dict[str, dict[str, float]] = {}
    for line in lines:
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            if "Instance" in cells and "Total LUTs" in cells:
                header = cells
            continue
        if len(cells) != len(header):
            continue
        name = cells[0]
        if not _NODE.match(name) or name in out:
            continue
        row: dict[str, float] = {}
        for col, key in _HIER_COLS.items():
            if col in header:
                text = cells[header.index(col)]
                try:
                    row[key] = float(text)
                except ValueError:
                    raise ConfigError(f"{path}: {name}: {col} {text!r} is not a number") from None
        out[name] = row
    if header is None:
        raise ConfigError(f"{path}: no hierarchical utilization table (Instance, Total LUTs)")
    return out


def _resources(root: Path) -> tuple[Any, Path]:
    json_path = root / RESOURCES_JSON
    if json_path.exists():
        return _read_json(json_path), json_path
    for rpt in sorted((root / "report").glob("*.rpt")) if (root / "report").is_dir() else []:
        head = rpt.read_text(encoding="utf-8", errors="replace")[:200_000]
        if "Total LUTs" in head and "Instance" in head:
            return read_hierarchical_report(rpt), rpt
    raise ConfigError(
        f"{json_path}: not found, nor a hierarchical utilization report under "
        f"{root / 'report'} (is this a FINN build folder?)"
    )


def read_build(folder: str | Path) -> list[NodeRow]:
    """The node rows of one FINN build folder."""
    root = Path(folder)
    res, res_path = _resources(root)
    cfg = _read_json(root / HW_CONFIG_JSON)
    if not isinstance(res, Mapping) or not isinstance(cfg, Mapping):
        raise ConfigError(
            f"{root}: post_synth_resources.json and final_hw_config.json must be objects"
        )
    rows: list[NodeRow] = []
    for inst, r in res.items():
        if not isinstance(r, Mapping) or inst in ("(top)", "top", "total"):
            continue
        where = f"{res_path}:{inst}"
        attrs = cfg.get(inst)
        if attrs is None:
            continue  # not a node of the final graph (e.g. a stitched wrapper)
        if not isinstance(attrs, Mapping):
            raise ConfigError(f"{root / HW_CONFIG_JSON}: {inst} must be an object of attributes")
        op, impl = _instance_op(inst)
        bram36 = _num(r, ("BRAM_36K", "RAMB36", "BRAM36"), where)
        bram18 = _num(r, ("BRAM_18K", "RAMB18", "BRAM18"), where)
        if "BRAM (36k eq.)" in r:
            b = _num(r, ("BRAM (36k eq.)",), where)
            bram36, bram18 = b, 0.0
        rows.append(
            NodeRow(
                source=where,
                model_id=root.name,
                finn_op=op,
                impl=impl,
                attrs=tuple(
                    sorted(
                        (str(k), json.dumps(v) if isinstance(v, list) else str(v))
                        for k, v in attrs.items()
                        if v is not None and v != ""
                    )
                ),
                lut=_num(r, _KEYS["lut"], where),
                ff=_num(r, _KEYS["ff"], where),
                dsp=_num(r, _KEYS["dsp"], where),
                bram18=2.0 * bram36 + bram18,
                uram=_num(r, _KEYS["uram"], where),
            )
        )
    if not rows:
        raise ConfigError(
            f"{root}: no node of post_synth_resources.json is in final_hw_config.json"
        )
    return rows


def read_data(path: str | Path) -> list[NodeRow]:
    """Rows from a finn_synth CSV or a FINN build folder."""
    from costmodels.calibration.rows import read_csv

    p = Path(path)
    if p.is_dir():
        return read_build(p)
    if not p.exists():
        raise ConfigError(f"{p}: not found")
    return read_csv(p)
