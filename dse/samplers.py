"""Samplers of a study: which one `auto` picks (`resolve_sampler`, with the benchmark
that justifies it) and how each is seeded and configured (`make_sampler`)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.samplers.nsgaii import SBXCrossover
from optuna.trial import FrozenTrial

from costmodels.errors import ConfigError
from dse.config import SamplerName

TPE_MAX_TRIALS = 2500  # `auto` sampler: TPE up to here, NSGA-II above


def resolve_sampler(name: SamplerName, *, cost_only: bool, trials: int) -> SamplerName:
    """`auto`: multivariate TPE for budgets up to `TPE_MAX_TRIALS` trials, NSGA-II above.

    benchmarks/search_quality.py (cost-only CNV on XC7Z020, fps/lut, 3 seeds): mean
    normalized hypervolume after 500 / 2,000 trials TPE 0.3271 / 0.3342, NSGA-II 0.3225 /
    0.3243, random 0.3215 / 0.3215 (the baselines alone); TPE's best feasible design runs
    at 4,822-5,425 FPS against 3,543 FPS for SetFolding, NSGA-II and random stay at the
    SetFolding design. TPE costs more per trial and its cost grows with the number of
    trials (~10 trials/s at 2,000 on 2 busy cores, NSGA-II ~170), so very large budgets
    go to NSGA-II; with an accuracy objective the evaluation dominates anyway.
    """
    if name is not SamplerName.AUTO:
        return name
    return SamplerName.TPE if trials <= TPE_MAX_TRIALS else SamplerName.NSGA2


class StaticSpaceNSGAII(optuna.samplers.NSGAIISampler):
    """NSGA-II told its (static) search space instead of inferring it from every stored
    trial on every trial (Optuna's `IntersectionSearchSpace` deep-copies the space each
    time: about a sixth of the per-trial cost on CNV). Valid because `SearchSpace` choice
    sets never change within a study (a changed space is a changed fingerprint)."""

    def __init__(self, *, search_space: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._static_space = dict(search_space)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, Any]:
        return dict(self._static_space)


def make_sampler(
    name: SamplerName,
    seed: int,
    *,
    trials: int,
    search_space: Mapping[str, Any] | None = None,
) -> optuna.samplers.BaseSampler:
    """A seeded sampler. NSGA-II uses simulated binary crossover on the index-valued folding
    parameters (Deb & Agrawal 1995): a child's PE/SIMD index lies between its parents', so
    two balanced pipelines breed a balanced one in between, which uniform crossover breaks."""
    match name:
        case SamplerName.NSGA2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                crossover = SBXCrossover()
            population = 20 if trials >= 200 else max(8, trials // 5)
            if search_space is not None:
                return StaticSpaceNSGAII(
                    search_space=search_space,
                    seed=seed,
                    population_size=population,
                    crossover=crossover,
                )
            return optuna.samplers.NSGAIISampler(
                seed=seed, population_size=population, crossover=crossover
            )
        case SamplerName.TPE:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=10)
        case SamplerName.RANDOM:
            return optuna.samplers.RandomSampler(seed=seed)
    raise ConfigError(f"no sampler {name!r}")  # pragma: no cover
