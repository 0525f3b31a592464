"""A twin pair's costs (cost models), outputs (torch) and stream, put together.

    TwinPair -> (NetworkCost, NetworkCost) -> service times + pair resources (+ overhead)
             -> (logits, logits) -> TwinStream -> simulate / sweep at any T

The torch side is imported lazily so that cost-only callers stay torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from costmodels.errors import ConfigError
from costmodels.estimate import Template, estimate
from costmodels.types import Device, Network, NetworkCost, Resources
from dse.twin.pair import TwinPair, check_compressed, check_same_workload, default_pair
from dse.twin.resources import OverheadModel, check_pair_fits, pair_resources
from dse.twin.schedule import Margin, ServiceTime, TwinResult, TwinStream, check_threshold
from dse.twin.sweep import threshold_sweep


@dataclass(frozen=True)
class PairCost:
    """Both halves' estimates, the pair's resources (overhead included) and service times.

    `pipelined`: a dataflow accelerator accepts a new input every `cycles_per_frame`
    (its initiation interval) while earlier ones are in flight; otherwise it serves one
    input at a time for `latency_cycles`, as the paper's software does (Sec. 3.3)."""

    compressed: NetworkCost
    accurate: NetworkCost
    overhead: Resources
    total: Resources
    device: Device
    cmp_time: ServiceTime
    acc_time: ServiceTime
    overhead_model: OverheadModel

    @property
    def utilization(self) -> Resources:
        return self.total.utilization(self.device)

    def fits(self, cap_pct: float = 100.0) -> bool:
        return self.total.fits(self.device, cap_pct)

    def check_fits(self, cap_pct: float = 100.0) -> None:
        check_pair_fits(self.total, self.device, cap_pct)


def pair_cost(
    pair: TwinPair,
    device: Device,
    *,
    clock_mhz: float | None = None,
    template: Template = Template.DATAFLOW,
    pipelined: bool = False,
    overhead: OverheadModel | None = None,
) -> PairCost:
    """Estimate both halves on `device` (same clock) and combine them."""
    model = overhead or OverheadModel.default()
    c = estimate(pair.compressed, device, template=template, clock_mhz=clock_mhz)
    a = estimate(pair.accurate, device, template=template, clock_mhz=clock_mhz)
    extra = model.overhead(c.total, a.total, device)
    total = pair_resources(c.total, a.total, device, model)
    return PairCost(
        compressed=c,
        accurate=a,
        overhead=extra,
        total=total,
        device=device,
        cmp_time=ServiceTime.from_cycles(
            c.cycles_per_frame, c.latency_cycles, c.clock_mhz, pipelined=pipelined
        ),
        acc_time=ServiceTime.from_cycles(
            a.cycles_per_frame, a.latency_cycles, a.clock_mhz, pipelined=pipelined
        ),
        overhead_model=model,
    )


def pair_stream(
    evaluator: Any,
    pair: TwinPair,
    *,
    split: str = "val",
    margin: Margin | str = Margin.RAW,
) -> TwinStream:
    """Both halves' logits on `split` from a `dse.nn.AccuracyEvaluator` (computed once),
    validated as class scores, with the workload's labels."""
    cmp_out = evaluator.outputs(pair.compressed, split=split)
    acc_out = evaluator.outputs(pair.accurate, split=split)
    labels = evaluator.workload.labels(split)
    return TwinStream.from_outputs(cmp_out, acc_out, labels, margin=margin)


@dataclass(frozen=True)
class SweepReport:
    """Everything `dse twin-sweep` shows: the pair, its cost, the curve over T and the most
    balanced point."""

    workload: str
    pair: TwinPair
    cost: PairCost
    results: list[TwinResult]
    balanced: int
    margin: Margin
    split: str
    cap_pct: float

    @property
    def best(self) -> TwinResult:
        return self.results[self.balanced]


def run_twin_sweep(
    workload: str,
    device_name: str,
    *,
    compressed: Path | None = None,
    accurate: Path | None = None,
    thresholds: Sequence[float] | None = None,
    points: int = 41,
    margin: Margin | str = Margin.RAW,
    pipelined: bool = False,
    clock_mhz: float | None = None,
    template: Template = Template.DATAFLOW,
    overhead: OverheadModel | None = None,
    cap_pct: float = 100.0,
    finetune_steps: int | None = None,
    seed: int = 0,
    split: str = "val",
    cache_dir: Path | None = None,
    halves: tuple[Network, Network] | None = None,
) -> SweepReport:
    """Load the workload and the two halves (spec files, else `default_pair`), check the
    pair fits `device_name` within `cap_pct` (overhead included) before any torch work,
    compute both halves' outputs once and simulate every threshold. `halves` (compressed,
    accurate) replaces both spec files."""
    from costmodels.devices import get_device
    from dse.spec import load_network

    ts = None if thresholds is None else [check_threshold(t) for t in thresholds]
    kind = Margin(margin)
    if not 0 < cap_pct <= 100:
        raise ConfigError(f"cap {cap_pct} must be a percentage in (0, 100]")
    device = get_device(device_name)
    if compressed is not None:
        check_compressed(load_network(compressed))  # fail fast, before torch
    from dse import nn as dnn

    network = dnn.prepare_network(workload, seed=seed)  # structure only: no training yet
    base = default_pair(network)
    if halves is not None:  # a stored twin trial's halves (`--study/--trial`)
        pair = TwinPair(*halves)
    else:
        pair = TwinPair(
            load_network(compressed) if compressed is not None else base.compressed,
            load_network(accurate) if accurate is not None else base.accurate,
        )
    check_same_workload(network, pair.accurate)
    cost = pair_cost(
        pair,
        device,
        clock_mhz=clock_mhz,
        template=template,
        pipelined=pipelined,
        overhead=overhead,
    )
    cost.check_fits(cap_pct)
    wl = dnn.load_workload(workload, cache_dir=cache_dir, seed=seed)
    steps = dnn.DEFAULT_FINETUNE_STEPS if finetune_steps is None else finetune_steps
    evaluator = dnn.AccuracyEvaluator(wl, finetune_steps=steps, seed=seed)
    stream = pair_stream(evaluator, pair, split=split, margin=kind)
    results, balanced = threshold_sweep(stream, cost.cmp_time, cost.acc_time, ts, points=points)
    return SweepReport(workload, pair, cost, results, balanced, kind, split, cap_pct)
