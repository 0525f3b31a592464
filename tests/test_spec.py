"""The network spec loader/dumper: round trips, one-line errors with suggestions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from costmodels import Arith, FoldingError, SpecError, WType, estimate, get_device, resolve
from costmodels.zoo import cnv_network, tfc_network
from dse.spec import dump_network, load_network, network_from_dict, network_to_dict

EXAMPLES = Path(__file__).parent.parent / "examples"

BASE = {
    "name": "t",
    "input": {"shape": [3, 8, 8], "bits": 8},
    "layers": [
        {
            "name": "c0",
            "op": "conv",
            "out_channels": 8,
            "kernel": 3,
            "w_bits": 2,
            "a_bits": 2,
            "pe": 4,
            "simd": 3,
        },
        {"name": "fc", "op": "dense", "out_features": 4, "w_bits": 4, "a_bits": None},
    ],
}


def _with_layer(i: int, **changes: object) -> dict:
    d = json.loads(json.dumps(BASE))
    d["layers"][i].update(changes)
    return d


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")))
def test_examples_round_trip_with_identical_estimates(path: Path, tmp_path: Path) -> None:
    net = load_network(path)
    again = tmp_path / "again.yaml"
    again.write_text(dump_network(net))
    net2 = load_network(again)
    assert net2 == net
    d = get_device("zcu104")
    assert estimate(net2, d) == estimate(net, d)


def test_zoo_round_trips_through_json(tmp_path: Path) -> None:
    for net in (cnv_network(), tfc_network()):
        p = tmp_path / "n.json"
        p.write_text(json.dumps(network_to_dict(net)))
        assert load_network(p) == net


def test_cnv_example_is_the_zoo_network() -> None:
    assert load_network(EXAMPLES / "cnv-w1a1.yaml") == cnv_network()
    assert len(cnv_network().compute_layers) == 9


def test_fields_are_parsed() -> None:
    net = network_from_dict(_with_layer(0, w_type="int", arith="rccm3", prune=0.25, mmv=2))
    c = net.layers[0].choice
    assert c is not None
    assert (c.w_type, c.arith, c.prune, c.mmv) == (WType.INT, Arith.RCCM3, 0.25, 2)
    assert net.layers[1].choice is not None and net.layers[1].choice.a_bits is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with_layer(0, kernal=3), "unknown key 'kernal'; did you mean 'kernel'?"),
        (
            _with_layer(1, out_channels=4),
            "key 'out_channels' does not apply here; did you mean 'out_features'?",
        ),
        (_with_layer(0, op="conv2d"), "did you mean 'conv'?"),
        (_with_layer(0, arith="rcm2"), "did you mean 'rccm2'?"),
        (_with_layer(0, pe="4"), "layer 'c0': pe must be an integer"),
        ({**BASE, "layres": []}, "unknown key 'layres'; did you mean 'layers'?"),
        ({**BASE, "layers": []}, "has no layers"),
        ({k: v for k, v in BASE.items() if k != "input"}, "missing key 'input'"),
        (_with_layer(1, out_features=None), "out_features must be an integer"),
        (_with_layer(0, prune=1.0), "prune=1.0 must be in [0, 1)"),
    ],
)
def test_bad_specs_raise_one_line(data: dict, message: str) -> None:
    with pytest.raises(SpecError) as info:
        network_from_dict(data)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_a_bits_and_w_bits() -> None:
    d = json.loads(json.dumps(BASE))
    del d["layers"][0]["a_bits"]
    with pytest.raises(SpecError, match="layer 'c0': missing key 'a_bits'"):
        network_from_dict(d)
    d = json.loads(json.dumps(BASE))
    del d["layers"][1]["w_bits"]
    with pytest.raises(SpecError, match="layer 'fc': missing key 'w_bits'"):
        network_from_dict(d)


def test_semantic_errors_surface_from_resolve() -> None:
    with pytest.raises(
        FoldingError, match=r"layer 'c0': PE=3 does not divide .* valid: 1, 2, 4, 8"
    ):
        resolve(network_from_dict(_with_layer(0, pe=3)))
    with pytest.raises(SpecError, match="w_bits=17 is out of range"):
        resolve(network_from_dict(_with_layer(0, w_bits=17)))
    with pytest.raises(SpecError, match="empty output"):
        resolve(network_from_dict(_with_layer(0, kernel=11)))


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found"):
        load_network(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_network(bad)
