"""Study modes: one registry from `Mode` to what the mode builds (its `Problem`) and how
its stored trials render and export (its `TrialView`). The rest of the code asks the
registry; it never compares the mode itself. A new mode (say, multi-FPGA partitioning) is
one `Problem` subclass, one `TrialView` and one `register_mode` call here.

    config (Mode) -> MODES[mode].build -> Problem (dse.problem, dse.twin.search)
    stored meta["mode"] -> MODES[mode].view -> report columns, one-trial text, export
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from costmodels.errors import ConfigError, StudyError
from dse.config import Mode, StudyConfig, parse_mode
from dse.multi import MultiView, build_multi_problem
from dse.problem import LoadedWorkload, Problem, build_single_problem
from dse.twin import report as twin_report
from dse.twin.search import build_twin_problem

if TYPE_CHECKING:
    from dse.storage import StudyRecord


class TrialView(Protocol):
    """How a mode's stored trials show in `dse report` and leave through `dse export`."""

    def columns(self) -> list[tuple[str, str]]:
        """Extra (row key, title) columns of the Pareto table."""
        ...

    def row(self, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """Extra keys of one trial's report row, from its stored attributes."""
        ...

    def describe(self, row: Mapping[str, Any]) -> str | None:
        """An extra line for `dse report --trial N`, or None."""
        ...

    def spec_files(self, record: StudyRecord, number: int) -> dict[str, str] | None:
        """The trial as spec texts by part name when it is more than one network (None:
        one network, exported as such)."""
        ...

    def check_finn_export(self) -> None:
        """Raise `StudyError` when the mode's designs have no single FINN folding."""
        ...


class SingleView:
    """One network per trial: nothing beyond the common report and export."""

    def columns(self) -> list[tuple[str, str]]:
        return []

    def row(self, attrs: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def describe(self, row: Mapping[str, Any]) -> str | None:
        return None

    def spec_files(self, record: StudyRecord, number: int) -> dict[str, str] | None:
        return None

    def check_finn_export(self) -> None:
        return None


class TwinView:
    """A TwinDNN pair per trial (`dse.twin.report`): T, R, speed-up and re-check columns,
    two spec files, no single FINN folding."""

    def columns(self) -> list[tuple[str, str]]:
        return list(twin_report.COLUMNS)

    def row(self, attrs: Mapping[str, Any]) -> dict[str, Any]:
        return twin_report.twin_row(attrs)

    def describe(self, row: Mapping[str, Any]) -> str | None:
        return twin_report.describe(row)

    def spec_files(self, record: StudyRecord, number: int) -> dict[str, str] | None:
        clock = (record.meta.get("definition") or {}).get("clock_mhz")
        return twin_report.pair_specs(
            record.network(),
            record.trial(number).attrs,
            study=record.name,
            number=number,
            device=str(record.meta.get("device", "<device>")),
            clock_mhz=float(clock) if clock is not None else None,
        )

    def check_finn_export(self) -> None:
        raise StudyError(
            "a twin design is two networks: export each half with --format spec and build "
            "each with FINN"
        )


@dataclass(frozen=True)
class ModeSpec:
    """What one study mode provides."""

    mode: Mode
    build: Callable[[StudyConfig, LoadedWorkload, str], Problem]
    view: TrialView


MODES: dict[Mode, ModeSpec] = {}


def register_mode(spec: ModeSpec) -> None:
    """Register a study mode; a second registration of the same mode is refused."""
    if spec.mode in MODES:
        raise ValueError(f"study mode {spec.mode.value!r} is already registered")
    MODES[spec.mode] = spec


def mode_of(mode: Mode | str) -> ModeSpec:
    """The registered mode (`ConfigError` naming the valid ones for an unknown name)."""
    return MODES[parse_mode(mode)]


def view_of(meta: Mapping[str, Any]) -> TrialView:
    """The trial view of a stored study (its `mode` attribute; none: a single network)."""
    return mode_of(str(meta.get("mode") or Mode.SINGLE.value)).view


def require_mode(meta: Mapping[str, Any], mode: Mode, name: str) -> None:
    """Refuse a stored study of another mode (`ConfigError` naming the study)."""
    stored = parse_mode(str(meta.get("mode") or Mode.SINGLE.value))
    if stored is not mode:
        raise ConfigError(
            f"study {name!r} is a {stored.value} study, not {mode.value} "
            f"(dse search --mode {mode.value})"
        )


def build_problem(cfg: StudyConfig, loaded: LoadedWorkload, *, storage: str) -> Problem:
    """The problem of `cfg`'s mode."""
    return mode_of(cfg.mode).build(cfg, loaded, storage)


register_mode(
    ModeSpec(
        Mode.SINGLE,
        lambda cfg, loaded, storage: build_single_problem(cfg, loaded, storage=storage),
        SingleView(),
    )
)
register_mode(
    ModeSpec(
        Mode.MULTI,
        lambda cfg, loaded, storage: build_multi_problem(cfg, loaded, storage=storage),
        MultiView(),
    )
)
register_mode(
    ModeSpec(
        Mode.TWIN,
        lambda cfg, loaded, storage: build_twin_problem(cfg, loaded, storage=storage),
        TwinView(),
    )
)
