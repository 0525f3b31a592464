"""Thirty named designs and what the cost models say about them, in a fixture a reviewer
can read row by row (tests/fixtures/costmodel_designs.csv): the published BNN-PYNQ and
thesis networks, one small network per unit feature (XNOR, DSP, RCCM, MMV, depthwise,
grouped, pruned, requantizer, residual skip FIFO, URAM), the engines and FINN templates,
and the inputs every path must refuse with a one-line `SpecError` naming the layer.

A change to a formula or a fitted constant changes a few named rows; regenerate them with
`python tests/costmodels/test_cm_designs.py --write` and read the diff. (This replaces a
660 KB snapshot of random designs that kept a second implementation equal to this one.)
Hand-worked arithmetic for single units lives in test_cm_units.py; the reference-data
checks in test_cm_finn_golden.py and benchmarks/calibration.py.
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from costmodels import (
    Arith,
    DseError,
    LayerChoice,
    LayerSpec,
    Network,
    NetworkCost,
    Op,
    SpecError,
    Template,
    WType,
    estimate,
    estimate_finn,
    get_device,
    resolve,
)
from costmodels.dataflow import UNIT_KINDS, unit
from costmodels.engines import EngineConfig
from costmodels.zoo import (
    alexnet_thesis_network,
    cnv_network,
    fifty_layer_network,
    resnet18_main_path,
    tfc_network,
)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "costmodel_designs.csv"
COLUMNS = (
    "lut", "ff", "dsp", "bram18", "uram", "cycles_per_frame", "latency_cycles", "clock_mhz"
)  # fmt: skip


def _dense(name: str, inputs: int, outputs: int, choice: LayerChoice, bits: int = 8) -> Network:
    return Network(name, (inputs,), bits, (LayerSpec("fc", Op.DENSE, outputs, choice=choice),))


def _conv(name: str, choice: LayerChoice, *, groups: int = 1, kernel: int = 3) -> Network:
    """One conv on a 32x16x16 4-bit feature map, padding 1 (3x3) or none (1x1)."""
    layer = LayerSpec(
        "conv", Op.CONV, 32, kernel=kernel, padding=kernel // 2, groups=groups, choice=choice
    )
    return Network(name, (32, 16, 16), 4, (layer,))


def residual_network() -> Network:
    """Every layer kind: grouped and depthwise convs, a strided 1x1 conv, residual adds, max
    and average pooling, dense layers."""
    c = LayerChoice(w_bits=4, a_bits=4)
    layers = (
        LayerSpec("stem", Op.CONV, out_channels=16, kernel=3, padding=1, choice=c),
        LayerSpec("dw", Op.CONV, out_channels=16, kernel=3, padding=1, groups=16, choice=c),
        LayerSpec("pw", Op.CONV, out_channels=16, kernel=1, choice=c),
        LayerSpec("res1", Op.ADD, source="stem"),
        LayerSpec("grp", Op.CONV, out_channels=32, kernel=3, padding=1, groups=2, choice=c),
        LayerSpec("pool", Op.MAXPOOL, kernel=2),
        LayerSpec("down", Op.CONV, out_channels=32, kernel=1, stride=2, choice=c),
        LayerSpec("c2", Op.CONV, out_channels=32, kernel=3, padding=1, choice=c),
        LayerSpec("res2", Op.ADD, source="down"),
        LayerSpec("gap", Op.AVGPOOL, kernel=4),
        LayerSpec("fc1", Op.DENSE, out_channels=24, choice=c),
        LayerSpec("fc2", Op.DENSE, out_channels=10, choice=replace(c, a_bits=None)),
    )
    return Network("residual", (3, 16, 16), 8, layers)


def _add_after_dense() -> Network:
    c = LayerChoice(w_bits=4, a_bits=4)
    return Network(
        "add-after-dense",
        (16,),
        8,
        (
            LayerSpec("fc1", Op.DENSE, 16, choice=c),
            LayerSpec("fc2", Op.DENSE, 16, choice=c),
            LayerSpec("res", Op.ADD, source="fc1"),
        ),
    )


X = LayerChoice(w_bits=1, a_bits=1, pe=4, simd=8)
Estimate = Callable[[], NetworkCost]
DF, ENG = Template.DATAFLOW, Template.ENGINES

#: name -> (what it shows, how to estimate it)
DESIGNS: dict[str, tuple[str, Estimate]] = {
    "cnv-w1a1-pynq": (
        "BNN-PYNQ CNV as published on PYNQ-Z2",
        lambda: estimate(cnv_network(), get_device("pynq-z2")),
    ),
    "cnv-w2a2-pynq": (
        "CNV with ternary weights, 2-bit activations",
        lambda: estimate(cnv_network(2, 2), get_device("pynq-z2")),
    ),
    "tfc-w1a1-pynq": (
        "BNN-PYNQ TFC as published",
        lambda: estimate(tfc_network(), get_device("pynq-z2")),
    ),
    "tfc-w1a1-ultra96": (
        "TFC on a Zynq UltraScale+: same units, the spec's 100 MHz clock",
        lambda: estimate(tfc_network(), get_device("ultra96")),
    ),
    "alexnet-dsp-ku115": (
        "thesis AlexNet, 8-bit DSP layers",
        lambda: estimate(alexnet_thesis_network(Arith.DSP), get_device("xcku115")),
    ),
    "alexnet-lut-ku115": (
        "thesis AlexNet, 8-bit LUT multipliers",
        lambda: estimate(alexnet_thesis_network(Arith.LUT), get_device("xcku115")),
    ),
    "alexnet-rccm2-ku115": (
        "thesis AlexNet, AddNet 2-Add RCCMs (4-bit indices)",
        lambda: estimate(alexnet_thesis_network(Arith.RCCM2), get_device("xcku115")),
    ),
    "alexnet-rccm4-ku115": (
        "thesis AlexNet, AddNet 4-Add RCCMs (8-bit indices)",
        lambda: estimate(alexnet_thesis_network(Arith.RCCM4), get_device("xcku115")),
    ),
    "resnet18-cifar-w4a4-zu3": (
        "ResNet-18 main path, 4-bit, residual adds",
        lambda: estimate(resnet18_main_path(4, 4, imagenet=False), get_device("ultra96")),
    ),
    "resnet18-imagenet-u250": (
        "ResNet-18 16-bit on an Alveo U250 (URAM, PCIe shell)",
        lambda: estimate(resnet18_main_path(), get_device("u250")),
    ),
    "fifty-zcu104": (
        "the speed benchmark's 50-layer network",
        lambda: estimate(fifty_layer_network(), get_device("zcu104")),
    ),
    "residual-pynq": (
        "every layer kind on a Zynq-7000",
        lambda: estimate(residual_network(), get_device("pynq-z2")),
    ),
    "residual-zcu104": (
        "every layer kind on a part with URAM (no memory here is deep enough for it)",
        lambda: estimate(residual_network(), get_device("zcu104")),
    ),
    "dense-xnor": (
        "one 64->16 XNOR-popcount unit, PE 4, SIMD 8, binary input",
        lambda: estimate(_dense("xnor", 64, 16, X, bits=1), get_device("pynq-z2")),
    ),
    "dense-dsp-w8a8": (
        "one 64->16 unit, 8-bit weights on DSPs",
        lambda: estimate(
            _dense("dsp", 64, 16, LayerChoice(8, 8, pe=4, simd=8, arith=Arith.DSP)),
            get_device("pynq-z2"),
        ),
    ),
    "dense-lut-w4a4": (
        "one 64->16 unit, 4-bit weights x 8-bit inputs forced onto LUT multipliers",
        lambda: estimate(
            _dense("lut", 64, 16, LayerChoice(4, 4, pe=4, simd=8, arith=Arith.LUT)),
            get_device("pynq-z2"),
        ),
    ),
    "dense-requantizer-a8": (
        "8-bit output: the fixed-point requantizer instead of 255 thresholds",
        lambda: estimate(
            _dense("rq", 64, 16, LayerChoice(4, 8, pe=4, simd=8)), get_device("pynq-z2")
        ),
    ),
    "dense-raw-accumulators": (
        "no activation unit (a_bits none)",
        lambda: estimate(
            _dense("raw", 64, 16, LayerChoice(4, None, pe=4, simd=8)), get_device("pynq-z2")
        ),
    ),
    "conv-3x3": (
        "one 3x3 conv, PE 8, SIMD 8: window + MVAU + FIFO",
        lambda: estimate(_conv("c", LayerChoice(4, 4, pe=8, simd=8)), get_device("ultra96")),
    ),
    "conv-3x3-mmv4": (
        "the same with MMV 4: four output pixels per cycle",
        lambda: estimate(_conv("c", LayerChoice(4, 4, pe=8, simd=8, mmv=4)), get_device("ultra96")),
    ),
    "conv-3x3-pruned": (
        "the same with half of the filters pruned (16 kept, a multiple of PE)",
        lambda: estimate(
            _conv("c", LayerChoice(4, 4, pe=8, simd=8, prune=0.5)), get_device("ultra96")
        ),
    ),
    "conv-depthwise": (
        "a depthwise 3x3 conv (VVAU: PE channels x SIMD taps)",
        lambda: estimate(
            _conv("dw", LayerChoice(4, 4, pe=8, simd=3), groups=32), get_device("ultra96")
        ),
    ),
    "conv-grouped": (
        "a 3x3 conv in 4 groups",
        lambda: estimate(
            _conv("g", LayerChoice(4, 4, pe=8, simd=8), groups=4), get_device("ultra96")
        ),
    ),
    "conv-1x1": (
        "a 1x1 conv: the window is a pass-through",
        lambda: estimate(
            _conv("pw", LayerChoice(4, 4, pe=8, simd=8), kernel=1), get_device("ultra96")
        ),
    ),
    "engines-cnv-w2a2": (
        "CNV on shared engines (TwinDNN Fig. 1), default engines",
        lambda: estimate(cnv_network(2, 2), get_device("ultra96"), template=ENG),
    ),
    "engines-resnet-16x16-int8": (
        "ResNet-18 8-bit on 16 engines x 16 lanes, INT8 DSP packing",
        lambda: estimate(
            resnet18_main_path(8, 8, imagenet=False),
            get_device("zcu104"),
            template=ENG,
            engines=EngineConfig(engines=16, lanes=16, pack_int8=True),
        ),
    ),
    "finn-cnv-w1a1": (
        "FINN's own formulas on CNV (units only, no shell)",
        lambda: estimate_finn(cnv_network(), get_device("pynq-z2")),
    ),
    "error-xnor-wide-input": (
        "XNOR forced on 4-bit inputs",
        lambda: estimate(
            _dense("e", 64, 16, replace(X, arith=Arith.XNOR), bits=4), get_device("pynq-z2")
        ),
    ),
    "error-pe-not-dividing": (
        "PE 5 on 16 outputs",
        lambda: estimate(_dense("e", 64, 16, LayerChoice(4, 4, pe=5)), get_device("pynq-z2")),
    ),
    "error-int-1-bit": (
        "int weights need at least 2 bits",
        lambda: estimate(
            _dense("e", 64, 16, LayerChoice(1, 4, w_type=WType.INT)), get_device("pynq-z2")
        ),
    ),
    "error-add-after-dense": (
        "a residual add on feature vectors (was a bare ValueError)",
        lambda: estimate(_add_after_dense(), get_device("pynq-z2")),
    ),
    "error-empty-output": (
        "a 3x3 conv without padding on a 2x2 map",
        lambda: estimate(
            Network("e", (4, 2, 2), 8, (LayerSpec("c", Op.CONV, 4, kernel=3, choice=X),)),
            get_device("pynq-z2"),
        ),
    ),
}


def observe(name: str) -> dict[str, str]:
    """What the fixture records for one design: its numbers, or the error's message."""
    try:
        cost = DESIGNS[name][1]()
    except DseError as exc:
        return {"name": name, "error": f"{type(exc).__name__}: {exc}"}
    t = cost.total
    values = (
        t.lut, t.ff, t.dsp, t.bram18, t.uram, cost.cycles_per_frame, cost.latency_cycles,
        cost.clock_mhz,
    )  # fmt: skip
    return {"name": name, **{k: _num(v) for k, v in zip(COLUMNS, values, strict=True)}}


def _num(v: float) -> str:
    return str(v) if isinstance(v, int) else repr(round(float(v), 3))


def _rows() -> dict[str, dict[str, str]]:
    with FIXTURE.open(newline="") as f:
        return {r["name"]: r for r in csv.DictReader(f)}


def test_fixture_names_every_design() -> None:
    assert set(_rows()) == set(DESIGNS)
    assert 25 <= len(DESIGNS) <= 40


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_design(name: str) -> None:
    want = {k: v for k, v in _rows()[name].items() if v not in ("", None) and k != "what"}
    assert observe(name) == want


@pytest.mark.parametrize("name", sorted(n for n in DESIGNS if n.startswith("error-")))
def test_errors_are_one_line_spec_errors_naming_the_layer(name: str) -> None:
    with pytest.raises(SpecError) as info:
        DESIGNS[name][1]()
    msg = str(info.value)
    assert "\n" not in msg and "layer '" in msg


def test_detail_changes_no_number() -> None:
    """The report's breakdown path is the same composer: equal totals, and each compute
    unit's parts add up to it."""
    for net in (residual_network(), cnv_network(2, 2)):
        dev = get_device("zcu104")
        plain, detail = estimate(net, dev), estimate(net, dev, detail=True)
        assert [lc.resources for lc in detail.layers] == [lc.resources for lc in plain.layers]
        assert detail.total == plain.total and detail.latency_cycles == plain.latency_cycles


def test_an_op_without_estimator_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A layer kind with no registered unit raises a SpecError naming layer and kind,
    never another kind's formulas."""
    monkeypatch.delitem(UNIT_KINDS, Op.AVGPOOL)
    unit.cache_clear()
    with pytest.raises(SpecError, match=r"layer 'gap': no dataflow estimator for op 'avgpool'"):
        estimate(residual_network(), get_device("pynq-z2"))


def test_fast_constructors_build_equal_objects() -> None:
    """`new_resources`/`new_layer_cost` (slot descriptors, no field-by-field __setattr__)
    give objects indistinguishable from the dataclass constructors, valid only while the
    classes have no __post_init__ and their slots are exactly their fields."""
    import pickle
    from dataclasses import fields

    from costmodels import LayerCost, Resources
    from costmodels.util import new_layer_cost, new_resources

    for cls in (Resources, LayerCost):
        assert not hasattr(cls, "__post_init__")
        assert cls.__slots__ == tuple(f.name for f in fields(cls))
    r, ref = new_resources(1.0, 2.5, 3.0, 4.0, 0.0), Resources(1.0, 2.5, 3.0, 4.0, 0.0)
    assert r == ref and hash(r) == hash(ref) and repr(r) == repr(ref)
    assert pickle.loads(pickle.dumps(r)) == ref and r + ref == ref * 2
    c, cref = new_layer_cost("c", Op.CONV, r, 7, 3), LayerCost("c", Op.CONV, ref, 7, 3)
    assert c == cref and hash(c) == hash(cref) and repr(c) == repr(cref)
    assert replace(c, cycles=8) == replace(cref, cycles=8)


def test_slotted_resolved_layer_is_a_memo_key_like_the_others() -> None:
    """`ResolvedLayer` is slotted (one object per unit instead of two) and caches its hash
    in a slot outside its fields: `new_resolved_layer` builds what the constructor builds,
    a pickle or `replace` carries no cached hash, and equality ignores it."""
    import pickle
    from dataclasses import fields

    from costmodels.types import ResolvedLayer
    from costmodels.util import new_resolved_layer

    assert not hasattr(ResolvedLayer, "__post_init__")
    assert ResolvedLayer.__slots__ == tuple(f.name for f in fields(ResolvedLayer))
    rl = resolve(cnv_network())[0]
    assert not hasattr(rl, "__dict__")
    built = new_resolved_layer(*(getattr(rl, f.name) for f in fields(ResolvedLayer)))
    ref = ResolvedLayer(*(getattr(rl, f.name) for f in fields(ResolvedLayer)))
    assert built == ref and hash(built) == hash(ref) and repr(built) == repr(ref)
    hash(rl)
    again = pickle.loads(pickle.dumps(rl))
    assert not hasattr(again, "_hash") and again == rl and hash(again) == hash(rl)
    moved = replace(rl, mw=rl.mw + 1)
    assert not hasattr(moved, "_hash") and moved != rl and hash(moved) != hash(rl)


def test_cached_hashes_stay_out_of_pickles_and_equality() -> None:
    """The memo keys cache their hash on the instance; a pickle (another process, another
    string hash seed) must not carry it, and equality ignores it."""
    import pickle

    spec = cnv_network().layers[0]
    hash(spec)
    assert spec._hash is not None and spec.choice is not None and spec.choice._hash is not None
    again = pickle.loads(pickle.dumps(spec))
    assert not hasattr(again, "_hash") and not hasattr(again.choice, "_hash")
    assert again == spec and hash(again) == hash(spec)
    assert replace(spec, kernel=5) != spec
    moved = replace(spec, name="other")
    assert not hasattr(moved, "_hash") and moved != spec


def _fuzz_network(rng: random.Random) -> Network:
    """A small network of random structure and choices, often invalid on purpose."""
    ops = [Op.CONV, Op.CONV, Op.DENSE, Op.MAXPOOL, Op.AVGPOOL, Op.ADD]
    layers: list[LayerSpec] = []
    for i in range(rng.randint(1, 6)):
        op = rng.choice(ops)
        choice = LayerChoice(
            w_bits=rng.choice([0, 1, 2, 4, 8, 17]),
            a_bits=rng.choice([None, 1, 2, 4, 8]),
            pe=rng.choice([0, 1, 2, 4]),
            simd=rng.choice([1, 2, 3, 4]),
            mmv=rng.choice([1, 2]),
            arith=rng.choice(list(Arith)),
            prune=rng.choice([0.0, 0.25, 1.0]),
        )
        layers.append(
            LayerSpec(
                f"l{i}",
                op,
                out_channels=rng.choice([0, 4, 8]),
                kernel=rng.choice([0, 1, 2, 3]),
                padding=rng.choice([0, 1]),
                groups=rng.choice([1, 1, 2, 4]),
                source=f"l{rng.randrange(i)}" if i and op is Op.ADD else None,
                choice=choice if op in (Op.CONV, Op.DENSE) else None,
            )
        )
    shape = rng.choice([(4, 8, 8), (8,), (4, 4, 4)])
    return Network("fuzz", shape, rng.choice([1, 4, 8]), tuple(layers))


def test_fuzzed_networks_raise_only_one_line_dse_errors() -> None:
    """Any network either estimates or raises a one-line `DseError` (an `add` after a dense
    layer once raised a bare ValueError)."""
    rng = random.Random(9)
    dev = get_device("pynq-z2")
    ok = 0
    for _ in range(3000):
        net = _fuzz_network(rng)
        for template in (DF, ENG):
            try:
                estimate(net, dev, template=template)
                ok += 1
            except DseError as exc:
                assert "\n" not in str(exc)
    assert ok > 100


def write() -> None:
    rows = [{**observe(n), "what": DESIGNS[n][0]} for n in DESIGNS]
    with FIXTURE.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=("name", *COLUMNS, "error", "what"))
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
