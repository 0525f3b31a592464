"""The per-layer search space: a network description to Optuna suggestions, and the
suggestions back to a candidate network.

Every parameter's choice set is fixed when the space is built (Optuna refuses dynamic
categorical spaces, and the samplers learn better on a static space). Folding is sampled as
an *index* into the divisors of the unpruned dimension; when upstream pruning changes the
dimension a SIMD (or depthwise PE) folds, the sampled divisor is mapped onto the nearest
valid divisor of the actual dimension (`nearest_divisor`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from costmodels.arith import LQ_ARITHS, LQ_TABLE_AUTO_BITS
from costmodels.errors import SpecError
from costmodels.lqarith import table_depth
from costmodels.network import LQ_MAX_BITS, divisors, mmv_dim, pe_dim, resolve, simd_dim
from costmodels.pruning import prune_graph, tie_pruning
from costmodels.types import (
    TWN_THRESHOLD,
    Arith,
    LayerChoice,
    MemMode,
    Network,
    NumType,
    RamStyle,
    ResolvedLayer,
    Scaling,
    WType,
)
from search_spaces.base import Candidate, Suggester
from search_spaces.limits import SpaceLimits

#: Widest table the search offers: 2^12 entries (two RAMB18 at 16-bit entries per lane
#: pair; beyond, the bit-plane form is always cheaper).
MAX_TABLE_DEPTH = 4096


def arith_valid(arith: Arith, w_bits: int, in_bits: int, lq: bool = False) -> bool:
    """Whether a multiplier arithmetic can implement a layer's products.

    XNOR-popcount needs bipolar weights and inputs (FINN BNN-PYNQ, Umuroglu et al. 2017);
    RCCMs replace multipliers by multi-bit constant coefficients, so binary weights (a sign
    flip, no multiplier) gain nothing (Faraone thesis ch. 6); LUT and DSP always work, but
    not for LQ-Nets codes (`lq`: LQ weights or LQ input activations), which only the table
    and bit-plane forms multiply (Pan thesis 4.1.1); tables up to MAX_TABLE_DEPTH entries.
    """
    if lq and arith not in LQ_ARITHS:
        return False
    if arith is Arith.TABLE:
        return table_depth(LayerChoice(w_bits=w_bits), in_bits) <= MAX_TABLE_DEPTH
    if arith is Arith.BITPLANE:
        return True
    if arith is Arith.XNOR:
        return w_bits == 1 and in_bits == 1
    if arith is Arith.SPARSE:  # sign-magnitude run-length code of ternary weights
        return w_bits == 2
    if arith.is_rccm:
        return w_bits >= 2
    return True


def nearest_divisor(value: int, n: int, cap: int) -> int:
    """The divisor of `n` (not above `cap`) nearest to `value` on a log scale; ties go to the
    smaller (cheaper) one."""
    options = [d for d in divisors(n) if d <= cap] or [1]
    return min(options, key=lambda d: (abs(math.log(d) - math.log(value)), d))


@dataclass(frozen=True)
class LayerSpace:
    """The static choice sets of one compute layer (empty/1-element sets are not sampled)."""

    name: str
    w_bits: tuple[int, ...]
    a_bits: tuple[int | None, ...]
    prune: tuple[float, ...]
    pe: tuple[int, ...]
    simd: tuple[int, ...]
    mmv: tuple[int, ...]
    arith: tuple[Arith, ...]
    depthwise: bool
    default: LayerChoice
    w_type: tuple[WType | None, ...] = (None,)
    a_type: tuple[NumType | None, ...] = (None,)
    threshold: tuple[float, ...] = (TWN_THRESHOLD,)
    scaling: tuple[Scaling, ...] = (Scaling.CHANNEL,)
    ram_style: tuple[RamStyle, ...] = (RamStyle.AUTO,)


class SearchSpace:
    """A network's per-layer design space under some `SpaceLimits` (a `Space`).

    Parameter names are `<layer>.<what>` with `what` in w_bits, a_bits, prune, pe, simd,
    mmv, arith, threshold (ternary threshold, thesis 3.2.1), scaling (SYQ granularity,
    thesis 5.4), ram_style (where the weights live, FINN `ram_style`); only dimensions
    with more than one choice are sampled. The `sparse` arithmetic needs the measured
    density of the quantized weights, so it is offered only with `measures_density` (a
    study that evaluates accuracy). All but `arith`, `w_type`, `a_type`, `scaling` and
    `ram_style` are ordinal, sampled over their real values (PE/SIMD/MMV on a
    log scale) and mapped onto the nearest choice, so samplers see their order (NSGA-II's
    SBX crossover, TPE's kernels) and dashboards show real values; the others are
    categorical. A stored trial holds the parameters of the design it evaluated
    (`params_of`). Studies created before issue 14 keep index parameters (`real_values`).
    """

    def __init__(
        self,
        network: Network,
        limits: SpaceLimits,
        *,
        search_bits: bool,
        search_prune: bool,
        measures_density: bool = False,
    ) -> None:
        self.network = network
        self.limits = limits
        self.measures_density = measures_density
        self.search_bits = search_bits
        self.search_prune = search_prune
        #: parameters in real values (studies created before issue 14 store indices; a
        #: resumed one keeps them, see dse.study)
        self.real_values = True
        base = _unpruned(network)
        resolved = resolve(base)
        graph = prune_graph(network)
        # only the leader of a prunable channel group gets a `prune` parameter; the other
        # layers of the group follow it (`tie_pruning`)
        self._leaders = {g.leader for g in graph.groups if g.prunable and g.leader is not None}
        compute = [r for r in resolved if r.op.is_compute]
        if not compute:
            raise SpecError(f"network {network.name!r} has no compute layers to search")
        self.layers: tuple[LayerSpace, ...] = tuple(
            self._layer_space(r, first=i == 0, last=i == len(compute) - 1)
            for i, r in enumerate(compute)
        )
        self._in_bits_first = compute[0].in_bits

    def _layer_space(self, r: ResolvedLayer, *, first: bool, last: bool) -> LayerSpace:
        lim = self.limits
        given = self.network
        default = next(la.choice for la in given.layers if la.name == r.name and la.choice)
        fixed = lim.fixed_for(r.name, first=first, last=last)
        if self.search_bits:
            w_bits: tuple[int, ...] = (
                (fixed.w_bits,) if fixed.w_bits is not None else tuple(sorted(set(lim.w_bits)))
            )
            if default.a_bits is None:
                a_bits: tuple[int | None, ...] = (None,)
            elif fixed.a_bits is not None:
                a_bits = (fixed.a_bits,)
            else:
                a_bits = tuple(sorted(set(lim.a_bits)))
        else:
            w_bits, a_bits = (default.w_bits,), (default.a_bits,)
        # The last layer's outputs are the classes: never pruned.
        leader = r.name in self._leaders
        if self.search_prune and leader and not last:
            prune = (fixed.prune,) if fixed.prune is not None else tuple(sorted(set(lim.prune)))
        else:
            prune = (default.prune,) if leader and not last else (0.0,)
        pe = tuple(d for d in divisors(pe_dim(r)) if d <= lim.max_pe) or (1,)
        simd = tuple(d for d in divisors(simd_dim(r)) if d <= lim.max_simd) or (1,)
        mmv = tuple(d for d in divisors(mmv_dim(r)) if d <= lim.max_mmv) or (1,)
        # The input bits of later layers depend on sampled a_bits, so an arithmetic is kept
        # when it is valid for some combination the layer can see.
        in_bits_options = {r.in_bits} if first else set(lim.a_bits) | {r.in_bits}
        arith_set = (fixed.arith,) if fixed.arith is not None else lim.arith
        arith = tuple(
            a
            for a in arith_set
            if any(arith_valid(a, wb, ib) for wb in w_bits for ib in in_bits_options)
            and (a is not Arith.SPARSE or self.measures_density)
        ) or (Arith.AUTO,)
        # `build` maps an arithmetic a sampled combination cannot use onto `auto`: offer
        # `auto` itself then, so the stored parameter can always say what was evaluated
        if Arith.AUTO not in arith and not all(
            arith_valid(a, wb, ib) for a in arith for wb in w_bits for ib in in_bits_options
        ):
            arith = (*arith, Arith.AUTO)
        w_type = lim.w_types if any(b <= LQ_MAX_BITS for b in w_bits) else (None,)
        a_type = lim.a_types if a_bits != (None,) else (None,)
        # ternary threshold and SYQ granularity: searched only where the layer may have
        # ternary (threshold) or binary/ternary (scaling) weights; row and pixel are the
        # same as layer-wise for a dense layer or a 1x1 kernel (one kernel position)
        threshold: tuple[float, ...] = (default.threshold,)
        scaling: tuple[Scaling, ...] = (default.scaling,)
        if self.search_bits and 2 in w_bits:
            threshold = tuple(sorted(set(lim.threshold)))
        if self.search_bits and any(b <= 2 for b in w_bits):
            spatial = r.op.value == "conv" and r.spec.kernel > 1
            scaling = tuple(
                g for g in lim.scaling if spatial or g not in (Scaling.ROW, Scaling.PIXEL)
            ) or (Scaling.CHANNEL,)
        # where weights live: the space's styles when it searches them, else the layer's own;
        # none with mem_mode external (weights off chip), URAM only with internal_decoupled
        # (FINN asserts it for URAM weights, `MVAU.generate_infra_hdl`)
        ram_style: tuple[RamStyle, ...] = (default.ram_style,)
        if len(lim.ram_style) > 1 and default.mem_mode is not MemMode.EXTERNAL:
            ram_style = tuple(
                s
                for s in lim.ram_style
                if s is not RamStyle.ULTRA or default.mem_mode in (None, MemMode.INTERNAL_DECOUPLED)
            ) or (default.ram_style,)
        return LayerSpace(
            name=r.name,
            w_bits=w_bits,
            a_bits=a_bits,
            prune=prune,
            pe=pe,
            simd=simd,
            mmv=mmv,
            arith=arith,
            depthwise=r.is_depthwise,
            default=default,
            w_type=w_type,
            a_type=a_type,
            threshold=threshold,
            scaling=scaling,
            ram_style=ram_style,
        )

    @property
    def param_names(self) -> tuple[str, ...]:
        names: list[str] = []
        for ls in self.layers:
            for what, options in self._dims(ls):
                if len(options) > 1:
                    names.append(f"{ls.name}.{what}")
        return tuple(names)

    def distributions(self) -> dict[str, Any]:
        """Every sampled parameter's Optuna distribution, by name (sorted): what `suggest`
        asks for, so a sampler can take the space as given instead of inferring it."""
        from optuna.distributions import CategoricalDistribution

        out: dict[str, Any] = {}
        for ls in self.layers:
            for what, options in self._dims(ls):
                if len(options) <= 1:
                    continue
                name = f"{ls.name}.{what}"
                if what in _CATEGORICAL:
                    out[name] = CategoricalDistribution(tuple(_value(a) for a in options))
                else:
                    out[name] = self._ordinal(what, options)
        return dict(sorted(out.items()))

    def _distributions(self) -> dict[str, Any]:
        """`distributions()` computed once per value of `real_values` (`params_of` runs
        for every trial; the distributions are read, never changed)."""
        cache: dict[bool, dict[str, Any]] = self.__dict__.setdefault("_dists_by_mode", {})
        if self.real_values not in cache:
            cache[self.real_values] = self.distributions()
        return cache[self.real_values]

    def _ordinal(self, what: str, options: tuple[Any, ...]) -> Any:
        """An ordinal dimension's distribution: over the real values (bits, pruning ratio,
        PE/SIMD/MMV on a log scale) so dashboards and importance plots show them; choice
        indices in a study created before (`real_values` False)."""
        from optuna.distributions import FloatDistribution, IntDistribution

        if not self.real_values:
            return IntDistribution(0, len(options) - 1)
        if what in _FLOAT:
            return FloatDistribution(float(min(options)), float(max(options)))
        return IntDistribution(int(min(options)), int(max(options)), log=what in _LOG_SCALE)

    @staticmethod
    def _dims(ls: LayerSpace) -> tuple[tuple[str, tuple[Any, ...]], ...]:
        return (
            ("w_bits", ls.w_bits),
            ("a_bits", ls.a_bits),
            ("prune", ls.prune),
            ("pe", ls.pe),
            ("simd", ls.simd),
            ("mmv", ls.mmv),
            ("arith", ls.arith),
            ("w_type", ls.w_type),
            ("a_type", ls.a_type),
            ("threshold", ls.threshold),
            ("scaling", ls.scaling),
            ("ram_style", ls.ram_style),
        )

    def suggest(self, trial: Suggester) -> Candidate:
        """Sample every searched parameter from `trial` and build the candidate."""
        raw: dict[str, dict[str, Any]] = {}
        for ls in self.layers:
            raw[ls.name] = {
                **{
                    what: self._pick(trial, f"{ls.name}.{what}", what, options)
                    for what, options in self._dims(ls)
                    if what not in _CATEGORICAL
                },
                "arith": Arith(
                    _pick(trial, f"{ls.name}.arith", tuple(a.value for a in ls.arith), True)
                ),
                "w_type": _pick(trial, f"{ls.name}.w_type", _values(ls.w_type), True),
                "a_type": _pick(trial, f"{ls.name}.a_type", _values(ls.a_type), True),
                "scaling": Scaling(
                    _pick(trial, f"{ls.name}.scaling", tuple(g.value for g in ls.scaling), True)
                ),
                "ram_style": RamStyle(
                    _pick(trial, f"{ls.name}.ram_style", _values(ls.ram_style), True)
                ),
            }
        return self.build(raw)

    def build(self, raw: Mapping[str, Mapping[str, Any]]) -> Candidate:
        """A candidate from per-layer values (sampled, or a baseline), mapped onto valid
        folding and arithmetic."""
        first: dict[str, LayerChoice] = {}
        for ls in self.layers:
            v = raw[ls.name]
            w_bits = int(v["w_bits"])
            w_type = _typed(WType, v.get("w_type", _value(ls.w_type[0])))
            a_type = _typed(NumType, v.get("a_type", _value(ls.a_type[0])))
            if w_type is not WType.LQ or w_bits > LQ_MAX_BITS:
                w_type = ls.default.w_type if not self.search_bits else None
                if w_type is WType.LQ and w_bits > LQ_MAX_BITS:
                    w_type = None
            if ls.a_type == (None,):
                a_type = ls.default.a_type
            if v["a_bits"] is None or (a_type is NumType.LQ and int(v["a_bits"]) > LQ_MAX_BITS):
                a_type = None
            first[ls.name] = replace(
                ls.default,
                w_bits=w_bits,
                a_bits=v["a_bits"],
                w_type=w_type,
                a_type=a_type,
                prune=float(v["prune"]),
                pe=int(v["pe"]) if not ls.depthwise else 1,
                simd=1,
                mmv=int(v["mmv"]),
                arith=Arith.AUTO,
                threshold=float(v.get("threshold", ls.default.threshold)),
                scaling=Scaling(v.get("scaling", ls.default.scaling)),
                ram_style=RamStyle(v.get("ram_style", ls.default.ram_style)),
                density=None,
            )
            first[ls.name] = _normalized(first[ls.name])
        # Resolve with SIMD=1 to learn the actual (pruned, PE-rounded) dimensions SIMD
        # folds; PE and MMV come from divisors of unpruned dimensions, so they are valid.
        trial_net = tie_pruning(self.network.with_choices(first))
        first = {name: c for name, c in first.items()}
        for layer in trial_net.compute_layers:
            if layer.choice is not None and layer.name in first:
                first[layer.name] = replace(first[layer.name], prune=layer.choice.prune)
        resolved = {r.name: r for r in resolve(trial_net)}
        lim = self.limits
        final: dict[str, LayerChoice] = {}
        in_lq = False  # the previous compute layer's outputs are LQ codes
        for ls in self.layers:
            v = raw[ls.name]
            r = resolved[ls.name]
            ch = first[ls.name]
            lq = ch.w_type is WType.LQ or in_lq
            in_lq = ch.a_type is NumType.LQ
            simd = nearest_divisor(int(v["simd"]), simd_dim(r), lim.max_simd)
            pe = (
                nearest_divisor(int(v["pe"]), r.in_channels, lim.max_pe)
                if ls.depthwise
                else first[ls.name].pe
            )
            arith = v["arith"] if isinstance(v["arith"], Arith) else Arith(v["arith"])
            if not arith_valid(arith, ch.w_bits, r.in_bits, lq) or (
                arith is Arith.SPARSE and ch.scaling in (Scaling.ROW, Scaling.PIXEL)
            ):
                arith = Arith.AUTO
            if lq and arith is Arith.AUTO:  # LQ codes: the table while it is one LUT6 ROM
                small = ch.w_bits + r.in_bits <= LQ_TABLE_AUTO_BITS
                arith = Arith.TABLE if small else Arith.BITPLANE
            final[ls.name] = replace(first[ls.name], simd=simd, pe=pe, arith=arith)
        return Candidate(self.network.with_choices(final), final)

    def params_for(self, choices: Mapping[str, LayerChoice]) -> dict[str, Any]:
        """Optuna parameter values that reproduce `choices` as closely as the space allows
        (used to enqueue baselines). Values outside a choice set go to the nearest one."""
        params: dict[str, Any] = {}
        try:  # the actual (pruned) dimensions `build` maps SIMD and depthwise PE onto
            full = {ls.name: choices.get(ls.name, ls.default) for ls in self.layers}
            actual = {r.name: r for r in resolve(self.network.with_choices(full))}
        except SpecError:
            actual = {}
        for ls in self.layers:
            c = choices.get(ls.name, ls.default)
            r = actual.get(ls.name)
            simd, pe = _nearest(ls.simd, c.simd), _nearest(ls.pe, c.pe)
            if r is not None:
                simd = self._option_onto(ls.simd, c.simd, simd_dim(r), self.limits.max_simd)
                if ls.depthwise:
                    pe = self._option_onto(ls.pe, c.pe, r.in_channels, self.limits.max_pe)
            ordinal: dict[str, Any] = {
                "w_bits": _nearest(ls.w_bits, c.w_bits),
                "a_bits": _nearest(ls.a_bits, c.a_bits),
                "prune": _nearest(ls.prune, c.prune),
                "pe": pe,
                "simd": simd,
                "mmv": _nearest(ls.mmv, c.mmv),
                "threshold": _nearest(ls.threshold, c.threshold),
            }
            if not self.real_values:
                ordinal = {k: getattr(ls, k).index(v) for k, v in ordinal.items()}
            values: dict[str, Any] = {
                **ordinal,
                "arith": (c.arith if c.arith in ls.arith else ls.arith[0]).value,
                "w_type": _value(c.w_type if c.w_type in ls.w_type else ls.w_type[0]),
                "a_type": _value(c.a_type if c.a_type in ls.a_type else ls.a_type[0]),
                "scaling": (c.scaling if c.scaling in ls.scaling else ls.scaling[0]).value,
                "ram_style": (
                    c.ram_style if c.ram_style in ls.ram_style else ls.ram_style[0]
                ).value,
            }
            for what, options in self._dims(ls):
                if len(options) > 1:
                    params[f"{ls.name}.{what}"] = values[what]
        return params

    def params_of(self, candidate: Candidate) -> dict[str, Any]:
        """The parameters of the design `candidate` really is, for the stored trial: each
        layer's evaluated bits, pruning, PE/SIMD/MMV and arithmetic (a SIMD that `build`
        mapped onto a pruned dimension, an arithmetic it replaced by `auto`), where the
        distribution can hold the value; else what `params_for` would enqueue."""
        if not self.real_values:
            return self.params_for(candidate.choices)
        dists = self._distributions()
        enqueue: dict[str, Any] | None = None  # resolved only when a value is not held
        out: dict[str, Any] = {}
        for ls in self.layers:
            c = candidate.choices.get(ls.name, ls.default)
            actual: dict[str, Any] = {
                "w_bits": c.w_bits,
                "a_bits": c.a_bits,
                "prune": c.prune,
                "pe": c.pe,
                "simd": c.simd,
                "mmv": c.mmv,
                "arith": c.arith.value,
                "w_type": _value(c.w_type),
                "a_type": _value(c.a_type),
                "threshold": c.threshold,
                "scaling": c.scaling.value,
                "ram_style": c.ram_style.value,
            }
            for what, options in self._dims(ls):
                name = f"{ls.name}.{what}"
                if len(options) <= 1 or name not in dists:
                    continue
                value = actual[what]
                if not _holds(dists[name], value):
                    if enqueue is None:
                        enqueue = self.params_for(candidate.choices)
                    value = enqueue[name]
                out[name] = value
        return out

    def _pick(self, trial: Suggester, name: str, what: str, options: tuple[Any, ...]) -> Any:
        """One ordinal dimension's value: sampled over the real values and mapped onto the
        nearest option (log scale for PE/SIMD/MMV; ties to the smaller, cheaper one)."""
        if len(options) == 1:
            return options[0]
        if not self.real_values:
            return options[trial.suggest_int(name, 0, len(options) - 1)]
        if what in _FLOAT:
            return _nearest(options, trial.suggest_float(name, min(options), max(options)))
        value = trial.suggest_int(name, min(options), max(options), log=what in _LOG_SCALE)
        if what in _LOG_SCALE:
            return min(options, key=lambda o: (abs(math.log(o) - math.log(value)), o))
        return _nearest(options, value)

    @staticmethod
    def _option_onto(options: tuple[int, ...], value: int, dim: int, cap: int) -> int:
        """The option `build` maps onto `value` for a dimension `dim` (`nearest_divisor`),
        the nearest such on a log scale; else the option nearest to `value`."""
        hits = [o for o in options if nearest_divisor(o, dim, cap) == value]
        if not hits:
            return int(_nearest(options, value))
        return min(hits, key=lambda o: (abs(math.log(o) - math.log(value)), o))

    def arith_options(self) -> tuple[Arith, ...]:
        """Every arithmetic some layer may use."""
        return tuple(dict.fromkeys(a for ls in self.layers for a in ls.arith))

    def smallest(self, arith: Arith = Arith.LUT) -> Candidate:
        """The cheapest design the space holds for one arithmetic: fewest bits, most
        pruning, PE=SIMD=MMV=1 (used to say "cannot fit" before running)."""
        raw = {
            ls.name: {
                "w_bits": min(ls.w_bits),
                "a_bits": None if ls.a_bits == (None,) else min(b for b in ls.a_bits if b),
                "prune": max(ls.prune),
                "pe": 1,
                "simd": 1,
                "mmv": 1,
                "arith": arith if arith in ls.arith else ls.arith[0],
                "threshold": max(ls.threshold),
                "scaling": Scaling.CHANNEL if Scaling.CHANNEL in ls.scaling else ls.scaling[0],
                "ram_style": ls.ram_style[0],
            }
            for ls in self.layers
        }
        return self.build(raw)


_CATEGORICAL = ("arith", "w_type", "a_type", "scaling", "ram_style")
_LOG_SCALE = ("pe", "simd", "mmv")
_FLOAT = ("prune", "threshold")


def _value(member: Any) -> str:
    """The stored parameter value of an arithmetic or quantizer type (`none`: default)."""
    return "none" if member is None else str(member.value)


def _values(options: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(_value(o) for o in options)


def _typed(kind: Any, value: Any) -> Any:
    if value is None or isinstance(value, kind):
        return value
    return None if value == "none" else kind(value)


def _normalized(c: LayerChoice) -> LayerChoice:
    """A choice with the binary/ternary extras reset where they mean nothing: the
    threshold off ternary weights, SYQ scaling off int/LQ weights (so equal designs get
    equal accuracy keys)."""
    from costmodels.types import WType

    wtype = c.weight_type
    if wtype is not WType.TERNARY and c.threshold != TWN_THRESHOLD:
        c = replace(c, threshold=TWN_THRESHOLD)
    if wtype not in (WType.BIPOLAR, WType.TERNARY) and c.scaling is not Scaling.CHANNEL:
        c = replace(c, scaling=Scaling.CHANNEL)
    return c


def _nearest(options: tuple[Any, ...], value: Any) -> Any:
    if value in options:
        return value
    if value is None or any(o is None for o in options):
        return options[0]
    return min(options, key=lambda o: (abs(float(o) - float(value)), o))


def _pick(trial: Suggester, name: str, options: tuple[Any, ...], categorical: bool = False) -> Any:
    if len(options) == 1:
        return options[0]
    if categorical:
        return trial.suggest_categorical(name, options)
    return options[trial.suggest_int(name, 0, len(options) - 1)]


def _holds(dist: Any, value: Any) -> bool:
    """Whether an Optuna distribution can store `value` as a parameter."""
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


def _unpruned(network: Network) -> Network:
    """The network with no pruning and PE=SIMD=MMV=1: the dimensions choice sets index."""
    return network.with_choices(
        {
            layer.name: replace(layer.choice, prune=0.0, pe=1, simd=1, mmv=1)
            for layer in network.compute_layers
            if layer.choice is not None
        }
    )
