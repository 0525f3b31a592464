"""The accuracy-latency curve of one twin pair over the threshold T (seed 000, Figure 3),
its most balanced point, and its plot.

"Most balanced" is not defined in the paper ("the most balanced result between latency and
accuracy", Sec. 4.1). Here it is the knee of the curve: normalize accuracy and latency per
input over the sweep to [0, 1] (accuracy from its lowest to its highest value over the
sweep, latency likewise; the sweep always includes T = 0 and T = inf, the design's two
limits) and pick the point nearest to the ideal corner (highest accuracy, lowest latency)
in Euclidean distance. Ties go to the smaller T. When accuracy does not vary, the fastest
point wins; when latency does not vary, the most accurate one.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

from dse.twin.schedule import (
    Policy,
    ServiceTime,
    TwinResult,
    TwinStream,
    default_thresholds,
    sweep,
)


def balanced_index(results: Sequence[TwinResult]) -> int:
    """Index of the most balanced point of a sweep (see the module docstring)."""
    if not results:
        raise ValueError("empty sweep")
    accs = [r.accuracy for r in results]
    lats = [r.latency_ms for r in results]
    a_lo, a_hi = min(accs), max(accs)
    l_lo, l_hi = min(lats), max(lats)

    def distance(i: int) -> tuple[float, float]:
        a = (accs[i] - a_lo) / (a_hi - a_lo) if a_hi > a_lo else 1.0
        lat = (lats[i] - l_lo) / (l_hi - l_lo) if l_hi > l_lo else 0.0
        return (math.hypot(1.0 - a, lat), results[i].threshold)

    return min(range(len(results)), key=distance)


def threshold_sweep(
    stream: TwinStream,
    compressed: ServiceTime,
    accurate: ServiceTime,
    thresholds: Sequence[float] | None = None,
    *,
    points: int = 41,
    policy: Policy | str = Policy.TWIN,
) -> tuple[list[TwinResult], int]:
    """Simulate every threshold (default: 0, quantiles of the margins, inf) and return the
    results in ascending T with the index of the most balanced one."""
    ts = list(thresholds) if thresholds is not None else default_thresholds(stream, points)
    ts = sorted({*ts, 0.0, math.inf})
    results = sweep(stream, ts, compressed, accurate, policy=policy)
    return results, balanced_index(results)


TABLE_COLUMNS = (
    ("T", "threshold"),
    ("accuracy", "accuracy"),
    ("R", "recovery"),
    ("latency/input ms", "latency_ms"),
    ("speed-up", "speedup"),
    ("re-checked", "recheck_fraction"),
    ("acc. fresh", "accurate_fresh_fraction"),
    ("mean response ms", "mean_response_ms"),
    ("throughput fps", "throughput_fps"),
)


def format_value(key: str, value: float) -> str:
    """How the sweep table shows one value."""
    if key == "threshold":
        return "inf" if math.isinf(value) else f"{value:.4g}"
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if key in ("accuracy", "recovery", "recheck_fraction", "accurate_fresh_fraction"):
        return f"{100 * value:.1f}%"
    if key == "speedup":
        return f"{value:.2f}x"
    if key == "throughput_fps":
        return f"{value:,.0f}"
    return f"{value:.4g}"


def plot_sweep(
    results: Sequence[TwinResult], balanced: int, path: Path | str, *, title: str = ""
) -> Path:
    """Accuracy (x) against latency per input (y), one point per T, like seed 000 Fig. 3;
    the balanced T starred, the two networks alone as reference lines. Writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(path)
    accs = [100 * r.accuracy for r in results]
    lats = [r.latency_ms for r in results]
    first = results[0]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    try:
        ax.plot(accs, lats, "o-", color="tab:blue", ms=3.5, lw=1, label="twin, T swept")
        b = results[balanced]
        tb = "inf" if math.isinf(b.threshold) else f"{b.threshold:.3g}"
        ax.plot([accs[balanced]], [lats[balanced]], "*", color="tab:red", ms=14,
                label=f"most balanced T = {tb}")  # fmt: skip
        ax.axhline(first.accurate_alone_latency_ms, color="tab:gray", ls="--", lw=1,
                   label="accurate alone (latency)")  # fmt: skip
        ax.axvline(100 * first.accuracy_accurate, color="tab:green", ls=":", lw=1,
                   label="accurate alone (accuracy)")  # fmt: skip
        ax.axvline(100 * first.accuracy_compressed, color="tab:orange", ls=":", lw=1,
                   label="compressed alone (accuracy)")  # fmt: skip
        step = max(1, len(results) // 8)
        for i, r in enumerate(results):
            if i % step == 0 or i in (balanced, len(results) - 1):
                t = "inf" if math.isinf(r.threshold) else f"{r.threshold:.2g}"
                ax.annotate(f"T={t}", (accs[i], lats[i]), textcoords="offset points",
                            xytext=(4, 4), fontsize=7)  # fmt: skip
        ax.set_xlabel("Accuracy (%)")
        ax.set_ylabel("Average latency per input (ms)")
        ax.set_title(title or "Twin design: accuracy vs latency over T")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    from dse.outputs import write_output  # a failed write is an error (/dev/full)

    write_output(out, buf.getvalue())
    return out
