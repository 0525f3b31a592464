"""Hand-worked examples of each cost formula (memory packing, multiplier lanes, adder
trees, the MVAU), with the arithmetic in the comments."""

from __future__ import annotations

import pytest

from costmodels import (
    Arith,
    LayerChoice,
    LayerSpec,
    Network,
    Op,
    ResolvedLayer,
    get_device,
    resolve,
)
from costmodels.arith import dsp_per_lane, lane_luts, lut_multiplier_luts, resolve_arith
from costmodels.errors import SpecError
from costmodels.memory import bram18_blocks, lutram_luts, place_memory, uram_blocks
from costmodels.mvau import (
    adder_tree_luts,
    mvau_breakdown,
    mvau_cost,
    mvau_cycles,
    threshold_comparators,
)
from costmodels.zoo import cnv_network


def test_bram18_packing_by_aspect_ratio() -> None:
    # 8 x 2304: 4Kx4 -> 2 wide x 1 deep = 2; 2Kx9 -> 1 x 2 = 2; 1Kx18 -> 1 x 3 = 3 => 2
    assert bram18_blocks(8, 2304) == 2
    # 4 x 2304: 4Kx4 -> 1 x 1 = 1 (the thesis Table 6.7 halving at 4-bit indices)
    assert bram18_blocks(4, 2304) == 1
    # 32 x 864: 512x36 -> 1 x 2 = 2; 1Kx18 -> 2 x 1 = 2 => 2
    assert bram18_blocks(32, 864) == 2
    # 1 x 16384 fits one block; one more word needs a second
    assert bram18_blocks(1, 16384) == 1
    assert bram18_blocks(1, 16385) == 2
    assert bram18_blocks(0, 100) == 0


def test_uram_and_lutram() -> None:
    # URAM 72 x 4096: 144 x 5000 -> 2 wide x 2 deep = 4
    assert uram_blocks(144, 5000) == 4
    # LUTRAM: 16 bits wide, 100 deep -> 16 x ceil(100/64) = 32 LUTs
    assert lutram_luts(16, 100) == 32


def test_place_memory_rules() -> None:
    zu3, zu7 = get_device("ultra96"), get_device("zcu104")
    # depth <= 128 -> LUTRAM
    assert place_memory(16, 100, zu3).lut == 32
    # deeper -> BRAM18 on a part without URAM
    # 72 x 8192: 512x36 -> 2 wide x 16 deep = 32; 1Kx18 -> 4 x 8 = 32
    assert place_memory(72, 8192, zu3).bram18 == bram18_blocks(72, 8192) == 32
    # ZU7EV: 32 BRAM18 of 624 (5.1 %) vs 2 URAM of 96 (2.1 %) -> URAM
    r = place_memory(72, 8192, zu7)
    assert (r.uram, r.bram18) == (2, 0)


def test_adder_tree_and_comparators() -> None:
    # 4 inputs of 3 bits: level 1 two 4-bit adders (8), level 2 one 5-bit adder (5) = 13
    assert adder_tree_luts(4, 3) == 13
    # 3 inputs of 2 bits: one 3-bit adder (3), then one 4-bit adder (4) = 7
    assert adder_tree_luts(3, 2) == 7
    assert adder_tree_luts(1, 8) == 0
    # thresholds: 2^B - 1 parallel comparators, capped at 4B
    assert [threshold_comparators(b) for b in (1, 2, 3, 4, 5, 8)] == [1, 3, 7, 15, 20, 32]


def test_multiplier_lanes() -> None:
    # generic LUT multiplier: 7.4 LUT per input bit at 8-bit weights (thesis 6.7.1) plus
    # the Table 6.5 in-layer overhead 31.7: 59.2 + 31.7 = 90.9 at 8 x 8
    assert lut_multiplier_luts(8, 8) == pytest.approx(90.9)
    # 4 x 4: 90.9 * 16 / 64 = 22.7
    assert lut_multiplier_luts(4, 4) == pytest.approx(22.725)
    # 2 x 4 bits: 6 inputs, each of the 6 product bits is one LUT6
    assert lut_multiplier_luts(2, 4) == 6
    c8 = LayerChoice(w_bits=8, a_bits=8, arith=Arith.RCCM2)
    # 2-Add RCCM: 2 LUT per input bit + fitted decode overhead (16): 2*8 + 16 = 32
    assert lane_luts(c8, Arith.RCCM2, 8) == 32
    # 3-Add: 3*8 + 19 = 43; 4-Add: 4*8 + 36 = 68
    assert (lane_luts(c8, Arith.RCCM3, 8), lane_luts(c8, Arith.RCCM4, 8)) == (43, 68)
    # binary +/-A mux: A LUTs; ternary: A + 1
    assert lane_luts(LayerChoice(w_bits=1), Arith.LUT, 4) == 4
    assert lane_luts(LayerChoice(w_bits=2), Arith.LUT, 4) == 5


def test_dsp_packing() -> None:
    assert dsp_per_lane(8, 8, "DSP48E2") == 1.0  # one product per DSP (FINN HLS, thesis)
    assert dsp_per_lane(8, 8, "DSP48E2", pack=True) == 0.5  # WP486: two int8 per DSP48E2
    assert dsp_per_lane(8, 8, "DSP48E1", pack=True) == 1.0  # 25-bit port: no room (UG479)
    assert dsp_per_lane(16, 16, "DSP48E2") == 1.0
    assert dsp_per_lane(32, 32, "DSP48E2") == 4.0  # ceil(32/27) * ceil(32/18)


def test_auto_arithmetic() -> None:
    assert resolve_arith(LayerChoice(w_bits=1, a_bits=1), 1) is Arith.XNOR
    assert resolve_arith(LayerChoice(w_bits=1, a_bits=1), 4) is Arith.LUT
    assert resolve_arith(LayerChoice(w_bits=2, a_bits=2), 8) is Arith.LUT  # ternary mux
    assert resolve_arith(LayerChoice(w_bits=4, a_bits=4), 4) is Arith.LUT  # 4+4 <= 8
    assert resolve_arith(LayerChoice(w_bits=8, a_bits=8), 8) is Arith.DSP
    with pytest.raises(SpecError, match="xnor"):
        resolve_arith(LayerChoice(w_bits=4, arith=Arith.XNOR), 4, "c")


def _dense(mw: int, mh: int, choice: LayerChoice, in_bits: int = 1) -> Network:
    return Network(
        "t", (mw,), in_bits, (LayerSpec("fc", Op.DENSE, out_channels=mh, choice=choice),)
    )


def test_mvau_hand_worked_xnor() -> None:
    """Dense 8 -> 4, PE=2, SIMD=4, W1A1 on 1-bit input, on the Ultra96:
    base 300; 8 XNOR lanes x 1 = 8; popcount tree of 4 bits per PE: 2*2 + 3 = 7, x 2 PE = 14;
    accumulator 1+1+log2(8)=5 bits x 2 = 10; thresholds 1 comparator x 5 bits x 2 = 10 and
    their LUTRAM (5 bits x 2 deep -> 5 LUT) x 2 = 10; weights LUTRAM 4 bits x 4 deep x 2 = 8.
    Total 300 + 8 + 14 + 10 + 10 + 10 + 8 = 360 LUT; cycles (4/2) * (8/4) = 4."""
    (rl,) = resolve(_dense(8, 4, LayerChoice(w_bits=1, a_bits=1, pe=2, simd=4)))
    cost = mvau_cost(rl, get_device("ultra96"))
    assert rl.acc_bits == 5
    parts = dict(mvau_breakdown(rl, get_device("ultra96")))
    assert parts["multipliers"].lut == 8
    assert parts["adder_tree"].lut == 14
    assert parts["accumulator"].lut == 10
    assert parts["activation"].lut == 20
    assert parts["weights"].lut == 8
    assert cost.resources.lut == 360
    assert cost.resources.dsp == cost.resources.bram18 == 0
    assert cost.cycles == mvau_cycles(rl) == 4


def test_mvau_cycles_cnv_conv1_and_mmv() -> None:
    # CNV conv1: MW = 64*3*3 = 576, MH = 64, 28x28 output pixels, PE=32, SIMD=32:
    # (64/32) * (576/32) * 784 = 2 * 18 * 784 = 28,224; MMV=2 halves it.
    def net(mmv: int) -> Network:
        return Network(
            "t",
            (64, 30, 30),
            1,
            (
                LayerSpec(
                    "c",
                    Op.CONV,
                    out_channels=64,
                    kernel=3,
                    choice=LayerChoice(w_bits=1, a_bits=1, pe=32, simd=32, mmv=mmv),
                ),
            ),
        )

    (rl,) = resolve(net(1))
    assert (rl.mw, rl.mh, rl.num_vectors) == (576, 64, 784)
    assert mvau_cycles(rl) == 28224
    (rl2,) = resolve(net(2))
    assert mvau_cycles(rl2) == 14112
    d = get_device("pynq-z2")
    one, two = dict(mvau_breakdown(rl, d)), dict(mvau_breakdown(rl2, d))
    # MMV doubles the lanes (LUT) but shares the weight memory
    assert two["multipliers"].lut == 2 * one["multipliers"].lut
    assert two["weights"] == one["weights"]
    assert mvau_cost(rl2, d).resources.lut > mvau_cost(rl, d).resources.lut


def _alexnet_conv3(w_bits: int, arith: Arith) -> Network:
    choice = LayerChoice(w_bits=w_bits, a_bits=8, pe=384, simd=1, arith=arith)
    conv3 = LayerSpec("conv3", Op.CONV, out_channels=384, kernel=3, padding=1, choice=choice)
    return Network("alexnet-conv3", (256, 13, 13), 8, (conv3,))


def test_table_6_7_conv3_bram_halves_with_4_bit_rccm_indices() -> None:
    """Faraone thesis Table 6.7 (seed_results rows 48-49), AlexNet Conv3, PE=384, p=1:
    8-bit weights 384 BRAM36 = 768 BRAM18, 2-Add RCCM (4-bit index) 192 BRAM36 = 384 BRAM18.
    Per PE: MW*MH/PE = 2304*384/384 = 2304 words; 8 bits -> 2 RAMB18 (2Kx9 twice),
    4 bits -> 1 RAMB18 (4Kx4)."""
    ku115 = get_device("xcku115")
    (c8,) = resolve(_alexnet_conv3(8, Arith.LUT))
    (c4,) = resolve(_alexnet_conv3(8, Arith.RCCM2))
    w8 = dict(mvau_breakdown(c8, ku115))["weights"]
    w4 = dict(mvau_breakdown(c4, ku115))["weights"]
    assert w8.bram18 == 768
    assert w4.bram18 == 384


def _cnv_resolved(name: str) -> ResolvedLayer:
    return {rl.name: rl for rl in resolve(cnv_network())}[name]


def test_sliding_window_hand_worked() -> None:
    """CNV conv1 window: input 64x30x30, K=3, SIMD=32, 1-bit: a line buffer 32 bits wide and
    ceil(3*30*64/32) = 180 deep -> one RAMB18 (512x36); LUT 32 (one per output bit) + 150;
    cycles max(30*30*64/32 = 1,800 reads, 784*9*64/32 = 14,112 window words) = 14,112."""
    from costmodels.swu import swu_cycles, swu_resources

    rl = _cnv_resolved("conv1")
    r = swu_resources(rl, get_device("pynq-z2"))
    assert (r.lut, r.ff, r.bram18) == (182, 182, 1)
    assert swu_cycles(rl) == 14112


def test_pool_and_fifo_hand_worked() -> None:
    """CNV pool0 after conv1 (PE=32 channels per word): 32 lanes x (2 LUT per bit x 1 bit)
    = 64, a 14x64-value row buffer 32 wide x 28 deep in LUTRAM = 32, control 60 -> 156 LUT;
    cycles 28*28*64/32 = 1,568. A 16-bit, 32-deep FIFO: 16 SRL LUTs + 2*5+8 = 18 control."""
    from costmodels.memory import fifo_cost
    from costmodels.pool import pool_cost

    d = get_device("pynq-z2")
    cost = pool_cost(_cnv_resolved("pool0"), d, 32)
    assert (cost.resources.lut, cost.cycles) == (156, 1568)
    f = fifo_cost(16, 32, d)
    assert (f.lut, f.ff, f.bram18) == (34, 34, 0)
