"""Shared fixtures for the torch-side tests: the built-in workloads trained once per session
into a temporary cache directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from dse.nn import Workload, load_workload


@pytest.fixture(scope="session")
def nn_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nn-cache")


@pytest.fixture(scope="session")
def cnn(nn_cache: Path) -> Workload:
    return load_workload("digits-cnn", cache_dir=nn_cache, seed=0)


@pytest.fixture(scope="session")
def mlp(nn_cache: Path) -> Workload:
    return load_workload("digits-mlp", cache_dir=nn_cache, seed=0)
