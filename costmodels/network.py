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
    WType,
)
from costmodels.util import new_resolved_layer

MAX_BITS = 16
#: Widest LQ-Nets code: its quantizer enumerates all 2^K levels and a table multiplier
#: holds 2^(Kw+Ka) entries (Pan thesis 4.1.1); LQ-Nets itself uses K <= 4.
LQ_MAX_BITS = 8


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
    if not 0.0 <= ratio < 1.0:
        raise SpecError(f"pruning ratio {ratio} must be in [0, 1): it would remove every filter")
    if pe < 1 or n % pe:
        raise FoldingError(f"PE={pe} does not divide {n} filters")
    target = n * (1.0 - ratio)
    return min(n, max(pe, pe * round(target / pe)))


def acc_bits(in_bits: int, w_bits: int, mw: int) -> int:
    """Accumulator width that cannot overflow: product bits plus log2 of the fan-in
    (FINN's MVAU `minimize_accumulator_width` bound, conservative form)."""
    return in_bits + w_bits + max(1, math.ceil(math.log2(max(mw, 2))))


def _out_hw(h: int, k: int, s: int, p: int, layer: str) -> int:
    out = (h + 2 * p - k) // s + 1
    if out < 1:
        raise SpecError(
            f"layer {layer!r}: kernel {k} with stride {s}, padding {p} on size {h} "
            "gives an empty output"
        )
    return out


def _check_bits(layer: LayerSpec) -> None:
    c = layer.choice
    assert c is not None
    if not 1 <= c.w_bits <= MAX_BITS:
        raise SpecError(f"layer {layer.name!r}: w_bits={c.w_bits} is out of range 1..{MAX_BITS}")
    if c.a_bits is not None and not 1 <= c.a_bits <= MAX_BITS:
        raise SpecError(f"layer {layer.name!r}: a_bits={c.a_bits} is out of range 1..{MAX_BITS}")
    if c.w_type is WType.BIPOLAR and c.w_bits != 1:
        raise SpecError(f"layer {layer.name!r}: bipolar weights need w_bits 1, got {c.w_bits}")
    if c.w_type is WType.TERNARY and c.w_bits != 2:
        raise SpecError(f"layer {layer.name!r}: ternary weights need w_bits 2, got {c.w_bits}")
    if c.w_type is WType.INT and c.w_bits < 2:
        raise SpecError(f"layer {layer.name!r}: int weights need w_bits >= 2, got {c.w_bits}")
    if c.a_type is not None and c.a_bits is None:
        raise SpecError(f"layer {layer.name!r}: a_type {c.a_type.value!r} needs a_bits (not null)")
    if c.a_type is NumType.BIPOLAR and c.a_bits != 1:
        raise SpecError(f"layer {layer.name!r}: bipolar activations need a_bits 1, got {c.a_bits}")
    if c.w_type is WType.LQ and c.w_bits > LQ_MAX_BITS:
        raise SpecError(
            f"layer {layer.name!r}: lq weights need w_bits 1..{LQ_MAX_BITS}, got {c.w_bits}"
        )
    if c.a_type is NumType.LQ and (c.a_bits is None or c.a_bits > LQ_MAX_BITS):
        raise SpecError(
            f"layer {layer.name!r}: lq activations need a_bits 1..{LQ_MAX_BITS}, got {c.a_bits}"
        )
    if c.pe < 1 or c.simd < 1 or c.mmv < 1:
        raise FoldingError(f"layer {layer.name!r}: pe, simd and mmv must be >= 1")


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

    Raises `SpecError` (or its subclass `FoldingError`) naming the layer on any
    inconsistency. A dense layer after a feature map flattens it.
    """
    check_input(network)
    shape: tuple[int, ...] = tuple(network.input_shape)
    bits = network.input_bits
    dtype = network.input_type
    seen: dict[str, ResolvedLayer] = {}
    out: list[ResolvedLayer] = []
    for layer in network.layers:
        if layer.name in seen:
            raise SpecError(f"duplicate layer name {layer.name!r}")
        if layer.op is Op.ADD or not check_folding:
            resolved = _resolve_one(layer, shape, bits, seen, check_folding, dtype)
        else:
            resolved = resolve_layer(layer, shape, bits, dtype)
        seen[layer.name] = resolved
        out.append(resolved)
        shape, bits, dtype = resolved.out_shape, resolved.out_bits, resolved.out_type
    return tuple(out)


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
    if op is Op.CONV or op is Op.DENSE:  # op.is_compute
        if layer.choice is None:
            raise SpecError(f"layer {name!r}: a {layer.op.value} layer needs its bits and folding")
        if layer.out_channels < 1:
            raise SpecError(f"layer {name!r}: out_channels/out_features must be >= 1")
        _check_bits(layer)
    if layer.kernel < 1 or (layer.stride is not None and layer.stride < 1) or layer.padding < 0:
        raise SpecError(f"layer {name!r}: kernel and stride must be >= 1, padding >= 0")

    if layer.op is Op.CONV:
        if len(shape) != 3:
            raise SpecError(f"layer {name!r}: conv needs a [C, H, W] input, got {list(shape)}")
        c, h, w = shape
        g = layer.groups
        if g < 1 or c % g or layer.out_channels % g:
            raise SpecError(
                f"layer {name!r}: groups={g} must divide input channels {c} and output "
                f"channels {layer.out_channels}"
            )
        s = layer.stride or 1
        oh = _out_hw(h, layer.kernel, s, layer.padding, name)
        ow = _out_hw(w, layer.kernel, s, layer.padding, name)
        choice = layer.choice
        assert choice is not None
        depthwise = g > 1 and g == c
        if depthwise:
            if layer.out_channels != c:
                raise SpecError(f"layer {name!r}: depthwise conv must keep {c} channels")
            if choice.prune:
                raise SpecError(f"layer {name!r}: a depthwise conv cannot be pruned on its own")
            kept = c
        else:
            if check_folding and (choice.pe < 1 or layer.out_channels % choice.pe):
                _check_divides(name, "PE", choice.pe, "output channels", layer.out_channels, True)
            kept = kept_channels(
                layer.out_channels, choice.prune, choice.pe if check_folding else 1
            )
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

    if layer.op is Op.DENSE:
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
        oh = _out_hw(h, layer.kernel, s, layer.padding, name)
        ow = _out_hw(w, layer.kernel, s, layer.padding, name)
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
