"""Event-driven simulation of TwinDNN's hierarchical scheduler (seed 000, Section 3.3 and
Figure 2) over an input stream, in order.

The rules, as the paper states them:

1. Inputs come from a source in order; each one waits for either accelerator to become idle,
   and "whatever network becomes idle first performs the initial inference for that image".
2. "For the original [accurate] network, idle means that its queue is empty as well": it
   takes a fresh input only when no re-check is waiting.
3. The accurate network's answers are final.
4. A compressed answer is final when its confidence - the difference between its two largest
   outputs - is at least T; otherwise the input joins the accurate network's (FIFO) queue.
   `margin="raw"` uses the raw outputs as the paper does (Section 2.2: "we do not apply a
   softmax"); `margin="softmax"` uses softmax probabilities instead (then T is in [0, 1]).

Accounting (what the paper leaves open, chosen here and used everywhere):

- The whole stream is available at time 0 (the paper's image source "until the input source
  is depleted"). `latency_ms` is the paper's "average latency per image": makespan / N, the
  amortized time per input (Table 2, Figure 3 axis); `throughput_fps` is its inverse.
  `mean_response_ms` is the mean time from the start of an input's first inference to its
  final answer (including any wait in the re-check queue); it does not count the time an
  input waits in the source before being picked up.
- Each accelerator has an initiation interval `ii_ms` (time until it can accept the next
  input) and a latency `latency_ms` (time until an input's answer). For the paper's HLS
  engines, shared between layers and invoked one image at a time, `ii_ms == latency_ms`.
  For a FINN-style dataflow pipeline (`NetworkCost.cycles_per_frame` vs `latency_cycles`)
  the accelerator accepts a new input every II while earlier ones are still in flight; a
  compressed answer, and so its re-check request, exists only `latency_ms` after its start.
  "Idle" means "able to accept an input": busy-until = start + II.
- Ties: when both accelerators can accept at the same instant, the compressed one takes
  the fresh input (it is the front end; at T = 0 this reproduces "both run independently").
  A re-check request that becomes ready exactly when the accurate network frees up is in its
  queue at that instant. The confidence check in software takes no time (not measured in
  the paper).
- The accurate network never waits for a compressed inference still in flight: if its queue
  is empty and fresh inputs remain, it takes the next fresh input (rule 2).

Limits (tested in tests/twin/test_schedule_limits.py):

- T = 0: no margin is below 0, so nothing is re-checked: the two accelerators split the
  stream and run independently.
- T = inf: every compressed answer is re-checked, so every input is answered by the accurate
  network: accuracy equals the accurate network's; the accurate network processes all N
  inputs, so the makespan is at least (N - 1) * II_acc + L_acc, the accurate network alone.

What is and is not monotone in T for a fixed pair on a fixed stream (see `docs/twin.md`):

- Always: an input whose compressed margin is below T is answered by the accurate network
  (whichever accelerator took it first). So accuracy is sandwiched between two cascades,
  `cascade_bounds`: sum over inputs of [m < T ? a : min(a, c)] <= hits <= sum of
  [m < T ? a : max(a, c)] (a, c: the accurate / compressed answer is right).
- NOT in general: which accelerator takes which fresh input depends on T (a re-check keeps
  the accurate network from taking a fresh input, which the compressed one then takes), so
  the set of inputs the accurate network answers is not nested in T. Accuracy, makespan and
  even the re-check count can then move against T; the tests hold explicit counterexamples.
- Accuracy at T1 is at most accuracy at T2 > T1 when the accurate network is right wherever
  the compressed one is on inputs with m < T2, and the two agree on correctness on inputs
  with m >= T2. Proof: write d = a - c; inputs with m < T are always answered by the
  accurate network, the others by it only if it took them fresh (set F(T)), so
  hits(T) = sum c + sum_{m<T} d + sum_{m>=T, F(T)} d. At T2 the last sum is 0 (d = 0 there);
  at T1 it is over a subset of {T1 <= m < T2}, where d >= 0, so hits(T1) <= hits(T2).
  In particular, if the accurate network is right wherever the compressed one is, every T
  is at most T = inf, and at least the cascade (the lower bound above). Without the
  agreement above T2, accuracy can drop as T rises even then (tests: counterexample).
- Observed, not proven (random small streams with L_acc >= L_cmp, tests/twin): the makespan
  at any T lies between those at T = 0 and T = inf.
- Re-checks, accurate work, makespan and accuracy (the last when the accurate network is
  right wherever the compressed one is) are exactly monotone for the cascade schedule
  (`policy="cascade"`: the compressed network sees every input, the accurate one only
  re-checks): the re-check set {m < T} is nested and the accurate network's FIFO queue
  only gains jobs.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import numpy.typing as npt

from dse.twin.errors import ScoresError, ServiceTimeError, ThresholdError

log = logging.getLogger(__name__)

COMPRESSED = 0
ACCURATE = 1


class Margin(str, Enum):
    """What the confidence margin (top-1 minus top-2) is computed on."""

    RAW = "raw"
    SOFTMAX = "softmax"


class Policy(str, Enum):
    """Which scheduler to simulate: the paper's (`twin`: both take fresh inputs) or a plain
    cascade (`cascade`: the compressed network sees everything, the accurate one only
    re-checks) - the latter is here as a reference whose metrics are monotone in T."""

    TWIN = "twin"
    CASCADE = "cascade"


@dataclass(frozen=True)
class ServiceTime:
    """One accelerator's timing per input: `ii_ms` between accepted inputs (initiation
    interval) and `latency_ms` from acceptance to answer. `ii_ms=None` means the
    accelerator handles one input at a time (`ii_ms == latency_ms`, the paper's engines)."""

    latency_ms: float
    ii_ms: float | None = None

    def __post_init__(self) -> None:
        lat, ii = self.latency_ms, self.interval_ms
        if not (math.isfinite(lat) and lat > 0 and math.isfinite(ii) and ii > 0):
            raise ServiceTimeError(
                f"service times must be positive and finite, got latency {lat} ms, II {ii} ms"
            )
        if ii > lat * (1 + 1e-12):
            raise ServiceTimeError(
                f"initiation interval {ii} ms is longer than the latency {lat} ms"
            )

    @property
    def interval_ms(self) -> float:
        return self.latency_ms if self.ii_ms is None else self.ii_ms

    def alone_makespan_ms(self, n: int) -> float:
        """Makespan of this accelerator alone on `n` inputs available at time 0:
        (n - 1) * II + L."""
        return (n - 1) * self.interval_ms + self.latency_ms if n > 0 else 0.0

    @classmethod
    def from_cycles(
        cls, cycles_per_frame: int, latency_cycles: int, clock_mhz: float, *, pipelined: bool
    ) -> ServiceTime:
        """From a cost model's cycle counts (`NetworkCost.cycles_per_frame`,
        `latency_cycles`) at `clock_mhz`. `pipelined=False` serves one frame at a time
        (II = latency), as the paper's software driver does."""
        if clock_mhz <= 0 or not math.isfinite(clock_mhz):
            raise ServiceTimeError(f"clock {clock_mhz} MHz must be positive")
        lat_cycles = max(latency_cycles, cycles_per_frame)
        latency_ms = lat_cycles / (clock_mhz * 1e3)
        ii_ms = cycles_per_frame / (clock_mhz * 1e3) if pipelined else None
        return cls(latency_ms=latency_ms, ii_ms=ii_ms)


def _as_scores(name: str, x: npt.ArrayLike) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ScoresError(f"{name} outputs are not numeric: {exc}") from None
    if arr.ndim != 2:
        raise ScoresError(
            f"{name} outputs must be class scores [inputs, classes], got shape {list(arr.shape)}"
        )
    if arr.shape[0] < 1:
        raise ScoresError(f"{name} outputs hold no inputs")
    if arr.shape[1] < 2:
        raise ScoresError(
            f"{name} outputs have {arr.shape[1]} column(s): class scores need at least 2 classes"
        )
    if not np.all(np.isfinite(arr)):
        bad = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ScoresError(f"{name} outputs hold NaN or infinite scores (first at input {bad})")
    return arr


def margins(scores: np.ndarray, margin: Margin | str = Margin.RAW) -> np.ndarray:
    """Top-1 minus top-2 of each row (seed 000 Section 2.2), on raw scores or on softmax
    probabilities. Always >= 0."""
    kind = Margin(margin)
    x = scores
    if kind is Margin.SOFTMAX:
        z = np.exp(scores - scores.max(axis=1, keepdims=True))
        x = z / z.sum(axis=1, keepdims=True)
    top2 = np.partition(x, x.shape[1] - 2, axis=1)[:, -2:]
    return np.asarray(top2[:, 1] - top2[:, 0], dtype=np.float64)


@dataclass(frozen=True)
class TwinStream:
    """A fixed input stream seen by a fixed pair: both networks' outputs computed once.

    Build with `TwinStream.from_outputs`; then `simulate` any T cheaply.
    `margin` [N]: the compressed network's confidence; `cmp_right`, `acc_right` [N]:
    whether each network's top-1 answer equals the label.
    """

    margin: np.ndarray = field(repr=False)
    cmp_right: np.ndarray = field(repr=False)
    acc_right: np.ndarray = field(repr=False)
    margin_kind: Margin = Margin.RAW

    @property
    def n(self) -> int:
        return int(self.margin.shape[0])

    @property
    def accuracy_compressed(self) -> float:
        return float(self.cmp_right.mean())

    @property
    def accuracy_accurate(self) -> float:
        return float(self.acc_right.mean())

    @classmethod
    def from_outputs(
        cls,
        compressed: npt.ArrayLike,
        accurate: npt.ArrayLike,
        labels: npt.ArrayLike,
        *,
        margin: Margin | str = Margin.RAW,
    ) -> TwinStream:
        """Validate both networks' class scores [N, K] and the labels [N] (ints in [0, K))
        and precompute margins and correctness. Raises `ScoresError` (one line)."""
        c = _as_scores("compressed", compressed)
        a = _as_scores("accurate", accurate)
        if c.shape != a.shape:
            raise ScoresError(
                f"compressed outputs {list(c.shape)} and accurate outputs {list(a.shape)} "
                "differ in shape: the halves must see the same inputs and classes"
            )
        y = np.asarray(labels)
        if y.ndim != 1 or y.shape[0] != c.shape[0]:
            raise ScoresError(
                f"labels must be one per input ({c.shape[0]}), got shape {list(y.shape)}"
            )
        if y.dtype.kind not in "iu":
            if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise ScoresError(f"labels must be class indices, got dtype {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= c.shape[1]):
            raise ScoresError(f"labels must be in [0, {c.shape[1]}), got {y.min()}..{y.max()}")
        return cls.from_correctness(
            margins(c, margin),
            c.argmax(axis=1) == y,
            a.argmax(axis=1) == y,
            margin_kind=Margin(margin),
        )

    @classmethod
    def from_correctness(
        cls,
        margin: npt.ArrayLike,
        cmp_right: npt.ArrayLike,
        acc_right: npt.ArrayLike,
        *,
        margin_kind: Margin = Margin.RAW,
    ) -> TwinStream:
        """Directly from per-input margins and correctness flags (hand-worked streams)."""
        m = np.asarray(margin, dtype=np.float64)
        cr = np.asarray(cmp_right, dtype=bool)
        ar = np.asarray(acc_right, dtype=bool)
        if m.ndim != 1 or m.size == 0 or cr.shape != m.shape or ar.shape != m.shape:
            raise ScoresError("margins and correctness flags must be non-empty and one per input")
        if not np.all(np.isfinite(m)) or np.any(m < 0):
            raise ScoresError("margins must be finite and >= 0")
        return cls(margin=m, cmp_right=cr, acc_right=ar, margin_kind=margin_kind)


@dataclass(frozen=True)
class Timeline:
    """Per-input record of one simulation (times in ms from the stream's start).

    `first[i]`: which accelerator took input i fresh (0 compressed, 1 accurate);
    `start_ms[i]`: start of its first inference; `recheck_ms[i]`: start of its re-check
    (NaN if none); `finish_ms[i]`: its final answer; `answered_by[i]`: 0 or 1.
    """

    first: np.ndarray
    start_ms: np.ndarray
    recheck_ms: np.ndarray
    finish_ms: np.ndarray
    answered_by: np.ndarray


@dataclass(frozen=True)
class TwinResult:
    """The metrics of one threshold on one stream (see the module docstring for the
    accounting). `recovery` is R = 1 - drop_twin / drop_compressed (seed 000 Table 2),
    drops relative to the accurate network on the same stream; NaN when the compressed
    network has no drop. `speedup` is the accurate network alone's latency per input over
    the twin's (seed 000 Table 2 "(1.91x)")."""

    threshold: float
    policy: Policy
    n: int
    accuracy: float
    accuracy_compressed: float
    accuracy_accurate: float
    recovery: float
    makespan_ms: float
    latency_ms: float
    mean_response_ms: float
    max_response_ms: float
    throughput_fps: float
    recheck_fraction: float
    accurate_fresh_fraction: float
    accurate_work: int
    accurate_alone_latency_ms: float
    compressed_alone_latency_ms: float
    speedup: float
    timeline: Timeline | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, float | int | str]:
        """The scalar metrics as a flat mapping (for tables, JSON and study attributes)."""
        return {
            "threshold": self.threshold,
            "policy": self.policy.value,
            "n": self.n,
            "accuracy": self.accuracy,
            "accuracy_compressed": self.accuracy_compressed,
            "accuracy_accurate": self.accuracy_accurate,
            "recovery": self.recovery,
            "makespan_ms": self.makespan_ms,
            "latency_ms": self.latency_ms,
            "mean_response_ms": self.mean_response_ms,
            "max_response_ms": self.max_response_ms,
            "throughput_fps": self.throughput_fps,
            "recheck_fraction": self.recheck_fraction,
            "accurate_fresh_fraction": self.accurate_fresh_fraction,
            "accurate_work": self.accurate_work,
            "accurate_alone_latency_ms": self.accurate_alone_latency_ms,
            "compressed_alone_latency_ms": self.compressed_alone_latency_ms,
            "speedup": self.speedup,
        }


def check_threshold(threshold: float) -> float:
    """T as a float >= 0 (infinity allowed); `ThresholdError` otherwise."""
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise ThresholdError(f"threshold T must be a number, got {threshold!r}") from None
    if math.isnan(t) or t < 0:
        raise ThresholdError(f"threshold T must be >= 0, got {threshold}")
    return t


def recovery(acc_twin: float, acc_compressed: float, acc_accurate: float) -> float:
    """R = 1 - (acc_accurate - acc_twin) / (acc_accurate - acc_compressed) (seed 000,
    Table 2 footnote). NaN when the compressed network loses nothing (R undefined)."""
    drop_cmp = acc_accurate - acc_compressed
    if drop_cmp <= 0:
        return float("nan")
    return 1.0 - (acc_accurate - acc_twin) / drop_cmp


def simulate(
    stream: TwinStream,
    threshold: float,
    compressed: ServiceTime,
    accurate: ServiceTime,
    *,
    policy: Policy | str = Policy.TWIN,
    keep_timeline: bool = False,
) -> TwinResult:
    """Run the scheduler of the module docstring on `stream` with confidence threshold T.

    O(N) per call: each input is accepted once and re-checked at most once.
    """
    t = check_threshold(threshold)
    pol = Policy(policy)
    n = stream.n
    margin = stream.margin.tolist()
    lc, ic = compressed.latency_ms, compressed.interval_ms
    la, ia = accurate.latency_ms, accurate.interval_ms

    first = [COMPRESSED] * n
    start = [0.0] * n
    recheck = [math.nan] * n
    finish = [0.0] * n
    by = [COMPRESSED] * n
    ready = [0.0] * n
    queue: deque[int] = deque()
    tc = ta = 0.0
    i = 0
    if pol is Policy.CASCADE:
        # The compressed network takes every input back to back; the accurate one only
        # serves its FIFO queue of re-checks, in the order they become ready.
        for i in range(n):
            start[i] = i * ic
            done = start[i] + lc
            if margin[i] < t:
                s = max(ta, done)
                recheck[i], finish[i], by[i] = s, s + la, ACCURATE
                ta = s + ia
            else:
                finish[i] = done
    else:
        while True:
            if i < n and tc <= ta:
                # The compressed network accepts the next fresh input (ties go to it).
                start[i] = tc
                done = tc + lc
                if margin[i] < t:
                    ready[i] = done
                    queue.append(i)
                else:
                    finish[i] = done
                tc += ic
                i += 1
            elif queue and ready[queue[0]] <= ta:
                # The accurate network serves a waiting re-check first (rule 2).
                j = queue.popleft()
                recheck[j], finish[j], by[j] = ta, ta + la, ACCURATE
                ta += ia
            elif i < n:
                # Idle with an empty queue: it takes the next fresh input (rule 1).
                first[i], by[i] = ACCURATE, ACCURATE
                start[i], finish[i] = ta, ta + la
                ta += ia
                i += 1
            elif queue:
                # Source depleted: wait for the next re-check still in flight.
                ta = ready[queue[0]]
            else:
                break

    fin = np.asarray(finish)
    st = np.asarray(start)
    answered = np.asarray(by, dtype=np.int8)
    firsts = np.asarray(first, dtype=np.int8)
    hits = np.where(answered == ACCURATE, stream.acc_right, stream.cmp_right)
    accuracy = float(hits.mean())
    makespan = float(fin.max())
    latency = makespan / n
    rechecked = int(np.count_nonzero((firsts == COMPRESSED) & (answered == ACCURATE)))
    acc_work = int(np.count_nonzero(answered == ACCURATE))
    response = fin - st
    acc_alone = accurate.alone_makespan_ms(n) / n
    cmp_alone = compressed.alone_makespan_ms(n) / n
    timeline = Timeline(firsts, st, np.asarray(recheck), fin, answered) if keep_timeline else None
    return TwinResult(
        threshold=t,
        policy=pol,
        n=n,
        accuracy=accuracy,
        accuracy_compressed=stream.accuracy_compressed,
        accuracy_accurate=stream.accuracy_accurate,
        recovery=recovery(accuracy, stream.accuracy_compressed, stream.accuracy_accurate),
        makespan_ms=makespan,
        latency_ms=latency,
        mean_response_ms=float(response.mean()),
        max_response_ms=float(response.max()),
        throughput_fps=1e3 * n / makespan,
        recheck_fraction=rechecked / n,
        accurate_fresh_fraction=float(np.count_nonzero(firsts == ACCURATE)) / n,
        accurate_work=acc_work,
        accurate_alone_latency_ms=acc_alone,
        compressed_alone_latency_ms=cmp_alone,
        speedup=acc_alone / latency,
        timeline=timeline,
    )


def sweep(
    stream: TwinStream,
    thresholds: Iterable[float],
    compressed: ServiceTime,
    accurate: ServiceTime,
    *,
    policy: Policy | str = Policy.TWIN,
) -> list[TwinResult]:
    """`simulate` at each threshold (ascending, duplicates removed): O(N) per T."""
    ts = sorted({check_threshold(t) for t in thresholds})
    return [simulate(stream, t, compressed, accurate, policy=policy) for t in ts]


def default_thresholds(stream: TwinStream, count: int = 41) -> list[float]:
    """0, `count - 2` quantiles of the observed margins (every distinct behaviour change
    happens at a margin value), and infinity."""
    if count < 3:
        raise ThresholdError(f"a sweep needs at least 3 thresholds, got {count}")
    qs = np.quantile(stream.margin, np.linspace(0.0, 1.0, count - 1)[1:])
    # Just above each quantile so the input at that margin is re-checked.
    ts = {0.0, math.inf, *(float(np.nextafter(q, math.inf)) for q in qs)}
    return sorted(ts)


def cascade_bounds(stream: TwinStream, threshold: float) -> tuple[float, float]:
    """Bounds on the twin accuracy at T that hold for any routing of fresh inputs:
    inputs with margin < T are always answered by the accurate network, the others by
    either. Returns (lower, upper) accuracy."""
    t = check_threshold(threshold)
    low = stream.margin < t
    a, c = stream.acc_right, stream.cmp_right
    lower = np.where(low, a, a & c).mean()
    upper = np.where(low, a, a | c).mean()
    return float(lower), float(upper)
