"""The trial schema (`dse.records`): typed attributes with one codec whose stored form is
the one studies already hold (so older studies stay readable)."""

from __future__ import annotations

from costmodels import estimate, get_device
from costmodels.zoo import tfc_network
from dse.problem import layer_rows
from dse.records import LayerCostRow, TrialAttrs


def test_layer_rows_store_as_compact_lists() -> None:
    cost = estimate(tfc_network(), get_device("pynq-z2"))
    rows = layer_rows(cost)
    first = cost.layers[0]
    assert rows[0] == LayerCostRow(
        "fc0", "dense", round(first.resources.lut, 1), round(first.resources.ff, 1),
        0.0, round(first.resources.bram18, 2), 0.0, first.cycles,
    )  # fmt: skip
    assert rows[0].encode() == [
        "fc0", "dense", rows[0].lut, rows[0].ff, 0.0, rows[0].bram18, 0.0, first.cycles
    ]  # fmt: skip
    assert [LayerCostRow.decode(r.encode()) for r in rows] == list(rows)


def test_trial_attrs_round_trip_in_the_stored_form() -> None:
    row = LayerCostRow("fc0", "dense", 10.5, 3.0, 0.0, 1.0, 0.0, 64)
    attrs = TrialAttrs(
        {"fc0": {"w_bits": 2}},
        cost={"lut": 10.5},
        layers=(row,),
        accuracy=None,
        timing={"cost_s": 0.001},
        status="infeasible",
    )
    stored = attrs.encode()
    assert stored == {
        "candidate": {"fc0": {"w_bits": 2}},
        "cost": {"lut": 10.5},
        "layers": [["fc0", "dense", 10.5, 3.0, 0.0, 1.0, 0.0, 64]],
        "accuracy": None,
        "timing": {"cost_s": 0.001},
        "status": "infeasible",
    }
    assert TrialAttrs.decode(stored) == attrs
    failed = TrialAttrs({"fc0": {}}, error="boom")
    assert failed.encode() == {"candidate": {"fc0": {}}, "error": "boom"}
    assert TrialAttrs.decode(failed.encode()) == failed
