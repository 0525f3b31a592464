"""Honest accuracy for a study's Pareto front: each front design's accuracy on the held-out
test split, evaluated once after selection (the search selects on the validation split and
never sees these numbers), with a 95% confidence interval, and which designs are within
noise of the most accurate one.

Interval: the Wilson score interval for a binomial proportion (E. B. Wilson, "Probable
inference, the law of succession, and statistical inference", JASA 22, 1927; recommended
over the normal approximation for accuracies near 1 by Brown, Cai and DasGupta,
"Interval estimation for a binomial proportion", Statistical Science 16, 2001):

    p~ = (k + z^2/2) / (n + z^2),  half-width = z / (n + z^2) * sqrt(k (n - k) / n + z^2 / 4)

with z = 1.96 for 95%. Two designs are marked within noise of each other when their
intervals overlap (a conservative criterion: non-overlapping 95% intervals imply a
significant difference; overlapping ones do not prove equality).

A test result is cached in the study's accuracy table under its own key (the design's
accuracy key on the `test` split), so a report computes it once.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from costmodels.errors import DseError
from dse.storage import StudyRecord, TrialRecord

Z95 = 1.959963984540054


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (low, high) of `correct` successes in `n` trials."""
    if n <= 0:
        return (0.0, 1.0)
    centre = (correct + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(correct * (n - correct) / n + z * z / 4)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Holdout:
    """One design's accuracy on a split of `n` samples, `correct` of them right."""

    split: str
    n: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.correct, self.n)


def within_noise(results: dict[int, Holdout]) -> dict[int, bool]:
    """Per design: whether its interval overlaps the most accurate design's interval."""
    if not results:
        return {}
    best = max(results.values(), key=lambda h: h.accuracy)
    lo_best = best.interval[0]
    return {t: h.interval[1] >= lo_best for t, h in results.items()}


def noise_points(n: int, accuracy: float) -> float:
    """Half-width of the 95% Wilson interval at `accuracy` on `n` samples, in points."""
    lo, hi = wilson(round(accuracy * n), n)
    return 100.0 * (hi - lo) / 2


def holdout_front(
    record: StudyRecord,
    trials: Sequence[TrialRecord],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[int, Holdout], str]:
    """Each of `trials` (a single-network study's front) evaluated on the test split of
    the study's workload with the study's fine-tuning budget and seed: ({trial: Holdout},
    a one-line note). Without a test split the validation split is used and the note says
    that it is the selection split. Raises `DseError` when the workload cannot be loaded."""
    from dse import nn as dnn  # lazy: torch only when a report asks

    definition: dict[str, Any] = dict(record.meta.get("definition") or {})
    name = str(record.meta.get("workload") or definition.get("workload") or "")
    if not name:
        raise DseError(f"study {record.name!r} does not record its workload")
    seed = int(definition.get("seed") or 0)
    steps = definition.get("finetune_steps")
    wl = dnn.load_workload(name, seed=seed)
    split = "test" if "test" in wl.data else "val"
    cache: Any = None
    try:
        cache = dnn.AccuracyCache(record.storage)
    except DseError:
        cache = None  # a read-only or odd storage: evaluate without caching
    ev = dnn.AccuracyEvaluator(
        wl,
        finetune_steps=int(steps) if steps is not None else dnn.DEFAULT_FINETUNE_STEPS,
        seed=seed,
    )
    labels = wl.labels(split)
    n = len(labels)
    out: dict[int, Holdout] = {}
    for i, t in enumerate(trials):
        net = record.design(t.number)
        key = hashlib.sha256(f"{split}|{ev.accuracy_key(net)}".encode()).hexdigest()
        acc = _cached(cache, key)
        if acc is None:
            logits = ev.outputs(net, split=split)
            acc = float((logits.argmax(axis=1) == labels).mean())
            if cache is not None:
                try:
                    acc = cache.put(key, acc, f"{wl.name} [{split}]", 0.0)
                except DseError:
                    cache = None
        out[t.number] = Holdout(split, n, round(acc * n))
        if progress is not None:
            progress(i + 1, len(trials))
    if split == "test":
        note = (
            f"test: {n} held-out samples, evaluated once after selection (the search selected "
            "on the validation split)"
        )
    else:
        note = (
            f"the workload has no test split: accuracy on the {n} validation samples that "
            "selected the front (optimistic); give x_test, y_test for an honest figure"
        )
    return out, note


def _cached(cache: Any, key: str) -> float | None:
    if cache is None:
        return None
    try:
        value = cache.get(key)
    except DseError:
        return None
    return None if value is None else float(value)
