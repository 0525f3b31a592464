"""`dse export`: one stored design as a spec YAML or a FINN folding JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from dse.cli.app import app
from dse.cli.common import err_console
from dse.config import DEFAULT_STORAGE
from dse.export import ExportFormat, export_design, finn_folding, spec_files
from dse.finn_folding import FinnFlow
from dse.outputs import check_output, is_device, write_output
from dse.storage import load_study_record


@app.command("export")
def export(
    trial: Annotated[int, typer.Option(help="Trial number (see dse report).")],
    study: Annotated[str | None, typer.Option(help="Study name (the only one if omitted).")] = None,
    storage: Annotated[
        str, typer.Option(help="SQLAlchemy URL.", envvar="DSE_STORAGE")
    ] = DEFAULT_STORAGE,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="What to write.")] = (
        ExportFormat.SPEC
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout).", dir_okay=False)
    ] = None,
    finn_flow: Annotated[
        FinnFlow, typer.Option(help="finn-folding: the FINN whose node names to use.")
    ] = FinnFlow.FINN_PLUS,
    finn_model: Annotated[
        Path | None,
        typer.Option(
            help="finn-folding: take node names from your FINN model (e.g. "
            "step_convert_to_hw.onnx or step_specialize_layers.onnx; needs onnx).",
            dir_okay=False,
        ),
    ] = None,
    standalone_thresholds: Annotated[
        bool, typer.Option(help="finn-folding: the FINN build sets standalone_thresholds.")
    ] = False,
    label_select: Annotated[
        bool, typer.Option(help="finn-folding: the FINN model ends in a LabelSelect (TopK).")
    ] = True,
) -> None:
    """Write one design of a study as a network spec or a FINN folding config (with
    -o, the design's bit-widths and pruning go beside it as <stem>.spec.yaml)."""
    if output is not None:  # dse.outputs: never onto the storage or a database
        check_output(output, storage=storage)
    record = load_study_record(storage, study)
    files = spec_files(record, trial) if fmt is ExportFormat.SPEC else None
    if output is not None and files is not None:
        _write_parts(files, output, storage)  # a twin pair: <stem>.compressed / .accurate
        return
    if fmt is ExportFormat.FINN_FOLDING:
        folding = finn_folding(
            record,
            trial,
            flow=finn_flow,
            standalone_thresholds=standalone_thresholds,
            label_select=label_select,
            finn_model=finn_model,
        )
        for note in folding.notes:
            err_console.print(f"note: {note}", markup=False, highlight=False)
        text = json.dumps(folding.config, indent=2) + "\n"
        if output is not None and is_device(output):  # /dev/stdout, a pipe: nothing beside
            _write(output, text)
            return
        if output is not None:
            beside = output.with_name(f"{output.stem}.spec.yaml")
            check_output(beside, storage=storage)
            _write(output, text)
            _write(beside, export_design(record, trial, ExportFormat.SPEC))
            err_console.print(
                f"wrote {output} ({len(folding.config) - 1} FINN nodes) and {beside} "
                "(bit-widths and pruning)",
                markup=False,
                highlight=False,
            )
            return
    else:
        text = export_design(record, trial, fmt)
    if output is None:
        sys.stdout.write(text)
        return
    _write(output, text)
    err_console.print(f"wrote {output}", markup=False, highlight=False)


def _write(path: Path, text: str) -> None:
    write_output(path, text)  # dse.outputs: a failed write is an error, never "wrote"


def _write_parts(files: dict[str, str], output: Path, storage: str) -> None:

    for half, text in files.items():
        path = output.with_name(f"{output.stem}.{half}{output.suffix or '.yaml'}")
        check_output(path, storage=storage)
        write_output(path, text)
        err_console.print(f"wrote {path} ({half} half)", markup=False, highlight=False)
