"""Structural pruning that respects the graph: which output channels must be pruned together.

Channels are tied when a residual `add` sums them, when a depthwise conv carries them
through (its output channel c is its input channel c), when a `concat` stacks them into a
wider tensor, or when a grouped conv reads or writes them in `groups` equal blocks. This is
the dependency-graph view of structural pruning (Fang et al., "DepGraph: Towards Any
Structural Pruning", CVPR 2023, the method of the torch-pruning library): pruning one
channel of a group removes it from every layer of the group, or the network no longer
adds up.

A `PruneGroup` is one such channel space. Its kept count is decided once, by its first
producing compute layer (the *leader*, the only one the search gives a `prune` parameter):
`kept_channels(n, ratio, q)` with q the least common multiple of the producing layers' PEs
(N % PE == 0 after pruning, Faraone thesis sec. 4.5.2) and of the grouped convs' `groups`
(each block keeps as many). A depthwise conv carrying the channels folds the kept count:
its PE is a divisor of it (the search space picks it after pruning, `resolve` checks it).
`tie_pruning` writes that count into every member's `prune`, so that `resolve`, the cost
model and the torch evaluation all read the same sizes.

A group is not prunable when it holds the network input, the network output (the classes),
or channels whose layout cannot be kept consistent (a grouped conv reading a concatenation,
an add of differently concatenated tensors).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

from costmodels.network import INPUT, kept_channels, layer_inputs
from costmodels.types import LayerChoice, LayerSpec, Network, Op


@dataclass(frozen=True)
class PruneGroup:
    """Output channels pruned as one: `members` are the conv/dense layers producing them
    (in layer order; the first is the leader), `carriers` the depthwise convs passing them
    through, `blocks` the number of equal blocks each kept count is balanced over."""

    index: int
    channels: int
    members: tuple[str, ...]
    carriers: tuple[str, ...]
    blocks: int
    prunable: bool
    reason: str = ""

    @property
    def leader(self) -> str | None:
        return self.members[0] if self.members else None


@dataclass(frozen=True)
class ChannelLayout:
    """Where each tensor's channels come from: `(group index, channels)` segments in order
    (a concat has several; anything else one). Feature vectors (dense outputs) are one
    segment too."""

    segments: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class PruneGraph:
    """The prune groups of a network and every layer's output channel layout."""

    groups: tuple[PruneGroup, ...]
    layouts: dict[str, ChannelLayout]
    group_of: dict[str, int]  # compute layer (member) -> group index

    def group(self, layer: str) -> PruneGroup | None:
        i = self.group_of.get(layer)
        return None if i is None else self.groups[i]


def _structure(network: Network) -> tuple[object, ...]:
    return (
        network.input_shape,
        tuple(
            (la.name, la.op, la.out_channels, la.groups, la.source, la.inputs)
            for la in network.layers
        ),
    )


def prune_graph(network: Network) -> PruneGraph:
    """The prune groups of `network` (memoised on its structure: choices do not matter)."""
    return _prune_graph(_structure(network), network.layers, tuple(network.input_shape))


@functools.lru_cache(maxsize=64)
def _prune_graph(
    key: tuple[object, ...], layers: tuple[LayerSpec, ...], input_shape: tuple[int, ...]
) -> PruneGraph:
    del key  # the cache key: layers differ in choices only
    parent: list[int] = []
    size: list[int] = []
    blocks: list[int] = []
    bad: dict[int, str] = {}

    def new(n: int) -> int:
        parent.append(len(parent))
        size.append(n)
        blocks.append(1)
        return len(parent) - 1

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
            blocks[ra] = math.lcm(blocks[ra], blocks[rb])
            if rb in bad:
                bad.setdefault(ra, bad[rb])

    def mark(layout: tuple[tuple[int, int], ...], why: str) -> None:
        for g, _ in layout:
            bad.setdefault(find(g), why)

    layouts: dict[str, tuple[tuple[int, int], ...]] = {}
    inp = new(input_shape[0])
    bad[inp] = "the network input"
    layouts[INPUT] = ((inp, input_shape[0]),)
    producers: dict[int, list[str]] = {}
    carriers: dict[int, list[str]] = {}
    for layer, ins in zip(layers, layer_inputs(layers), strict=True):
        src = [layouts.get(i, ()) for i in ins]
        if any(not s for s in src):
            # an unknown input: `resolve` reports it; nothing here is prunable
            layouts[layer.name] = ((new(1), 1),)
            mark(layouts[layer.name], "an unresolved layer")
            continue
        first = src[0]
        channels = sum(n for _, n in first)
        if layer.op is Op.CONV:
            g = max(1, layer.groups)
            if g > 1 and g == channels and layer.out_channels == channels:  # depthwise
                for gi, _ in first:
                    carriers.setdefault(gi, []).append(layer.name)
                layouts[layer.name] = first
                continue
            if g > 1:
                if len(first) > 1:
                    mark(first, f"grouped conv {layer.name!r} reads a concatenation")
                else:
                    r = find(first[0][0])
                    blocks[r] = math.lcm(blocks[r], g)
            out = new(layer.out_channels)
            blocks[out] = g
            producers.setdefault(out, []).append(layer.name)
            layouts[layer.name] = ((out, layer.out_channels),)
        elif layer.op is Op.DENSE:
            out = new(layer.out_channels)
            producers.setdefault(out, []).append(layer.name)
            layouts[layer.name] = ((out, layer.out_channels),)
        elif layer.op is Op.ADD:
            a, b = src[0], src[1] if len(src) > 1 else src[0]
            if [n for _, n in a] == [n for _, n in b]:
                for (ga, _), (gb, _) in zip(a, b, strict=True):
                    union(ga, gb)
            else:
                mark(a + b, f"add {layer.name!r} sums differently concatenated channels")
            layouts[layer.name] = a
        elif layer.op is Op.CONCAT:
            layouts[layer.name] = tuple(seg for s in src for seg in s)
        else:  # pooling keeps the channels
            layouts[layer.name] = first
    if layers:
        mark(layouts[layers[-1].name], "the network output (the classes)")

    roots: dict[int, int] = {}
    groups: list[PruneGroup] = []
    group_of: dict[str, int] = {}
    order = {la.name: i for i, la in enumerate(layers)}
    members_of: dict[int, list[str]] = {}
    carriers_of: dict[int, list[str]] = {}
    for g, names in producers.items():
        members_of.setdefault(find(g), []).extend(names)
    for g, names in carriers.items():
        carriers_of.setdefault(find(g), []).extend(names)
    for i in range(len(parent)):
        r = find(i)
        if r in roots:
            continue
        members = tuple(sorted(set(members_of.get(r, [])), key=order.__getitem__))
        carried = tuple(sorted(set(carriers_of.get(r, [])), key=order.__getitem__))
        idx = len(groups)
        roots[r] = idx
        reason = bad.get(r, "")
        if not members and not reason:
            reason = "no layer produces them"
        groups.append(
            PruneGroup(
                idx, size[r], members, carried, blocks[r], prunable=not reason, reason=reason
            )
        )
        for m in members:
            group_of[m] = idx
    out_layouts = {
        name: ChannelLayout(tuple((roots[find(g)], n) for g, n in segs))
        for name, segs in layouts.items()
    }
    return PruneGraph(tuple(groups), out_layouts, group_of)


def group_kept(group: PruneGroup, choices: dict[str, LayerChoice]) -> int:
    """The kept channel count of a group under `choices`: the leader's `prune` ratio,
    rounded to a multiple of every producing layer's PE and of `blocks`."""
    if not group.prunable or group.leader is None:
        return group.channels
    leader = choices.get(group.leader)
    ratio = leader.prune if leader is not None else 0.0
    if ratio <= 0.0:
        return group.channels
    q = group.blocks
    for name in group.members:
        c = choices.get(name)
        if c is not None:
            q = math.lcm(q, max(1, c.pe))
    if group.channels % q:
        return group.channels  # an invalid PE: `resolve` reports it
    return kept_channels(group.channels, ratio, q)


def is_trivial(group: PruneGroup) -> bool:
    """A group of one producing layer, nothing carried, no blocks: per-layer pruning."""
    return group.prunable and len(group.members) == 1 and not group.carriers and group.blocks == 1


def tie_pruning(network: Network) -> Network:
    """`network` with every prune group's members pruned alike (see the module docstring):
    each member's `prune` becomes exactly `1 - kept/n` (which `kept_channels` maps back to
    `kept` for any PE dividing it), carriers and unprunable groups get 0. Groups of one
    layer are left as given, so a chain network is returned unchanged."""
    graph = prune_graph(network)
    choices = {la.name: la.choice for la in network.compute_layers if la.choice is not None}
    new: dict[str, LayerChoice] = {}
    for group in graph.groups:
        if is_trivial(group):
            continue
        kept = group_kept(group, choices)
        ratio = 0.0 if kept >= group.channels else 1.0 - kept / group.channels
        for name in (*group.members, *group.carriers):
            c = choices.get(name)
            if c is None:
                continue
            target = 0.0 if name in group.carriers else ratio
            if c.prune != target:
                new[name] = replace(c, prune=target)
    return network.with_choices(new) if new else network
