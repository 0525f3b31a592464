"""Calibration profiles: the fitted coefficients of the per-FINN-node unit model
(`costmodels.finn_units`) with their provenance, in one versioned YAML file.

A profile names the part family and toolchain its rows came from, the data, the
procedure, the date, the held-out errors measured when it was fitted, and per FINN op,
resource and feature term a coefficient. Its `fingerprint` (SHA-256 of the coefficients
and the part family) is what a study records.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from costmodels.errors import ConfigError
from costmodels.reading import read_document
from costmodels.types import Device

FORMAT_VERSION = 1
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "calibration"
DEFAULT_PROFILE = DATA_DIR / "finn-xc7z020-vivado2023.2.yaml"
PRIORS = DATA_DIR / "priors.yaml"

Coef = tuple[tuple[str, tuple[tuple[str, tuple[tuple[str, float], ...]], ...]], ...]


def _freeze(c: Mapping[str, Mapping[str, Mapping[str, float]]]) -> Coef:
    """Sorted tuples, every coefficient rounded to 6 significant digits (what the YAML
    file holds, so a profile written and read back has the same fingerprint)."""
    return tuple(
        (
            op,
            tuple(
                (res, tuple(sorted((t, float(f"{v:.6g}")) for t, v in terms.items())))
                for res, terms in sorted(by_res.items())
            ),
        )
        for op, by_res in sorted(c.items())
    )


@dataclass(frozen=True)
class Profile:
    """A calibration profile (hashable: it keys the estimate memos)."""

    name: str
    part_family: str
    part: str
    tool: str
    date: str
    data: str
    procedure: str
    coef: Coef
    errors: tuple[tuple[str, str, str, int, float | None, float | None], ...] = field(
        default=(), compare=False
    )  # (op, resource, split, n, MAPE %, bias %) as measured when fitted
    version: int = FORMAT_VERSION

    def __hash__(self) -> int:
        # computed once: profiles key the per-layer unit memos on the search's hot path
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.name, self.part_family, self.coef))
            object.__setattr__(self, "_hash", h)
        return h

    @functools.cached_property
    def coefficients(self) -> dict[str, dict[str, dict[str, float]]]:
        """op -> resource -> term -> coefficient (built once; do not mutate)."""
        return {op: {res: dict(terms) for res, terms in by_res} for op, by_res in self.coef}

    @property
    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex digits) of the coefficients and the part family."""
        blob = json.dumps([self.part_family, self.coefficients], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def with_coefficients(self, c: Mapping[str, Mapping[str, Mapping[str, float]]]) -> Profile:
        return replace(self, coef=_freeze(c))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.version,
            "name": self.name,
            "fingerprint": self.fingerprint,
            "part_family": self.part_family,
            "part": self.part,
            "tool": self.tool,
            "date": self.date,
            "data": self.data,
            "procedure": self.procedure,
            "errors": [
                {
                    "op": op,
                    "resource": res,
                    "split": split,
                    "n": n,
                    "mape_pct": None if m is None else round(m, 2),
                    "bias_pct": None if b is None else round(b, 2),
                }
                for op, res, split, n, m, b in self.errors
            ],
            "coefficients": {
                op: {res: dict(terms) for res, terms in r.items()}
                for op, r in self.coefficients.items()
            },
        }


def profile_from_dict(d: Any, where: str) -> Profile:
    """A `Profile` from its YAML structure (one-line `ConfigError` naming `where`)."""
    if not isinstance(d, Mapping):
        raise ConfigError(f"{where}: a calibration profile must be a mapping")
    if d.get("format_version") != FORMAT_VERSION:
        raise ConfigError(
            f"{where}: format_version {d.get('format_version')!r} is not {FORMAT_VERSION}"
        )
    for key in ("name", "part_family", "coefficients"):
        if key not in d:
            raise ConfigError(f"{where}: missing key {key!r}")
    coef = d["coefficients"]
    out: dict[str, dict[str, dict[str, float]]] = {}
    if not isinstance(coef, Mapping):
        raise ConfigError(f"{where}: coefficients must be a mapping op -> resource -> term")
    for op, by_res in coef.items():
        if not isinstance(by_res, Mapping):
            raise ConfigError(f"{where}: coefficients of {op!r} must be a mapping")
        for res, terms in by_res.items():
            if res not in ("lut", "ff", "dsp", "bram18", "uram") or not isinstance(terms, Mapping):
                raise ConfigError(f"{where}: {op}.{res} is not a resource mapping of terms")
            for term, v in terms.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not v == v:
                    raise ConfigError(f"{where}: {op}.{res}.{term} = {v!r} is not a number")
                out.setdefault(str(op), {}).setdefault(str(res), {})[str(term)] = float(v)
    errors = []
    for e in d.get("errors") or []:
        if isinstance(e, Mapping):
            errors.append(
                (
                    str(e.get("op")),
                    str(e.get("resource")),
                    str(e.get("split")),
                    int(e.get("n") or 0),
                    e.get("mape_pct"),
                    e.get("bias_pct"),
                )
            )
    prof = Profile(
        name=str(d["name"]),
        part_family=str(d["part_family"]),
        part=str(d.get("part", "")),
        tool=str(d.get("tool", "")),
        date=str(d.get("date", "")),
        data=str(d.get("data", "")),
        procedure=str(d.get("procedure", "")),
        coef=_freeze(out),
        errors=tuple(errors),
    )
    stated = d.get("fingerprint")
    if stated is not None and stated != prof.fingerprint:
        raise ConfigError(
            f"{where}: fingerprint {stated} does not match its coefficients "
            f"({prof.fingerprint}); edited by hand? remove the fingerprint line to accept"
        )
    return prof


def load_profile(path: str | Path) -> Profile:
    """Read a profile YAML/JSON file (through `costmodels.reading`; one-line
    `ConfigError` on any problem)."""
    p = Path(path)
    try:
        data = read_document(p, "calibration profile", ConfigError)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
        raise ConfigError(f"{p}: not valid YAML/JSON: {first}") from None
    return profile_from_dict(data, str(p))


def dump_profile(profile: Profile) -> str:
    return yaml.safe_dump(profile.to_dict(), sort_keys=False, width=100)


def part_family(device: Device) -> str:
    """`7series` for DSP48E1 parts (Zynq-7000, Artix/Kintex/Virtex-7: UG479), else
    `ultrascale` (DSP48E2/DSP58: UG579, AM004)."""
    return "7series" if device.dsp_block == "DSP48E1" else "ultrascale"


_DEFAULT: list[Profile] = []


def default_profile() -> Profile:
    """The profile shipped with dse (fitted on shared/reference/finn_synth)."""
    if not _DEFAULT:
        _DEFAULT.append(load_profile(DEFAULT_PROFILE))
    return _DEFAULT[0]
