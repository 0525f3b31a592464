"""The shared compute-engines template (TwinDNN Sec. 3.2 and Fig. 1): E engines, each an
L-wide multiply-accumulate tree, reused layer after layer; feature maps and weights live
off-chip and are staged through on-chip buffers.

Per layer, engines take output channels and lanes take the dot product's inputs:
compute cycles = ceil(MH/E) * ceil(MW/L) * vectors; the layer is memory-bound when moving
its weights and feature maps over the DRAM port takes longer. Cycles per frame are the
sum over layers (one layer at a time). k-bit engines multiply in DSPs (two <= 8-bit
products per DSP48E2, Xilinx WP486, as TwinDNN Table 1 does); binary/ternary engines are
LUT add/sub multiplexer trees with DSPs only for the weight scale (TwinDNN 3.2).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from costmodels.arith import dsp_per_lane, lut_multiplier_luts
from costmodels.dataflow import shell_resources
from costmodels.errors import ConfigError
from costmodels.memory import place_memory
from costmodels.mvau import adder_tree_luts
from costmodels.types import Device, LayerCost, NetworkCost, ResolvedLayer, Resources, WType

#: Fixed LUTs/FFs of an engine accelerator (AXI masters, DMA sequencing, layer
#: controller), fitted on TwinDNN Table 1 rows 1 and 4 (16 x 16 16-bit engines on the
#: Ultra96: 20,110 and 24,114 LUT) by benchmarks/calibration.py, after the engines'
#: adder trees and accumulators.
ENGINES_BASE_LUT = 9300.0
ENGINES_BASE_FF = 9300.0
#: Effective DRAM bytes per cycle of an HLS engine design, fitted by
#: benchmarks/calibration.py so that ResNet-18 (ImageNet, 16-bit, 16 x 16 engines, 150 MHz)
#: takes TwinDNN Table 2's 306 ms on the Ultra96 (seed_results row 4). Far below the HP
#: port's peak: the published latencies are 6x the engines' compute time.
DRAM_BYTES_PER_CYCLE = 1.28
#: Weight-scale DSPs of binary/ternary engines: TwinDNN Table 1 lists 4 DSP for the
#: 16-engine binary ConvNet and 8 for the ternary ResNet-18, i.e. one per 4 (binary) or
#: 2 (ternary) engines.
SCALE_ENGINES_PER_DSP = {WType.BIPOLAR: 4, WType.TERNARY: 2}


@dataclass(frozen=True)
class EngineConfig:
    """Shape of a shared-engine accelerator.

    `engines` (E) x `lanes` (L) MACs; `dram_bytes_per_cycle` is the effective off-chip
    bandwidth in bytes per accelerator clock (default fitted, see `DRAM_BYTES_PER_CYCLE`;
    one 128-bit AXI HP port could move 16, Zynq UltraScale+ TRM UG1085 ch. 35);
    `buffer_tiles` is the buffering factor of the on-chip input, weight and output
    buffers (2 = double buffering, as TwinDNN Fig. 1's ping-pong); `pack_int8` packs two
    <= 8-bit products per DSP48E2 (WP486), as TwinDNN does.
    """

    engines: int = 16
    lanes: int = 16
    dram_bytes_per_cycle: float = DRAM_BYTES_PER_CYCLE
    buffer_tiles: int = 2
    pack_int8: bool = True

    def __post_init__(self) -> None:
        if self.engines < 1 or self.lanes < 1 or self.buffer_tiles < 1:
            raise ConfigError("engines, lanes and buffer_tiles must be >= 1")
        if not self.dram_bytes_per_cycle > 0:
            raise ConfigError("dram_bytes_per_cycle must be > 0")


def _layer_cycles(rl: ResolvedLayer, cfg: EngineConfig) -> tuple[int, int]:
    """(compute cycles, memory cycles) of one layer on the engines.

    Memory traffic: the weights once, the output feature map once, and the input feature
    map once per tile of E output channels (output-channel tiles outermost, inputs
    re-streamed from DRAM for each; TwinDNN Fig. 1 keeps no whole feature map on chip)."""
    compute = math.ceil(rl.mh / cfg.engines) * math.ceil(rl.mw / cfg.lanes) * rl.num_vectors
    w_bytes = rl.mw * rl.mh * rl.choice.w_bits / 8
    # a grouped conv's output tile needs only its groups' inputs (depthwise: read once)
    rereads = max(1.0, math.ceil(rl.mh / cfg.engines) / rl.spec.groups)
    in_bytes = math.prod(rl.in_shape) * rl.in_bits / 8 * rereads
    out_bytes = math.prod(rl.out_shape) * rl.out_bits / 8
    memory = math.ceil((w_bytes + in_bytes + out_bytes) / cfg.dram_bytes_per_cycle)
    return compute, memory


@functools.lru_cache(maxsize=256)
def estimate_engines(
    network_name: str,
    layers: tuple[ResolvedLayer, ...],
    device: Device,
    clock_mhz: float,
    cfg: EngineConfig,
) -> NetworkCost:
    """The shared-engine accelerator running `layers` one after another.

    The hardware is shared, so per-layer entries carry cycles only; the engines, their
    buffers and control plus the device shell are `NetworkCost.shell` (and the total).
    """
    compute_layers = [rl for rl in layers if rl.op.is_compute]
    if not compute_layers:
        raise ConfigError(f"network {network_name!r} has no conv/dense layer for the engines")
    w_bits = max(rl.choice.w_bits for rl in compute_layers)
    a_bits = max(rl.in_bits for rl in compute_layers)
    wtypes = {rl.choice.weight_type for rl in compute_layers}
    low_bit = wtypes <= {WType.BIPOLAR, WType.TERNARY}
    macs = cfg.engines * cfg.lanes
    acc = max(rl.acc_bits for rl in compute_layers)

    if low_bit:
        worst = WType.TERNARY if WType.TERNARY in wtypes else WType.BIPOLAR
        lane_lut = float(a_bits + (1 if worst is WType.TERNARY else 0))
        pbits = a_bits + 1
        mult = Resources(lut=macs * lane_lut, ff=float(macs * pbits))
        mult = mult + Resources(dsp=float(math.ceil(cfg.engines / SCALE_ENGINES_PER_DSP[worst])))
        tree = adder_tree_luts(cfg.lanes, pbits) * cfg.engines
    elif w_bits + a_bits <= 8:
        pbits = w_bits + a_bits
        mult = Resources(lut=macs * lut_multiplier_luts(w_bits, a_bits), ff=float(macs * pbits))
        tree = adder_tree_luts(cfg.lanes, pbits) * cfg.engines
    else:
        pbits = w_bits + a_bits
        dsp = math.ceil(macs * dsp_per_lane(w_bits, a_bits, device.dsp_block, cfg.pack_int8))
        mult = Resources(dsp=float(dsp), ff=float(macs * pbits))
        tree = adder_tree_luts(cfg.lanes, pbits) * cfg.engines
    datapath = mult + Resources(lut=tree + cfg.engines * acc, ff=tree + cfg.engines * acc)

    max_mw = max(rl.mw for rl in compute_layers)
    depth = math.ceil(max_mw / cfg.lanes) * cfg.buffer_tiles
    buffers = (
        place_memory(cfg.lanes * a_bits, depth, device)
        + place_memory(cfg.engines * cfg.lanes * w_bits, depth, device)
        + place_memory(cfg.engines * acc, 1024 * cfg.buffer_tiles, device)
    )
    base = Resources(lut=ENGINES_BASE_LUT, ff=ENGINES_BASE_FF)
    resources = datapath + buffers + base

    shell = shell_resources(device)
    costs: list[LayerCost] = []
    for rl in compute_layers:
        compute, memory = _layer_cycles(rl, cfg)
        cycles = max(compute, memory)
        costs.append(LayerCost(rl.name, rl.op, Resources(), cycles, cycles))
    total_cycles = sum(c.cycles for c in costs)
    return NetworkCost(
        network=network_name,
        device=device,
        clock_mhz=clock_mhz,
        layers=tuple(costs),
        shell=resources + shell,
        total=resources + shell,
        cycles_per_frame=total_cycles,
        latency_cycles=total_cycles,
    )
