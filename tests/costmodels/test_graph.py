"""Networks with branches: `from` on any layer, `concat`, projection shortcuts, depthwise
and grouped convs; their cost units (DuplicateStreams, StreamingConcat, AddStreams) and
prune groups."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from costmodels import estimate, get_device
from costmodels.errors import SpecError
from costmodels.network import resolve
from costmodels.pruning import prune_graph, tie_pruning
from costmodels.types import Network, Op
from dse.spec import dump_network, network_from_dict

SPEC = yaml.safe_load((Path(__file__).parents[1] / "fixtures" / "graph_net.yaml").read_text())


def net() -> Network:
    return network_from_dict(SPEC)


def test_shapes_through_branches_and_concat() -> None:
    shapes = {r.name: r.out_shape for r in resolve(net())}
    assert shapes["proj"] == (16, 4, 4) == shapes["add1"]
    assert shapes["cat"] == (24, 4, 4)
    assert shapes["gap"] == (24, 1, 1)


def test_spec_round_trip_keeps_from_and_concat() -> None:
    import yaml

    from dse.spec import load_network  # noqa: F401  (same parser as files)

    again = network_from_dict(yaml.safe_load(dump_network(net())))
    assert again == net()


def test_units_for_fanout_concat_and_add() -> None:
    cost = estimate(net(), get_device("zcu104"), detail=True)
    units = {c.name: c for c in cost.layers}
    # stem feeds c1 and proj, add1 feeds b1 and cat: a DuplicateStreams unit each
    assert "duplicate" in dict(units["stem"].breakdown)
    assert "duplicate" in dict(units["add1"].breakdown)
    assert "duplicate" not in dict(units["c1"].breakdown)
    assert units["cat"].op is Op.CONCAT
    # StreamingConcat moves H*W*sum(C)/lanes words; lanes = gcd(add1's 4, b1's PE 1) = 1
    assert units["cat"].cycles == 4 * 4 * 24
    # the fast path declines graphs; the canonical one gives the same numbers without detail
    plain = estimate(net(), get_device("zcu104"))
    assert plain.total == cost.total and plain.latency_cycles == cost.latency_cycles


def test_parallel_branch_does_not_add_to_the_pipeline_fill() -> None:
    cost = estimate(net(), get_device("zcu104"), detail=True)
    fill = {c.name: c.latency_cycles for c in cost.layers}
    serial = sum(fill.values())
    # proj runs beside c1 -> c2: the whole fill is below the serial sum by at least proj's
    assert (
        cost.latency_cycles - max(0, *(c.cycles - c.latency_cycles for c in cost.layers))
        <= serial - fill["proj"]
    )


def test_prune_groups_tie_residual_members_and_carry_depthwise() -> None:
    graph = prune_graph(net())
    g = graph.group("c2")
    assert g is not None and g.members == ("c2", "proj") and g.prunable
    assert g.carriers == ("dw",)  # through the concat: dw's first 16 channels are these
    b1 = graph.group("b1")
    assert b1 is not None and b1.carriers == ("dw",) and b1.prunable
    assert not graph.group("fc").prunable  # type: ignore[union-attr]


def test_tie_pruning_rounds_to_every_members_pe_and_is_idempotent() -> None:
    n = net()
    c2 = n.layers[2].choice
    assert c2 is not None
    n = n.with_choices({"c2": replace(c2, prune=0.3)})
    tied = tie_pruning(n)
    kept = {r.name: r.out_channels for r in resolve(tied)}
    # lcm(PE 4, PE 2) = 4: 16 * 0.7 = 11.2 -> 12
    assert kept["c2"] == kept["proj"] == 12
    assert tie_pruning(tied) == tied
    # untied, the add refuses the mismatch
    with pytest.raises(SpecError, match="cannot add"):
        resolve(n)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"name": "cat", "op": "concat", "from": ["add1"]}, "2 or more"),
        ({"name": "cat", "op": "concat", "from": ["add1", "nope"]}, "not an earlier layer"),
        ({"name": "cat", "op": "concat", "from": ["add1", "stem"]}, "equal H, W"),
        ({"name": "cat", "op": "concat", "from": "add1"}, "from: [a, b, ...]"),
    ],
)
def test_bad_concat_is_one_line(change: dict[str, object], words: str) -> None:
    layers = [change if la["name"] == "cat" else la for la in SPEC["layers"]]  # type: ignore[attr-defined]
    with pytest.raises(SpecError) as info:
        resolve(network_from_dict({**SPEC, "layers": layers}))
    assert words in str(info.value)


def test_dangling_branch_is_refused() -> None:
    layers = list(SPEC["layers"])  # type: ignore[call-overload]
    layers.insert(
        1, {"name": "lost", "op": "conv", "out_channels": 4, "kernel": 1, "w_bits": 4, "a_bits": 4}
    )
    layers[2] = {**layers[2], "from": "stem"}
    with pytest.raises(SpecError, match="never read"):
        resolve(network_from_dict({**SPEC, "layers": layers}))
