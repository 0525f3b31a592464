"""Study configuration: a YAML file plus CLI overrides -> one frozen `StudyConfig`.

The fields that define *what* a study optimizes (workload, device, objectives, space,
constraints, evaluation budget, seed) form its `definition`, whose hash (`fingerprint`) is
stored with the study: a resume under a different definition is refused (see
`dse.study`), naming what changed. Run-time knobs (how many trials, which sampler, where
the storage is) are not part of it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from costmodels.errors import ConfigError
from costmodels.reading import read_document
from costmodels.types import Arith, RamStyle, Scaling
from costmodels.validate import MAX_CLOCK_MHZ, MAX_INT, MAX_SEED, finite_in, int_in
from dse.redact import storage_default
from dse.twin.settings import TwinSettings
from search_spaces import SpaceLimits, parse_fixed
from search_spaces.limits import parse_types

if TYPE_CHECKING:
    from costmodels.calibration.profile import Profile

DEFAULT_STORAGE = "sqlite:///runs/dse.db"
DEFAULT_WORKLOAD = "digits-cnn"
DEFAULT_DEVICE = "XCZU3EG"
# Chosen so the embedded default finishes in well under 5 minutes on 2 cores
# (benchmarks/e2e_digits.py prints the timing).
DEFAULT_TRIALS = 120
DEFAULT_COST_ONLY_TRIALS = 2000
DEFAULT_CAP_PCT = 85.0
DEFAULT_FINETUNE_STEPS = 60


class Mode(str, Enum):
    """What a study searches: one network, or TwinDNN pairs (`twin`). What each mode
    builds and how its trials render is looked up in `dse.modes.MODES`."""

    SINGLE = "single"
    TWIN = "twin"
    MULTI = "multi"  # one network over several boards (--devices; dse.multi)


MODES = tuple(m.value for m in Mode)


class Direction(str, Enum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


OBJECTIVES: dict[str, Direction] = {
    "accuracy": Direction.MAXIMIZE,
    "lut": Direction.MINIMIZE,
    "dsp": Direction.MINIMIZE,
    "bram18": Direction.MINIMIZE,
    "fps": Direction.MAXIMIZE,
    "latency_ms": Direction.MINIMIZE,
    "boards": Direction.MINIMIZE,  # FPGAs a design is spread over (--devices)
}
DEFAULT_OBJECTIVES = ("accuracy", "latency_ms", "lut")
DEFAULT_COST_ONLY_OBJECTIVES = ("fps", "lut")


class SamplerName(str, Enum):
    AUTO = "auto"
    NSGA2 = "nsga2"
    TPE = "tpe"
    RANDOM = "random"


class HardwareMode(str, Enum):
    """How a study chooses PE/SIMD/MMV/arithmetic (`dse.hardware`): `solve` computes them
    with the exact folding solver (a cost-only study stores the exact front; with accuracy
    objectives only the accuracy choices are sampled), `sample` samples them, `auto`
    solves a cost-only study run without a trial count and samples otherwise."""

    AUTO = "auto"
    SOLVE = "solve"
    SAMPLE = "sample"


class StorageMode(str, Enum):
    """How trials reach the storage (see docs/search.md).

    `batch`: sample on an in-memory study, commit finished trials in bulk at least every
    `FLUSH_INTERVAL_S` (one writer per study; fast). `direct`: Optuna's RDBStorage for every
    call, with heartbeats (several workers may share a study; slow). `auto`: batch for
    SQLite files, direct for server databases.
    """

    AUTO = "auto"
    BATCH = "batch"
    DIRECT = "direct"


def suggest(word: str, options: list[str]) -> str:
    """`; did you mean 'x'?` for a near miss, else the list of valid names."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; expected one of: {', '.join(options)}"


def parse_objectives(raw: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Objective names from `a,b,c` or a list; unknown or repeated names are refused."""
    if not isinstance(raw, (str, list, tuple)):
        raise ConfigError(f"objectives: expected names like lut,fps, got {raw!r}")
    names = [str(n).strip().lower() for n in (raw.split(",") if isinstance(raw, str) else raw)]
    names = [n for n in names if n]
    if not names:
        raise ConfigError("no objectives given")
    for n in names:
        if n not in OBJECTIVES:
            raise ConfigError(f"unknown objective {n!r}{suggest(n, list(OBJECTIVES))}")
    if len(set(names)) != len(names):
        raise ConfigError(f"objective listed twice in {','.join(names)}")
    return tuple(names)


def parse_mode(raw: str | Mode) -> Mode:
    try:
        return Mode(str(raw.value if isinstance(raw, Mode) else raw).strip().lower())
    except ValueError:
        raise ConfigError(f"unknown mode {raw!r}{suggest(str(raw), list(MODES))}") from None


def parse_sampler(raw: str) -> SamplerName:
    try:
        return SamplerName(raw.strip().lower())
    except ValueError:
        options = [s.value for s in SamplerName]
        raise ConfigError(f"unknown sampler {raw!r}{suggest(raw, options)}") from None


MAX_RANGE = 1000
"""Widest `a-b` range `parse_int_list` expands (checked before expanding it)."""
MAX_TRIALS = 10**8
MAX_STEPS = 10**6
MAX_TIMEOUT_S = 10.0**8
"""Upper bounds of the run-time numbers (about 3 years of search)."""

MAX_STUDY_NAME = 512
"""Optuna's RDB schema stores study names in a VARCHAR(512) (`MAX_INDEXED_STRING_LENGTH`,
optuna/storages/_rdb/models.py); PostgreSQL and MySQL refuse longer ones mid-commit."""


def check_study_name(name: str) -> None:
    """Refuse a study name the storages cannot hold or a shell cannot show (reliability)."""
    if len(name) > MAX_STUDY_NAME:
        raise ConfigError(f"study name is {len(name)} characters long; at most {MAX_STUDY_NAME}")
    bad = next((c for c in name if not c.isprintable()), None)
    if bad is not None:
        raise ConfigError(f"study name {name!r} contains the control character {bad!r}")


@dataclass(frozen=True)
class StudyConfig:
    """Everything one `dse search` run needs. `definition()` is what a study is."""

    workload: str = DEFAULT_WORKLOAD
    device: str = DEFAULT_DEVICE
    # several boards (`2xXCKU115`, `XCKU095,XCKU115`, a cluster YAML): dse.multi
    devices: str | None = None
    objectives: tuple[str, ...] | None = None  # None: the default for the workload kind
    space: SpaceLimits = field(default_factory=SpaceLimits)
    cap_pct: float = DEFAULT_CAP_PCT
    min_accuracy: float | None = None
    finetune_steps: int = DEFAULT_FINETUNE_STEPS
    # evaluate candidates on a seeded subset of this many validation samples (faster,
    # noisier: dse.holdout.noise_points); None: the whole split
    val_subset: int | None = None
    seed: int = 0
    clock_mhz: float | None = None
    # `twin`: search TwinDNN pairs (dse.twin.search) with the `twin` settings
    mode: Mode = Mode.SINGLE
    twin: TwinSettings | None = None
    # calibration profile of the per-FINN-node cost model: None (the analytical model),
    # "default" (shipped) or a profile file; the definition records its fingerprint
    calibration: str | None = None
    # run-time knobs, not part of the definition
    study: str | None = None
    storage: str = DEFAULT_STORAGE
    sampler: SamplerName = SamplerName.AUTO
    hardware: HardwareMode = HardwareMode.AUTO
    trials: int | None = None  # None: DEFAULT_TRIALS or DEFAULT_COST_ONLY_TRIALS
    timeout_s: float | None = None
    storage_mode: StorageMode = StorageMode.AUTO
    fork: bool = False

    def __post_init__(self) -> None:
        if self.study is not None:
            check_study_name(self.study)
        if not 0 < self.cap_pct <= 100:
            raise ConfigError(f"cap {self.cap_pct} must be a percentage in (0, 100]")
        if self.min_accuracy is not None and not 0 <= self.min_accuracy <= 1:  # NaN too
            raise ConfigError(
                f"min_accuracy {self.min_accuracy} must be a fraction in [0, 1] (0.9 = 90%)"
            )
        if self.finetune_steps < 0:
            raise ConfigError("finetune_steps must be >= 0")
        int_in(self.finetune_steps, 0, MAX_STEPS, "finetune_steps", ConfigError)
        if self.val_subset is not None:
            int_in(self.val_subset, 10, 100_000_000, "val_subset", ConfigError)
        if self.trials is not None and self.trials < 1:
            raise ConfigError("trials must be >= 1")
        if self.trials is not None:
            int_in(self.trials, 1, MAX_TRIALS, "trials", ConfigError)
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ConfigError("timeout must be > 0 seconds")
        if self.timeout_s is not None:  # costmodels.validate: NaN and inf refused too
            finite_in(self.timeout_s, 0, MAX_TIMEOUT_S, "timeout (seconds)", ConfigError)
        if self.clock_mhz is not None and self.clock_mhz <= 0:
            raise ConfigError("clock_mhz must be > 0")
        if self.clock_mhz is not None:
            finite_in(self.clock_mhz, 0, MAX_CLOCK_MHZ, "clock_mhz", ConfigError)
        int_in(self.seed, 0, MAX_SEED, "seed", ConfigError)
        mode = parse_mode(self.mode)
        object.__setattr__(self, "mode", mode)
        if (self.devices is not None) != (mode is Mode.MULTI):
            raise ConfigError(
                "--devices (several boards) goes with mode multi, and mode multi needs --devices"
            )
        twin = self.twin
        if isinstance(twin, Mapping):  # a `twin:` mapping (empty: none)
            twin = TwinSettings.from_raw(twin) if twin else None
        elif twin is not None and not isinstance(twin, TwinSettings):
            raise ConfigError("twin: must be a mapping like {margin: raw, t_max: 16}")
        if mode is Mode.TWIN:
            twin = twin or TwinSettings()
        elif twin is not None:
            raise ConfigError("twin: settings need mode: twin")
        object.__setattr__(self, "twin", twin)
        if self.calibration is not None and mode is Mode.TWIN:
            raise ConfigError("calibration applies to single-network searches, not mode twin")
        self.calibration_profile()  # a bad profile is refused before anything runs

    def calibration_profile(self) -> Profile | None:
        """The calibration profile in force (None: the analytical model)."""
        if self.calibration is None or self.calibration == "none":
            return None
        from costmodels.calibration.profile import default_profile, load_profile

        if self.calibration == "default":
            return default_profile()
        return load_profile(self.calibration)

    def objectives_for(self, *, cost_only: bool) -> tuple[str, ...]:
        """The objectives in force: the configured ones, else the kind's default."""
        if self.objectives is not None:
            if cost_only and "accuracy" in self.objectives:
                raise ConfigError(
                    f"workload {self.workload!r} is a hardware-only spec: it has no accuracy "
                    "objective (pick from lut, dsp, bram18, fps, latency_ms)"
                )
            return self.objectives
        return DEFAULT_COST_ONLY_OBJECTIVES if cost_only else DEFAULT_OBJECTIVES

    def hardware_for(self, *, cost_only: bool) -> HardwareMode:
        """`solve` or `sample` (what `auto` means for this run: the exact front for a
        cost-only study run without `--trials`, sampling otherwise)."""
        if self.hardware is not HardwareMode.AUTO:
            return self.hardware
        return HardwareMode.SOLVE if cost_only and self.trials is None else HardwareMode.SAMPLE

    def trials_for(self, *, cost_only: bool) -> int:
        if self.trials is not None:
            return self.trials
        return DEFAULT_COST_ONLY_TRIALS if cost_only else DEFAULT_TRIALS

    def study_name(self) -> str:
        """The study name: given, else `<workload stem>-<device>` in lower case."""
        if self.study:
            return self.study
        stem = (
            Path(self.workload).stem
            if self.workload.lower().endswith((".yaml", ".yml", ".json", ".npz"))
            else (self.workload.replace(":", "-").replace(".", "-"))
        )
        return f"{stem}-{self.devices_label() or self.device}".lower()

    def devices_label(self) -> str | None:
        """`--devices` as a name part (`2xxcku115`), None without it."""
        if self.devices is None:
            return None
        raw = Path(self.devices).stem if self.devices.endswith((".yaml", ".yml")) else self.devices
        return "".join(c if c.isalnum() or c in "-_" else "-" for c in raw)

    def definition(self, *, cost_only: bool) -> dict[str, Any]:
        """The fields that define the study (JSON-ready, stable key order)."""
        return {
            "workload": self.workload,
            "device": self.device,
            "objectives": list(self.objectives_for(cost_only=cost_only)),
            "space": self.space.as_dict(),
            "cap_pct": self.cap_pct,
            "min_accuracy": self.min_accuracy,
            "finetune_steps": None if cost_only else self.finetune_steps,
            "seed": self.seed,
            "clock_mhz": self.clock_mhz,
            **(
                {"mode": self.mode.value, "twin": self.twin.as_dict()}
                if self.twin is not None
                else {}
            ),
            **self._calibration_definition(),
            **({"mode": self.mode.value, "devices": self.devices} if self.devices else {}),
            # only when set: studies without a subset keep their earlier definition
            **({"val_subset": self.val_subset} if self.val_subset and not cost_only else {}),
            # the decomposed search names its parameters differently (`conv1.w_bits` is a
            # choice index there, a bit-width in the sampled search): a study is resumed
            # in the mode it was created in; sampled studies keep their definition
            **(
                {"hardware": HardwareMode.SOLVE.value}
                if not cost_only and self.hardware is HardwareMode.SOLVE
                else {}
            ),
        }

    def _calibration_definition(self) -> dict[str, Any]:
        profile = self.calibration_profile()
        if profile is None:
            return {}  # studies without a profile keep their earlier definition
        return {"calibration": {"name": profile.name, "fingerprint": profile.fingerprint}}


def fingerprint(definition: Mapping[str, Any]) -> str:
    """A short stable hash of a study definition."""
    blob = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def same_definition(
    stored: Mapping[str, Any], definition: Mapping[str, Any], *, content_defined: bool
) -> bool:
    """Whether a stored study (its metadata: `fingerprint`, `definition`, `cost_only`) has
    the study definition `definition` (whose `network` is the network's fingerprint).

    The fingerprint hashes the definition with the workload string in it. For a workload
    file whose content defines the whole network (`content_defined`: a YAML/JSON spec or an
    ONNX model, a cost-only study) that string's spelling (relative or absolute, another
    working directory) does not make another study: the stored fingerprint is checked
    against `definition` with the stored workload string put back, and the two network
    fingerprints must be equal. So every stored study, made before or after this rule,
    resumes under any spelling of its file, and nothing but the spelling may differ.
    Built-ins, `.npz` data and `pkg.module:factory` workloads (weights and data outside the
    network fingerprint) keep the workload string as part of the definition."""
    if stored.get("fingerprint") == fingerprint(definition):
        return True
    old = spelled_as_stored(stored, definition, content_defined=content_defined)
    return old is not definition and stored.get("fingerprint") == fingerprint(old)


def spelled_as_stored(
    stored: Mapping[str, Any], definition: Mapping[str, Any], *, content_defined: bool
) -> Mapping[str, Any]:
    """`definition` with the stored study's workload string, when both are the same
    content-defined network (see `same_definition`); else `definition` itself."""
    old = stored.get("definition")
    if (
        not content_defined
        or stored.get("cost_only") is not True
        or not isinstance(old, Mapping)
        or not isinstance(old.get("workload"), str)
        or old.get("network") is None
        or old.get("network") != definition.get("network")
    ):
        return definition
    return {**definition, "workload": old["workload"]}


def describe_changes(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Human-readable differences between two definitions, e.g.
    `device: XCZU3EG -> XC7Z020`, `space.max_pe: 64 -> 32`."""
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out.extend(describe_changes(a, b, f"{prefix}{key}."))
        elif a != b:
            out.append(f"{prefix}{key}: {_show(a)} -> {_show(b)}")
    return out


def _show(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ",".join(map(str, v)) + "]"
    return str(v)


#: The keys a config file may hold at its top level (anything else is refused by name).
TOP_KEYS = frozenset(
    {
        "workload",
        "device",
        "devices",
        "objectives",
        "space",
        "cap",
        "min_accuracy",
        "finetune_steps",
        "val_subset",
        "seed",
        "clock_mhz",
        "study",
        "storage",
        "sampler",
        "hardware",
        "trials",
        "timeout",
        "storage_mode",
        "mode",
        "twin",
        "calibration",
    }
)
#: The keys of a config file's `space:` mapping.
SPACE_KEYS = frozenset(
    {
        "w_bits",
        "a_bits",
        "prune",
        "max_pe",
        "max_simd",
        "max_mmv",
        "arith",
        "w_types",
        "a_types",
        "threshold",
        "scaling",
        "ram_style",
        "search_bits",
        "search_prune",
        "fixed",
    }
)


def _check_keys(raw: Mapping[str, Any], allowed: AbstractSet[str], where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{where}unknown key {key!r}{suggest(str(key), sorted(allowed))}")


def parse_space(raw: Mapping[str, Any] | None, base: SpaceLimits | None = None) -> SpaceLimits:
    """`SpaceLimits` from the `space:` mapping of a config file (missing keys keep `base`)."""
    base = base or SpaceLimits()
    if not raw:
        return base
    if not isinstance(raw, Mapping):
        raise ConfigError("space: must be a mapping")
    _check_keys(raw, SPACE_KEYS, "space: ")
    kw: dict[str, Any] = {}
    at = ""  # the key being read, for the error
    try:
        for key in ("w_bits", "a_bits"):
            if key in raw:
                at = key
                kw[key] = parse_int_list(raw[key], f"space.{key}")
        if "prune" in raw:
            at = "prune"
            kw["prune"] = tuple(float(x) for x in _as_list(raw["prune"]))
        for key in ("max_pe", "max_simd", "max_mmv"):
            if key in raw:
                at = key
                kw[key] = int(raw[key])
                if abs(kw[key]) > MAX_INT:
                    raise ConfigError(f"space.{key} is larger than {MAX_INT:,}")
        if "arith" in raw:
            at = "arith"
            kw["arith"] = parse_arith(raw["arith"])
        for key in ("w_types", "a_types"):
            if key in raw:
                at = key
                kw[key] = parse_types(raw[key], key)
        if "threshold" in raw:
            at = "threshold"
            kw["threshold"] = tuple(sorted({float(x) for x in _as_list(raw["threshold"])}))
        if "scaling" in raw:
            at = "scaling"
            kw["scaling"] = parse_scaling(raw["scaling"])
        if "ram_style" in raw:
            at = "ram_style"
            kw["ram_style"] = parse_ram_style(raw["ram_style"])
        for key in ("search_bits", "search_prune"):
            if key in raw:
                at = key
                kw[key] = None if raw[key] in (None, "auto") else bool(raw[key])
        if "fixed" in raw:
            at = "fixed"
            kw["fixed"] = parse_fixed(raw["fixed"] or {})
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"space.{at}: {exc}" if at else f"space: {exc}") from None
    return replace(base, **kw)


def _as_list(raw: Any) -> list[Any]:
    if isinstance(raw, str):
        return [x.strip() for x in raw.split(",") if x.strip()]
    if isinstance(raw, (list, tuple)):
        return list(raw)
    return [raw]


def parse_int_list(raw: Any, what: str) -> tuple[int, ...]:
    """`1,2,4-8` or a list into sorted unique ints (`a-b` is an inclusive range)."""
    out: set[int] = set()
    for item in _as_list(raw):
        text = str(item).strip()
        try:
            if "-" in text[1:]:
                lo, hi = (int(x) for x in text.split("-", 1))
                if hi - lo > MAX_RANGE or max(abs(lo), abs(hi)) > MAX_INT:  # before expanding
                    raise ConfigError(f"{what}: range {text!r} is too wide (bit-widths are 1..16)")
                out.update(range(lo, hi + 1))
            else:
                out.add(int(text))
        except ValueError:
            raise ConfigError(f"{what}: {text!r} is not a bit-width or range like 2-8") from None
    return tuple(sorted(out))


def parse_arith(raw: Any) -> tuple[Arith, ...]:
    out: list[Arith] = []
    options = [a.value for a in Arith]
    for item in _as_list(raw):
        name = str(item).strip().lower()
        try:
            out.append(Arith(name))
        except ValueError:
            raise ConfigError(f"unknown arithmetic {name!r}{suggest(name, options)}") from None
    return tuple(dict.fromkeys(out))


def parse_scaling(raw: Any) -> tuple[Scaling, ...]:
    """`channel,layer,row,pixel` (or a list) into SYQ scaling granularities."""
    out: list[Scaling] = []
    options = [g.value for g in Scaling]
    for item in _as_list(raw):
        name = str(item).strip().lower()
        try:
            out.append(Scaling(name))
        except ValueError:
            raise ConfigError(f"unknown scaling {name!r}{suggest(name, options)}") from None
    return tuple(dict.fromkeys(out))


def parse_ram_style(raw: Any) -> tuple[RamStyle, ...]:
    """`auto,block,distributed,ultra` (or a list) into weight memory styles, `auto` first
    (what a space's smallest design uses)."""
    out: list[RamStyle] = []
    options = [r.value for r in RamStyle]
    for item in _as_list(raw):
        name = str(item).strip().lower()
        try:
            out.append(RamStyle(name))
        except ValueError:
            raise ConfigError(f"unknown ram_style {name!r}{suggest(name, options)}") from None
    return tuple(sorted(dict.fromkeys(out), key=options.index))


def load_config_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a study config YAML, keys checked."""
    p = Path(path)
    try:
        raw = read_document(p, "config", ConfigError) or {}  # costmodels.reading: limits
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config {str(p)!r}{where}: not valid YAML") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config {str(p)!r} must be a mapping of keys like workload:, device:")
    _check_keys(raw, TOP_KEYS, f"config {str(p)!r}: ")
    return dict(raw)


#: Config keys whose value is text (a YAML number or list there is refused, not str()-ed).
TEXT_KEYS = (
    "workload",
    "device",
    "devices",
    "study",
    "storage",
    "sampler",
    "hardware",
    "storage_mode",
    "mode",
    "calibration",
)


def build_config(
    file_values: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None
) -> StudyConfig:
    """A `StudyConfig` from config-file values, then CLI overrides (None = not given).

    Override keys are the config-file keys plus the space keys at top level
    (`max_pe`, `w_bits`, ...), as the CLI flags name them. Every config-file value is
    checked (type, parse) whether or not an override replaces it: a wrong file is refused
    the same way with and without `--storage` and friends.
    """
    values: dict[str, Any] = dict(file_values or {})
    space_value = values.pop("space", None) or {}
    if not isinstance(space_value, Mapping):
        raise ConfigError(f"space: must be a mapping of keys like max_pe:, got {space_value!r}")
    space_raw: dict[str, Any] = dict(space_value)
    _check_text(values)
    _config_kwargs(values)  # the file's own values, before any override hides them
    parse_space(space_raw)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key in SPACE_KEYS:
            space_raw[key] = value
        elif key in TOP_KEYS:
            values[key] = value
        else:  # pragma: no cover - the CLI only passes known keys
            raise ConfigError(f"unknown option {key!r}")
    kw = _config_kwargs(values)
    kw["space"] = parse_space(space_raw)
    return StudyConfig(**kw)


def _check_text(values: Mapping[str, Any]) -> None:
    """Refuse a number, list or mapping where text belongs (`storage: 12`), rather than
    `str()` it into a value nobody wrote."""
    for key in TEXT_KEYS:
        v = values.get(key)
        if v is not None and not isinstance(v, str):
            raise ConfigError(f"config: {key} must be text, got {v!r} ({type(v).__name__})")


def _config_kwargs(values: Mapping[str, Any]) -> dict[str, Any]:
    """`StudyConfig` keyword arguments (the space aside) from top-level config values."""
    kw: dict[str, Any] = {}
    at = ""  # the key being read, for the error
    try:
        for key in ("workload", "device", "devices", "study", "storage"):
            if values.get(key) is not None:
                at = key
                kw[key] = str(values[key])
        if "storage" not in kw:  # dse.redact: a URL with a password stays off the command line
            at = ""
            kw["storage"] = storage_default(DEFAULT_STORAGE)
        if values.get("objectives") is not None:
            at = "objectives"
            kw["objectives"] = parse_objectives(values["objectives"])
        if values.get("sampler") is not None:
            at = "sampler"
            kw["sampler"] = parse_sampler(str(values["sampler"]))
        if values.get("hardware") is not None:
            at = "hardware"
            hw = str(values["hardware"]).lower()
            hw_options = [m.value for m in HardwareMode]
            if hw not in hw_options:
                raise ConfigError(f"unknown hardware mode {hw!r}{suggest(hw, hw_options)}")
            kw["hardware"] = HardwareMode(hw)
        if values.get("storage_mode") is not None:
            at = "storage_mode"
            mode = str(values["storage_mode"]).lower()
            options = [m.value for m in StorageMode]
            if mode not in options:
                raise ConfigError(f"unknown storage mode {mode!r}{suggest(mode, options)}")
            kw["storage_mode"] = StorageMode(mode)
        if values.get("cap") is not None:
            at = "cap"
            kw["cap_pct"] = float(values["cap"])
        if values.get("min_accuracy") is not None:
            at = "min_accuracy"
            kw["min_accuracy"] = float(values["min_accuracy"])
        if values.get("finetune_steps") is not None:
            at = "finetune_steps"
            kw["finetune_steps"] = int(values["finetune_steps"])
        if values.get("val_subset") is not None:
            at = "val_subset"
            kw["val_subset"] = int(values["val_subset"])
        if values.get("seed") is not None:
            at = "seed"
            kw["seed"] = int(values["seed"])
        if values.get("clock_mhz") is not None:
            at = "clock_mhz"
            kw["clock_mhz"] = float(values["clock_mhz"])
        if values.get("trials") is not None:
            at = "trials"
            kw["trials"] = int(values["trials"])
        if values.get("timeout") is not None:
            at = "timeout"
            kw["timeout_s"] = float(values["timeout"])
        if values.get("mode") is not None:
            at = "mode"
            kw["mode"] = parse_mode(str(values["mode"]))
        elif kw.get("devices") is not None:
            kw["mode"] = Mode.MULTI  # --devices alone means a multi-board study
        if values.get("twin") is not None:
            at = "twin"
            kw["twin"] = values["twin"]
        if values.get("calibration") is not None:
            at = "calibration"
            kw["calibration"] = str(values["calibration"])
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"config: {at}: {exc}" if at else f"config: {exc}") from None
    return kw
