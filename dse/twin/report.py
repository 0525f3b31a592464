"""What `dse report` and `dse export` add for twin studies (plain functions over a stored
trial's attributes; the twin mode's `TrialView` in `dse.modes` calls them)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from costmodels.errors import StudyError
from costmodels.types import Network
from dse.records import ATTR_CANDIDATE, ATTR_TWIN
from search_spaces import choice_from_dict
from search_spaces.twin import split_choices

#: (row key, column title) of the twin columns in `dse report`.
COLUMNS = (
    ("threshold", "T"),
    ("recovery", "R"),
    ("speedup", "speed-up"),
    ("recheck_fraction", "re-checked"),
)


def twin_row(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The twin keys of one trial's report row (empty for a single-network trial)."""
    twin = attrs.get(ATTR_TWIN)
    if not isinstance(twin, Mapping):
        return {}
    keys = (
        "threshold",
        "recovery",
        "speedup",
        "recheck_fraction",
        "accuracy_compressed",
        "accuracy_accurate",
        "accurate_alone_latency_ms",
        "compressed_alone_latency_ms",
        "balanced_threshold",
        "balanced_recovery",
        "balanced_speedup",
        "margin",
    )
    return {k: twin.get(k) for k in keys}


def _pct(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}%"


def describe(row: Mapping[str, Any]) -> str:
    """One line for `dse report --trial N` of a twin trial."""
    if row.get("threshold") is None:
        return "twin: not simulated (the pair does not fit)"
    return (
        f"twin: T = {row['threshold']:.4g} ({row.get('margin', 'raw')} margin), R = "
        f"{_pct(row.get('recovery'))}, speed-up {row['speedup']:.2f}x over the accurate "
        f"network alone ({row['accurate_alone_latency_ms']:.4g} ms/input), re-checked "
        f"{_pct(row.get('recheck_fraction'))}; compressed alone {_pct(row['accuracy_compressed'])}"
        f", accurate alone {_pct(row['accuracy_accurate'])}; this pair's most balanced T = "
        + ("inf" if row.get("balanced_threshold") is None else f"{row['balanced_threshold']:.4g}")
        + f" (R {_pct(row.get('balanced_recovery'))}, {row.get('balanced_speedup') or 0:.2f}x)"
    )


def halves(base: Network, attrs: Mapping[str, Any], where: str) -> tuple[Network, Network]:
    """The compressed and accurate networks of a stored twin trial."""
    cand = attrs.get(ATTR_CANDIDATE)
    if not cand:
        raise StudyError(f"{where} has no stored design")
    cmp, acc = split_choices(cand)
    cmp_net = base.with_choices({k: choice_from_dict(v) for k, v in cmp.items()})
    acc_net = base.with_choices({k: choice_from_dict(v) for k, v in acc.items()})
    return (
        replace(cmp_net, name=f"{base.name}-compressed"),
        replace(acc_net, name=f"{base.name}-accurate"),
    )


def pair_specs(
    base: Network,
    attrs: Mapping[str, Any],
    *,
    study: str,
    number: int,
    device: str,
    clock_mhz: float | None,
) -> dict[str, str]:
    """Both halves of a twin trial as spec YAML texts, each with a header naming the pair,
    T and how to check it (`dse estimate`, `dse twin-sweep`)."""
    from dse.spec import dump_network

    cmp_net, acc_net = halves(base, attrs, f"trial {number} of study {study!r}")
    if clock_mhz is not None:
        cmp_net, acc_net = (
            replace(cmp_net, clock_mhz=clock_mhz),
            replace(acc_net, clock_mhz=clock_mhz),
        )
    twin = attrs.get(ATTR_TWIN) or {}
    t = twin.get("threshold")
    part = device.split(" ")[0]
    out = {}
    for half, net in (("compressed", cmp_net), ("accurate", acc_net)):
        header = (
            f"# dse export: study {study!r}, trial {number}, {half} half of a twin design, "
            f"device {device}\n"
            f"# threshold T = {t if t is not None else '-'} ({twin.get('margin', 'raw')} margin)\n"
            f"# check: dse estimate <this file> --device {part}; dse twin-sweep --compressed "
            f"<compressed file> --accurate <accurate file> --device {part}\n"
        )
        out[half] = header + dump_network(net)
    return out
