"""Fitting a calibration profile to ground-truth rows (`dse calibrate`).

Procedure (reproducible, no randomness):

1. Rows are grouped into distinct configurations (op, implementation and every node
   attribute) and their results averaged (`rows.distinct_configs`).
2. A configuration is held out when a SHA-256 hash of it falls in the lowest 20 %
   (`NodeRow.heldout`): every rebuild of one configuration is on the same side, and the
   split does not depend on the order or the number of files.
3. Per FINN op and resource, the coefficients of the unit's feature terms
   (`costmodels.finn_units`) are the non-negative least-squares solution (scipy `nnls`,
   Lawson-Hanson) on the fit configurations, each row divided by max(value, 1) so that the
   fit minimises relative error, as fpgaConvNet fits its resource models (Venieris &
   Bouganis, FCCM 2016 / fpgaConvNet resource models: NNLS on per-module terms).
4. Terms the rows never exercise (an all-zero column) and ops without rows keep the
   base profile's coefficients (costmodels/data/calibration/
   priors.yaml by default); VVAU without rows takes MVAU's.

Errors: MAPE over configurations whose synthesized value is > 0; bias =
sum(estimate - synthesized) / sum(synthesized).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from costmodels.calibration.nodes import node_from_row
from costmodels.calibration.profile import Profile
from costmodels.calibration.rows import NodeConfig, NodeRow, distinct_configs
from costmodels.errors import ConfigError
from costmodels.finn_units import RESOURCES, Node, features, unit_resources


@dataclass(frozen=True)
class Score:
    op: str
    resource: str
    split: str
    n: int
    mape: float | None
    bias: float | None


def _usable(configs: Iterable[NodeConfig]) -> list[tuple[NodeConfig, Node]]:
    out = []
    for cfg in configs:
        node = node_from_row(cfg.row)
        if node is not None:
            out.append((cfg, node))
    return out


def score(
    pairs: Sequence[tuple[NodeConfig, Node]], profile: Profile, op: str, split: str
) -> list[Score]:
    coef = profile.coefficients
    preds = [(cfg.row, unit_resources(node, coef)) for cfg, node in pairs]
    out = []
    for res in RESOURCES:
        truth = [getattr(r, res) for r, _ in preds]
        est = [getattr(p, res) for _, p in preds]
        if not preds or (not any(truth) and not any(est)):
            continue
        errs = [abs(e - t) / t for e, t in zip(est, truth, strict=True) if t > 0]
        total = sum(truth)
        out.append(
            Score(
                op,
                res,
                split,
                len(preds),
                100.0 * sum(errs) / len(errs) if errs else None,
                100.0 * (sum(est) - total) / total if total > 0 else None,
            )
        )
    return out


#: Terms that are counted, not fitted (coefficient 1): the Vivado BRAM packing rule, URAM
#: blocks and one DSP per HLS lane (`costmodels.finn_units`).
FIXED_TERMS = {
    ("MVAU", "bram18", "weights_block"): 1.0,
    ("MVAU", "uram", "weights_ultra"): 1.0,
    ("MVAU", "dsp", "hls_dsp_lanes"): 1.0,
    ("VVAU", "bram18", "weights_block"): 1.0,
    ("VVAU", "uram", "weights_ultra"): 1.0,
    ("VVAU", "dsp", "hls_dsp_lanes"): 1.0,
    ("StreamingFIFO", "bram18", "vivado_bram"): 1.0,
}
#: Row weight exponent: each row is divided by max(value, 1) ** WEIGHT_POWER. 1 would
#: minimise relative error (small units dominate, large ones come out low: a negative
#: bias); 0 absolute error (large units dominate); 0.5 balances MAPE against bias
#: (measured on finn_synth, benchmarks/calibration.py).
WEIGHT_POWER = 0.5


def _nnls(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    w = 1.0 / np.maximum(y, 1.0) ** WEIGHT_POWER
    coef, _ = nnls(x * w[:, None], y * w, maxiter=50 * max(1, x.shape[1]))
    return np.asarray(coef)


def fit_profile(
    rows: Iterable[NodeRow],
    base: Profile,
    *,
    name: str,
    part: str | None = None,
    part_family: str | None = None,
    tool: str | None = None,
    data: str = "",
    date: str | None = None,
) -> tuple[Profile, list[Score]]:
    """A profile fitted to `rows` (ops without rows keep `base`'s coefficients) and its
    fit and held-out scores per op and resource."""
    by_op: dict[str, list[tuple[NodeConfig, Node]]] = {}
    for cfg, node in _usable(distinct_configs(rows)):
        by_op.setdefault(node.finn_op, []).append((cfg, node))
    if not by_op:
        raise ConfigError("no usable rows to calibrate on (no known FINN op with its attributes)")
    coef = {op: {r: dict(t) for r, t in by.items()} for op, by in base.coefficients.items()}
    for op, pairs in by_op.items():
        fit = [(c, n) for c, n in pairs if not c.heldout] or pairs
        feats = [features(n) for _, n in fit]
        # start from the base: terms and resources these rows never exercise keep it
        new = {res: dict(terms) for res, terms in coef.get(op, {}).items()}
        for res in RESOURCES:
            terms = sorted({t for f in feats for t in f.get(res, {})})
            if not terms:
                continue
            fixed = {t: FIXED_TERMS[(op, res, t)] for t in terms if (op, res, t) in FIXED_TERMS}
            free = [t for t in terms if t not in fixed]
            y = np.array([getattr(c.row, res) for c, _ in fit], dtype=float)
            y = y - np.array(
                [sum(f.get(res, {}).get(t, 0.0) * v for t, v in fixed.items()) for f in feats]
            )
            new[res] = {**new.get(res, {}), **fixed}
            if not free:
                continue
            x = np.array([[f.get(res, {}).get(t, 0.0) for t in free] for f in feats])
            if not (y > 0).any():
                new[res].update({t: 0.0 for j, t in enumerate(free) if x[:, j].any()})
                continue
            fitted = _nnls(x, np.maximum(y, 0.0))
            old = coef.get(op, {}).get(res, {})
            for j, t in enumerate(free):
                # a term the data never exercises keeps the base profile's coefficient
                new[res][t] = float(fitted[j]) if x[:, j].any() else old.get(t, 0.0)
        coef[op] = new
    if "VVAU" not in by_op and "MVAU" in coef:
        coef["VVAU"] = coef["MVAU"]  # same feature shapes; no rows of its own
    profile = replace(
        base,
        name=name,
        part=part if part is not None else base.part,
        part_family=part_family if part_family is not None else base.part_family,
        tool=tool if tool is not None else base.tool,
        data=data,
        date=date or datetime.date.today().isoformat(),
    ).with_coefficients(coef)
    scores: list[Score] = []
    for op, pairs in sorted(by_op.items()):
        for split, members in (
            ("fit", [p for p in pairs if not p[0].heldout]),
            ("held-out", [p for p in pairs if p[0].heldout]),
        ):
            scores.extend(score(members, profile, op, split))
    errors = tuple((s.op, s.resource, s.split, s.n, s.mape, s.bias) for s in scores)
    return replace(profile, errors=errors), scores
