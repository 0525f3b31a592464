"""Microseconds per `costmodels.estimate` call for a 50-layer network (and per layer).

Prints three figures: warm (the same design again: per-layer caches hit), cold (every
call a new random folding/bit-width per layer, as a search produces: most layers miss
the caches; all memos emptied first), 5 of 48 layers changed per call (a local search
move), then shape resolution alone and the engines template. Each figure is the best of
5 rounds with the median in brackets (the machine's load average is printed: other
processes inflate wall-clock times). Run: python benchmarks/costmodel_speed.py
"""

from __future__ import annotations

import functools
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's costmodels
from costmodels import (
    Network,
    Template,
    estimate,
    get_device,
    resolve,
    valid_pe,
    valid_simd,
)
from costmodels.dataflow import compute_unit_cost, estimate_dataflow
from costmodels.fastpath import _lane_cost, _resolve_layer, clear_recent_units
from costmodels.memory import fifo_cost, fifo_numbers, memory_blocks, place_memory
from costmodels.mvau import mvau_cost, mvau_parts
from costmodels.pool import add_cost, pool_cost
from costmodels.zoo import fifty_layer_network


def random_variant(net: Network, rng: random.Random) -> Network:
    resolved = {rl.name: rl for rl in resolve(net)}
    choices = {}
    for layer in net.compute_layers:
        rl = resolved[layer.name]
        c = layer.choice
        assert c is not None
        choices[layer.name] = replace(
            c,
            pe=rng.choice(valid_pe(rl)),
            simd=rng.choice(valid_simd(rl)),
            w_bits=rng.randint(1, 8),
            a_bits=rng.randint(1, 4) if c.a_bits is not None else None,
        )
    return net.with_choices(choices)


def mutate(net: Network, rng: random.Random, k: int) -> Network:
    """`net` with `k` compute layers given a new random choice (a search's local move)."""
    other = random_variant(net, rng)
    names = rng.sample([layer.name for layer in net.compute_layers], k)
    new = {layer.name: layer.choice for layer in other.compute_layers if layer.name in names}
    return net.with_choices({n: c for n, c in new.items() if c is not None})


def _clear() -> None:
    """Empty every memo of the dataflow path (per unit, per layer and the memory/lane
    lookups), so that the next estimate pays for everything again."""
    for f in (
        compute_unit_cost,
        mvau_cost,
        mvau_parts,
        place_memory,
        fifo_cost,
        _resolve_layer,
        estimate_dataflow,
        _lane_cost,
        memory_blocks,
        fifo_numbers,
        pool_cost,
        add_cost,
    ):
        f.cache_clear()
    clear_recent_units()


ROUNDS = 5


def _timed(calls: list[Callable[[], object]], clear: bool) -> tuple[float, float, float]:
    """(best, median, best CPU) microseconds per call over `ROUNDS` rounds of `calls`,
    emptying the memos before each round when `clear`. The best round is the least
    disturbed by other processes on a loaded machine (as `timeit` recommends); the median
    shows the spread; CPU time (this process only) is the least sensitive to the load."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(ROUNDS):
        if clear:
            _clear()
        t0, c0 = time.perf_counter(), time.process_time()
        for call in calls:
            call()
        wall.append((time.perf_counter() - t0) / len(calls) * 1e6)
        cpu.append((time.process_time() - c0) / len(calls) * 1e6)
    return min(wall), statistics.median(wall), min(cpu)


def main() -> None:
    net = fifty_layer_network()
    n_layers = len(net.layers)
    dev = get_device("zcu104")
    rng = random.Random(0)
    variants = [random_variant(net, rng) for _ in range(300)]
    walk = [net]
    for _ in range(300):
        walk.append(mutate(walk[-1], rng, 5))

    estimate(net, dev)
    warm = _timed([lambda: estimate(net, dev)] * 1000, clear=False)
    cold = _timed([functools.partial(estimate, v, dev) for v in variants], clear=True)
    local = _timed([functools.partial(estimate, v, dev) for v in walk], clear=True)
    res = _timed([lambda: resolve(net)] * 1000, clear=False)
    eng = _timed([lambda: estimate(net, dev, template=Template.ENGINES)] * 500, clear=False)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, 1-min load average {load:.1f} (timings scale with it)")
    print(f"network: {n_layers} layers ({len(net.compute_layers)} conv/dense), device {dev.part}")
    print(f"wall-clock best of {ROUNDS} rounds (median; best CPU time of this process):")
    for label, (best, median, cpu) in (
        ("warm (same design)", warm),
        ("cold (new random design)", cold),
        ("5 of 48 layers changed", local),
        ("uncached resolve() alone", res),
        ("engines template, warm", eng),
    ):
        print(
            f"{label:26s} {best:8.1f} us/call ({median:7.1f}; CPU {cpu:7.1f})"
            f"  {best / n_layers:6.2f} us/layer"
        )


if __name__ == "__main__":
    main()
