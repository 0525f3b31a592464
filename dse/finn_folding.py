"""A design as the folding configuration FINN applies (`step_apply_folding_config`).

FINN's `step_apply_folding_config` runs `GiveUniqueNodeNames(Recursive)` and then
`ApplyConfig`, which matches the JSON's keys against node names `<op_type>_<index>`, the
index counting nodes of one op type in graph order (finn-plus 1.6.1
`finn/transformation/qonnx/give_unique_node_names_recursive.py`,
`finn/transformation/general.py`). So this module lays out the hardware nodes FINN makes
from the design, in graph order, with the op types of the user's flow:

- every conv: `FMPadding` when padded, a `ConvolutionInputGenerator` (sliding window) unless
  it is 1x1 with stride 1 (FINN's `LowerConvsToMatMul` makes no Im2Col then), then an
  `MVAU` (a `VVAU` for depthwise convs); every dense layer: an `MVAU`;
- a layer's activation: absorbed into the MVAU (FINN's default), or a standalone
  `Thresholding` node with `standalone_thresholds`;
- max pooling: a depthwise sliding window plus `Pool` (finn-plus `InferPool`), or
  `StreamingMaxPool` where FINN uses it (upstream FINN, kernel == stride); global average
  pooling: `GlobalAccPool`; average pooling: sliding window plus `Pool`;
- a residual add: `DuplicateStreams` at the fork and `ElementwiseAdd` (`AddStreams` in
  upstream FINN);
- a classifier's top-1: `LabelSelect` (FINN's BNN-PYNQ builds insert TopK).

Which MVAUs become `_rtl` follows finn-plus 1.6.1 `specialize_layers._determine_impl_style`
(`preferred_impl_style` unset): RTL when the MVAU has no absorbed thresholds, is not in XNOR
mode, has signed weights and inputs of at least 4 bits that fit the DSP datapath, and (on
DSP48E1) narrow-range weights; VVAU_rtl only on Versal. Instead of predicting, the node
names can be read from the user's own FINN model (`dse.onnx_import.finn_nodes`).

Values are the design's: PE/SIMD of every unit, the sliding window's SIMD equal to its
conv's SIMD (FINN's CNV build, `test_end2end_bnn_pynq.fold_cnv_large`) or to the depthwise
consumer's PE (FINN `SetFolding`), `parallel_window` 1 where a VVAU folds the window taps
(SetFolding), `resType` from the arithmetic the cost model resolved (DSP -> `dsp`, every
LUT arithmetic -> `lut`), `ram_style` from where the cost model put the weights (`ultra`
only with `runtime_writeable_weights: 1` and `mem_mode: internal_decoupled`, which FINN
asserts for URAM weights on UltraScale, `MVAU.generate_infra_hdl`). FINN does not implement
MMV > 1 (`ConvolutionInputGenerator_rtl.M`: "not yet implemented"): such designs are refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from costmodels.arith import resolve_arith
from costmodels.errors import DseError
from costmodels.mvau import mvau_parts
from costmodels.network import INPUT, layer_inputs, resolve
from costmodels.types import Arith, Device, Impl, Network, Op, RamStyle, ResolvedLayer, WType


class FoldingExportError(DseError):
    """A design that cannot be written as a FINN folding configuration."""


class FinnFlow(str, Enum):
    """Which FINN names the nodes: finn-plus >= 1.0 (default), upstream FINN >= 0.10
    (specialized `_hls`/`_rtl` op types), or FINN <= 0.9 (`*_Batch` op types)."""

    FINN_PLUS = "finn-plus"
    FINN = "finn"
    LEGACY = "finn-legacy"


#: Abstract node kinds and their op type per flow; `None` in a slot: decided per node
#: (MVAU/VVAU hls or rtl). Sources: finn-plus 1.6.1 and FINN v0.10
#: `custom_op/fpgadataflow/{hls,rtl}/__init__.py`; FINN v0.9 `custom_op/fpgadataflow`.
_OP_TYPES: Mapping[str, Mapping[FinnFlow, str | None]] = {
    "MVAU": {
        FinnFlow.FINN_PLUS: None,
        FinnFlow.FINN: None,
        FinnFlow.LEGACY: "MatrixVectorActivation",
    },
    "VVAU": {
        FinnFlow.FINN_PLUS: None,
        FinnFlow.FINN: None,
        FinnFlow.LEGACY: "VectorVectorActivation",
    },
    "ConvolutionInputGenerator": {
        FinnFlow.FINN_PLUS: "ConvolutionInputGenerator_rtl",
        FinnFlow.FINN: "ConvolutionInputGenerator_rtl",
        FinnFlow.LEGACY: "ConvolutionInputGenerator",
    },
    "FMPadding": {
        FinnFlow.FINN_PLUS: "FMPadding_rtl",
        FinnFlow.FINN: "FMPadding_rtl",
        FinnFlow.LEGACY: "FMPadding_Batch",
    },
    "Thresholding": {
        FinnFlow.FINN_PLUS: "Thresholding_rtl",
        FinnFlow.FINN: "Thresholding_rtl",
        FinnFlow.LEGACY: "Thresholding_Batch",
    },
    "Pool": {
        FinnFlow.FINN_PLUS: "Pool_hls",
        FinnFlow.FINN: "Pool_hls",
        FinnFlow.LEGACY: "Pool_Batch",
    },
    "StreamingMaxPool": {
        FinnFlow.FINN_PLUS: "StreamingMaxPool_hls",
        FinnFlow.FINN: "StreamingMaxPool_hls",
        FinnFlow.LEGACY: "StreamingMaxPool_Batch",
    },
    "GlobalAccPool": {
        FinnFlow.FINN_PLUS: "GlobalAccPool_hls",
        FinnFlow.FINN: "GlobalAccPool_hls",
        FinnFlow.LEGACY: "GlobalAccPool_Batch",
    },
    "LabelSelect": {
        FinnFlow.FINN_PLUS: "LabelSelect_hls",
        FinnFlow.FINN: "LabelSelect_hls",
        FinnFlow.LEGACY: "LabelSelect_Batch",
    },
    "DuplicateStreams": {
        FinnFlow.FINN_PLUS: "DuplicateStreams_hls",
        FinnFlow.FINN: "DuplicateStreams_hls",
        FinnFlow.LEGACY: "DuplicateStreams_Batch",
    },
    "Concat": {
        FinnFlow.FINN_PLUS: "StreamingConcat_hls",
        FinnFlow.FINN: "StreamingConcat_hls",
        FinnFlow.LEGACY: "StreamingConcat",
    },
    "Add": {
        FinnFlow.FINN_PLUS: "ElementwiseAdd_hls",
        FinnFlow.FINN: "AddStreams_hls",
        FinnFlow.LEGACY: "AddStreams_Batch",
    },
}

#: The abstract kind of every op type FINN may name a node with (for reading a FINN model).
KIND_OF: Mapping[str, str] = {
    **{k: k for k in _OP_TYPES},
    "MatrixVectorActivation": "MVAU",
    "VectorVectorActivation": "VVAU",
    "AddStreams": "Add",
    "ElementwiseAdd": "Add",
    **{t: kind for kind, per_flow in _OP_TYPES.items() for t in per_flow.values() if t is not None},
    **{f"{k}_{s}": k for k in ("MVAU", "VVAU") for s in ("hls", "rtl")},
}

#: Maximum (activation, weight, accumulator) bits of the DSP datapath an RTL MVU fits
#: (finn-plus 1.6.1 `finn.util.basic.get_dsp_datapath_limits`).
DSP_DATAPATH_LIMITS: Mapping[str, tuple[int, int, int]] = {
    "DSP58": (24, 27, 58),
    "DSP48E2": (18, 27, 48),
    "DSP48E1": (18, 25, 48),
}


@dataclass
class FinnNode:
    """One hardware node FINN makes from the design, with the attributes to apply."""

    kind: str  # abstract kind (a key of _OP_TYPES)
    layer: str  # the dse layer it comes from
    attrs: dict[str, Any]
    op_type: str = ""  # the op type FINN names it by
    name: str = ""


@dataclass
class FoldingConfig:
    """The folding JSON (`config`) and which dse layer each FINN node comes from."""

    config: dict[str, Any]
    nodes: list[FinnNode] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def mvau_impl(
    layer: ResolvedLayer, *, absorbed_thresholds: bool, dsp_block: str, narrow_weights: bool
) -> str:
    """`hls` or `rtl`: the MVAU variant FINN's `SpecializeLayers` picks with no preferred
    impl style (finn-plus 1.6.1 `_determine_impl_style` and `_mvu_rtl_possible`)."""
    c = layer.choice
    xnor = c.weight_type is WType.BIPOLAR and layer.in_bits == 1
    signed_w = c.weight_type in (WType.BIPOLAR, WType.TERNARY, WType.INT)
    if absorbed_thresholds or xnor or not signed_w:
        return "hls"
    if c.w_bits < 4 or layer.in_bits < 4:
        return "hls"
    if dsp_block == "DSP48E1" and not narrow_weights:
        return "hls"
    max_act, max_w, max_acc = DSP_DATAPATH_LIMITS.get(dsp_block, DSP_DATAPATH_LIMITS["DSP48E1"])
    # dse activations are unsigned (thresholds or ReLU): one extra bit in the signed B port
    fits = layer.in_bits < max_act and c.w_bits <= max_w and layer.acc_bits <= max_acc
    return "rtl" if fits else "hls"


def _weights_ram_style(layer: ResolvedLayer, device: Device) -> str:
    """Where the cost model put the layer's weights: URAM, BRAM or LUTRAM."""
    for name, _lut, _ff, _dsp, bram18, uram in mvau_parts(layer, device):
        if name == "weights":
            return "ultra" if uram > 0 else ("block" if bram18 > 0 else "distributed")
    return "auto"  # pragma: no cover - mvau_parts always has a weights part


def _largest_divisor_at_most(n: int, cap: int) -> int:
    return max(d for d in range(1, max(1, min(n, cap)) + 1) if n % d == 0)


def _compute_attrs(
    rl: ResolvedLayer, device: Device, *, flow: FinnFlow, ram_style: str | None
) -> dict[str, Any]:
    """An MVAU/VVAU entry: the spec's `ram_style`/`mem_mode` where it sets them (issue 10
    fields), else where the cost model put the weights and FINN's default mode."""
    c = rl.choice
    arith = resolve_arith(c, rl.in_bits, rl.name)
    if c.ram_style is not RamStyle.AUTO:
        style = c.ram_style.value
    else:
        style = ram_style or _weights_ram_style(rl, device)
    mem_mode = c.mem_mode.value if c.mem_mode is not None else "internal_decoupled"
    if style == "ultra" and mem_mode != "internal_decoupled":
        raise FoldingExportError(
            f"layer {rl.name!r}: ram_style ultra needs mem_mode internal_decoupled (FINN "
            f"asserts it for URAM weights), the spec says {mem_mode}"
        )
    attrs: dict[str, Any] = {"PE": c.pe, "SIMD": c.simd, "ram_style": style}
    attrs["resType"] = "dsp" if arith is Arith.DSP else "lut"
    if flow is FinnFlow.LEGACY:  # FINN <= 0.9 names: const / decoupled / external
        mem_mode = {"internal_embedded": "const", "internal_decoupled": "decoupled"}.get(
            mem_mode, mem_mode
        )
    attrs["mem_mode"] = mem_mode
    attrs["runtime_writeable_weights"] = 1 if style == "ultra" else 0
    return attrs


def plan_nodes(
    design: Network,
    device: Device,
    *,
    flow: FinnFlow = FinnFlow.FINN_PLUS,
    standalone_thresholds: bool = False,
    label_select: bool = True,
    narrow_weights: bool = True,
    ram_styles: Mapping[str, str] | None = None,
) -> list[FinnNode]:
    """The hardware nodes FINN makes from `design`, in graph order, op types not yet
    named (see the module docstring). Raises `FoldingExportError` for MMV > 1."""
    layers = resolve(design)
    for rl in layers:
        if rl.op.is_compute and rl.choice.mmv > 1:
            raise FoldingExportError(
                f"layer {rl.name!r}: mmv={rl.choice.mmv}: FINN does not implement MMV > 1 "
                "(ConvolutionInputGenerator_rtl attribute M is not implemented); export this "
                "design with --format spec, or search with --max-mmv 1"
            )
    ram_styles = ram_styles or {}
    reads = layer_inputs(design.layers)
    consumers: dict[str, int] = {}
    for ins in reads:
        for name in ins:
            consumers[name] = consumers.get(name, 0) + 1
    nodes: list[FinnNode] = []
    first_lanes = next((rl.choice.simd for rl in layers if rl.op.is_compute), 1)
    lanes_at: dict[str, int] = {INPUT: first_lanes}
    channels_at: dict[str, int] = {INPUT: design.input_shape[0]}
    # a stream read by several layers forks there (FINN InsertDuplicateStreams)
    if consumers.get(INPUT, 0) > 1:
        pe = math.gcd(design.input_shape[0], first_lanes)
        nodes.append(FinnNode("DuplicateStreams", INPUT, {"PE": pe}))
    last_compute = [rl for rl in layers if rl.op.is_compute][-1].name
    for rl, ins in zip(layers, reads, strict=True):
        spec = rl.spec
        c = rl.choice
        lanes = lanes_at.get(ins[0], first_lanes) if ins else first_lanes
        if rl.op is Op.CONV:
            k, s = spec.kernel, spec.stride or 1
            cin = rl.in_channels
            dw = rl.is_depthwise
            swg_simd = math.gcd(cin, c.pe) if dw else c.simd
            if spec.padding:
                nodes.append(FinnNode("FMPadding", rl.name, {"SIMD": swg_simd}))
            if k > 1 or s > 1 or spec.padding:
                swg: dict[str, Any] = {"SIMD": swg_simd, "ram_style": "distributed"}
                if flow is not FinnFlow.LEGACY:
                    swg["parallel_window"] = 1 if dw and c.simd > 1 else 0
                nodes.append(FinnNode("ConvolutionInputGenerator", rl.name, swg))
            kind = "VVAU" if dw else "MVAU"
            attrs = _compute_attrs(rl, device, flow=flow, ram_style=ram_styles.get(rl.name))
            if dw:
                attrs["PE"] = math.gcd(cin, c.pe)
            nodes.append(FinnNode(kind, rl.name, attrs))
        elif rl.op is Op.DENSE:
            attrs = _compute_attrs(rl, device, flow=flow, ram_style=ram_styles.get(rl.name))
            nodes.append(FinnNode("MVAU", rl.name, attrs))
        elif rl.op in (Op.MAXPOOL, Op.AVGPOOL):
            ch = rl.in_channels
            pe = math.gcd(ch, lanes)
            k, s = spec.kernel, spec.stride or spec.kernel
            h, w = rl.in_shape[1], rl.in_shape[2]
            if rl.op is Op.AVGPOOL and k >= h and k >= w and not spec.padding:
                nodes.append(FinnNode("GlobalAccPool", rl.name, {"PE": pe}))
            elif rl.op is Op.MAXPOOL and flow is not FinnFlow.FINN_PLUS and k == s:
                nodes.append(FinnNode("StreamingMaxPool", rl.name, {"PE": 1}))
            else:
                swg = {"SIMD": pe, "ram_style": "distributed"}
                if flow is not FinnFlow.LEGACY:
                    swg["parallel_window"] = 0
                nodes.append(FinnNode("ConvolutionInputGenerator", rl.name, swg))
                nodes.append(FinnNode("Pool", rl.name, {"PE": pe}))
        elif rl.op is Op.ADD:
            nodes.append(FinnNode("Add", rl.name, {"PE": math.gcd(rl.out_channels, lanes)}))
        elif rl.op is Op.CONCAT:
            simd = lanes  # divides every input's channels (FINN StreamingConcat)
            for name in ins:
                simd = math.gcd(simd, channels_at.get(name, simd), lanes_at.get(name, simd))
            nodes.append(FinnNode("Concat", rl.name, {"SIMD": max(1, simd)}))
        if rl.op.is_compute:
            absorbed = c.a_bits is not None and not standalone_thresholds
            if c.a_bits is not None and standalone_thresholds:
                nodes.append(
                    FinnNode("Thresholding", rl.name, {"PE": math.gcd(rl.out_channels, c.pe)})
                )
            unit = next(n for n in reversed(nodes) if n.kind in ("MVAU", "VVAU"))
            unit.attrs["_impl"] = (
                c.impl.value  # the spec's impl: FINN's preferred_impl_style
                if c.impl is not Impl.AUTO
                else mvau_impl(
                    rl,
                    absorbed_thresholds=absorbed,
                    dsp_block=device.dsp_block,
                    narrow_weights=narrow_weights,
                )
            )
            if (
                unit.kind == "VVAU"
                and c.impl is Impl.AUTO
                and not (
                    device.dsp_block == "DSP58" and not absorbed and unit.attrs["_impl"] == "rtl"
                )
            ):
                unit.attrs["_impl"] = "hls"
            lanes = c.pe
            if rl.name == last_compute and label_select and rl.op is Op.DENSE:
                nodes.append(
                    FinnNode("LabelSelect", rl.name, {"PE": _largest_divisor_at_most(rl.mh, c.pe)})
                )
        elif rl.op is Op.CONCAT:
            lanes = nodes[-1].attrs["SIMD"]
        else:
            lanes = max(1, math.gcd(rl.out_channels, lanes))
        lanes_at[rl.name] = lanes
        channels_at[rl.name] = rl.out_shape[0]
        if consumers.get(rl.name, 0) > 1:
            pe = math.gcd(rl.out_shape[0], lanes)
            nodes.append(FinnNode("DuplicateStreams", rl.name, {"PE": pe}))
    return nodes


def name_nodes(nodes: Sequence[FinnNode], flow: FinnFlow) -> None:
    """Give each node FINN's op type for `flow` and the name `GiveUniqueNodeNames` gives it
    (`<op_type>_<index of that op type in graph order>`)."""
    counts: dict[str, int] = {}
    for n in nodes:
        op = _OP_TYPES[n.kind][flow]
        if op is None:
            op = f"{n.kind}_{n.attrs.get('_impl', 'hls')}"
        n.op_type = op
        n.name = f"{op}_{counts.get(op, 0)}"
        counts[op] = counts.get(op, 0) + 1


def match_finn_model(nodes: list[FinnNode], finn: Sequence[tuple[str, str]]) -> list[str]:
    """Take node names and op types from the user's FINN model (`(name, op_type)` in graph
    order, as `dse.onnx_import.finn_nodes` reads them): the i-th node of a kind in the model
    gets the i-th planned node of that kind. Returns notes on the model's nodes the design
    has no values for. Raises when a kind's counts differ."""
    planned: dict[str, list[FinnNode]] = {}
    for n in nodes:
        planned.setdefault(n.kind, []).append(n)
    found: dict[str, list[tuple[str, str]]] = {}
    notes: list[str] = []
    for name, op in finn:
        kind = KIND_OF.get(op)
        if kind is None:
            notes.append(f"no entry for {name} ({op}): dse has no values for this node")
            continue
        found.setdefault(kind, []).append((name, op))
    for kind in sorted(set(planned) | set(found)):
        have, want = found.get(kind, []), planned.get(kind, [])
        if len(have) != len(want):
            raise FoldingExportError(
                f"the FINN model has {len(have)} {kind} node(s), the design makes "
                f"{len(want)}: is it a FINN model of this network (and the same "
                "standalone_thresholds / label select)?"
            )
        for n, (name, op) in zip(want, have, strict=True):
            n.name, n.op_type = name, op
            if kind in ("MVAU", "VVAU"):
                n.attrs["_impl"] = "rtl" if op.endswith("_rtl") else "hls"
    return notes


def folding_config(
    design: Network,
    device: Device,
    *,
    flow: FinnFlow = FinnFlow.FINN_PLUS,
    standalone_thresholds: bool = False,
    label_select: bool = True,
    finn_model_nodes: Sequence[tuple[str, str]] | None = None,
    ram_styles: Mapping[str, str] | None = None,
) -> FoldingConfig:
    """FINN's folding JSON for `design`: `{"Defaults": {}, "<node name>": {attrs}}`."""
    nodes = plan_nodes(
        design,
        device,
        flow=flow,
        standalone_thresholds=standalone_thresholds,
        label_select=label_select,
        ram_styles=ram_styles,
    )
    notes: list[str] = []
    if finn_model_nodes is not None:
        notes = match_finn_model(nodes, finn_model_nodes)
    else:
        name_nodes(nodes, flow)
    config: dict[str, Any] = {"Defaults": {}}
    for n in nodes:
        attrs = {k: v for k, v in n.attrs.items() if not k.startswith("_")}
        if n.op_type.endswith("_rtl") and attrs.get("resType") == "lut":
            notes.append(
                f"{n.name} ({n.layer}): FINN's RTL MVU computes on DSPs; the cost model "
                "assumed LUT arithmetic for this layer"
            )
        config[n.name] = attrs
    return FoldingConfig(config, nodes, notes)
