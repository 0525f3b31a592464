"""The streaming dataflow template (FINN, Faraone thesis ch. 4, ELB-NN): one hardware unit
per layer, all running concurrently on a stream; FIFOs between units; a fixed shell.

Throughput = clock / the slowest unit's cycles per frame; latency = the units' pipeline
fill plus what remains of the bottleneck's frame time (FINN's convention of summing
unit cycles for layers that need their whole input, like dense layers).
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace

from costmodels.memory import fifo_cost
from costmodels.mvau import (
    Part,
    mvau_cycles,
    mvau_fill_cycles,
    mvau_parts,
    parts_breakdown,
    parts_total,
)
from costmodels.pool import add_cost, pool_cost
from costmodels.swu import swu_cycles, swu_resources
from costmodels.types import Device, LayerCost, NetworkCost, Op, ResolvedLayer, Resources
from costmodels.util import sum_resources

#: Depth of the FIFO between two units: FINN's default shallow FIFOs (InsertFIFO; depth
#: 32 before FIFO sizing), one SRLC32E deep.
STREAM_FIFO_DEPTH = 32


def shell_resources(device: Device) -> Resources:
    """The infrastructure around the accelerator, per device family.

    - Zynq-7000 / Zynq UltraScale+ (PYNQ-style shell: PS, AXI DMA or FINN IODMA, AXI
      interconnect): 4,000 LUT, 5,000 FF, 4 BRAM18. ASSUMPTION: no seed row isolates the
      shell; the order of magnitude of a Xilinx AXI DMA plus SmartConnect (PG021, PG247
      resource tables: a few thousand LUTs).
    - Kintex UltraScale PCIe card (Faraone thesis Table 6.6: "PCIe uses 48 DSP + 100
      BRAM"): 48 DSP, 200 BRAM18, and 15,000 LUT (ASSUMPTION; Table 6.6's smallest design,
      a whole 8-bit DSP layer, totals 36.2k LUT, which bounds it).
    - Alveo (XDMA shell): 48 DSP, 200 BRAM18, 15,000 LUT as for the PCIe card
      (ASSUMPTION; the static region itself is excluded from the user-visible totals).
    """
    family = device.family.lower()
    if "zynq" in family or device.family == "user":
        return Resources(lut=4000.0, ff=5000.0, bram18=4.0)
    return Resources(lut=15000.0, ff=20000.0, dsp=48.0, bram18=200.0)


def _unit_parts(layer: ResolvedLayer, device: Device, in_lanes: int) -> tuple[Part, ...]:
    fifo = fifo_cost(in_lanes * layer.in_bits, STREAM_FIFO_DEPTH, device)
    parts = (
        *mvau_parts(layer, device),
        ("fifo_in", fifo.lut, fifo.ff, 0.0, fifo.bram18, fifo.uram),
    )
    if layer.op is Op.CONV:
        w = swu_resources(layer, device)
        parts = (("window", w.lut, w.ff, w.dsp, w.bram18, w.uram), *parts)
    return parts


@functools.lru_cache(maxsize=16384)
def compute_unit_cost(layer: ResolvedLayer, device: Device, in_lanes: int) -> LayerCost:
    """A conv layer's sliding window + MVAU, or a dense layer's MVAU, with its input FIFO
    (`in_lanes` values of the input width per word). No breakdown (see
    `compute_unit_breakdown`): this is the search's hot path."""
    mv_cycles = mvau_cycles(layer)
    cycles = max(mv_cycles, swu_cycles(layer)) if layer.op is Op.CONV else mv_cycles
    res = parts_total(_unit_parts(layer, device, in_lanes))
    fill = min(mvau_fill_cycles(layer, mv_cycles), cycles + 16)
    return LayerCost(layer.name, layer.op, res, cycles, fill)


def compute_unit_breakdown(
    layer: ResolvedLayer, device: Device, in_lanes: int
) -> tuple[tuple[str, Resources], ...]:
    """Per-component cost of a compute unit (window, MVAU parts, input FIFO)."""
    return parts_breakdown(_unit_parts(layer, device, in_lanes))


def _out_lanes(layer: ResolvedLayer, in_lanes: int) -> int:
    """Values per word of a unit's output stream."""
    if layer.op.is_compute:
        c = layer.choice
        return c.pe * (c.mmv if layer.op is Op.CONV else 1)
    return max(1, math.gcd(layer.out_channels, in_lanes))


@functools.lru_cache(maxsize=256)
def estimate_dataflow(
    network_name: str,
    layers: tuple[ResolvedLayer, ...],
    device: Device,
    clock_mhz: float,
    detail: bool = False,
) -> NetworkCost:
    """The dataflow accelerator of `layers` on `device` at `clock_mhz` (memoised: the
    search re-scores identical designs often). `detail` fills each compute unit's
    per-component breakdown (slower; for reports)."""
    costs: list[LayerCost] = []
    resources: list[Resources] = []
    first = next((rl for rl in layers if rl.op.is_compute), None)
    lanes = first.choice.simd if first is not None else 1
    fill_at: dict[str, int] = {}
    lanes_at: dict[str, int] = {}
    fill = 0
    for rl in layers:
        if rl.op.is_compute:
            cost = compute_unit_cost(rl, device, lanes)
            if detail:
                cost = replace(cost, breakdown=compute_unit_breakdown(rl, device, lanes))
        elif rl.op in (Op.MAXPOOL, Op.AVGPOOL):
            cost = pool_cost(rl, device, lanes)
        else:
            src = rl.spec.source or ""
            branch_fill = fill - fill_at.get(src, 0)
            src_lanes = lanes_at.get(src, lanes)
            width = max(1, math.gcd(rl.out_channels, src_lanes)) * rl.in_bits
            depth = max(STREAM_FIFO_DEPTH, branch_fill)
            cost = add_cost(rl, device, lanes, fifo_cost(width, depth, device))
        costs.append(cost)
        resources.append(cost.resources)
        fill += cost.latency_cycles
        lanes = _out_lanes(rl, lanes)
        fill_at[rl.name] = fill
        lanes_at[rl.name] = lanes
    shell = shell_resources(device)
    resources.append(shell)
    ii = max(c.cycles for c in costs)
    latency = fill + max(0, *(c.cycles - c.latency_cycles for c in costs))
    return NetworkCost(
        network=network_name,
        device=device,
        clock_mhz=clock_mhz,
        layers=tuple(costs),
        shell=shell,
        total=sum_resources(resources),
        cycles_per_frame=ii,
        latency_cycles=max(latency, ii),
    )
