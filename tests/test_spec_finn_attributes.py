"""FINN's implementation attributes and data types in the spec (issue 10): ram_style,
mem_mode, impl, a_type, input type, w_type int; what each does to the estimate; one-line
errors naming the valid values."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from costmodels import (
    Arith,
    Impl,
    LayerChoice,
    LayerSpec,
    MemMode,
    Network,
    NumType,
    Op,
    RamStyle,
    SpecError,
    WType,
    estimate,
    estimate_finn,
    get_device,
    resolve,
)
from costmodels.arith import resolve_arith
from costmodels.mvau import mvau_breakdown
from dse.spec import dump_network, network_from_dict

PYNQ = get_device("pynq-z2")

SPEC = {
    "name": "t",
    "input": {"shape": [64], "bits": 8, "type": "signed"},
    "layers": [
        {
            "name": "fc0",
            "op": "dense",
            "out_features": 64,
            "w_bits": 4,
            "w_type": "int",
            "a_bits": 2,
            "a_type": "signed",
            "pe": 4,
            "simd": 8,
            "ram_style": "distributed",
            "mem_mode": "internal_embedded",
            "impl": "hls",
        },
        {
            "name": "fc1",
            "op": "dense",
            "out_features": 10,
            "w_bits": 8,
            "a_bits": None,
            "impl": "rtl",
            "ram_style": "block",
        },
    ],
}


def _spec(**changes: object) -> dict:
    d = json.loads(json.dumps(SPEC))
    d["layers"][0].update(changes)
    return d


def test_fields_parse_and_round_trip() -> None:
    net = network_from_dict(SPEC)
    assert net.input_type is NumType.SIGNED
    c0 = net.layers[0].choice
    assert c0 is not None
    assert (c0.ram_style, c0.mem_mode, c0.impl, c0.a_type, c0.w_type) == (
        RamStyle.DISTRIBUTED,
        MemMode.INTERNAL_EMBEDDED,
        Impl.HLS,
        NumType.SIGNED,
        WType.INT,
    )
    import yaml

    again = network_from_dict(yaml.safe_load(dump_network(net)))
    assert again == net
    rl = resolve(net)
    assert rl[0].input_type is NumType.SIGNED
    assert rl[1].input_type is NumType.SIGNED  # fc0's a_type flows into fc1


def test_defaults_keep_todays_model() -> None:
    """No new key: the same Network (and so the same estimate) as before issue 10."""
    d = _spec()
    for key in ("ram_style", "mem_mode", "impl", "a_type"):
        d["layers"][0].pop(key)
    d["layers"][1].pop("impl")
    d["layers"][1].pop("ram_style")
    d["input"].pop("type")
    net = network_from_dict(d)
    assert net.input_type is None
    assert all(la.choice is not None and la.choice.is_default_impl for la in net.layers)


@pytest.mark.parametrize(
    ("key", "value", "valid"),
    [
        ("ram_style", "bram", "auto, block, distributed, ultra"),
        ("mem_mode", "decoupled", "internal_embedded, internal_decoupled, external"),
        ("impl", "vhdl", "auto, hls, rtl"),
        ("a_type", "int", "unsigned, signed, bipolar"),
        ("w_type", "uint", "bipolar, ternary, int"),
    ],
)
def test_bad_values_name_the_valid_ones(key: str, value: str, valid: str) -> None:
    with pytest.raises(SpecError) as err:
        network_from_dict(_spec(**{key: value}))
    msg = str(err.value)
    assert "\n" not in msg and "fc0" in msg and key in msg and valid in msg


def test_bad_input_type_and_bipolar_widths() -> None:
    d = _spec()
    d["input"]["type"] = "float"
    with pytest.raises(SpecError, match="input: type 'float' is not one of unsigned, signed"):
        network_from_dict(d)
    d["input"]["type"] = "bipolar"
    with pytest.raises(SpecError, match="type bipolar needs bits 1, got 8"):
        network_from_dict(d)
    with pytest.raises(SpecError, match="bipolar activations need a_bits 1, got 2"):
        resolve(network_from_dict(_spec(a_type="bipolar")))
    with pytest.raises(SpecError, match="a_type 'signed' needs a_bits"):
        resolve(network_from_dict(_spec(a_bits=None)))


def _one(
    choice: LayerChoice,
    in_bits: int = 4,
    mw: int = 512,
    mh: int = 64,
    in_type: NumType | None = None,
) -> Network:
    return Network(
        "n", (mw,), in_bits, (LayerSpec("fc", Op.DENSE, mh, choice=choice),), input_type=in_type
    )


def test_ram_style_moves_weights_between_bram_and_lut() -> None:
    """512 x 64 weights of 4 bits, PE 4, SIMD 8: 4 memories 32 bits wide, 1,024 deep.
    block: 2 RAMB18 each (1K x 18 twice) = 8 BRAM18, 0 LUT; distributed: 32 x ceil(1024/64)
    = 512 LUT each = 2,048 LUT, 0 BRAM."""
    base = LayerChoice(w_bits=4, a_bits=4, pe=4, simd=8)
    parts = {}
    for style in (RamStyle.BLOCK, RamStyle.DISTRIBUTED):
        (rl,) = resolve(_one(replace(base, ram_style=style)))
        parts[style] = dict(mvau_breakdown(rl, PYNQ))["weights"]
    assert parts[RamStyle.BLOCK].bram18 == 8 and parts[RamStyle.BLOCK].lut == 0
    assert parts[RamStyle.DISTRIBUTED].lut == 2048 and parts[RamStyle.DISTRIBUTED].bram18 == 0
    blk = estimate(_one(replace(base, ram_style=RamStyle.BLOCK)), PYNQ).total
    dist = estimate(_one(replace(base, ram_style=RamStyle.DISTRIBUTED)), PYNQ).total
    assert dist.lut - blk.lut == pytest.approx(2048) and blk.bram18 - dist.bram18 == 8


def test_external_weights_cost_no_memory_and_ultra_needs_uram() -> None:
    base = LayerChoice(w_bits=4, a_bits=4, pe=4, simd=8)
    (rl,) = resolve(_one(replace(base, mem_mode=MemMode.EXTERNAL)))
    w = dict(mvau_breakdown(rl, PYNQ))["weights"]
    assert (w.lut, w.bram18, w.uram) == (0, 0, 0)
    ultra = estimate(_one(replace(base, ram_style=RamStyle.ULTRA)), PYNQ)
    assert ultra.total.uram == 4 and not ultra.fits(100)  # xc7z020 has no URAM


def test_types_decide_xnor_and_rtl_means_dsp() -> None:
    c = LayerChoice(w_bits=1, a_bits=1)
    assert resolve_arith(c, 1) is Arith.XNOR  # bipolar by default at 1 bit
    assert resolve_arith(c, 1, "", NumType.UNSIGNED) is Arith.LUT  # BINARY {0,1}
    with pytest.raises(SpecError, match="input type unsigned"):
        resolve_arith(replace(c, arith=Arith.XNOR), 1, "fc", NumType.UNSIGNED)
    rtl = LayerChoice(w_bits=4, a_bits=4, impl=Impl.RTL)
    assert resolve_arith(rtl, 4) is Arith.DSP
    with pytest.raises(SpecError, match="impl rtl"):
        resolve_arith(replace(rtl, arith=Arith.LUT), 4, "fc")


def test_finn_estimator_treats_a_1_bit_input_as_bipolar() -> None:
    """FINN's accumulator bound alpha = log2(MW) + W + A - 1 - signed(input): MW = 512,
    W = A = 1: bipolar input 9 -> ceil(9 + log2(1 + 2^-9) + 1) = 11 bits; unsigned (BINARY)
    10 -> 12 bits. The accumulator enters LUTs as 1.1 * PE * acc, so the bipolar estimate
    is 1.1 LUT smaller per PE (int() of the total)."""
    c = LayerChoice(w_bits=1, a_bits=None, pe=1, simd=8)
    bip = estimate_finn(_one(c, in_bits=1), PYNQ).total.lut
    uns = estimate_finn(_one(c, in_bits=1, in_type=NumType.UNSIGNED), PYNQ).total.lut
    assert uns - bip in (1, 2)
