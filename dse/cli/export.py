"""`dse export`: one stored design as a spec YAML or a FINN folding JSON."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dse.cli.app import app
from dse.cli.common import err_console
from dse.config import DEFAULT_STORAGE
from dse.export import ExportFormat, export_design
from dse.report import check_writable
from dse.storage import StudyRecord, load_study_record


@app.command("export")
def export(
    trial: Annotated[int, typer.Option(help="Trial number (see dse report).")],
    study: Annotated[str | None, typer.Option(help="Study name (the only one if omitted).")] = None,
    storage: Annotated[str, typer.Option(help="SQLAlchemy URL.")] = DEFAULT_STORAGE,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="What to write.")] = (
        ExportFormat.SPEC
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout).", dir_okay=False)
    ] = None,
) -> None:
    """Write one design of a study as a network spec or a FINN folding config."""
    if output is not None:
        check_writable(output)
    record = load_study_record(storage, study)
    if output is not None and fmt is ExportFormat.SPEC and record.meta.get("mode") == "twin":
        _write_twin(record, trial, output)  # two files: <stem>.compressed / .accurate
        return
    text = export_design(record, trial, fmt)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text)
    except OSError as exc:
        from costmodels.errors import ConfigError

        raise ConfigError(f"cannot write {str(output)!r}: {exc.strerror or exc}") from None
    err_console.print(f"wrote {output}", markup=False, highlight=False)


def _write_twin(record: StudyRecord, trial: int, output: Path) -> None:
    from costmodels.errors import ConfigError
    from dse.export import export_twin_specs

    for half, text in export_twin_specs(record, trial).items():
        path = output.with_name(f"{output.stem}.{half}{output.suffix or '.yaml'}")
        check_writable(path)
        try:
            path.write_text(text)
        except OSError as exc:
            raise ConfigError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        err_console.print(f"wrote {path} ({half} half)", markup=False, highlight=False)
