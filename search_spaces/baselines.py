"""Hand-style baselines every new study starts from, so that the front is never worse than
what a user gets without a search.

- `setfolding`: FINN's SetFolding transformation (finn/transformation/fpgadataflow/
  set_folding.py): for each matrix-vector unit, raise SIMD through the divisors of its
  input dimension, then PE through the divisors of its output dimension, until the unit's
  cycles per frame (MH/PE * MW/SIMD * vectors, FINN MVAU `get_exp_cycles`) meet a target.
  The target starts at the slowest unit's fully folded cycles and halves while the whole
  design still fits the device (FINN leaves the target to the user; lowering it until the
  design no longer fits is what a user does by hand).
- `uniform`: every searched layer at one bit-width (8 by default), folded as above.
- `as_given`: the network's own choices (a spec's hand folding, e.g. BNN-PYNQ's CNV).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from costmodels.network import resolve, simd_dim
from costmodels.types import Arith, NetworkCost
from search_spaces.space import Candidate, LayerSpace, SearchSpace, arith_valid

logger = logging.getLogger(__name__)

Estimator = Callable[[Candidate], NetworkCost]


def _unit_cycles(mh: int, mw: int, vectors: int, pe: int, simd: int) -> int:
    """FINN MVAU expected cycles: (MH/PE) * (MW/SIMD) * number of output vectors."""
    return math.ceil(mh / pe) * math.ceil(mw / simd) * vectors


def _fold_for_target(
    space: SearchSpace, bits: Mapping[str, tuple[int, int | None, float]], target: int
) -> dict[str, dict[str, Any]]:
    """Per layer, the smallest SIMD then PE (from the space's choice sets) meeting `target`."""
    raw = _raw(space, bits, {ls.name: (1, 1) for ls in space.layers})
    resolved = {r.name: r for r in resolve(space.build(raw).network)}
    folds: dict[str, tuple[int, int]] = {}
    for ls in space.layers:
        r = resolved[ls.name]
        mw, mh, vec = r.mw, r.mh, r.num_vectors
        valid_simd = [s for s in ls.simd if simd_dim(r) % s == 0] or [1]
        pe, simd = ls.pe[0], valid_simd[0]
        for s in valid_simd:
            simd = s
            if _unit_cycles(mh, mw, vec, pe, simd) <= target:
                break
        if _unit_cycles(mh, mw, vec, pe, simd) > target:
            for p in ls.pe:
                pe = p
                if _unit_cycles(mh, mw, vec, pe, simd) <= target:
                    break
        folds[ls.name] = (pe, simd)
    return _raw(space, bits, folds)


def _arith_for(ls: LayerSpace, w_bits: int, in_bits: int) -> Arith:
    """What a FINN flow uses by default: XNOR for binary layers, LUT otherwise."""
    for a in (Arith.XNOR, Arith.LUT, Arith.DSP):
        if a in ls.arith and arith_valid(a, w_bits, in_bits):
            return a
    return ls.arith[0]


def _raw(
    space: SearchSpace,
    bits: Mapping[str, tuple[int, int | None, float]],
    folds: Mapping[str, tuple[int, int]],
) -> dict[str, dict[str, Any]]:
    raw: dict[str, dict[str, Any]] = {}
    prev_bits = space.network.input_bits
    for ls in space.layers:
        w, a, prune = bits[ls.name]
        pe, simd = folds[ls.name]
        raw[ls.name] = {
            "w_bits": w,
            "a_bits": a,
            "prune": prune,
            "pe": pe,
            "simd": simd,
            "mmv": 1,
            "arith": _arith_for(ls, w, prev_bits),
        }
        prev_bits = a if a is not None else prev_bits
    return raw


def setfolding_sweep(
    space: SearchSpace,
    estimate: Estimator,
    fits: Callable[[NetworkCost], bool],
    bits: Mapping[str, tuple[int, int | None, float]] | None = None,
) -> list[tuple[int, Candidate]]:
    """SetFolding designs for cycle targets halving from the fully folded design's slowest
    unit until the design no longer fits: `(target, candidate)`, slowest first, each fitting
    and faster than the one before. The last is what a user gets by hand."""
    bits = dict(bits) if bits is not None else default_bits(space)
    folded = fully_folded(space, bits)
    resolved = [r for r in resolve(folded.network) if r.op.is_compute]
    target = max(_unit_cycles(r.mh, r.mw, r.num_vectors, 1, 1) for r in resolved)
    out: list[tuple[int, Candidate]] = []
    last_cycles = None
    while target >= 1:
        cand = space.build(_fold_for_target(space, bits, target))
        cost = estimate(cand)
        if not fits(cost):
            break
        if cost.cycles_per_frame != last_cycles:
            out.append((target, cand))
            last_cycles = cost.cycles_per_frame
        target //= 2
    if not out:
        logger.info("setfolding: even the fully folded design does not fit")
    return out


def setfolding(
    space: SearchSpace,
    estimate: Estimator,
    fits: Callable[[NetworkCost], bool],
    bits: Mapping[str, tuple[int, int | None, float]] | None = None,
) -> Candidate | None:
    """The fastest SetFolding design that fits (None if even the fully folded one does not).

    `bits` maps a layer to (w_bits, a_bits, prune); default: the network's own choices
    projected onto the space.
    """
    sweep = setfolding_sweep(space, estimate, fits, bits)
    return sweep[-1][1] if sweep else None


def default_bits(space: SearchSpace) -> dict[str, tuple[int, int | None, float]]:
    """Each layer's own bits and pruning from the network, projected onto the space."""
    out: dict[str, tuple[int, int | None, float]] = {}
    for ls in space.layers:
        c = ls.default
        out[ls.name] = (
            _near(ls.w_bits, c.w_bits),
            _near_opt(ls.a_bits, c.a_bits),
            0.0 if 0.0 in ls.prune else min(ls.prune),
        )
    return out


def uniform_bits(space: SearchSpace, bits: int = 8) -> dict[str, tuple[int, int | None, float]]:
    """Every layer at `bits` (or the nearest allowed), unpruned."""
    out: dict[str, tuple[int, int | None, float]] = {}
    for ls in space.layers:
        out[ls.name] = (
            _near(ls.w_bits, bits),
            _near_opt(ls.a_bits, bits),
            0.0 if 0.0 in ls.prune else min(ls.prune),
        )
    return out


def fully_folded(
    space: SearchSpace, bits: Mapping[str, tuple[int, int | None, float]]
) -> Candidate:
    """PE = SIMD = 1 everywhere: the smallest-area design at these bits."""
    return space.build(_raw(space, bits, {ls.name: (1, 1) for ls in space.layers}))


def _near(options: tuple[int, ...], value: int) -> int:
    return min(options, key=lambda o: (abs(o - value), o))


def _near_opt(options: tuple[int | None, ...], value: int | None) -> int | None:
    if options == (None,) or value is None:
        return options[0]
    return min((o for o in options if o is not None), key=lambda o: (abs(o - value), o))


def as_given(space: SearchSpace) -> Candidate:
    """The network's own choices, projected onto the space (the user's hand design)."""
    raw: dict[str, dict[str, Any]] = {}
    prev_bits = space.network.input_bits
    for ls in space.layers:
        c = ls.default
        w, a, prune = _near(ls.w_bits, c.w_bits), _near_opt(ls.a_bits, c.a_bits), c.prune
        arith = c.arith if c.arith in ls.arith else _arith_for(ls, w, prev_bits)
        raw[ls.name] = {
            "w_bits": w,
            "a_bits": a,
            "prune": min(ls.prune, key=lambda r: abs(r - prune)),
            "pe": min(ls.pe, key=lambda p: abs(p - c.pe)),
            "simd": min(ls.simd, key=lambda q: abs(q - c.simd)),
            "mmv": min(ls.mmv, key=lambda m: abs(m - c.mmv)),
            "arith": arith,
        }
        prev_bits = a if a is not None else prev_bits
    return space.build(raw)
