"""Microseconds per `costmodels.estimate` call for a 50-layer network (and per layer).

Prints three figures: warm (the same design again: per-layer caches hit), cold (every
call a new random folding/bit-width per layer, as a search produces: most layers miss
the caches), and shape resolution alone. Run: python benchmarks/costmodel_speed.py
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import replace

from costmodels import (
    LayerChoice,
    LayerSpec,
    Network,
    Op,
    Template,
    estimate,
    get_device,
    resolve,
    valid_pe,
    valid_simd,
)
from costmodels.dataflow import compute_unit_cost, estimate_dataflow
from costmodels.fastpath import _lane_cost, _resolve_layer, compute_unit_numbers
from costmodels.memory import fifo_cost, fifo_numbers, memory_blocks, place_memory
from costmodels.mvau import mvau_cost, mvau_parts


def fifty_layer_network() -> Network:
    """47 3x3 convs (64-256 channels, padding 1) with 2 max pools and a dense head."""
    layers: list[LayerSpec] = []
    ch = 64
    for i in range(47):
        if i in (16, 32):
            layers.append(LayerSpec(f"pool{i}", Op.MAXPOOL, kernel=2))
            ch *= 2
        layers.append(
            LayerSpec(
                f"conv{i}",
                Op.CONV,
                out_channels=ch,
                kernel=3,
                padding=1,
                choice=LayerChoice(w_bits=2, a_bits=2, pe=16, simd=16 if i else 3),
            )
        )
    layers.append(
        LayerSpec("fc", Op.DENSE, out_channels=10, choice=LayerChoice(4, None, pe=2, simd=16))
    )
    return Network("fifty", (3, 32, 32), 8, tuple(layers))


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
    for f in (
        compute_unit_cost,
        mvau_cost,
        mvau_parts,
        place_memory,
        fifo_cost,
        _resolve_layer,
        estimate_dataflow,
        compute_unit_numbers,
        _lane_cost,
        memory_blocks,
        fifo_numbers,
    ):
        f.cache_clear()


def main() -> None:
    net = fifty_layer_network()
    n_layers = len(net.layers)
    dev = get_device("zcu104")
    rng = random.Random(0)
    variants = [random_variant(net, rng) for _ in range(300)]

    estimate(net, dev)
    reps = 2000
    t0 = time.perf_counter()
    for _ in range(reps):
        estimate(net, dev)
    warm = (time.perf_counter() - t0) / reps * 1e6

    _clear()
    t0 = time.perf_counter()
    for v in variants:
        estimate(v, dev)
    cold = (time.perf_counter() - t0) / len(variants) * 1e6

    _clear()
    walk = [net]
    for _ in range(300):
        walk.append(mutate(walk[-1], rng, 5))
    t0 = time.perf_counter()
    for v in walk:
        estimate(v, dev)
    local = (time.perf_counter() - t0) / len(walk) * 1e6

    t0 = time.perf_counter()
    for _ in range(reps):
        resolve(net)
    res = (time.perf_counter() - t0) / reps * 1e6

    t0 = time.perf_counter()
    for _ in range(reps // 4):
        estimate(net, dev, template=Template.ENGINES)
    eng = (time.perf_counter() - t0) / (reps // 4) * 1e6

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, 1-min load average {load:.1f} (timings scale with it)")
    print(f"network: {n_layers} layers ({len(net.compute_layers)} conv/dense), device {dev.part}")
    for label, us in (
        ("warm (same design)", warm),
        ("cold (new random design)", cold),
        ("5 of 48 layers changed", local),
    ):
        print(f"dataflow estimate, {label:26s} {us:8.1f} us/call  {us / n_layers:6.2f} us/layer")
    print(f"uncached costmodels.resolve() alone:          {res:8.1f} us/call")
    print(f"engines estimate, warm:                       {eng:8.1f} us/call")


if __name__ == "__main__":
    main()
