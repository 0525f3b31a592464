"""Calibration of the dse cost model against published implementation results.

For every reference row of tests/fixtures/seed_results.csv that the model can express,
prints our estimate next to the published number and the error, then the mean absolute
percentage error (MAPE) per resource, separately for the rows used to FIT constants and
the rows only used to CHECK. It also re-derives the fitted constants from their rows and
prints them next to the values in the code, so a drift shows.

Run: python benchmarks/calibration.py
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from costmodels import (
    Arith,
    Device,
    EngineConfig,
    LayerChoice,
    LayerSpec,
    Network,
    NetworkCost,
    Op,
    Template,
    estimate,
    get_device,
    resolve,
)
from costmodels.arith import (
    LUT_MULT_OVERHEAD_W8A8,
    LUT_MULT_PER_INPUT_BIT_W8,
    RCCM_LANE_OVERHEAD,
    RCCM_LUT_PER_INPUT_BIT,
)
from costmodels.engines import ENGINES_BASE_LUT
from costmodels.mvau import mvau_breakdown, mvau_cost
from costmodels.types import Scaling
from costmodels.zoo import alexnet_thesis_network, resnet18_main_path

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "seed_results.csv"
KU115 = get_device("xcku115")
ZU3 = get_device("ultra96")
ZU9 = get_device("zcu102")


@dataclass(frozen=True)
class Comparison:
    row_id: int
    role: str  # "fit" | "check"
    what: str
    resource: str
    published: float
    ours: float

    @property
    def error_pct(self) -> float:
        return 100.0 * (self.ours - self.published) / self.published if self.published else 0.0


def load_rows() -> dict[int, dict[str, str]]:
    with FIXTURE.open(newline="", encoding="utf-8") as fh:
        return {int(r["row_id"]): r for r in csv.DictReader(fh)}


def _num(text: str) -> float:
    return float(text.replace(",", ""))


# ---------------------------------------------------------------- single layers


def table65_layer(arith: Arith) -> Network:
    """Thesis Table 6.5: one CNN layer of 10 neurons (PEs), 8-bit inputs and weights, one
    multiplier per neuron (SIMD 1). The neuron's fan-in is not stated: 1,024 assumed (it
    sets the 26-bit accumulator and fills one RAMB18 per neuron, matching the published
    5 BRAM36 = 10 BRAM18). Raw accumulators out (the table reports the MAC datapath)."""
    choice = LayerChoice(w_bits=8, a_bits=None, pe=10, simd=1, arith=arith)
    return Network("t65", (1024,), 8, (LayerSpec("fc", Op.DENSE, out_channels=10, choice=choice),))


TABLE65 = {29: Arith.DSP, 30: Arith.LUT, 31: Arith.RCCM2, 32: Arith.RCCM3, 33: Arith.RCCM4}


def table57_layer(simd: int, pe: int, scaling: Scaling = Scaling.LAYER) -> Network:
    """Thesis Table 5.7: one MVTU, I=384 input channels, N=256 filters, K=3 (matrix
    3456 x 256), binary weights (SYQ) x 2-bit activations, 2-bit thresholds out; rows
    23-25 layer-wise scales, 26-28 pixel-wise SYQ (one scaling multiplier per PE)."""
    choice = LayerChoice(w_bits=1, a_bits=2, pe=pe, simd=simd, scaling=scaling)
    conv = LayerSpec("mvtu", Op.CONV, out_channels=256, kernel=3, padding=1, choice=choice)
    return Network("t57", (384, 14, 14), 2, (conv,))


TABLE57 = {23: (32, 32), 24: (64, 32), 25: (32, 64), 26: (32, 32), 27: (64, 32), 28: (32, 64)}
TABLE67_LAYERS = {
    "Conv1": "conv1",
    "Conv2": "conv2",
    "Conv3": "conv3",
    "Conv4": "conv4",
    "Conv5": "conv5",
}
TABLE66_NETWORKS = {39: Arith.RCCM2, 40: Arith.RCCM3, 41: Arith.RCCM4, 42: Arith.LUT, 43: Arith.DSP}


def compare_rows(rows: dict[int, dict[str, str]]) -> list[Comparison]:
    out: list[Comparison] = []

    # rows 60-63: LUT per input bit of the multipliers (fit: the slopes are the constants)
    slopes = {
        60: LUT_MULT_PER_INPUT_BIT_W8,
        61: RCCM_LUT_PER_INPUT_BIT[Arith.RCCM2],
        62: RCCM_LUT_PER_INPUT_BIT[Arith.RCCM3],
        63: RCCM_LUT_PER_INPUT_BIT[Arith.RCCM4],
    }
    for rid, ours in slopes.items():
        out.append(
            Comparison(
                rid,
                "fit",
                f"LUT/input bit {rows[rid]['arithmetic']}",
                "lut_per_bit",
                _num(rows[rid]["other_value"]),
                ours,
            )
        )

    # rows 29-33: Table 6.5 single layer (fit: lane overheads)
    for rid, arith in TABLE65.items():
        (rl,) = resolve(table65_layer(arith))
        cost = mvau_cost(rl, KU115)
        r = rows[rid]
        what = f"T6.5 10-PE layer {r['layer']}"
        out.append(Comparison(rid, "fit", what, "lut", _num(r["lut"]), cost.resources.lut))
        out.append(Comparison(rid, "fit", what, "dsp", _num(r["dsp"]), cost.resources.dsp))
        out.append(
            Comparison(rid, "fit", what, "bram18", _num(r["bram18_equiv"]), cost.resources.bram18)
        )

    # rows 23-28: Table 5.7 MVTU (check; Vivado HLS estimates, not PAR)
    for rid, (simd, pe) in TABLE57.items():
        (rl,) = resolve(table57_layer(simd, pe, Scaling.PIXEL if rid >= 26 else Scaling.LAYER))
        cost = mvau_cost(rl, ZU3)
        r = rows[rid]
        what = f"T5.7 MVTU SIMD={simd} PE={pe} {r['layer']}"
        out.append(Comparison(rid, "check", what, "lut", _num(r["lut"]), cost.resources.lut))
        out.append(
            Comparison(rid, "check", what, "bram18", _num(r["bram18_equiv"]), cost.resources.bram18)
        )
        out.append(Comparison(rid, "check", what, "dsp", _num(r["dsp"]), cost.resources.dsp))

    # rows 44-53: Table 6.7 weight-buffer BRAM per layer (check)
    nets = {
        a: {rl.name: rl for rl in resolve(alexnet_thesis_network(a))}
        for a in (Arith.RCCM2, Arith.LUT)
    }
    for rid in range(44, 54):
        r = rows[rid]
        arith = Arith.RCCM2 if r["arithmetic"] == "rccm-2add" else Arith.LUT
        rl = nets[arith][TABLE67_LAYERS[r["layer"]]]
        w = dict(mvau_breakdown(rl, KU115))["weights"]
        out.append(
            Comparison(
                rid,
                "check",
                f"T6.7 {r['layer']} weights {r['arithmetic']}",
                "bram18",
                _num(r["bram18_equiv"]),
                w.bram18,
            )
        )

    # rows 39-43: Table 6.6 full AlexNet CONV dataflow on KU115 (check)
    for rid, arith in TABLE66_NETWORKS.items():
        r = rows[rid]
        ncost = estimate(alexnet_thesis_network(arith), KU115)
        what = f"T6.6 AlexNet dataflow {r['layer']}"
        out.append(Comparison(rid, "check", what, "lut", _num(r["lut"]), ncost.total.lut))
        out.append(Comparison(rid, "check", what, "dsp", _num(r["dsp"]), ncost.total.dsp))
        out.append(
            Comparison(rid, "check", what, "bram18", _num(r["bram18_equiv"]), ncost.total.bram18)
        )

    # TwinDNN Table 1/2 engines (rows 1, 4 fit LUT base and DRAM bandwidth; others check)
    twindnn: dict[int, tuple[str, Callable[[], NetworkCost]]] = {
        1: ("fit-lut", lambda: _engines(resnet18_main_path(16, 16, imagenet=False), ZU3, 100)),
        4: ("fit", lambda: _engines(resnet18_main_path(16, 16), ZU3, 150)),
        5: ("check", lambda: _engines(resnet18_main_path(8, 8), ZU3, 150, EngineConfig(lanes=32))),
        6: ("check", lambda: _engines(resnet18_main_path(2, 8), ZU3, 150)),
        2: ("check", lambda: _engines(_binary_convnet(), ZU3, 100)),
    }
    for rid, (role, make) in twindnn.items():
        r = rows[rid]
        ncost = make()
        what = f"TwinDNN {r['network']} {r['dataset']} {r['weight_bits']}-bit engines"
        out.append(
            Comparison(
                rid,
                "fit" if role.startswith("fit") else "check",
                what,
                "lut",
                _num(r["lut"]),
                ncost.total.lut,
            )
        )
        out.append(Comparison(rid, "check", what, "dsp", _num(r["dsp"]), ncost.total.dsp))
        out.append(
            Comparison(
                rid,
                "fit" if role == "fit" else "check",
                what,
                "latency_ms",
                _num(r["latency"]),
                ncost.latency_ms,
            )
        )
    return out


def _engines(
    net: Network, device: Device, clock: float, cfg: EngineConfig | None = None
) -> NetworkCost:
    """TwinDNN's 16 x 16 engines (the 8-bit design packs two products per DSP and so
    runs 16 x 32 MACs on the same 256 DSPs, Table 1)."""
    return estimate(net, device, template=Template.ENGINES, clock_mhz=clock, engines=cfg)


def _binary_convnet() -> Network:
    """Zhao et al. FPGA'17 BNN ConvNet (TwinDNN's CIFAR binary net): six 3x3 convs
    (128, 128, 256, 256, 512, 512, max pool after every second) and dense 1024, 1024, 10;
    binary weights and activations, 8-bit first-layer input."""
    ch = LayerChoice(w_bits=1, a_bits=1)
    layers: list[LayerSpec] = []
    for i, out in enumerate((128, 128, 256, 256, 512, 512)):
        layers.append(
            LayerSpec(f"conv{i}", Op.CONV, out_channels=out, kernel=3, padding=1, choice=ch)
        )
        if i % 2:
            layers.append(LayerSpec(f"pool{i}", Op.MAXPOOL, kernel=2))
    for j, out in enumerate((1024, 1024, 10)):
        layers.append(LayerSpec(f"fc{j}", Op.DENSE, out_channels=out, choice=ch))
    return Network("zhao-bnn", (3, 32, 32), 8, tuple(layers))


def refit(rows: dict[int, dict[str, str]]) -> list[tuple[str, float, float]]:
    """Re-derive the fitted constants from their rows: (name, from rows, in code)."""
    out: list[tuple[str, float, float]] = []
    dsp_lut = _num(rows[29]["lut"])
    acc = 26  # 8 + 8 + log2(1024): the accumulator the DSP variant keeps in the DSP
    slope = {Arith.LUT: LUT_MULT_PER_INPUT_BIT_W8, **RCCM_LUT_PER_INPUT_BIT}
    for rid, arith in TABLE65.items():
        if arith is Arith.DSP:
            continue
        per_pe = (_num(rows[rid]["lut"]) - dsp_lut) / 10
        fitted = per_pe - slope[arith] * 8 - acc
        code = LUT_MULT_OVERHEAD_W8A8 if arith is Arith.LUT else RCCM_LANE_OVERHEAD[arith]
        out.append((f"lane overhead {arith.value} (LUT)", fitted, code))
    # engines base LUT: rows 1 and 4 (16-bit 16 x 16 engines), mean residual
    residuals = []
    for rid, net, clock in (
        (1, resnet18_main_path(16, 16, imagenet=False), 100),
        (4, resnet18_main_path(16, 16), 150),
    ):
        cost = _engines(net, ZU3, clock)
        residuals.append(_num(rows[rid]["lut"]) - (cost.total.lut - ENGINES_BASE_LUT))
    out.append(("engines base LUT", sum(residuals) / len(residuals), ENGINES_BASE_LUT))
    # DRAM bytes per cycle: bisect until row 4's latency is met
    net = resnet18_main_path(16, 16)
    target = _num(rows[4]["latency"])
    lo, hi = 0.05, 64.0
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        ms = estimate(
            net,
            ZU3,
            template=Template.ENGINES,
            clock_mhz=150,
            engines=EngineConfig(dram_bytes_per_cycle=mid),
        ).latency_ms
        lo, hi = (lo, mid) if ms < target else (mid, hi)
    out.append(("engines DRAM bytes/cycle", lo, EngineConfig().dram_bytes_per_cycle))
    return out


def finn_synth_main() -> None:
    """Per FINN op and resource on shared/reference/finn_synth (see benchmarks/_finn_synth.py)."""
    import _finn_synth as fs

    folder = fs.finn_synth_dir()
    if folder is None:
        print("finn_synth: shared/reference/finn_synth not found (set DSE_SHARED); skipped")
        return
    configs = fs.load_configs(folder)
    counts = ", ".join(f"{op} {len(v)}" for op, v in sorted(configs.items()))
    print(f"finn_synth ({folder}): distinct configurations: {counts}")
    print("MAPE over configurations with a synthesized value > 0; bias = sum(est - syn) / sum(syn)")
    fs.print_table(configs, fs.estimators())
    print()
    fs.leave_one_model_out(folder)
    print()


def main() -> None:
    finn_synth_main()
    rows = load_rows()
    comps = compare_rows(rows)
    print(
        f"{'row':>4} {'role':5} {'resource':11} {'published':>11} {'ours':>11} {'error':>8}  what"
    )
    for c in comps:
        print(
            f"{c.row_id:>4} {c.role:5} {c.resource:11} {c.published:>11,.1f} {c.ours:>11,.1f} "
            f"{c.error_pct:>+7.1f}%  {c.what}"
        )
    print()
    for role in ("fit", "check"):
        by_res: dict[str, list[float]] = defaultdict(list)
        for c in comps:
            if c.role == role and c.published:
                by_res[c.resource].append(abs(c.error_pct))
        summary = ", ".join(
            f"{k} {sum(v) / len(v):.1f}% (n={len(v)})" for k, v in sorted(by_res.items())
        )
        print(f"MAPE {role:5}: {summary}")
    print()
    print("fitted constants, re-derived from their rows vs. the value in the code:")
    for name, fitted, code in refit(rows):
        flag = "" if math.isclose(fitted, code, rel_tol=0.05, abs_tol=0.5) else "  <- drifted"
        print(f"  {name:32s} rows: {fitted:10.2f}   code: {code:10.2f}{flag}")


if __name__ == "__main__":
    main()
