"""Per-layer choices files for `dse evaluate --spec`."""

from __future__ import annotations

from pathlib import Path

import pytest

from costmodels.errors import SpecError
from costmodels.types import Arith, LayerChoice, LayerSpec, Network, Op, WType
from dse.nn.choices import apply_choices, read_choices, read_input_bits, uniform_choices

NET = Network(
    name="t",
    input_shape=(4,),
    input_bits=8,
    layers=(
        LayerSpec("fc1", Op.DENSE, out_channels=8, choice=LayerChoice()),
        LayerSpec("fc2", Op.DENSE, out_channels=2, choice=LayerChoice(a_bits=None)),
    ),
)


def test_mapping_list_and_full_spec_forms(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text("fc1: {w_bits: 2, w_type: int, a_bits: 3, prune: 0.5, arith: RCCM2}\n")
    b = tmp_path / "b.yaml"
    b.write_text("input: {shape: [4], bits: 6}\nlayers:\n"
                 "  - {name: fc1, op: dense, out_features: 8, w_bits: 2, w_type: int, a_bits: 3,"
                 " prune: 0.5, arith: rccm2}\n")  # fmt: skip
    for path in (a, b):
        net = apply_choices(NET, read_choices(path))
        c = net.layers[0].choice
        assert c == LayerChoice(w_bits=2, a_bits=3, w_type=WType.INT, arith=Arith.RCCM2, prune=0.5)
        assert net.layers[1].choice == LayerChoice(a_bits=None)  # untouched
    assert read_input_bits(b) == 6 and read_input_bits(a) is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("fc9: {w_bits: 2}\n", "no compute layer 'fc9'"),
        ("fc1: {wbits: 2}\n", "unknown key 'wbits'"),
        ("fc1: {w_bits: two}\n", "w_bits must be an integer"),
        ("fc1: {arith: abacus}\n", "arith 'abacus' is not one of"),
        ("fc1: 3\n", "must map to its choices"),
        ("- 1\n", "layer #1 must be a mapping"),
        ("fc1: [\n", "cannot read"),
    ],
)
def test_bad_choices_files(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=words.replace("(", r"\(").replace("[", r"\[")):
        apply_choices(NET, read_choices(path))


def test_uniform_choices_keep_raw_logits() -> None:
    net = uniform_choices(NET, 4, 2)
    assert [la.choice for la in net.layers] == [
        LayerChoice(w_bits=4, a_bits=2), LayerChoice(w_bits=4, a_bits=None)
    ]  # fmt: skip
