"""The per-FINN-node unit model (costmodels.finn_units), its calibration profile and the
calibrated network estimate: hand-worked examples, properties, a golden comparison with
rows copied from shared/reference/finn_synth (tests/fixtures/finn_synth_sample.csv)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from costmodels import (
    ConfigError,
    LayerChoice,
    LayerSpec,
    Network,
    Op,
    RamStyle,
    estimate,
    get_device,
)
from costmodels.calibration.nodes import node_from_row
from costmodels.calibration.profile import (
    default_profile,
    dump_profile,
    load_profile,
    profile_from_dict,
)
from costmodels.calibration.rows import distinct_configs, read_csv
from costmodels.finn_units import (
    DwcNode,
    FifoNode,
    FmPadNode,
    LabelSelectNode,
    MvauNode,
    SwuNode,
    ThresholdingNode,
    features,
    unit_resources,
    vivado_bram18,
)
from costmodels.zoo import cnv_network

FIXTURE = Path(__file__).parent.parent / "fixtures" / "finn_synth_sample.csv"
PYNQ = get_device("pynq-z2")


@pytest.mark.parametrize(
    ("width", "depth", "bram18", "why"),
    [
        (1, 50176, 32, "pad to 8 bits; 65536 deep = 16 cascaded RAMB36 4Kx9"),
        (4, 12544, 8, "16384 deep: 4 RAMB36 4Kx9"),
        (49, 1024, 4, "pad to 56 = 36 + 20; 20 > 18: two RAMB36"),
        (112, 896, 7, "1024 deep: 3 x 36 + 4 (<= 18): three RAMB36 and one RAMB18"),
        (36, 192, 2, "512 deep: 36 > 32 data bits of a RAMB18: one RAMB36"),
        (32, 256, 1, "512 deep: 32 bits fit one RAMB18"),
        (784, 64, 22, "512 deep: 10 x 72 + 64 (> 32): eleven RAMB36"),
        (0, 100, 0, "no memory"),
    ],
)
def test_vivado_bram_packing_hand_worked(width: int, depth: int, bram18: int, why: str) -> None:
    assert vivado_bram18(width, depth) == bram18, why


def test_mvau_hand_worked_with_a_toy_profile() -> None:
    """MW=64, MH=16, PE=2, SIMD=8, 2-bit weights x 2-bit inputs, 2-bit thresholds,
    LUT multipliers, distributed weights: depth 64*16/16 = 64, width 2*8*2 = 32 bits.
    With coefficients const 100, tree_bits 1, wmem_lutram 1: 100 + lanes 16 x product
    bits 4 = 64, + 32 x ceil(64/64) = 32 -> 196 LUT; no BRAM (distributed)."""
    node = MvauNode(64, 16, 2, 8, 2, 2, 2, 9, ram_style="distributed")
    coef = {"MVAU": {"lut": {"const_hls": 100.0, "tree_bits": 1.0, "wmem_lutram": 1.0}}}
    r = unit_resources(node, coef)
    assert r.lut == 196 and r.bram18 == 0
    f = features(node)
    assert f["lut"]["thr_compare_bits"] == 2 * 3 * 9  # PE x (2^2 - 1) x acc bits
    block = replace(node, ram_style="block")
    assert features(block)["bram18"]["weights_block"] == 1  # 32 bits x 512: one RAMB18


def test_fifo_hand_worked_srl16() -> None:
    """A 8-bit FIFO 40 deep: 8 x ceil(40/16) = 24 SRL16 LUTs, 6 pointer bits."""
    f = features(FifoNode(8, 40))["lut"]
    assert f["srl16_bits"] == 24 and f["pointer_bits"] == 6


def test_other_units_hand_worked() -> None:
    """Feature terms of each unit, by hand:
    - Thresholding, 784 channels, PE 4, 8-bit in, 2-bit out (3 steps): extra steps
      4 x 2 x 8 = 64 bits;
    - sliding window, 16 channels of a 18x18 image, K 3, SIMD 4, 2-bit: buffer
      (2 x 18 x 16 + 3 x 16) / 4 = 156 words of 8 bits -> 8 x ceil(156/64) = 24 LUTRAM;
    - FMPadding 16x16 + 2, 16 channels, SIMD 1: counters 5 + 5 + 4 = 14 bits;
    - width converter 8 -> 12 bits: lcm 24 bits of shift register;
    - LabelSelect top-1 of 10 labels, 7-bit, PE 1: 7 compare bits, 4 index bits."""
    assert features(ThresholdingNode(784, 4, 8, 2))["lut"]["extra_step_bits"] == 64
    swu = SwuNode(16, (18, 18), (8, 8), 3, 2, 4, 2)
    assert swu.buffer_words == 156 and features(swu)["lut"]["buffer_lutram"] == 24
    assert features(FmPadNode(16, (16, 16), 2, 1, 2))["lut"]["counter_bits"] == 14
    assert features(DwcNode(8, 12))["lut"]["buffer_bits"] == 24
    ls = features(LabelSelectNode(10, 1, 1, 7))["lut"]
    assert ls["compare_bits"] == 7 and ls["index_bits"] == 4
    # with the shipped profile: the finn_synth Thresholding rows are linear in PE
    coef = default_profile().coefficients
    one = unit_resources(ThresholdingNode(784, 1, 8, 1), coef).lut
    many = unit_resources(ThresholdingNode(784, 49, 8, 1), coef).lut
    assert one == pytest.approx(13, abs=1.5) and many == pytest.approx(61, rel=0.05)


def test_golden_rows_against_vivado() -> None:
    """The shipped profile on rows copied from finn_synth: BRAM and DSP exact for every
    MVAU of the sample deeper than 32 words; LUT within 50 % on each MVAU row (the worst:
    784 x 64 at SIMD 1, 1,428 synthesized vs 862) and 15 % on their mean absolute error
    (the held-out MAPE is ~10 %)."""
    coef = default_profile().coefficients
    errs = []
    for cfg in distinct_configs(read_csv(FIXTURE)):
        node = node_from_row(cfg.row)
        if not isinstance(node, MvauNode):
            continue
        r = unit_resources(node, coef)
        if node.wmem_depth > 32:
            assert r.bram18 == pytest.approx(cfg.row.bram18), cfg.row.source
        if cfg.row.dsp < 220:  # the device's 220 DSPs cap what Vivado maps
            assert r.dsp == pytest.approx(cfg.row.dsp), cfg.row.source
        err = abs(r.lut - cfg.row.lut) / cfg.row.lut
        assert err < 0.5, (cfg.row.source, r.lut, cfg.row.lut)
        errs.append(err)
    assert len(errs) >= 20 and sum(errs) / len(errs) < 0.15


def _dense(pe: int, simd: int, style: RamStyle = RamStyle.AUTO, w_bits: int = 2) -> Network:
    c = LayerChoice(w_bits=w_bits, a_bits=2, pe=pe, simd=simd, ram_style=style)
    return Network("d", (256,), 2, (LayerSpec("fc", Op.DENSE, 64, choice=c),))


COMPUTE_TERMS = (
    "xnor_lanes",
    "lut_mult_pp",
    "tree_bits",
    "dsp_tree_bits",
    "rtl_lanes",
    "acc_bits",
    "thr_compare_bits",
)


@pytest.mark.parametrize("style", ["block", "distributed"])
def test_more_pe_or_simd_never_fewer_compute_luts(style: str) -> None:
    """The compute terms (lanes, trees, accumulators, thresholds) never shrink with PE or
    SIMD. The weight memory can: Vivado's deep distributed ROMs cost about one LUT per
    few words (784 x 64 binary weights: 8,724 LUT at SIMD 1, 2,511 at SIMD 4 in finn_synth),
    so the whole unit is not monotone, and the model says so."""
    coef = default_profile().coefficients["MVAU"]["lut"]
    for simd_list in ((1, 2, 4, 8, 16, 32),):
        last = -1.0
        for simd in simd_list:
            for pe in (1, 2, 4, 8):
                node = MvauNode(256, 64, pe, simd, 2, 2, 2, 12, ram_style=style)
                f = features(node)["lut"]
                compute = sum(coef.get(t, 0) * f[t] for t in COMPUTE_TERMS)
                node2 = replace(node, pe=pe * 2)
                f2 = features(node2)["lut"]
                assert sum(coef.get(t, 0) * f2[t] for t in COMPUTE_TERMS) >= compute
            node = MvauNode(256, 64, 1, simd, 2, 2, 2, 12, ram_style=style)
            f = features(node)["lut"]
            compute = sum(coef.get(t, 0) * f[t] for t in COMPUTE_TERMS)
            assert compute >= last
            last = compute


def test_block_vs_distributed_moves_cost_between_bram_and_lut() -> None:
    prof = default_profile()
    for pe, simd in ((1, 8), (4, 16), (16, 32)):
        blk = estimate(_dense(pe, simd, RamStyle.BLOCK), PYNQ, calibration=prof).layers[0]
        dist = estimate(_dense(pe, simd, RamStyle.DISTRIBUTED), PYNQ, calibration=prof).layers[0]
        assert blk.resources.bram18 > 0 and dist.resources.bram18 == 0
        assert dist.resources.lut > blk.resources.lut


def test_calibrated_network_units_sum_to_the_layers() -> None:
    prof = default_profile()
    cost = estimate(cnv_network(), PYNQ, calibration=prof)
    plain = estimate(cnv_network(), PYNQ)
    assert cost.cycles_per_frame == plain.cycles_per_frame
    for lc in cost.layers:
        ops = [op for op, _ in lc.breakdown]
        total = sum(r.lut for _, r in lc.breakdown)
        assert total == pytest.approx(lc.resources.lut)
        if lc.op is Op.CONV:
            assert "MVAU" in ops and "ConvolutionInputGenerator" in ops
        if lc.op is Op.MAXPOOL:
            assert ops == ["StreamingMaxPool"]
    assert cost.total.lut == pytest.approx(
        sum(lc.resources.lut for lc in cost.layers) + cost.shell.lut
    )


def test_profile_round_trip_and_fingerprint(tmp_path: Path) -> None:
    prof = default_profile()
    path = tmp_path / "p.yaml"
    path.write_text(dump_profile(prof))
    again = load_profile(path)
    assert again.fingerprint == prof.fingerprint and again.coefficients == prof.coefficients
    text = path.read_text().replace("const_hls:", "const_hls: 1.0\n      _x:", 1)
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"fingerprint .* does not match"):
        load_profile(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a mapping"),
        ({"format_version": 2}, "format_version 2 is not 1"),
        ({"format_version": 1, "name": "x", "part_family": "7series"}, "missing key"),
        (
            {
                "format_version": 1,
                "name": "x",
                "part_family": "7series",
                "coefficients": {"MVAU": {"lut": {"const_hls": "many"}}},
            },
            "MVAU.lut.const_hls = 'many' is not a number",
        ),
        (
            {
                "format_version": 1,
                "name": "x",
                "part_family": "7series",
                "coefficients": {"MVAU": {"luts": {}}},
            },
            "MVAU.luts is not a resource",
        ),
    ],
)
def test_bad_profiles_one_line(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        profile_from_dict(data, "p.yaml")
    assert "\n" not in str(err.value) and "p.yaml" in str(err.value)


def test_calibrated_graph_network_follows_the_composer() -> None:
    """Branches: the fork's producer carries a DuplicateStreams unit, the add and the
    concat their joining unit and the FIFOs of the inputs that wait; a depthwise conv is a
    VVAU; cycles equal the analytical composer's; units sum to each layer."""
    import yaml

    from dse.spec import network_from_dict

    spec = yaml.safe_load((Path(__file__).parents[1] / "fixtures" / "graph_net.yaml").read_text())

    def graph_net() -> Network:
        return network_from_dict(spec)

    device = get_device("zcu104")
    cost = estimate(graph_net(), device, calibration=default_profile())
    plain = estimate(graph_net(), device)
    assert [lc.cycles for lc in cost.layers] == [lc.cycles for lc in plain.layers]
    ops = {lc.name: [op for op, _ in lc.breakdown] for lc in cost.layers}
    assert "DuplicateStreams" in ops["stem"] and "DuplicateStreams" in ops["add1"]
    assert ops["add1"][0] == "AddStreams" and "StreamingFIFO" in ops["add1"]
    assert ops["cat"][0] == "StreamingConcat"
    assert "VVAU" in ops["dw"] and "MVAU" not in ops["dw"]
    for lc in cost.layers:
        assert sum(r.lut for _, r in lc.breakdown) == pytest.approx(lc.resources.lut)


def test_deep_fifos_go_to_vivado_fifo_ip_in_bram() -> None:
    """Deeper than 256 (FINN max_qsrl_depth): Vivado FIFO IP, its memory in BRAM; a 16-bit
    FIFO 1,000 deep packs into 1K x 18: one RAMB18."""
    coef = default_profile().coefficients
    deep = unit_resources(FifoNode(16, 1000, "vivado"), coef)
    assert deep.bram18 == 1 and deep.lut < 200
    shallow = unit_resources(FifoNode(16, 200, "rtl"), coef)
    assert shallow.bram18 == 0
