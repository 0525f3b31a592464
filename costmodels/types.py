"""Value types shared by every cost model: the network in, the resources out.

All are frozen dataclasses; explore alternatives with `dataclasses.replace`.
Units live in names (`clock_mhz`, `latency_ms`, `bram18`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import Any, TypeVar

_T = TypeVar("_T")


def _memo_key(*hashed: str) -> Callable[[type[_T]], type[_T]]:
    """Make a frozen slotted dataclass (a `_HashSlot` subclass) a cheap memo key: its hash
    is computed once per instance (the cost model's memos key on these values, and a
    nested dataclass otherwise rehashes every field on every lookup), stored in the
    `_HashSlot` slot outside the fields (equality, repr and `replace` do not see it; pickles
    leave it out, string hashes differ between processes: the dataclass's own
    `__getstate__` for frozen slotted classes holds the fields only), and the fields are
    read in one C call (`operator.attrgetter`). Equality is the dataclass's (field tuples
    compared), with two shortcuts that cannot change it: the same object, and unequal
    hashes cached on both (equal tuples have equal hashes).

    `hashed` names the fields the hash reads (default: all). Equal values have equal
    hashes whatever the subset, so a subset changes no lookup's result; it saves reading
    every field of every new key (a search's cold design hashes each layer and choice
    once), and costs an equality test only for keys that differ in nothing else.

    Slotted, not dict-backed: attribute reads are slot reads, and an instance is one
    object for the garbage collector instead of two (its dictionary, which storing the
    hash would create). On a cold 50-layer estimate this cut the interpreter's
    instructions by about a quarter (valgrind callgrind; docs/costmodels.md)."""

    def wrap(cls: type[_T]) -> type[_T]:
        return _make_memo_key(cls, hashed)

    return wrap


class _HashSlot:
    """Base of a memo key (`@dataclass(frozen=True, slots=True)`): the slot its cached hash
    lives in, outside the fields (no instance dictionary)."""

    __slots__ = ("_hash",)


def _make_memo_key(cls: type[_T], hashed: tuple[str, ...]) -> type[_T]:
    if not issubclass(cls, _HashSlot) or "__dict__" in dir(cls):
        raise TypeError(f"{cls.__name__}: a memo key is a slotted _HashSlot dataclass")
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    unknown = set(hashed) - set(names)
    if unknown:
        raise TypeError(f"{cls.__name__} has no fields {sorted(unknown)}")
    get = operator.attrgetter(*names)
    key = operator.attrgetter(*(hashed or names))
    set_hash = _HashSlot.__dict__["_hash"].__set__

    def __hash__(self: Any) -> int:
        h: int | None = getattr(self, "_hash", None)
        if h is None:
            h = hash(key(self))
            set_hash(self, h)
        return h

    def __eq__(self: Any, other: object) -> bool:
        if self is other:
            return True
        if other.__class__ is not self.__class__:
            return NotImplemented
        mine, theirs = getattr(self, "_hash", None), getattr(other, "_hash", None)
        if mine is not None and theirs is not None and mine != theirs:
            return False
        return bool(get(self) == get(other))

    cls.__hash__ = __hash__  # type: ignore[method-assign]
    cls.__eq__ = __eq__  # type: ignore[method-assign]
    return cls


class Op(str, Enum):
    """Layer kinds of the hardware network description."""

    CONV = "conv"
    DENSE = "dense"
    MAXPOOL = "maxpool"
    AVGPOOL = "avgpool"
    ADD = "add"
    CONCAT = "concat"

    @property
    def is_compute(self) -> bool:
        """Whether the layer has weights (a matrix-vector unit in hardware)."""
        return self is _CONV or self is _DENSE


class WType(str, Enum):
    """How a layer's weights are represented.

    1 bit is bipolar {-1, +1} and 2 bits are ternary {-1, 0, +1} unless the spec says
    `w_type: int` (FINN's conventions; shared/reference/README.md).
    """

    BIPOLAR = "bipolar"
    TERNARY = "ternary"
    INT = "int"
    #: LQ-Nets: a K-bit code b in {-1, +1}^K times a learned basis v (Pan thesis sec.
    #: 3.3.2, q = <b, v>); `w_bits` is K.
    LQ = "lq"


class NumType(str, Enum):
    """How activations (a layer's outputs, the network's input) are represented: FINN's
    `UINTk`, `INTk` (two's complement) and `BIPOLAR` ({-1, +1}, 1 bit only). `None` in a
    spec field means the default for the bit-width (`NumType.default`)."""

    UNSIGNED = "unsigned"
    SIGNED = "signed"
    BIPOLAR = "bipolar"
    #: LQ-Nets codes b in {0, 1}^K times a learned basis (non-negative after ReLU, Pan
    #: thesis Fig. 4.1; `dse.nn.lq`), for a layer's outputs (not the network input)
    LQ = "lq"

    @staticmethod
    def default(bits: int) -> NumType:
        """Bipolar at 1 bit (FINN's BNNs), unsigned above."""
        return NumType.BIPOLAR if bits == 1 else NumType.UNSIGNED

    @staticmethod
    def of(t: NumType | None, bits: int) -> NumType:
        """`t`, or the default for `bits` when it is None."""
        return t if t is not None else NumType.default(bits)


class RamStyle(str, Enum):
    """Where a layer's weight memory goes (FINN `ram_style`): `auto` is the cost model's
    own rule (`costmodels.memory.place_memory`), the others force BRAM, LUTRAM or URAM."""

    AUTO = "auto"
    BLOCK = "block"
    DISTRIBUTED = "distributed"
    ULTRA = "ultra"


class MemMode(str, Enum):
    """FINN `mem_mode`: weights inside the MVAU (`internal_embedded`), in a separate
    weight streamer with its own memory (`internal_decoupled`, FINN's default), or streamed
    in from off-chip (`external`: no weight memory on chip)."""

    INTERNAL_EMBEDDED = "internal_embedded"
    INTERNAL_DECOUPLED = "internal_decoupled"
    EXTERNAL = "external"


class Impl(str, Enum):
    """FINN backend of a compute layer: `hls` (`MVAU_hls`), `rtl` (`MVAU_rtl`, DSP
    multipliers only) or `auto` (what the arithmetic implies)."""

    AUTO = "auto"
    HLS = "hls"
    RTL = "rtl"


class Arith(str, Enum):
    """The multiplier arithmetic of a compute layer's lanes.

    `AUTO` lets the cost model pick what a FINN-like flow would; the others force it:
    XNOR-popcount, LUT multiplier (or add/sub mux for binary/ternary weights), DSP,
    AddNet reconfigurable constant-coefficient multipliers with 2, 3 or 4 adders
    (Faraone thesis ch. 6), the LQ-Nets table multiplier and bit-plane form (Pan thesis
    4.1.1).
    """

    AUTO = "auto"
    LUT = "lut"
    DSP = "dsp"
    XNOR = "xnor"
    RCCM2 = "rccm2"
    RCCM3 = "rccm3"
    RCCM4 = "rccm4"
    #: LQ-Nets table multiplier and bit-plane AND/XNOR-popcount (Pan thesis 4.1.1,
    #: Fig. 4.1-4.4; costmodels/lqarith.py)
    TABLE = "table"
    BITPLANE = "bitplane"
    SPARSE = "sparse"

    @property
    def is_rccm(self) -> bool:
        return self is _RCCM2 or self is _RCCM3 or self is _RCCM4


class Scaling(str, Enum):
    """Granularity of the scaling factors of binary/ternary weights (Faraone thesis ch. 5).

    `CHANNEL`: one scale per output channel, absorbed with the batch norm into the
    thresholds (ELB-NN sec. V.B; this project's default). `LAYER`, `ROW`, `PIXEL`: SYQ's
    symmetric learned scales, 1, K or K^2 per layer, shared by all channels (thesis 5.4);
    row and pixel scales need one scaling multiplier per PE (thesis 5.7.2, Fig. 5.3),
    layer-wise ones are absorbed into the thresholds like channel-wise ones.
    """

    CHANNEL = "channel"
    LAYER = "layer"
    ROW = "row"
    PIXEL = "pixel"


# Members the hot path compares against, as module constants: on Python 3.11 every
# `Enum.MEMBER` lookup goes through `EnumType.__getattr__` (about 7x a global's cost).
_CONV, _DENSE = Op.CONV, Op.DENSE
_RCCM2, _RCCM3, _RCCM4 = Arith.RCCM2, Arith.RCCM3, Arith.RCCM4
_BIPOLAR, _TERNARY, _INT = WType.BIPOLAR, WType.TERNARY, WType.INT


# the fields a search varies most (the solver: folding, arithmetic, memory style)
#: The default ternary quantization threshold, as a multiple of the mean weight magnitude:
#: TWN's 0.7 (ELB-NN sec. IV.A). A module constant, since a slotted dataclass's class
#: attribute `LayerChoice.threshold` is the slot's descriptor, not the default.
TWN_THRESHOLD = 0.7


@_memo_key("w_bits", "a_bits", "pe", "simd", "mmv", "arith", "prune", "ram_style")
@dataclass(frozen=True, slots=True)
class LayerChoice(_HashSlot):
    """The design decisions of one compute layer: what the search varies.

    `a_bits` is the bit-width of the layer's *output* activations (`None`: no activation
    unit, raw accumulators out). `prune` is the fraction of output filters removed; the kept
    count is rounded to a multiple of `pe` (see `kept_channels`). `w_type` `None` means the
    default for `w_bits` (see `WType`), `a_type` `None` the default for `a_bits` (see
    `NumType`; `lq`: LQ-Nets codes). `ram_style`, `mem_mode` and `impl` are FINN's
    implementation attributes; `auto`/`None` keep the cost model's own choice.

    Binary/ternary extras (Faraone thesis ch. 3 and 5): `threshold` is the ternary
    quantization threshold as a multiple of the mean weight magnitude (0.7: TWN, ELB-NN
    sec. IV.A; larger values give sparser weights, thesis 3.2.1); `scaling` the granularity
    of the weight scales (see `Scaling`); `density` the measured ratio of non-zero weights
    (gamma, thesis 3.4.4), which the `sparse` arithmetic's cost needs and which the search
    measures on the quantized weights of the trained model.
    """

    w_bits: int = 8
    a_bits: int | None = 8
    w_type: WType | None = None
    pe: int = 1
    simd: int = 1
    mmv: int = 1
    arith: Arith = Arith.AUTO
    prune: float = 0.0
    ram_style: RamStyle = RamStyle.AUTO
    mem_mode: MemMode | None = None
    impl: Impl = Impl.AUTO
    a_type: NumType | None = None

    threshold: float = TWN_THRESHOLD
    scaling: Scaling = Scaling.CHANNEL
    density: float | None = None

    @property
    def is_default_impl(self) -> bool:
        """Whether every FINN implementation attribute is left to the model (auto)."""
        return (
            self.ram_style is RamStyle.AUTO
            and self.mem_mode is None
            and self.impl is Impl.AUTO
            and self.a_type is None
        )

    @property
    def is_lq(self) -> bool:
        """Whether weights or output activations are LQ-Nets codes."""
        return self.w_type is WType.LQ or self.a_type is NumType.LQ

    @property
    def weight_type(self) -> WType:
        if self.w_type is not None:
            return self.w_type
        if self.w_bits == 1:
            return _BIPOLAR
        if self.w_bits == 2:
            return _TERNARY
        return _INT


# names are unique within a network: the name and the choice tell its layers apart
@_memo_key("name", "choice")
@dataclass(frozen=True, slots=True)
class LayerSpec(_HashSlot):
    """One layer of the hardware network description: its structure, plus `choice` for
    compute layers (`conv`, `dense`).

    `out_channels` is a conv's output channels or a dense layer's output features (before
    pruning). `stride` `None` means 1 for conv and `kernel` for pooling. `source` names the
    other input of an `add` (the residual branch); on any other single-input layer it names
    the layer read instead of the previous one (a branch, e.g. a projection shortcut;
    `costmodels.network.INPUT` is the network input). `inputs` lists every input of a
    `concat` (channels in this order) or both operands of an `add` given explicitly.
    """

    name: str
    op: Op
    out_channels: int = 0
    kernel: int = 1
    stride: int | None = None
    padding: int = 0
    groups: int = 1
    source: str | None = None
    choice: LayerChoice | None = None
    inputs: tuple[str, ...] = ()


@_memo_key()
@dataclass(frozen=True, slots=True)
class Network(_HashSlot):
    """A network in its hardware view: layers in order, input shape, bits and type.

    `input_shape` is `(C, H, W)` for images or `(F,)` for feature vectors; `input_type`
    `None` is the default for `input_bits` (`NumType.default`).
    """

    name: str
    input_shape: tuple[int, ...]
    input_bits: int
    layers: tuple[LayerSpec, ...]
    clock_mhz: float | None = None
    input_type: NumType | None = None

    @property
    def compute_layers(self) -> tuple[LayerSpec, ...]:
        return tuple(layer for layer in self.layers if layer.op.is_compute)

    def with_choices(self, choices: Mapping[str, LayerChoice]) -> Network:
        """A copy with the given compute layers' choices replaced (by layer name)."""
        unknown = set(choices) - {layer.name for layer in self.compute_layers}
        if unknown:
            from costmodels.errors import SpecError

            raise SpecError(f"no compute layer named {sorted(unknown)[0]!r} in {self.name!r}")
        layers = tuple(
            replace(layer, choice=choices[layer.name]) if layer.name in choices else layer
            for layer in self.layers
        )
        return replace(self, layers=layers)


@_memo_key()
@dataclass(frozen=True, slots=True)
class ResolvedLayer(_HashSlot):
    """A layer with every shape and bit-width inferred (see `costmodels.network.resolve`).

    Shapes are after pruning: `in_channels` already lost what the producing layer pruned,
    `out_channels` is what this layer keeps. For a matrix-vector unit FINN's names apply:
    `mw` = inputs per output (in_channels/groups * k * k, or in_features), `mh` = outputs
    (kept channels), `num_vectors` = output pixels per frame (1 for dense).
    """

    spec: LayerSpec
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    in_bits: int
    out_bits: int
    mw: int = 0
    mh: int = 0
    num_vectors: int = 1
    acc_bits: int = 0
    in_type: NumType | None = None
    out_type: NumType | None = None

    @property
    def input_type(self) -> NumType:
        """The input's representation (the default for `in_bits` when not given)."""
        return NumType.of(self.in_type, self.in_bits)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def op(self) -> Op:
        return self.spec.op

    @property
    def choice(self) -> LayerChoice:
        """The compute layer's choice (a default `LayerChoice` for non-compute layers)."""
        return self.spec.choice if self.spec.choice is not None else LayerChoice()

    @property
    def in_channels(self) -> int:
        return self.in_shape[0]

    @property
    def out_channels(self) -> int:
        return self.out_shape[0]

    @property
    def is_depthwise(self) -> bool:
        return (
            self.spec.op is Op.CONV
            and self.spec.groups > 1
            and self.spec.groups == self.spec.out_channels
            and self.in_channels <= self.spec.groups
        )

    @property
    def macs(self) -> int:
        """Multiply-accumulates per frame."""
        return self.mw * self.mh * self.num_vectors if self.op.is_compute else 0


@_memo_key()
@dataclass(frozen=True, slots=True)
class Device(_HashSlot):
    """An FPGA part with its resource totals (shared/reference/devices.csv) and defaults."""

    part: str
    boards: tuple[str, ...]
    family: str
    lut: int
    ff: int
    bram18: int
    uram: int
    dsp: int
    dsp_block: str
    clock_mhz: float


@dataclass(frozen=True, slots=True)
class Resources:
    """FPGA resources as a value type with `+` and scalar `*`.

    `bram18` counts 18 Kb block RAMs (a RAMB36 is 2); `uram` counts 288 Kb UltraRAMs.
    """

    lut: float = 0.0
    ff: float = 0.0
    dsp: float = 0.0
    bram18: float = 0.0
    uram: float = 0.0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.lut + other.lut,
            self.ff + other.ff,
            self.dsp + other.dsp,
            self.bram18 + other.bram18,
            self.uram + other.uram,
        )

    def __mul__(self, k: float) -> Resources:
        return Resources(self.lut * k, self.ff * k, self.dsp * k, self.bram18 * k, self.uram * k)

    __rmul__ = __mul__

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def utilization(self, device: Device) -> Resources:
        """Percent of the device's totals (0 where the device has none of a resource but
        the design uses none; infinity where it uses some)."""

        def pct(used: float, total: float) -> float:
            if total > 0:
                return 100.0 * used / total
            return 0.0 if used == 0 else float("inf")

        return Resources(
            pct(self.lut, device.lut),
            pct(self.ff, device.ff),
            pct(self.dsp, device.dsp),
            pct(self.bram18, device.bram18),
            pct(self.uram, device.uram),
        )

    def fits(self, device: Device, cap_pct: float = 100.0) -> bool:
        """Whether every resource is within `cap_pct` percent of the device's total.

        FF is not checked: the models do not estimate it for every unit.
        """
        u = self.utilization(device)
        return all(v <= cap_pct for v in (u.lut, u.dsp, u.bram18, u.uram))


ZERO = Resources()


@dataclass(frozen=True, slots=True)
class LayerCost:
    """One hardware unit's cost: resources, its initiation interval in cycles per frame,
    the cycles until its first output (pipeline fill), and a per-component breakdown."""

    name: str
    op: Op
    resources: Resources
    cycles: int
    latency_cycles: int
    breakdown: tuple[tuple[str, Resources], ...] = field(default=())


@dataclass(frozen=True)
class NetworkCost:
    """A whole design's estimate on a device at a clock.

    `cycles_per_frame` is the steady-state initiation interval (the slowest unit for a
    dataflow pipeline, the sum over layers for shared engines); `latency_cycles` is one
    frame's time through the whole accelerator.
    """

    network: str
    device: Device
    clock_mhz: float
    layers: tuple[LayerCost, ...]
    shell: Resources
    total: Resources
    cycles_per_frame: int
    latency_cycles: int

    @property
    def fps(self) -> float:
        return self.clock_mhz * 1e6 / self.cycles_per_frame if self.cycles_per_frame else 0.0

    @property
    def latency_ms(self) -> float:
        return self.latency_cycles / (self.clock_mhz * 1e3)

    @property
    def utilization(self) -> Resources:
        return self.total.utilization(self.device)

    def fits(self, cap_pct: float = 100.0) -> bool:
        return self.total.fits(self.device, cap_pct)
