"""Fixtures of the twin tests: a tiny trainable factory workload (8 features, 3 classes,
one hidden layer) importable from the test's working folder, with a shared float cache."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

TINY = textwrap.dedent(
    """
    import numpy as np
    import torch.nn as nn

    def _data(n, rng):
        x = rng.normal(size=(n, 8)).astype("float32")
        y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64") + (x[:, 2] > 0.8)
        return x, y

    def make(columns=3):
        rng = np.random.default_rng(0)
        xt, yt = _data(400, rng)
        xv, yv = _data(120, rng)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, columns))
        return dict(model=model, x_train=xt, y_train=yt, x_val=xv, y_val=yv)

    def one_column():
        return make(columns=1)
    """
)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One float-model cache for the session: the tiny model trains once."""
    return tmp_path_factory.mktemp("twin-cache")


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> Path:
    (tmp_path / "tinywl.py").write_text(TINY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DSE_CACHE_DIR", str(cache_dir))
    return tmp_path
