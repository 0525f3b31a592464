"""Search spaces: a network description to Optuna suggestions and back to a candidate.

`Space` is the protocol every space implements (`SearchSpace` for one network,
`search_spaces.twin.TwinSpace` for a TwinDNN pair).
`SearchSpace(network, limits, search_bits=..., search_prune=...)` owns the static choice
sets; `suggest(trial)` samples a `Candidate`; `params_for(choices)` turns a design (a
baseline) back into parameter values for `enqueue_trial`. `setfolding` builds the FINN
SetFolding-style baseline.
"""

from costmodels.codec import choice_from_dict, choice_to_dict
from search_spaces.base import Space, Suggester
from search_spaces.limits import ALL_BITS, DEFAULT_ARITH, FixedChoice, SpaceLimits, parse_fixed
from search_spaces.space import (
    Candidate,
    LayerSpace,
    SearchSpace,
    arith_valid,
    nearest_divisor,
)

__all__ = [
    "ALL_BITS",
    "DEFAULT_ARITH",
    "Candidate",
    "FixedChoice",
    "LayerSpace",
    "SearchSpace",
    "Space",
    "SpaceLimits",
    "Suggester",
    "arith_valid",
    "choice_from_dict",
    "choice_to_dict",
    "nearest_divisor",
    "parse_fixed",
]
