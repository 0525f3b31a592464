"""A study over several FPGAs (`dse search --devices 2xXCKU115`): the same search space and
accuracy evaluation as a single board, but each candidate is placed on a cluster of boards
by `costmodels.cluster` (contiguous layer ranges, each range a dataflow pipeline under its
own board's budget, the streams crossing the cuts over the links; Pan thesis 4.1.2, 4.2).

`MultiProblem` (`Mode.MULTI`, registered in `dse.modes` with `MultiView`) is the
single-network problem with its cost hooks (estimate, fits, constraints, report
attributes, objectives) implemented for a `MultiCost`, so the search loop, baselines,
feasibility check and reports run unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from costmodels.cluster import Cluster, MultiCost, estimate_cluster, parse_cluster
from costmodels.errors import StudyError
from costmodels.network import resolve
from costmodels.types import Device, Network, NetworkCost
from dse.config import StudyConfig
from dse.problem import (
    ATTR_COST,
    ATTR_LAYERS,
    LoadedWorkload,
    SingleProblem,
    accuracy_evaluator,
    cost_summary,
    layer_rows,
)
from dse.storage import RESOURCE_KEYS
from search_spaces import Candidate, SearchSpace, Space

#: Attribute key of a trial's placement (boards, layer ranges, cuts, link load).
PARTITION_KEY = "partition"


class MultiProblem(SingleProblem):
    """A network's space on a cluster of boards (see module docstring). `device` is the
    cluster's aggregate (summed totals, for normalising resource objectives); the budget
    is per board."""

    solver_applies = False  # several boards: not the folding solver's single-device model

    def __init__(
        self,
        network: Network,
        cluster: Cluster,
        space: Space,
        objectives: tuple[str, ...],
        *,
        cap_pct: float,
        min_accuracy: float | None = None,
        evaluator: Any = None,
        clock_mhz: float | None = None,
        calibration: Any = None,
    ) -> None:
        super().__init__(
            network,
            cluster.aggregate(),
            space,
            objectives,
            cap_pct=cap_pct,
            min_accuracy=min_accuracy,
            evaluator=evaluator,
            clock_mhz=clock_mhz,
            calibration=calibration,
        )
        self.cluster = cluster
        self.n_boards = len(cluster.boards)
        self._distinct: tuple[Device, ...] = tuple(dict.fromkeys(cluster.boards))

    def estimate(self, candidate: Candidate) -> MultiCost:  # type: ignore[override]
        """The design on each distinct board, then placed on the cluster."""
        from costmodels import estimate

        net = candidate.network
        clock = self.clock_mhz or min(d.clock_mhz for d in self._distinct)
        per_device: dict[Device, NetworkCost] = {
            d: estimate(net, d, clock_mhz=clock, calibration=self.calibration)
            for d in self._distinct
        }
        singles = [per_device[d] for d in self.cluster.boards]
        return estimate_cluster(resolve(net), singles, self.cluster, self.cap_pct)

    def fits(self, cost: Any) -> bool:
        return bool(cost.fits)

    def cost_constraints(self, cost: Any) -> dict[str, float]:
        """Per resource the worst board's utilization minus the cap, and `boards`: 0 when a
        placement exists, 1 when none does."""
        out = super().cost_constraints(cost)
        out["boards"] = 0.0 if cost.fits else 1.0
        return out

    def cost_attrs(self, cost: Any) -> dict[str, Any]:
        summary = cost_summary(cost)
        summary[PARTITION_KEY] = cost.summary()
        return {ATTR_COST: summary, ATTR_LAYERS: layer_rows(cost.single)}

    def objective_value(self, name: str, cost: Any, accuracy: float | None) -> float:
        if name == "boards":
            return float(cost.n_boards if cost.fits else self.n_boards + 1)
        if name in RESOURCE_KEYS:
            return float(getattr(cost.total, name))
        return super().objective_value(name, cost, accuracy)


def build_multi_problem(cfg: StudyConfig, loaded: LoadedWorkload, *, storage: str) -> MultiProblem:
    """The multi-board problem of a `--devices` study."""
    assert cfg.devices is not None
    cluster = parse_cluster(cfg.devices)
    cost_only = loaded.cost_only
    objectives = cfg.objectives_for(cost_only=cost_only)
    limits = cfg.space
    space = SearchSpace(
        loaded.network,
        limits,
        search_bits=limits.search_bits if limits.search_bits is not None else not cost_only,
        search_prune=limits.search_prune if limits.search_prune is not None else not cost_only,
    )
    evaluator = None
    if not cost_only and ("accuracy" in objectives or cfg.min_accuracy is not None):
        evaluator = accuracy_evaluator(cfg, loaded, storage=storage)
    return MultiProblem(
        loaded.network,
        cluster,
        space,
        objectives,
        cap_pct=cfg.cap_pct,
        min_accuracy=cfg.min_accuracy,
        evaluator=evaluator,
        clock_mhz=cfg.clock_mhz,
        calibration=cfg.calibration_profile(),
    )


class MultiView:
    """`dse report` of a multi-board study: a `boards` column; for one trial, the boards,
    their layer ranges and utilization, the cuts and the link load. One network per trial
    (exported and folded as such)."""

    def columns(self) -> list[tuple[str, str]]:
        return [("boards_used", "boards")]

    def row(self, attrs: Mapping[str, Any]) -> dict[str, Any]:
        part = (attrs.get(ATTR_COST) or {}).get(PARTITION_KEY) or {}
        return {"boards_used": part.get("boards_used"), PARTITION_KEY: part or None}

    def describe(self, row: Mapping[str, Any]) -> str | None:
        lines = describe_partition(row.get(PARTITION_KEY) or {})
        return "\n".join(lines) if lines else None

    def spec_files(self, record: Any, number: int) -> dict[str, str] | None:
        return None

    def check_finn_export(self) -> None:
        raise StudyError(
            "a multi-board design has no single FINN device: export it with --format spec "
            "and build each board's layer range (dse report --trial N shows the ranges)"
        )


def describe_partition(part: Mapping[str, Any]) -> list[str]:
    """Report lines of a stored placement (`MultiCost.summary()`)."""
    if not part:
        return []
    lines = [
        f"boards: {part['boards_used']} of {part['cluster']} (link {part['link_gbps']:g} Gbps; "
        f"compute {part['compute_fps']:.4g} FPS)"
    ]
    for i, b in enumerate(part["boards"]):
        util = ", ".join(f"{k.upper()} {v:.1f}%" for k, v in b["util"].items())
        lines.append(f"  board {i} {b['part']}: {b['layers'][0]} .. {b['layers'][1]}  ({util})")
    for c in part["cuts"]:
        lines.append(
            f"  cut after {c['after']}: {c['bits_per_frame']:,} bits/frame, link load "
            f"{c['load_pct']:.1f}%"
        )
    if not part["boards"]:
        lines.append("  no placement fits the boards")
    return lines


__all__ = [
    "PARTITION_KEY",
    "MultiProblem",
    "MultiView",
    "build_multi_problem",
    "describe_partition",
]
