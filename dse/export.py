"""Export one stored design: as a network spec YAML (`dse.spec`, loads back through
`dse estimate` to the same numbers) or as a FINN folding configuration JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from enum import Enum
from pathlib import Path

from dse.finn_folding import FinnFlow, FoldingConfig, folding_config
from dse.modes import view_of
from dse.storage import StudyRecord


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


def finn_folding(
    record: StudyRecord,
    number: int,
    *,
    flow: FinnFlow = FinnFlow.FINN_PLUS,
    standalone_thresholds: bool = False,
    label_select: bool = True,
    finn_model: str | Path | None = None,
) -> FoldingConfig:
    """Trial `number`'s design as FINN's folding configuration (`dse.finn_folding`): keys in
    FINN's node naming for `flow`, or the node names of the user's own FINN model."""
    from costmodels.devices import get_device

    view_of(record.meta).check_finn_export()
    design = record.design(number)
    device = get_device(str(record.meta.get("device", "")).split(" ")[0])
    nodes = None
    if finn_model is not None:
        from dse.onnx_import import finn_nodes

        nodes = finn_nodes(finn_model)
    return folding_config(
        design,
        device,
        flow=flow,
        standalone_thresholds=standalone_thresholds,
        label_select=label_select,
        finn_model_nodes=nodes,
    )


def export_design(record: StudyRecord, number: int, fmt: ExportFormat) -> str:
    if fmt is ExportFormat.SPEC:
        files = spec_files(record, number)
        if files is not None:
            return "---\n".join(files.values())
        return export_spec(record, number)
    return json.dumps(finn_folding(record, number).config, indent=2) + "\n"


def spec_files(record: StudyRecord, number: int) -> dict[str, str] | None:
    """A trial of more than one network (a twin pair) as spec texts by part name, e.g.
    `{"compressed": .., "accurate": ..}`; None for a single network (`dse.modes`)."""
    return view_of(record.meta).spec_files(record, number)
