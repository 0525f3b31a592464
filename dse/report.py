"""Reports on a stored study: the feasible Pareto front, hypervolume, counts, one design in
full, and a Pareto plot. Plain functions over `dse.storage.StudyRecord` (no Optuna types)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dse.config import OBJECTIVES, Direction
from dse.modes import view_of
from dse.problem import pareto_mask
from dse.records import TrialAttrs
from dse.storage import (
    ATTR_ACCURACY,
    ATTR_CANDIDATE,
    ATTR_COST,
    ATTR_TIMING,
    StudyRecord,
    TrialRecord,
)

Bounds = Mapping[str, Sequence[Any]]


@dataclass(frozen=True)
class Counts:
    total: int
    complete: int
    feasible: int
    infeasible: int
    failed: int
    other: int  # running, waiting, pruned

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def counts(record: StudyRecord) -> Counts:
    complete = [t for t in record.trials if t.complete]
    feasible = sum(1 for t in complete if t.feasible)
    failed = sum(1 for t in record.trials if t.state == "fail")
    return Counts(
        total=len(record.trials),
        complete=len(complete),
        feasible=feasible,
        infeasible=len(complete) - feasible,
        failed=failed,
        other=len(record.trials) - len(complete) - failed,
    )


def _directions(record: StudyRecord) -> list[Direction]:
    return list(record.directions)


def front(record: StudyRecord, trials: Sequence[TrialRecord] | None = None) -> list[TrialRecord]:
    """The feasible, non-dominated trials, by trial number."""
    pool = [t for t in (trials if trials is not None else record.trials) if t.feasible and t.values]
    mask = pareto_mask([t.values or () for t in pool], _directions(record))
    return [t for t, on in zip(pool, mask, strict=True) if on]


def _bounds(record: StudyRecord) -> dict[str, list[Any]]:
    """Normalization bounds stored with the study; from the data for foreign studies."""
    stored = record.meta.get("hv_bounds")
    if isinstance(stored, Mapping) and all(o in stored for o in record.objectives):
        return {o: list(stored[o]) for o in record.objectives}
    out: dict[str, list[Any]] = {}
    pts = [t.values for t in record.trials if t.feasible and t.values]
    for i, (o, d) in enumerate(zip(record.objectives, record.directions, strict=True)):
        col = [p[i] for p in pts] or [0.0, 1.0]
        lo, hi = min(col), max(col)
        if hi == lo:
            hi = lo + 1.0
        out[o] = [lo, hi, "lin"] if d is Direction.MAXIMIZE else [hi, lo, "lin"]
    return out


def normalized(values: Sequence[float], objectives: Sequence[str], bounds: Bounds) -> list[float]:
    """Each objective mapped to [0, 1] with 0 the best bound and 1 the worst (log scale
    where the bounds say so); values beyond the worst bound clip to 1."""
    out = []
    for v, o in zip(values, objectives, strict=True):
        worst, best, scale = float(bounds[o][0]), float(bounds[o][1]), bounds[o][2]
        if scale == "log":
            if v <= 0:
                n = 1.0 if best > worst else 0.0
            else:
                n = (math.log(v) - math.log(best)) / (math.log(worst) - math.log(best))
        else:
            n = (v - best) / (worst - best) if worst != best else 0.0
        out.append(min(1.0, max(0.0, n)))
    return out


def hypervolume(record: StudyRecord, trials: Sequence[TrialRecord] | None = None) -> float:
    """Hypervolume of the feasible front in the normalized objective box (0..1; 1 would be
    a single design at every objective's best bound). Reference point: the worst bounds.

    Computed with Optuna's WFG implementation (`optuna._hypervolume.compute_hypervolume`,
    While et al. 2012, "A Fast Way of Calculating Exact Hypervolumes"), a private but
    stable module also used by its own samplers.
    """
    from optuna._hypervolume import compute_hypervolume

    pts = front(record, trials)
    if not pts:
        return 0.0
    bounds = _bounds(record)
    loss = np.array([normalized(t.values or (), record.objectives, bounds) for t in pts])
    loss = loss[np.all(loss < 1.0, axis=1)]
    if len(loss) == 0:
        return 0.0
    return float(compute_hypervolume(loss, np.ones(loss.shape[1])))


def hypervolume_history(record: StudyRecord, points: int = 100) -> list[tuple[int, float]]:
    """(trials so far, hypervolume) at up to `points` checkpoints in trial order."""
    ordered = sorted(record.trials, key=lambda t: t.number)
    n = len(ordered)
    if n == 0:
        return []
    steps = sorted({max(1, round(n * k / points)) for k in range(1, points + 1)})
    return [(k, hypervolume(record, ordered[:k])) for k in steps]


def layer_summary(t: TrialRecord) -> str:
    """`conv1 8/4 lut 16x3, conv2 2/2 xnor 8x8 -25%, ...`: bits w/a, arithmetic,
    PExSIMD (xMMV when > 1), pruning."""
    cand = t.attrs.get(ATTR_CANDIDATE) or {}
    parts = []
    for name, c in cand.items():
        a = "-" if c.get("a_bits") is None else lq_bits(c["a_bits"], c.get("a_type"))
        w = lq_bits(c["w_bits"], c.get("w_type"))
        fold = f"{c['pe']}x{c['simd']}" + (f"x{c['mmv']}" if c.get("mmv", 1) > 1 else "")
        prune = f" -{c['prune'] * 100:.0f}%" if c.get("prune") else ""
        parts.append(f"{name} {w}/{a} {c['arith']} {fold}{prune}{_extras(c)}")
    return ", ".join(parts)


def lq_bits(bits: Any, qtype: str | None) -> str:
    """`2`, or `lq2` for LQ-Nets codes."""
    return f"lq{bits}" if qtype == "lq" else str(bits)


def _extras(c: dict[str, Any]) -> str:
    """` t1.5 d=0.23 pixel`: a non-default ternary threshold, the measured density of a
    sparse layer, a non-default SYQ scaling granularity."""
    out = ""
    if c.get("threshold") not in (None, 0.7):
        out += f" t{c['threshold']:g}"
    if c.get("density") is not None:
        out += f" d={c['density']:.2f}"
    if c.get("scaling") not in (None, "channel"):
        out += f" {c['scaling']}"
    return out


def trial_row(record: StudyRecord, t: TrialRecord) -> dict[str, Any]:
    """One design as a flat row: objectives, resources, utilization, speed, layers."""
    cost = t.attrs.get(ATTR_COST) or {}
    util = cost.get("util") or {}
    row: dict[str, Any] = {"trial": t.number}
    for o, v in zip(record.objectives, t.values or (), strict=False):
        row[o] = v
    row.update(
        {
            "accuracy": t.attrs.get(ATTR_ACCURACY),
            "lut": cost.get("lut"),
            "ff": cost.get("ff"),
            "dsp": cost.get("dsp"),
            "bram18": cost.get("bram18"),
            "uram": cost.get("uram"),
            "lut_pct": util.get("lut"),
            "dsp_pct": util.get("dsp"),
            "bram18_pct": util.get("bram18"),
            "fps": cost.get("fps"),
            "latency_ms": cost.get("latency_ms"),
            "fits": t.fits,
            "feasible": t.feasible,
            "baseline": t.baseline,
            "layers": layer_summary(t),
        }
    )
    row.update(view_of(record.meta).row(t.attrs))  # the mode's own keys (dse.modes)
    return row


def front_rows(record: StudyRecord) -> list[dict[str, Any]]:
    return [trial_row(record, t) for t in front(record)]


def summary(record: StudyRecord) -> dict[str, Any]:
    """Everything `dse report --format json` prints."""
    return {
        "study": record.name,
        "objectives": list(record.objectives),
        "directions": [d.value for d in record.directions],
        "device": record.meta.get("device"),
        "workload": record.meta.get("workload"),
        "counts": counts(record).as_dict(),
        "hypervolume": hypervolume(record),
        "front": front_rows(record),
        "baselines": [trial_row(record, t) for t in record.trials if t.baseline],
    }


def trial_detail(record: StudyRecord, number: int) -> dict[str, Any]:
    """One design in full: its row plus per-layer choices and costs."""
    t = record.trial(number)
    row = trial_row(record, t)
    cand = t.attrs.get(ATTR_CANDIDATE) or {}
    costs = {r.name: r for r in (TrialAttrs.decode(t.attrs).layers or ())}
    layers = []
    for name, r in costs.items():
        c = cand.get(name, {})
        layers.append(
            {
                "layer": name,
                "op": r.op,
                "w_bits": c.get("w_bits"),
                "a_bits": c.get("a_bits"),
                "w_type": c.get("w_type"),
                "a_type": c.get("a_type"),
                "arith": c.get("arith"),
                "prune": c.get("prune"),
                "pe": c.get("pe"),
                "simd": c.get("simd"),
                "mmv": c.get("mmv"),
                "threshold": c.get("threshold"),
                "scaling": c.get("scaling"),
                "density": c.get("density"),
                "lut": r.lut,
                "ff": r.ff,
                "dsp": r.dsp,
                "bram18": r.bram18,
                "uram": r.uram,
                "cycles": r.cycles,
            }
        )
    return {
        **row,
        "state": t.state,
        "constraints": dict(t.constraints),
        "params": dict(t.params),
        "timing": t.attrs.get(ATTR_TIMING),
        "per_layer": layers,
    }


def accuracy_known(t: TrialRecord) -> bool:
    """Whether trial `t` has an accuracy. A design the cost model refused never reached the
    accuracy evaluation: its stored accuracy is None and its accuracy objective value a
    0.0 placeholder for Optuna's sake (`dse.problem.objective_value`), not a measurement.
    Studies dse did not create (no accuracy attribute) keep their objective values."""
    return ATTR_ACCURACY not in t.attrs or t.attrs[ATTR_ACCURACY] is not None


@dataclass(frozen=True)
class Projection:
    """The trials one scatter panel of `plot` draws (objective `i` against `j`). A panel
    with the accuracy axis leaves out trials without an accuracy (`accuracy_known`) and
    counts them in `not_evaluated`; resource-only panels draw every trial."""

    i: int
    j: int
    infeasible: list[TrialRecord]
    feasible: list[TrialRecord]
    front: list[TrialRecord]
    baselines: list[TrialRecord]
    not_evaluated: int


def projections(record: StudyRecord) -> list[Projection]:
    """One `Projection` per pair of objectives (one panel for a single objective)."""
    objs = list(record.objectives)
    pairs = [(i, j) for i in range(len(objs)) for j in range(i + 1, len(objs))] or [(0, 0)]
    feas = [t for t in record.trials if t.feasible and t.values]
    infeas = [t for t in record.trials if t.complete and not t.feasible and t.values]
    fr = front(record)
    base = [t for t in record.trials if t.baseline and t.values]
    out = []
    for i, j in pairs:
        acc = "accuracy" in (objs[i], objs[j])

        def kept(ts: list[TrialRecord], acc: bool = acc) -> list[TrialRecord]:
            return [t for t in ts if not acc or accuracy_known(t)]

        hidden = len(infeas) + len(feas) - len(kept(infeas)) - len(kept(feas))
        out.append(Projection(i, j, kept(infeas), kept(feas), kept(fr), kept(base), hidden))
    return out


def figure(record: StudyRecord) -> Any:
    """The matplotlib figure `plot` writes: a Pareto scatter per pair of objectives
    (`projections`), baselines marked, and the hypervolume over trials."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    objs = list(record.objectives)
    panels = projections(record)
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(4.6 * (len(panels) + 1), 4.2))
    axes = np.atleast_1d(axes)
    fr = front(record)
    for n, (ax, p) in enumerate(zip(axes, panels, strict=False)):
        i, j = p.i, p.j

        def xy(
            ts: Sequence[TrialRecord], i: int = i, j: int = j
        ) -> tuple[list[float], list[float]]:
            return [t.values[i] for t in ts if t.values], [t.values[j] for t in ts if t.values]

        shown = "infeasible" if p.infeasible else "_nolegend_"  # none left: no entry
        ax.scatter(*xy(p.infeasible), s=6, c="#e0a0a0", label=shown, marker="x")
        ax.scatter(*xy(p.feasible), s=8, c="#999999", label="feasible")
        ax.scatter(*xy(p.front), s=22, c="#1f5fbf", label="Pareto front")
        for t in p.baselines:
            vals = t.values or ()
            ax.scatter([vals[i]], [vals[j]], s=120, marker="*", c="#e08000", edgecolors="k")
            ax.annotate(str(t.baseline), (vals[i], vals[j]), fontsize=7)
        if p.not_evaluated:
            ax.plot(
                [], [], ls="none", marker="x", c="#e0a0a0",
                label=f"infeasible (not evaluated): {p.not_evaluated}, not shown",
            )  # fmt: skip
        ax.set_xlabel(f"{objs[i]} ({OBJECTIVES.get(objs[i], Direction.MINIMIZE).value[:3]})")
        ax.set_ylabel(f"{objs[j]} ({OBJECTIVES.get(objs[j], Direction.MINIMIZE).value[:3]})")
        for axis, k in (("x", i), ("y", j)):
            if objs[k] in ("fps", "latency_ms"):
                getattr(ax, f"set_{axis}scale")("log")
        ax.grid(alpha=0.3)
        if n == 0 or p.not_evaluated:
            ax.legend(fontsize=7, loc="best")
    hist = hypervolume_history(record)
    ax = axes[-1]
    ax.plot([h[0] for h in hist], [h[1] for h in hist], c="#1f5fbf")
    ax.set_xlabel("trials")
    ax.set_ylabel("hypervolume (normalized)")
    ax.grid(alpha=0.3)
    fig.suptitle(f"{record.name}: {len(fr)} Pareto designs of {len(record.trials)} trials")
    fig.tight_layout()
    return fig


def plot(record: StudyRecord, path: Path) -> None:
    """Write `figure(record)` to `path` (PNG, PDF or SVG after its extension), through
    `dse.outputs.write_output` (a failed write is an error, never "written")."""
    import io

    import matplotlib.pyplot as plt

    from dse.outputs import write_output

    fig = figure(record)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, dpi=110, format=path.suffix.lower().lstrip(".") or "png")
    finally:
        plt.close(fig)
    write_output(path, buf.getvalue())
