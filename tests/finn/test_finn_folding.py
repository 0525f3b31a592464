"""The FINN folding export: FINN's node names, the values FINN accepts, CNV as FINN builds it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from costmodels.devices import get_device
from costmodels.types import Arith, LayerChoice, LayerSpec, Network, Op
from costmodels.zoo import CNV_FOLDING, cnv_network
from dse.finn_folding import FinnFlow, FoldingExportError, folding_config

PYNQ = get_device("XC7Z020")
ZCU104 = get_device("XCZU7EV")


def _entries(cfg: dict, prefix: str) -> list[str]:
    return [k for k in cfg if k.startswith(prefix)]


def test_cnv_names_and_folds_like_finns_cnv_build() -> None:
    """FINN's CNV build (tests/end2end/test_end2end_bnn_pynq.py fold_cnv_large): 9 MVAU_hls
    with the published (PE, SIMD) and one sliding window per conv whose SIMD is that conv's
    SIMD; finn-plus adds a depthwise window and a Pool_hls per max pool."""
    cfg = folding_config(cnv_network(), PYNQ).config
    mvaus = _entries(cfg, "MVAU_")
    assert mvaus == [f"MVAU_hls_{i}" for i in range(9)]
    assert [(cfg[m]["PE"], cfg[m]["SIMD"]) for m in mvaus] == list(CNV_FOLDING)
    swgs = _entries(cfg, "ConvolutionInputGenerator_rtl_")
    assert len(swgs) == 8
    conv_swgs = [
        s
        for s in swgs
        if cfg[s]["SIMD"] in (3, 32)
        and s not in ("ConvolutionInputGenerator_rtl_2", "ConvolutionInputGenerator_rtl_5")
    ]
    assert [cfg[s]["SIMD"] for s in conv_swgs] == [simd for _, simd in CNV_FOLDING[:6]]
    assert _entries(cfg, "Pool_hls_") == ["Pool_hls_0", "Pool_hls_1"]
    assert cfg["Pool_hls_0"]["PE"] == cfg["ConvolutionInputGenerator_rtl_2"]["SIMD"]
    assert _entries(cfg, "LabelSelect_hls_") == ["LabelSelect_hls_0"]
    for m in mvaus:
        assert cfg[m]["resType"] == "lut"  # binary weights: XNOR / LUT, never DSP
        assert cfg[m]["mem_mode"] == "internal_decoupled"
        assert cfg[m]["ram_style"] in ("distributed", "block")

    upstream = folding_config(cnv_network(), PYNQ, flow=FinnFlow.FINN).config
    assert len(_entries(upstream, "ConvolutionInputGenerator_rtl_")) == 6
    assert _entries(upstream, "StreamingMaxPool_hls_") == [
        "StreamingMaxPool_hls_0",
        "StreamingMaxPool_hls_1",
    ]
    legacy = folding_config(cnv_network(), PYNQ, flow=FinnFlow.LEGACY).config
    assert _entries(legacy, "MatrixVectorActivation_") == [
        f"MatrixVectorActivation_{i}" for i in range(9)
    ]
    assert (
        "LabelSelect_Batch_0" in legacy
        and "parallel_window" not in legacy["ConvolutionInputGenerator_0"]
    )


def _mlp(w_bits: int, a_bits: int, arith: Arith = Arith.AUTO, pe: int = 4) -> Network:
    ch = LayerChoice(w_bits=w_bits, a_bits=a_bits, w_type=None, pe=pe, simd=8, arith=arith)
    layers = (
        LayerSpec("fc0", Op.DENSE, out_channels=64, choice=ch),
        LayerSpec("fc1", Op.DENSE, out_channels=16, choice=replace(ch, a_bits=None)),
    )
    return Network("mlp", (256,), 8, layers)


def test_restype_follows_the_arithmetic_the_cost_model_used() -> None:
    # 8x8-bit products: `auto` goes to DSPs (costmodels.arith.resolve_arith)
    cfg = folding_config(_mlp(8, 8), ZCU104).config
    assert cfg["MVAU_hls_0"]["resType"] == "dsp"
    cfg = folding_config(_mlp(8, 8, Arith.LUT), ZCU104).config
    assert cfg["MVAU_hls_0"]["resType"] == "lut"
    cfg = folding_config(_mlp(2, 2), ZCU104).config
    assert cfg["MVAU_hls_0"]["resType"] == "lut"


def test_rtl_mvau_where_finn_specializes_to_rtl() -> None:
    """No absorbed thresholds, signed >= 4-bit weights and inputs: FINN picks MVAU_rtl
    (finn-plus specialize_layers); the names count hls and rtl nodes separately."""
    cfg = folding_config(_mlp(8, 8), ZCU104).config
    assert list(cfg)[1:] == ["MVAU_hls_0", "MVAU_rtl_0", "LabelSelect_hls_0"]
    cfg = folding_config(_mlp(8, 8), ZCU104, standalone_thresholds=True).config
    assert list(cfg)[1:] == ["MVAU_rtl_0", "Thresholding_rtl_0", "MVAU_rtl_1", "LabelSelect_hls_0"]
    assert cfg["Thresholding_rtl_0"]["PE"] == 4


def test_ultra_ram_comes_with_the_attributes_finn_requires() -> None:
    big = Network(
        "big",
        (4608,),
        8,
        (LayerSpec("fc", Op.DENSE, out_channels=512, choice=LayerChoice(8, None, pe=1, simd=9)),),
    )
    cfg = folding_config(big, ZCU104, label_select=False).config
    (entry,) = (v for k, v in cfg.items() if k != "Defaults")
    assert entry["ram_style"] == "ultra"
    assert entry["runtime_writeable_weights"] == 1 and entry["mem_mode"] == "internal_decoupled"
    for v in folding_config(cnv_network(), PYNQ).config.values():
        assert v.get("ram_style") != "ultra" or v.get("runtime_writeable_weights") == 1


def test_mmv_above_one_is_refused() -> None:
    net = cnv_network()
    conv = net.layers[0]
    assert conv.choice is not None
    net = net.with_choices({"conv0": replace(conv.choice, mmv=2)})
    with pytest.raises(FoldingExportError, match=r"conv0.*mmv=2.*FINN does not implement MMV"):
        folding_config(net, PYNQ)


def test_padding_depthwise_and_residual_nodes() -> None:
    ch = LayerChoice(w_bits=4, a_bits=4, pe=4, simd=4)
    layers = (
        LayerSpec("c0", Op.CONV, out_channels=16, kernel=3, padding=1, choice=replace(ch, simd=3)),
        LayerSpec(
            "dw",
            Op.CONV,
            out_channels=16,
            kernel=3,
            padding=1,
            groups=16,
            choice=replace(ch, simd=3),
        ),
        LayerSpec("pw", Op.CONV, out_channels=16, kernel=1, choice=ch),
        LayerSpec("add", Op.ADD, source="c0"),
        LayerSpec("gap", Op.AVGPOOL, kernel=8),
        LayerSpec("fc", Op.DENSE, out_channels=10, choice=replace(ch, a_bits=None, pe=2)),
    )
    cfg = folding_config(Network("n", (3, 8, 8), 8, layers), ZCU104).config
    assert list(cfg)[1:] == [
        "FMPadding_rtl_0",
        "ConvolutionInputGenerator_rtl_0",
        "MVAU_hls_0",
        "DuplicateStreams_hls_0",
        "FMPadding_rtl_1",
        "ConvolutionInputGenerator_rtl_1",
        "VVAU_hls_0",
        "MVAU_hls_1",  # 1x1 stride 1: no sliding window
        "ElementwiseAdd_hls_0",
        "GlobalAccPool_hls_0",
        "MVAU_rtl_0",  # 4-bit signed weights and inputs, no thresholds: FINN's RTL MVU
        "LabelSelect_hls_0",
    ]
    assert cfg["ConvolutionInputGenerator_rtl_1"] == {
        "SIMD": 4,  # the VVAU's PE (FINN SetFolding)
        "ram_style": "distributed",
        "parallel_window": 1,  # the VVAU folds window taps (SIMD 3)
    }
    assert cfg["VVAU_hls_0"]["PE"] == 4 and cfg["VVAU_hls_0"]["SIMD"] == 3
    assert cfg["LabelSelect_hls_0"]["PE"] == 2


def test_the_specs_finn_attributes_are_used() -> None:
    from costmodels.types import Impl, MemMode, RamStyle

    net = _mlp(4, 4)
    fc0 = net.layers[0].choice
    assert fc0 is not None
    net = net.with_choices(
        {"fc0": replace(fc0, ram_style=RamStyle.BLOCK, mem_mode=MemMode.INTERNAL_EMBEDDED)}
    )
    cfg = folding_config(net, ZCU104).config
    assert cfg["MVAU_hls_0"]["ram_style"] == "block"
    assert cfg["MVAU_hls_0"]["mem_mode"] == "internal_embedded"
    net = net.with_choices({"fc0": replace(fc0, impl=Impl.RTL)})
    assert list(folding_config(net, ZCU104).config)[1] == "MVAU_rtl_0"
    bad = net.with_choices(
        {"fc0": replace(fc0, ram_style=RamStyle.ULTRA, mem_mode=MemMode.INTERNAL_EMBEDDED)}
    )
    with pytest.raises(FoldingExportError, match="ultra needs mem_mode internal_decoupled"):
        folding_config(bad, ZCU104)


def test_concat_branches_get_streaming_concat_and_duplicate_streams() -> None:
    ch = LayerChoice(w_bits=4, a_bits=4, pe=8, simd=3)
    layers = (
        LayerSpec("stem", Op.CONV, out_channels=16, kernel=3, padding=1, choice=ch),
        LayerSpec("b1", Op.CONV, out_channels=8, kernel=1, choice=replace(ch, pe=4, simd=8)),
        LayerSpec(
            "b2",
            Op.CONV,
            out_channels=24,
            kernel=3,
            padding=1,
            source="stem",
            choice=replace(ch, pe=6, simd=8),
        ),
        LayerSpec("cat", Op.CONCAT, inputs=("b1", "b2")),
        LayerSpec("fc", Op.DENSE, out_channels=10, choice=LayerChoice(4, None, pe=2, simd=4)),
    )
    cfg = folding_config(Network("g", (3, 6, 6), 8, layers), ZCU104).config
    assert list(cfg)[1:] == [
        "FMPadding_rtl_0",
        "ConvolutionInputGenerator_rtl_0",
        "MVAU_hls_0",
        "DuplicateStreams_hls_0",  # stem feeds b1 and b2
        "MVAU_hls_1",
        "FMPadding_rtl_1",
        "ConvolutionInputGenerator_rtl_1",
        "MVAU_hls_2",
        "StreamingConcat_hls_0",
        "MVAU_rtl_0",
        "LabelSelect_hls_0",
    ]
    assert cfg["DuplicateStreams_hls_0"]["PE"] == 8
    assert cfg["StreamingConcat_hls_0"]["SIMD"] == 2  # divides 8 and 24 channels, b1's PE 4, b2's 6
