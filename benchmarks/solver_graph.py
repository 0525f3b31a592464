"""The folding solver on graph-shaped networks (concats, parallel branches): per network,
device and objective set, whether the front is exact (the graph DP) or a bound (the
relaxed DP, with its certified gap), the front's size, the largest partial front kept
and the CPU time of `solve` (CPU time: the least sensitive to other load on a shared
machine; the load average is printed).

Networks: examples/inception-mini.yaml (two branches into a concat), tests/fixtures/
graph_net.yaml (projection shortcut, concat, depthwise), and `inception3`, a stem and
three branches (1x1; 3x3; 1x1 then 3x3) into a three-way concat, built here.
Limits: the search's defaults (`search_spaces.SpaceLimits`), cost-only (RCCM a hardware
option). Run: python benchmarks/solver_graph.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import yaml

from costmodels import get_device
from costmodels.solver import HardwareLimits, SolverError, solve
from costmodels.types import LayerChoice, LayerSpec, Network, Op
from dse.spec import load_network, network_from_dict
from search_spaces import SpaceLimits

ROOT = Path(__file__).resolve().parents[1]


def inception3() -> Network:
    ch = LayerChoice(w_bits=4, a_bits=4)
    return Network(
        "inception3",
        (3, 16, 16),
        8,
        (
            LayerSpec("stem", Op.CONV, out_channels=16, kernel=3, padding=1, choice=ch),
            LayerSpec("pool0", Op.MAXPOOL, kernel=2),
            LayerSpec("b1", Op.CONV, out_channels=8, kernel=1, choice=ch),
            LayerSpec("b2", Op.CONV, out_channels=8, kernel=3, padding=1, source="pool0",
                      choice=ch),
            LayerSpec("b3a", Op.CONV, out_channels=8, kernel=1, source="pool0", choice=ch),
            LayerSpec("b3b", Op.CONV, out_channels=8, kernel=3, padding=1, choice=ch),
            LayerSpec("cat", Op.CONCAT, inputs=("b1", "b2", "b3b")),
            LayerSpec("gap", Op.AVGPOOL, kernel=8),
            LayerSpec("fc", Op.DENSE, out_channels=10, choice=LayerChoice(w_bits=4)),
        ),
    )  # fmt: skip


def main() -> None:
    lim = SpaceLimits()
    limits = HardwareLimits(lim.max_pe, lim.max_simd, lim.max_mmv, lim.arith, False)
    nets = [
        load_network(str(ROOT / "examples" / "inception-mini.yaml")),
        network_from_dict(yaml.safe_load((ROOT / "tests/fixtures/graph_net.yaml").read_text())),
        inception3(),
    ]
    print(f"load average at start: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    for net in nets:
        for part in ("XC7Z020", "XCZU7EV"):
            for objectives in (("fps", "lut"), ("latency_ms", "lut")):
                t0 = time.process_time()
                try:
                    res = solve(net, get_device(part), objectives=objectives, limits=limits)
                except SolverError as exc:
                    cpu = time.process_time() - t0
                    print(f"{net.name:15s} {part:8s} {objectives[0]:10s} refused ({exc}) "
                          f"cpu {cpu:.2f} s")  # fmt: skip
                    continue
                cpu = time.process_time() - t0
                kind = "exact" if res.exact else f"bound, gap {res.gap:.2%}"
                print(f"{net.name:15s} {part:8s} {objectives[0]:10s} {kind:18s} "
                      f"points {len(res.points):3d} states_max {res.states_max:7d} "
                      f"options {res.options:4d} cpu {cpu:.2f} s")  # fmt: skip
    print(f"load average at end: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
