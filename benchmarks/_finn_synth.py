"""The finn_synth part of benchmarks/calibration.py: per FINN op and resource, MAPE and
signed bias of each estimator on the distinct configurations of
shared/reference/finn_synth (fit and held-out split), beside FINN's own estimator.

MAPE is over configurations whose synthesized value is > 0; bias is
sum(estimate - synthesized) / sum(synthesized) over all configurations of the split
(so a model that is always under shows a negative bias).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from costmodels.calibration.rows import NodeConfig, NodeRow, distinct_configs, read_csv

RESOURCES = ("lut", "ff", "dsp", "bram18")
OPS = (
    "MVAU",
    "Thresholding",
    "ConvolutionInputGenerator",
    "FMPadding",
    "StreamingFIFO",
    "StreamingDataWidthConverter",
    "LabelSelect",
)


def finn_synth_dir() -> Path | None:
    """shared/reference/finn_synth: $DSE_SHARED/reference/finn_synth, else the first
    `shared/` found beside this checkout or one of its parents."""
    env = os.environ.get("DSE_SHARED")
    if env:
        p = Path(env) / "reference" / "finn_synth"
        return p if p.is_dir() else None
    here = Path(__file__).resolve().parent.parent
    for parent in (here, *here.parents):
        p = parent / "shared" / "reference" / "finn_synth"
        if p.is_dir():
            return p
    return None


def load_configs(folder: Path) -> dict[str, list[NodeConfig]]:
    rows: list[NodeRow] = []
    for f in sorted(folder.glob("*.csv")):
        rows.extend(read_csv(f))
    out: dict[str, list[NodeConfig]] = {}
    for cfg in distinct_configs(rows):
        out.setdefault(cfg.row.finn_op, []).append(cfg)
    return out


Predictor = Callable[[NodeRow], "dict[str, float] | None"]


@dataclass(frozen=True)
class Score:
    n: int
    mape: float | None
    bias: float | None


def score(configs: Sequence[NodeConfig], predict: Predictor, resource: str) -> Score:
    errs: list[float] = []
    diff = truth = 0.0
    n = 0
    for cfg in configs:
        pred = predict(cfg.row)
        if pred is None or resource not in pred:
            continue
        n += 1
        true = getattr(cfg.row, resource)
        est = pred[resource]
        diff += est - true
        truth += true
        if true > 0:
            errs.append(abs(est - true) / true)
    mape = 100.0 * sum(errs) / len(errs) if errs else None
    bias = 100.0 * diff / truth if truth > 0 else None
    return Score(n, mape, bias)


def _cell(s: Score) -> str:
    if s.n == 0:
        return f"{'-':>15}"
    m = f"{s.mape:6.1f}%" if s.mape is not None else "      -"
    b = f"{s.bias:+6.1f}%" if s.bias is not None else "      -"
    return f"{m} {b}"


def print_table(configs: dict[str, list[NodeConfig]], estimators: dict[str, Predictor]) -> None:
    """One line per (op, estimator, split): MAPE, bias and count per resource."""
    head = " ".join(f"{r + ' MAPE  bias':>15}" for r in RESOURCES)
    print(f"{'FINN op':28} {'estimator':14} {'split':8} {'n':>4} {head}")
    for op in OPS:
        cfgs = configs.get(op, [])
        for name, predict in estimators.items():
            for split, members in (
                ("fit", [c for c in cfgs if not c.heldout]),
                ("held-out", [c for c in cfgs if c.heldout]),
            ):
                scores = [score(members, predict, r) for r in RESOURCES]
                if all(s.n == 0 for s in scores):
                    continue
                cells = " ".join(_cell(s) for s in scores)
                n = max(s.n for s in scores)
                print(f"{op:28} {name:14} {split:8} {n:>4} {cells}")


# ------------------------------------------------------------- the models before issue 10


def _bits(text: str) -> int:
    from costmodels.calibration.nodes import FinnType

    return FinnType.parse(text).bits


def legacy_mvau(row: NodeRow, attributes: bool = False) -> dict[str, float] | None:
    """The dse dataflow model's MVAU unit for a row, through the spec as it was before
    issue 10: one dense layer, weights 1-bit bipolar / 2-bit ternary / k-bit int, output
    bits from outputDataType (null with noActivation), arith xnor/dsp/lut from
    binaryXnorMode/resType; no ram_style, no signed activations. With `attributes`, the
    spec as it is since issue 10: the row's ram_style, impl and signed/unsigned types too."""
    from dataclasses import replace

    from costmodels import (
        Arith,
        Impl,
        LayerChoice,
        LayerSpec,
        Network,
        NumType,
        Op,
        RamStyle,
        get_device,
        resolve,
    )
    from costmodels.mvau import mvau_cost

    mw, mh = int(row.attr("MW")), int(row.attr("MH"))
    w = _bits(row.attr("weightDataType"))
    a_in = _bits(row.attr("inputDataType"))
    a_out = None if row.attr("noActivation") == "1" else _bits(row.attr("outputDataType"))
    if row.attr("binaryXnorMode") == "1":
        arith = Arith.XNOR
    elif row.attr("resType") == "dsp":
        arith = Arith.DSP
    else:
        arith = Arith.LUT
    choice = LayerChoice(
        w_bits=w, a_bits=a_out, pe=int(row.attr("PE")), simd=int(row.attr("SIMD")), arith=arith
    )
    in_type = None
    if attributes:
        from costmodels.calibration.nodes import FinnType

        t_in = FinnType.parse(row.attr("inputDataType"))
        t_out = FinnType.parse(row.attr("outputDataType"))
        xnor = row.attr("binaryXnorMode") == "1"
        in_type = NumType.BIPOLAR if xnor else NumType.SIGNED if t_in.signed else NumType.UNSIGNED
        a_type = None
        if a_out is not None and a_out > 1:
            a_type = NumType.SIGNED if t_out.signed else NumType.UNSIGNED
        choice = replace(
            choice,
            ram_style=RamStyle(row.attr("ram_style", "auto")),
            impl=Impl.RTL if row.impl == "rtl" else Impl.HLS,
            arith=Arith.DSP if row.impl == "rtl" else choice.arith,
            a_type=a_type,
        )
    net = Network(
        "row",
        (mw,),
        a_in,
        (LayerSpec("fc", Op.DENSE, out_channels=mh, choice=choice),),
        input_type=in_type,
    )
    (rl,) = resolve(net, check_folding=False)  # a few rows fold MW by a non-divisor
    r = mvau_cost(rl, get_device("pynq-z2")).resources
    return {"lut": r.lut, "ff": r.ff, "dsp": r.dsp, "bram18": r.bram18}


def finn_mvau(row: NodeRow) -> dict[str, float] | None:
    """FINN's own estimator (costmodels.finn, finn-plus 1.6.1 formulas) on the row's
    attributes as they are."""
    from costmodels.calibration.nodes import FinnType, parse_ints, prod
    from costmodels.finn import FinnMvau, finn_estimate

    w = FinnType.parse(row.attr("weightDataType"))
    a = FinnType.parse(row.attr("inputDataType"))
    xnor = row.attr("binaryXnorMode") == "1"
    node = FinnMvau(
        mw=int(row.attr("MW")),
        mh=int(row.attr("MH")),
        pe=int(row.attr("PE")),
        simd=int(row.attr("SIMD")),
        w_bits=w.bits,
        a_bits=a.bits,
        out_bits=FinnType.parse(row.attr("outputDataType")).bits,
        num_vectors=prod(parse_ints(row.attr("numInputVectors", "[1]"), "", "")),
        input_signed=a.signed or xnor,
        res_type=row.attr("resType", "lut"),
        mem_mode=row.attr("mem_mode", "internal_decoupled"),
        ram_style=row.attr("ram_style", "auto"),
        no_activation=row.attr("noActivation") == "1",
        backend=row.impl,
        dsp_block="DSP48E1",
    )
    e = finn_estimate(node)
    return {"lut": float(e.lut), "dsp": float(e.dsp), "bram18": float(e.bram18)}


def legacy_swu(row: NodeRow) -> dict[str, float] | None:
    """The dse model's sliding window (costmodels.swu) for a ConvolutionInputGenerator row
    (its padding comes from the FMPadding node in front, so padding 0 here)."""
    from costmodels import LayerChoice, LayerSpec, Network, Op, get_device, resolve
    from costmodels.calibration.nodes import parse_ints
    from costmodels.swu import swu_resources

    k = parse_ints(row.attr("ConvKernelDim"), "", "")[0]
    s = parse_ints(row.attr("Stride"), "", "")[0]
    dim = parse_ints(row.attr("IFMDim"), "", "")[0]
    ch = int(row.attr("IFMChannels"))
    simd = int(row.attr("SIMD"))
    choice = LayerChoice(w_bits=2, a_bits=2, pe=1, simd=simd)
    conv = LayerSpec("c", Op.CONV, out_channels=1, kernel=k, stride=s, choice=choice)
    (rl,) = resolve(Network("row", (ch, dim, dim), _bits(row.attr("inputDataType")), (conv,)))
    r = swu_resources(rl, get_device("pynq-z2"))
    return {"lut": r.lut, "ff": r.ff, "dsp": r.dsp, "bram18": r.bram18}


def legacy_fifo(row: NodeRow) -> dict[str, float] | None:
    """The dse model's stream FIFO (costmodels.memory.fifo_cost) where the row has a depth
    and a width."""
    from costmodels import get_device
    from costmodels.memory import fifo_cost

    depth, width = row.attr("depth"), row.attr("inWidth")
    if not depth or not width:
        return None
    r = fifo_cost(int(width), int(float(depth)), get_device("pynq-z2"))
    return {"lut": r.lut, "ff": r.ff, "dsp": r.dsp, "bram18": r.bram18}


def legacy(row: NodeRow) -> dict[str, float] | None:
    match row.finn_op:
        case "MVAU":
            return legacy_mvau(row)
        case "ConvolutionInputGenerator":
            return legacy_swu(row)
        case "StreamingFIFO":
            return legacy_fifo(row)
    return None


def finn(row: NodeRow) -> dict[str, float] | None:
    return finn_mvau(row) if row.finn_op == "MVAU" else None


def calibrated(row: NodeRow) -> dict[str, float] | None:
    """The per-FINN-node unit model with the shipped profile
    (costmodels/data/calibration/finn-xc7z020-vivado2023.2.yaml, fitted by `dse calibrate`
    on these rows with the same held-out split)."""
    from costmodels.calibration.nodes import node_from_row
    from costmodels.calibration.profile import default_profile
    from costmodels.finn_units import unit_resources

    node = node_from_row(row)
    if node is None:
        return None
    r = unit_resources(node, default_profile().coefficients)
    return {"lut": r.lut, "ff": r.ff, "dsp": r.dsp, "bram18": r.bram18}


def estimators() -> dict[str, Predictor]:
    """The estimators the table compares."""

    def with_attributes(row: NodeRow) -> dict[str, float] | None:
        return legacy_mvau(row, attributes=True) if row.finn_op == "MVAU" else None

    return {
        "dse (before)": legacy,
        "dse +attrs": with_attributes,
        "dse units": calibrated,
        "FINN": finn,
    }


def leave_one_model_out(folder: Path) -> None:
    """Fit on three networks' rows, score the fourth (every configuration of it): how the
    unit model carries to a network it has not seen (shapes, bit-widths). MVAU only."""
    from costmodels.calibration.fit import fit_profile, score
    from costmodels.calibration.nodes import node_from_row
    from costmodels.calibration.profile import PRIORS, load_profile

    rows: list[NodeRow] = []
    for f in sorted(folder.glob("*.csv")):
        rows.extend(read_csv(f))
    base = load_profile(PRIORS)
    print(
        "leave one network out (fit on the other three; MVAU configurations of the one left out):"
    )
    for model in sorted({r.model_id for r in rows}):
        train = [r for r in rows if r.model_id != model]
        profile, _ = fit_profile(train, base, name=f"without-{model}", date="-")
        pairs = []
        for cfg in distinct_configs(r for r in rows if r.model_id == model):
            node = node_from_row(cfg.row)
            if node is not None and node.finn_op == "MVAU":
                pairs.append((cfg, node))
        cells = []
        for s in score(pairs, profile, "MVAU", "left-out"):
            m = "-" if s.mape is None else f"{s.mape:.1f}%"
            b = "-" if s.bias is None else f"{s.bias:+.1f}%"
            cells.append(f"{s.resource} {m} / {b}")
        print(f"  {model:12s} n={len(pairs):4d}  " + ", ".join(cells))
