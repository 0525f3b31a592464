"""Shape and bit-width inference over a hardware network description, and the folding
rules (which PE/SIMD/MMV are valid for a layer).

One source of truth for both worlds: the torch side prunes with `kept_channels` and the
search space folds with `valid_pe`/`valid_simd`/`valid_mmv`, so the cost model and the
accuracy evaluation always see the same layer sizes.
"""

from __future__ import annotations

import functools
import math

from costmodels.errors import FoldingError, SpecError
from costmodels.types import (
    LayerChoice,
    LayerSpec,
    Network,
    NumType,
    Op,
    ResolvedLayer,
    Scaling,
    WType,
)
from costmodels.util import new_resolved_layer

MAX_BITS = 16
# hot-path constants (see costmodels.types)
_ADD, _CONCAT, _CONV, _DENSE = Op.ADD, Op.CONCAT, Op.CONV, Op.DENSE
#: Widest LQ-Nets code: its quantizer enumerates all 2^K levels and a table multiplier
#: holds 2^(Kw+Ka) entries (Pan thesis 4.1.1); LQ-Nets itself uses K <= 4.
LQ_MAX_BITS = 8

#: The name a layer's `from` uses for the network's input (reserved: no layer may use it).
INPUT = "input"


def layer_inputs(layers: tuple[LayerSpec, ...]) -> tuple[tuple[str, ...], ...]:
    """The names each layer reads, in layer order: the previous layer (the network input
    for the first) unless `source` names another one; an `add` reads the previous layer
    and `source`, or its explicit `inputs`; a `concat` its `inputs`."""
    prev = INPUT
    out: list[tuple[str, ...]] = []
    for layer in layers:
        op = layer.op
        if op is _CONCAT or (op is _ADD and layer.inputs):
            ins = tuple(layer.inputs)
        elif op is _ADD:
            ins = (prev, layer.source or "")
        else:
            ins = (layer.source,) if layer.source else (prev,)
        out.append(ins)
        prev = layer.name
    return tuple(out)


def is_chain(network: Network) -> bool:
    """Whether every layer reads the previous one and nothing else (no add, no concat, no
    branch): the networks the memoised fast path handles."""
    return all(
        layer.op is not Op.ADD
        and layer.op is not Op.CONCAT
        and not layer.source
        and not layer.inputs
        for layer in network.layers
    )


def divisors(n: int) -> tuple[int, ...]:
    """All positive divisors of `n`, ascending."""
    if n < 1:
        return ()
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return tuple(sorted(set(small + [n // d for d in small])))


def kept_channels(n: int, ratio: float, pe: int = 1) -> int:
    """Output filters kept when a fraction `ratio` of `n` is pruned, rounded to a multiple
    of `pe` so that N % PE == 0 holds after pruning (Faraone thesis sec. 4.5.2).

    `pe` must divide `n`. At least `pe` filters are always kept; `ratio` must be in [0, 1).
    """
    if ratio == 0.0 and pe >= 1 and not n % pe:
        return n  # unpruned (what the formula below gives, without the float round trip)
    if not 0.0 <= ratio < 1.0:
        raise SpecError(f"pruning ratio {ratio} must be in [0, 1): it would remove every filter")
    if pe < 1 or n % pe:
        raise FoldingError(f"PE={pe} does not divide {n} filters")
    target = n * (1.0 - ratio)
    return min(n, max(pe, pe * round(target / pe)))


def acc_bits(in_bits: int, w_bits: int, mw: int) -> int:
    """Accumulator width that cannot overflow: product bits plus log2 of the fan-in
    (FINN's MVAU `minimize_accumulator_width` bound, conservative form). ceil(log2 n) of
    an integer n >= 2 is exactly (n - 1).bit_length()."""
    return in_bits + w_bits + ((mw if mw > 2 else 2) - 1).bit_length()  # max(mw, 2)


def _out_size(h: int, w: int, k: int, s: int, p: int, layer: str) -> tuple[int, int]:
    """Output height and width of a k x k window at stride s with padding p on an h x w
    map; an empty output is a `SpecError` naming the layer (the height's first)."""
    oh = (h + 2 * p - k) // s + 1
    ow = (w + 2 * p - k) // s + 1
    if oh < 1 or ow < 1:
        raise SpecError(
            f"layer {layer!r}: kernel {k} with stride {s}, padding {p} on size "
            f"{h if oh < 1 else w} gives an empty output"
        )
    return oh, ow


def _check_bits(layer: LayerSpec) -> None:
    """The checks of a compute layer's choice on its own (bits, types, folding factors,
    SYQ/sparse extras), raised with the layer's name."""
    assert layer.choice is not None
    problem = _choice_problem(layer.choice)
    if problem is not None:
        error, text = problem
        raise error(f"layer {layer.name!r}: {text}")


# hot-path constants for the choice checks (see costmodels.types)
_W_BIPOLAR, _W_TERNARY, _W_INT, _W_LQ = WType.BIPOLAR, WType.TERNARY, WType.INT, WType.LQ
_A_BIPOLAR, _A_LQ = NumType.BIPOLAR, NumType.LQ
_ROW, _PIXEL = Scaling.ROW, Scaling.PIXEL
_isfinite = math.isfinite


def _choice_problem(c: LayerChoice) -> tuple[type[SpecError], str] | None:
    """What `_check_bits` finds wrong with a choice (error class and text without the
    layer's name), or None. Runs for every unit a search costs: fields read once, enum
    members from module constants (cheaper than a memo's hash and equality test)."""
    w_bits, a_bits, w_type, a_type = c.w_bits, c.a_bits, c.w_type, c.a_type
    if not 1 <= w_bits <= MAX_BITS:
        return SpecError, f"w_bits={w_bits} is out of range 1..{MAX_BITS}"
    if a_bits is not None and not 1 <= a_bits <= MAX_BITS:
        return SpecError, f"a_bits={a_bits} is out of range 1..{MAX_BITS}"
    if w_type is not None:
        if w_type is _W_BIPOLAR and w_bits != 1:
            return SpecError, f"bipolar weights need w_bits 1, got {w_bits}"
        if w_type is _W_TERNARY and w_bits != 2:
            return SpecError, f"ternary weights need w_bits 2, got {w_bits}"
        if w_type is _W_INT and w_bits < 2:
            return SpecError, f"int weights need w_bits >= 2, got {w_bits}"
    if a_type is not None:
        if a_bits is None:
            return SpecError, f"a_type {a_type.value!r} needs a_bits (not null)"
        if a_type is _A_BIPOLAR and a_bits != 1:
            return SpecError, f"bipolar activations need a_bits 1, got {a_bits}"
    if w_type is _W_LQ and w_bits > LQ_MAX_BITS:
        return SpecError, f"lq weights need w_bits 1..{LQ_MAX_BITS}, got {w_bits}"
    if a_type is _A_LQ and (a_bits is None or a_bits > LQ_MAX_BITS):
        return SpecError, f"lq activations need a_bits 1..{LQ_MAX_BITS}, got {a_bits}"
    if c.pe < 1 or c.simd < 1 or c.mmv < 1:
        return FoldingError, "pe, simd and mmv must be >= 1"
    threshold, density = c.threshold, c.density
    if not (_isfinite(threshold) and threshold > 0):
        return SpecError, f"threshold={threshold} must be a positive number"
    if density is not None and not (_isfinite(density) and 0.0 <= density <= 1.0):
        return SpecError, f"density={density} must be in [0, 1]"
    scaling = c.scaling
    if (scaling is _ROW or scaling is _PIXEL) and c.weight_type not in (_W_BIPOLAR, _W_TERNARY):
        return (
            SpecError,
            f"scaling {scaling.value} (SYQ) needs binary or ternary weights, got w_bits={w_bits}",
        )
    return None


def _fold_error(layer: str, what: str, value: int, dim: str, n: int) -> FoldingError:
    valid = divisors(n)
    shown = ", ".join(map(str, valid[:24])) + (", ..." if len(valid) > 24 else "")
    return FoldingError(
        f"layer {layer!r}: {what}={value} does not divide {dim} {n}; valid: {shown}"
    )


def simd_dim(layer: ResolvedLayer) -> int:
    """The dimension SIMD must divide: input channels per group for a conv (FINN's
    ConvolutionInputGenerator streams channels), k*k for depthwise (FINN VVAU), in_features
    for dense."""
    if layer.op is Op.DENSE:
        return layer.mw
    k = layer.spec.kernel
    if layer.is_depthwise:
        return k * k
    return layer.in_channels // layer.spec.groups


def pe_dim(layer: ResolvedLayer) -> int:
    """The dimension PE must divide: output channels before pruning (kept channels are then
    rounded to a multiple of PE, see `kept_channels`); channels for depthwise."""
    if layer.is_depthwise:
        return layer.in_channels
    return layer.spec.out_channels


def mmv_dim(layer: ResolvedLayer) -> int:
    """The dimension MMV must divide: the output feature-map width (FINN's MMV constraint);
    1 for dense layers."""
    if layer.op is Op.DENSE:
        return 1
    return layer.out_shape[-1]


def valid_pe(layer: ResolvedLayer) -> tuple[int, ...]:
    return divisors(pe_dim(layer))


def valid_simd(layer: ResolvedLayer) -> tuple[int, ...]:
    return divisors(simd_dim(layer))


def valid_mmv(layer: ResolvedLayer) -> tuple[int, ...]:
    return divisors(mmv_dim(layer))


def check_input(network: Network) -> None:
    """The checks of a whole network before its layers: some layers, a positive [C, H, W]
    or [F] input shape, input bits in range."""
    if not network.layers:
        raise SpecError(f"network {network.name!r} has no layers")
    if not network.input_shape or any(d < 1 for d in network.input_shape):
        raise SpecError(f"input shape {list(network.input_shape)} must be positive")
    if len(network.input_shape) not in (1, 3):
        raise SpecError(f"input shape {list(network.input_shape)} must be [C, H, W] or [F]")
    if not 1 <= network.input_bits <= MAX_BITS:
        raise SpecError(f"input bits {network.input_bits} out of range 1..{MAX_BITS}")
    check_input_type(network)


def resolve(network: Network, *, check_folding: bool = True) -> tuple[ResolvedLayer, ...]:
    """Infer every layer's input/output shape and bits, applying pruning, and (unless
    `check_folding` is off) check that PE/SIMD/MMV divide what they fold.

    Layers form a graph (`layer_inputs`): each reads the previous layer unless `from`
    names another (`INPUT`: the network input); every output but the last must be read.
    Raises `SpecError` (or its subclass `FoldingError`) naming the layer on any
    inconsistency. A dense layer after a feature map flattens it.
    """
    check_input(network)
    values: dict[str, Value] = {
        INPUT: (tuple(network.input_shape), network.input_bits, network.input_type)
    }
    seen: set[str] = set()
    out: list[ResolvedLayer] = []
    read: set[str] = set()
    for layer, ins in zip(network.layers, layer_inputs(network.layers), strict=True):
        if layer.name in seen:
            raise SpecError(f"duplicate layer name {layer.name!r}")
        seen.add(layer.name)
        read.update(ins)
        if layer.op in (Op.ADD, Op.CONCAT):
            resolved = resolve_joint(layer, ins, values)
        else:
            check_reads(layer, ins, values)
            shape, bits, dtype = values[ins[0]]
            if check_folding:
                resolved = resolve_layer(layer, shape, bits, dtype)
            else:
                resolved = _resolve_one(layer, shape, bits, {}, check_folding, dtype)
        out.append(resolved)
        values[layer.name] = (resolved.out_shape, resolved.out_bits, resolved.out_type)
    check_all_read([r.name for r in out], read)
    return tuple(out)


#: What a layer produces: shape, bits, number type.
Value = tuple[tuple[int, ...], int, "NumType | None"]


def check_reads(layer: LayerSpec, ins: tuple[str, ...], values: dict[str, Value]) -> None:
    """The layers `layer` reads exist earlier (and `input` is not a layer name)."""
    if layer.name == INPUT:
        raise SpecError(f"layer name {INPUT!r} is reserved for the network input")
    if layer.op is _ADD and not layer.inputs and not layer.source:
        raise SpecError(f"layer {layer.name!r}: an add needs `from: <layer name>`")
    for src in ins:
        if src not in values:
            raise SpecError(
                f"layer {layer.name!r}: `from` names {src!r}, which is not an earlier layer"
            )


def check_all_read(names: list[str], read: set[str]) -> None:
    """Every layer's output but the last (of the layers named `names`, in order) is read
    by some layer (no dangling branch)."""
    unused = [name for name in names[:-1] if name not in read]
    if unused:
        raise SpecError(
            f"layer {unused[0]!r}: its output is never read (the last layer is the output)"
        )


def resolve_joint(
    layer: LayerSpec, ins: tuple[str, ...], values: dict[str, Value]
) -> ResolvedLayer:
    """An `add` or `concat` on the values of the layers it reads."""
    check_reads(layer, ins, values)
    if layer.op is Op.CONCAT:
        return _resolve_concat(layer, [values[s] for s in ins])
    return _resolve_add(layer, ins, [values[s] for s in ins])


def _resolve_concat(layer: LayerSpec, inputs: list[Value]) -> ResolvedLayer:
    """Channel concatenation (FINN `StreamingConcat`): inputs [C_i, H, W] with equal H, W
    give [sum C_i, H, W]; the output word is as wide as the widest input, signed if any
    input is."""
    if len(inputs) < 2:
        raise SpecError(f"layer {layer.name!r}: a concat needs `from: [a, b, ...]` (2 or more)")
    shapes = [s for s, _, _ in inputs]
    if any(len(s) != 3 for s in shapes) or len({s[1:] for s in shapes}) != 1:
        raise SpecError(
            f"layer {layer.name!r}: concat needs [C, H, W] inputs of equal H, W, got "
            + ", ".join(str(list(s)) for s in shapes)
        )
    out = (sum(s[0] for s in shapes), *shapes[0][1:])
    bits = max(b for _, b, _ in inputs)
    types = {t for _, _, t in inputs}
    signed = NumType.SIGNED in types or NumType.BIPOLAR in types
    dtype = NumType.SIGNED if signed else None
    return ResolvedLayer(
        spec=layer, in_shape=out, out_shape=out, in_bits=bits, out_bits=bits,
        in_type=dtype, out_type=dtype,
    )  # fmt: skip


def _resolve_add(layer: LayerSpec, names: tuple[str, ...], inputs: list[Value]) -> ResolvedLayer:
    """A residual add (FINN `AddStreams`): equal [C, H, W] inputs, one bit wider out."""
    if len(inputs) != 2:
        raise SpecError(f"layer {layer.name!r}: an add reads exactly two layers")
    (shape, bits, dtype), (o_shape, o_bits, o_type) = inputs
    if len(shape) != 3:
        raise SpecError(
            f"layer {layer.name!r}: add needs [C, H, W] feature maps, got {list(shape)} "
            "(after a dense layer)"
        )
    if o_shape != shape:
        raise SpecError(
            f"layer {layer.name!r}: cannot add {list(o_shape)} from {names[1]!r} "
            f"to {list(shape)}" + (f" from {names[0]!r}" if layer.inputs else "")
        )
    signed = NumType.SIGNED in (dtype, o_type) or NumType.BIPOLAR in (dtype, o_type)
    return ResolvedLayer(
        spec=layer,
        in_shape=shape,
        out_shape=shape,
        in_bits=bits,
        out_bits=min(max(bits, o_bits) + 1, 32),
        in_type=dtype,
        out_type=NumType.SIGNED if signed else None,
    )


def check_input_type(network: Network) -> None:
    """A bipolar input must be 1 bit wide (FINN `BIPOLAR`)."""
    if network.input_type is NumType.BIPOLAR and network.input_bits != 1:
        raise SpecError(f"input: type bipolar needs bits 1, got {network.input_bits}")


@functools.lru_cache(maxsize=16384)
def resolve_layer(
    layer: LayerSpec, shape: tuple[int, ...], bits: int, dtype: NumType | None = None
) -> ResolvedLayer:
    """One layer (not an `add`, whose result depends on its source) resolved on an input of
    `shape`, `bits` and number type, with the folding checked; memoised, since it depends
    on exactly these and a search re-resolves unchanged layers of every design."""
    return _resolve_one(layer, shape, bits, {}, True, dtype)


def _resolve_one(
    layer: LayerSpec,
    shape: tuple[int, ...],
    bits: int,
    seen: dict[str, ResolvedLayer],
    check_folding: bool,
    dtype: NumType | None = None,
) -> ResolvedLayer:
    """One layer of `resolve`: `shape`, `bits` and `dtype` describe its input (`dtype`
    None: the default for `bits`)."""
    name = layer.name
    op = layer.op
    if op is _CONV or op is _DENSE:  # op.is_compute
        if layer.choice is None:
            raise SpecError(f"layer {name!r}: a {layer.op.value} layer needs its bits and folding")
        if layer.out_channels < 1:
            raise SpecError(f"layer {name!r}: out_channels/out_features must be >= 1")
        if _choice_problem(layer.choice) is not None:
            _check_bits(layer)
    if layer.kernel < 1 or (layer.stride is not None and layer.stride < 1) or layer.padding < 0:
        raise SpecError(f"layer {name!r}: kernel and stride must be >= 1, padding >= 0")

    if op is _CONV:
        if len(shape) != 3:
            raise SpecError(f"layer {name!r}: conv needs a [C, H, W] input, got {list(shape)}")
        c, h, w = shape
        g = layer.groups
        # depthwise: one group per channel; a pruned input (prune groups, costmodels.pruning)
        # leaves fewer channels than the spec's groups, each still its own group
        depthwise = g > 1 and g == layer.out_channels and c <= g
        if not depthwise and (g < 1 or c % g or layer.out_channels % g):
            raise SpecError(
                f"layer {name!r}: groups={g} must divide input channels {c} and output "
                f"channels {layer.out_channels}"
            )
        s = layer.stride or 1
        oh, ow = _out_size(h, w, layer.kernel, s, layer.padding, name)
        choice = layer.choice
        assert choice is not None
        if depthwise:
            if choice.prune:
                raise SpecError(f"layer {name!r}: a depthwise conv cannot be pruned on its own")
            kept = c
        else:
            if check_folding and (choice.pe < 1 or layer.out_channels % choice.pe):
                _check_divides(name, "PE", choice.pe, "output channels", layer.out_channels, True)
            kept = layer.out_channels  # unpruned: kept_channels' answer once PE divides
            if choice.prune != 0.0:
                kept = kept_channels(kept, choice.prune, choice.pe if check_folding else 1)
        g = c if depthwise else g
        mw = (c // g) * layer.kernel * layer.kernel if not depthwise else layer.kernel**2
        simd_n = layer.kernel * layer.kernel if depthwise else c // g  # simd_dim
        return _compute_layer(
            layer,
            choice,
            shape,
            (kept, oh, ow),
            bits,
            mw,
            oh * ow,
            depthwise,
            simd_n,
            ow,
            check_folding,
            dtype,
        )

    if op is _DENSE:
        features = math.prod(shape)
        choice = layer.choice
        assert choice is not None
        _check_divides(name, "PE", choice.pe, "output features", layer.out_channels, check_folding)
        kept = kept_channels(layer.out_channels, choice.prune, choice.pe if check_folding else 1)
        return _compute_layer(
            layer,
            choice,
            (features,),
            (kept,),
            bits,
            features,
            1,
            False,
            features,
            1,
            check_folding,
            dtype,
        )

    if layer.op in (Op.MAXPOOL, Op.AVGPOOL):
        if len(shape) != 3:
            raise SpecError(f"layer {name!r}: pooling needs a [C, H, W] input, got {list(shape)}")
        c, h, w = shape
        s = layer.stride or layer.kernel
        oh, ow = _out_size(h, w, layer.kernel, s, layer.padding, name)
        return ResolvedLayer(
            spec=layer,
            in_shape=shape,
            out_shape=(c, oh, ow),
            in_bits=bits,
            out_bits=bits,
            in_type=dtype,
            out_type=dtype,
        )

    if layer.op is Op.ADD:
        if not layer.source:
            raise SpecError(f"layer {name!r}: an add needs `from: <layer name>`")
        if layer.source not in seen:
            raise SpecError(
                f"layer {name!r}: `from` names {layer.source!r}, which is not an earlier layer"
            )
        other = seen[layer.source]
        if len(shape) != 3:
            raise SpecError(
                f"layer {name!r}: add needs [C, H, W] feature maps, got {list(shape)} "
                "(after a dense layer)"
            )
        if other.out_shape != shape:
            raise SpecError(
                f"layer {name!r}: cannot add {list(other.out_shape)} from {layer.source!r} "
                f"to {list(shape)}"
            )
        out_bits = max(bits, other.out_bits) + 1
        signed = NumType.SIGNED in (dtype, other.out_type) or NumType.BIPOLAR in (
            dtype,
            other.out_type,
        )
        return ResolvedLayer(
            spec=layer,
            in_shape=shape,
            out_shape=shape,
            in_bits=bits,
            out_bits=min(out_bits, 32),
            in_type=dtype,
            out_type=NumType.SIGNED if signed else None,
        )

    raise SpecError(f"layer {name!r}: unknown op {layer.op!r}")  # pragma: no cover


def _check_divides(layer: str, what: str, value: int, dim: str, n: int, check: bool) -> None:
    if check and (value < 1 or n % value):
        raise _fold_error(layer, what, value, dim, n)


def _compute_layer(
    layer: LayerSpec,
    choice: LayerChoice,
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    bits: int,
    mw: int,
    num_vectors: int,
    depthwise: bool,
    simd_n: int,
    mmv_n: int,
    check_folding: bool,
    dtype: NumType | None = None,
) -> ResolvedLayer:
    """A conv/dense layer's `ResolvedLayer` after the folding checks (`simd_n`, `mmv_n`:
    `simd_dim` and `mmv_dim` of the layer), with its accumulator width and output bits.
    Built in one step (`new_resolved_layer`): `resolve` is on the search's hot path."""
    pe, simd, mmv = choice.pe, choice.simd, choice.mmv
    if check_folding and (
        (depthwise and (pe < 1 or in_shape[0] % pe))
        or simd < 1
        or simd_n % simd
        or mmv < 1
        or mmv_n % mmv
    ):  # raise the first failing check's error
        name = layer.name
        if depthwise:
            _check_divides(name, "PE", pe, "channels", in_shape[0], True)
        _check_divides(name, "SIMD", simd, "inputs", simd_n, True)
        _check_divides(name, "MMV", mmv, "output width", mmv_n, True)
    acc = acc_bits(bits, choice.w_bits, mw)
    return new_resolved_layer(
        layer,
        in_shape,
        out_shape,
        bits,
        choice.a_bits if choice.a_bits is not None else acc,
        mw,
        out_shape[0],
        num_vectors,
        acc,
        dtype,
        choice.a_type,
    )
