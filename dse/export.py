"""Export one stored design: as a network spec YAML (`dse.spec`, loads back through
`dse estimate` to the same numbers) or as a FINN folding configuration JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from enum import Enum
from typing import Any

from costmodels.types import Arith
from dse.storage import ATTR_CANDIDATE, ATTR_LAYERS, StudyRecord


class ExportFormat(str, Enum):
    SPEC = "spec"
    FINN_FOLDING = "finn-folding"


def export_spec(record: StudyRecord, number: int) -> str:
    """Trial `number`'s design as a spec YAML, with the study's clock when it set one."""
    from dse.spec import dump_network

    net = record.design(number)
    clock = (record.meta.get("definition") or {}).get("clock_mhz")
    if clock is not None:
        net = replace(net, clock_mhz=float(clock))
    device = record.meta.get("device", "<device>")
    header = (
        f"# dse export: study {record.name!r}, trial {number}, device {device}\n"
        f"# check: dse estimate <this file> --device {device.split(' ')[0]}\n"
    )
    return header + dump_network(net)


def finn_folding(record: StudyRecord, number: int) -> dict[str, Any]:
    """FINN's folding configuration (the JSON `ApplyConfig` reads, as written by FINN's
    `step_generate_estimate_reports`/`folding_config_file`): `{"Defaults": {}, "<node>":
    {"PE", "SIMD", "ram_style", "resType"}}`, keyed here by the layer names of the spec.

    `resType` is `dsp` for DSP arithmetic and `lut` otherwise (XNOR and RCCMs are LUT
    logic); `ram_style` is `ultra` / `block` / `distributed` after where the cost model
    put the layer's weights (URAM, BRAM, or neither).
    """
    t = record.trial(number)
    cand = t.attrs.get(ATTR_CANDIDATE) or {}
    mem = {r[0]: (r[5], r[6]) for r in (t.attrs.get(ATTR_LAYERS) or [])}
    out: dict[str, Any] = {"Defaults": {}}
    for name, c in cand.items():
        bram18, uram = mem.get(name, (0.0, 0.0))
        ram_style = "ultra" if uram > 0 else ("block" if bram18 > 0 else "distributed")
        out[name] = {
            "PE": int(c["pe"]),
            "SIMD": int(c["simd"]),
            "ram_style": ram_style,
            "resType": "dsp" if c["arith"] == Arith.DSP.value else "lut",
        }
    return out


def export_design(record: StudyRecord, number: int, fmt: ExportFormat) -> str:
    if fmt is ExportFormat.SPEC and record.meta.get("mode") == "twin":
        return "---\n".join(export_twin_specs(record, number).values())
    if fmt is ExportFormat.SPEC:
        return export_spec(record, number)
    return json.dumps(finn_folding(record, number), indent=2) + "\n"


def export_twin_specs(record: StudyRecord, number: int) -> dict[str, str]:
    """Both halves of a twin trial as spec YAMLs, `{"compressed": .., "accurate": ..}`."""
    from dse.twin.report import pair_specs

    clock = (record.meta.get("definition") or {}).get("clock_mhz")
    return pair_specs(
        record.network(),
        record.trial(number).attrs,
        study=record.name,
        number=number,
        device=str(record.meta.get("device", "<device>")),
        clock_mhz=float(clock) if clock is not None else None,
    )
