"""The Pan thesis (seed 004) trends through the cost model: LQ-Nets table / bit-plane
arithmetic on its AlexNet layer-2 shape against wide fixed-point baselines on one XCKU095,
and an AlexNet that fits no single board placed on several.

    python benchmarks/lqnets.py              # cost model only (about a second)
    python benchmarks/lqnets.py --accuracy   # plus LQ vs uniform accuracy on digits-cnn

What the thesis reports (Tables 5.1/5.2, 4.1.2; seed_results rows 75-78, Vivado HLS
estimates): on conv2, the LQ 2/2-bit table method needs about 1/3 of the FP32 design's BRAM
and 30 % less latency (2,393,524,791 -> 1,739,580,726 cycles); one CONV layer per XCKU095
uses under 50 % BRAM and under 30 % logic; one board's BRAM does not hold the whole model.
The cost model has no floating point: the widest baseline is 16-bit fixed point (DSP).
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import replace
from pathlib import Path

from costmodels import estimate, get_device
from costmodels.cluster import Cluster, Link, estimate_cluster, parse_cluster
from costmodels.network import divisors, resolve
from costmodels.types import (
    Arith,
    LayerChoice,
    LayerSpec,
    Network,
    NetworkCost,
    NumType,
    Op,
    WType,
)

REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "seed_results.csv"
DEVICE = get_device("XCKU095")
BRAM_CAP, LOGIC_CAP = 50.0, 30.0  # thesis 4.1.2: "below 50% BRAM ... below 30% logic"


def conv2(choice: LayerChoice) -> Network:
    """AlexNet conv2 as the thesis runs it (Listing 4.1: a 31x31 padded window of a 27x27
    map, 5x5 kernels): 96 -> 256 channels, 27x27, stride 1, padding 2."""
    layer = LayerSpec("conv2", Op.CONV, out_channels=256, kernel=5, padding=2, choice=choice)
    return Network("alexnet-conv2", (96, 27, 27), choice.w_bits, (layer,))


VARIANTS: dict[str, LayerChoice] = {
    "16-bit DSP (widest fixed point)": LayerChoice(w_bits=16, a_bits=16, arith=Arith.DSP),
    "8-bit DSP": LayerChoice(w_bits=8, a_bits=8, w_type=WType.INT, arith=Arith.DSP),
    "LQ 2/2 table (thesis)": LayerChoice(
        w_bits=2, a_bits=2, w_type=WType.LQ, a_type=NumType.LQ, arith=Arith.TABLE
    ),
    "LQ 2/2 bit-plane (Fig. 4.4)": LayerChoice(
        w_bits=2, a_bits=2, w_type=WType.LQ, a_type=NumType.LQ, arith=Arith.BITPLANE
    ),
}


def lq_input(net: Network, bits: int) -> Network:
    """The same layer fed by `bits`-bit input codes (the previous layer's activations)."""
    return replace(net, input_bits=bits)


def best_under_budget(choice: LayerChoice) -> tuple[NetworkCost, LayerChoice] | None:
    """The fastest folding (PE x SIMD over the divisors) whose unit stays under the thesis'
    budget on XCKU095: BRAM18 <= 50 %, LUT and DSP <= 30 %."""
    best: tuple[NetworkCost, LayerChoice] | None = None
    in_bits = choice.a_bits or 8
    for pe, simd in itertools.product(divisors(256), divisors(96)):
        c = replace(choice, pe=pe, simd=simd)
        cost = estimate(lq_input(conv2(c), in_bits), DEVICE)
        u = cost.utilization
        fits = u.bram18 <= BRAM_CAP and u.lut <= LOGIC_CAP and u.dsp <= LOGIC_CAP
        if fits and (best is None or cost.cycles_per_frame < best[0].cycles_per_frame):
            best = (cost, c)
    return best


def thesis_rows() -> dict[str, str]:
    out: dict[str, str] = {}
    if REF.is_file():
        with REF.open(newline="") as f:
            for row in csv.DictReader(f):
                if row["row_id"] in ("77", "78"):
                    out[row["row_id"]] = row["latency"]
    return out


def alexnet(w_conv: int, w_fc: int) -> Network:
    """AlexNet (Krizhevsky et al.; the LQ-Nets variant with batch norm, no groups) with LQ
    weights: `w_conv` bits in conv2-5, `w_fc` bits in fc6-fc7, 8-bit first and last layers;
    2-bit LQ activations. Folding by hand (PE x SIMD per layer)."""

    def ch(w: int, pe: int, simd: int, wt: WType = WType.LQ, a: int | None = 2) -> LayerChoice:
        return LayerChoice(
            w_bits=w, a_bits=a, w_type=wt, a_type=NumType.LQ if a else None, pe=pe, simd=simd,
            arith=Arith.AUTO,
        )  # fmt: skip

    layers = (
        LayerSpec("conv1", Op.CONV, 96, kernel=11, stride=4, padding=2,
                  choice=ch(8, 16, 3, WType.INT)),
        LayerSpec("pool1", Op.MAXPOOL, kernel=3, stride=2),
        LayerSpec("conv2", Op.CONV, 256, kernel=5, padding=2, choice=ch(w_conv, 16, 32)),
        LayerSpec("pool2", Op.MAXPOOL, kernel=3, stride=2),
        LayerSpec("conv3", Op.CONV, 384, kernel=3, padding=1, choice=ch(w_conv, 16, 32)),
        LayerSpec("conv4", Op.CONV, 384, kernel=3, padding=1, choice=ch(w_conv, 16, 32)),
        LayerSpec("conv5", Op.CONV, 256, kernel=3, padding=1, choice=ch(w_conv, 16, 32)),
        LayerSpec("pool5", Op.MAXPOOL, kernel=3, stride=2),
        LayerSpec("fc6", Op.DENSE, 4096, choice=ch(w_fc, 8, 32)),
        LayerSpec("fc7", Op.DENSE, 4096, choice=ch(w_fc, 8, 32)),
        LayerSpec("fc8", Op.DENSE, 1000, choice=ch(8, 8, 16, WType.INT, None)),
    )  # fmt: skip
    return Network(f"alexnet-lq-w{w_conv}-fc{w_fc}", (3, 227, 227), 8, layers)


def accuracy_table() -> None:
    """Uniform vs LQ-Nets weights and activations, every layer at the same bits, on the
    built-in digits-cnn: post-training and after the search's 60-step fine-tune."""
    from dse.nn import AccuracyEvaluator, load_workload

    wl = load_workload("digits-cnn", seed=0)

    def with_all(bits: int, lq: bool) -> Network:
        out = {}
        for layer in wl.network.compute_layers:
            assert layer.choice is not None
            has_act = layer.choice.a_bits is not None
            out[layer.name] = replace(
                layer.choice,
                w_bits=bits,
                w_type=WType.LQ if lq else WType.INT,
                a_bits=bits if has_act else None,
                a_type=NumType.LQ if lq and has_act else None,
                arith=Arith.AUTO,
            )
        return wl.network.with_choices(out)

    print(f"== digits-cnn accuracy, all layers at k/k bits (float {wl.float_accuracy:.4f})")
    for steps in (0, 60):
        ev = AccuracyEvaluator(wl, finetune_steps=steps, seed=0)
        for bits in (2, 3):
            uni = ev.evaluate(with_all(bits, False)).accuracy
            lq = ev.evaluate(with_all(bits, True)).accuracy
            print(
                f"  {bits}/{bits} bits, {steps:3d} fine-tune steps: uniform {uni:.4f}  LQ {lq:.4f}"
            )


def main() -> None:
    import sys

    if "--accuracy" in sys.argv[1:]:
        accuracy_table()
    print("== AlexNet conv2 (96->256, 5x5, 27x27) on XCKU095, same folding PE=16 SIMD=16")
    base = None
    for label, choice in VARIANTS.items():
        c = replace(choice, pe=16, simd=16)
        cost = estimate(lq_input(conv2(c), choice.a_bits or 8), DEVICE, detail=True)
        (lc,) = cost.layers
        wmem = dict(lc.breakdown)["weights"].bram18
        base = base or wmem
        u = cost.utilization
        print(
            f"  {label:34s} weight BRAM18 {wmem:6.0f} ({wmem / base:5.2f}x)  "
            f"BRAM {u.bram18:5.1f}%  LUT {u.lut:5.1f}%  DSP {u.dsp:5.1f}%  "
            f"cycles/frame {cost.cycles_per_frame:,}"
        )
    print(f"== fastest folding under the thesis budget (BRAM <= {BRAM_CAP:g}%, LUT/DSP <= "
          f"{LOGIC_CAP:g}%) on XCKU095")  # fmt: skip
    ref_cycles = None
    for label, choice in VARIANTS.items():
        found = best_under_budget(choice)
        if found is None:
            print(f"  {label:34s} no folding fits")
            continue
        cost, c = found
        ref_cycles = ref_cycles or cost.cycles_per_frame
        u = cost.utilization
        print(
            f"  {label:34s} PE={c.pe:3d} SIMD={c.simd:2d}  cycles/frame {cost.cycles_per_frame:>9,}"
            f" ({cost.cycles_per_frame / ref_cycles:5.3f}x)  BRAM {u.bram18:4.1f}%  "
            f"LUT {u.lut:4.1f}%  DSP {u.dsp:4.1f}%"
        )
    rows = thesis_rows()
    if rows:
        lo2 = int(rows["77"].split("-")[0])
        lo_p = int(rows["78"].split("-")[0])
        print(
            f"  thesis Table 5.2 (HLS, FP32 -> LQ table): {lo2:,} -> {lo_p:,} cycles "
            f"({lo_p / lo2:.3f}x); Table 5.1 text: BRAM about 1/3"
        )

    print("== AlexNet with LQ weights (conv 2-bit, fc6/fc7 1-bit, 2-bit LQ activations)")
    net = alexnet(2, 1)
    layers = resolve(net)
    weights_mbit = (
        sum(rl.mw * rl.mh * rl.choice.w_bits for rl in layers if rl.op.is_compute) / 2**20
    )
    print(f"  weights {weights_mbit:.1f} Mbit; XCKU095 BRAM {DEVICE.bram18 * 18 / 1024:.1f} Mbit")
    single = estimate(net, DEVICE)
    print(f"  one XCKU095: BRAM {single.utilization.bram18:.0f}%, LUT "
          f"{single.utilization.lut:.0f}% -> fits at 85%: {single.fits(85.0)}")  # fmt: skip
    for n in (1, 2, 3, 4, 5):
        for gbps in (34.0, 9.9, 0.001):
            cluster = Cluster(parse_cluster(f"{n}xXCKU095").boards, Link(gbps=gbps))
            mc = estimate_cluster(layers, [single] * n, cluster, 85.0)
            if not mc.fits:
                print(f"  {n} x XCKU095 @ {gbps:g} Gbps: no placement fits")
                continue
            parts = "; ".join(
                f"{b.device.part}[{mc.layer_names[b.first]}..{mc.layer_names[b.last - 1]}] "
                f"BRAM {b.utilization().bram18:.0f}%"
                for b in mc.boards
            )
            loads = ", ".join(f"{p:.2f}%" for p in mc.link_load_pct())
            allow = min((gbps * 1e9 / b for b in mc.cut_bits), default=float("inf"))
            print(
                f"  {n} x XCKU095 @ {gbps:g} Gbps: {mc.n_boards} boards used, FPS {mc.fps:,.1f} "
                f"(compute {mc.compute_fps:,.1f}, links allow {allow:,.0f}), cut bits/frame "
                f"{', '.join(f'{b:,}' for b in mc.cut_bits)}, link load {loads}"
            )
            if gbps == 34.0:
                print(f"    {parts}")


if __name__ == "__main__":
    main()
