"""Workload sources: user factories (and their failures), .npz data, the float-model cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from costmodels.errors import WorkloadError
from dse.nn import load_workload
from dse.nn.workloads import cached_float_path

GOOD = """
import numpy as np
from torch import nn
from dse.nn import WorkloadData

def make():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    return {"model": model, "x_train": x[:80], "y_train": y[:80], "x_val": x[80:], "y_val": y[80:]}

def wrong_type():
    return 42

def bad_shape():
    d = make()
    d["x_val"] = d["x_val"][:, :5]
    return d

def nans():
    d = make()
    d["x_train"][3, 2] = float("nan")
    return d

def wrong_labels():
    d = make()
    d["y_val"] = d["y_val"][:-1]
    return d

def boom():
    raise RuntimeError("no data here")
"""


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "userwl.py").write_text(GOOD)
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_factory_from_cwd_trains_and_caches(user_dir: Path) -> None:
    cache = user_dir / "cache"
    wl = load_workload("userwl:make", cache_dir=cache)
    assert [la.name for la in wl.network.layers] == ["0", "3"]
    assert wl.num_classes == 2 and wl.float_accuracy > 0.8
    assert len(list(cache.glob("*.pt"))) == 1
    assert cached_float_path("userwl:make", 0, cache) is not None
    again = load_workload("userwl:make", cache_dir=cache)
    assert again.key == wl.key and again.float_accuracy == wl.float_accuracy


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("broken:make", "cannot import workload module 'broken'"),
        ("userwl:missing", "has no function 'missing'"),
        ("userwl:wrong_type", "must return WorkloadData or a dict, got int"),
        ("userwl:bad_shape", "x_val has shape [5]"),
        ("userwl:nans", "NaN"),
        ("userwl:wrong_labels", "same N"),
        ("userwl:boom", "RuntimeError: no data here"),
        ("nosuch", "unknown workload 'nosuch'"),
        ("missing.npz", "not found"),
    ],
)
def test_bad_workloads_are_one_line_errors(user_dir: Path, spec: str, words: str) -> None:
    with pytest.raises(WorkloadError) as info:
        load_workload(spec, cache_dir=user_dir / "cache")
    assert words in str(info.value)
    assert "\n" not in str(info.value)
    assert not (user_dir / "cache").exists()  # nothing written


def _digits_npz(path: Path, images: bool) -> Path:
    d = load_digits()
    x = (d.data / 16).astype(np.float32)[:600]
    if images:
        x = x.reshape(-1, 8, 8)
    y = d.target[:600]
    np.savez(path, x_train=x[:400], y_train=y[:400], x_val=x[400:], y_val=y[400:])
    return path


@pytest.mark.parametrize("images", [False, True])
def test_npz_data_uses_the_builtin_model_for_its_shape(tmp_path: Path, images: bool) -> None:
    path = _digits_npz(tmp_path / "d.npz", images)
    wl = load_workload(str(path), cache_dir=tmp_path / "cache")
    ops = [la.op.value for la in wl.network.layers]
    assert ops[0] == ("conv" if images else "dense")
    assert wl.network.input_shape == ((1, 8, 8) if images else (64,))
    assert wl.float_accuracy > 0.85


def test_npz_missing_array(tmp_path: Path) -> None:
    np.savez(tmp_path / "x.npz", x_train=np.zeros((4, 3)), y_train=np.zeros(4))
    with pytest.raises(WorkloadError, match="no array 'x_val'"):
        load_workload(str(tmp_path / "x.npz"), cache_dir=tmp_path / "cache")


def test_cache_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _digits_npz(tmp_path / "d.npz", False)
    monkeypatch.setenv("DSE_CACHE_DIR", str(tmp_path / "envcache"))
    load_workload(str(path))
    assert len(list((tmp_path / "envcache").glob("d-*.pt"))) == 1


def test_huge_float_label_is_one_error_not_an_overflow() -> None:
    """A float label of 2**63 (found by hypothesis in a fresh environment) must be refused
    as a label, not crash converting to int64."""
    from dse.nn.workloads import check_labels

    with pytest.raises(WorkloadError, match="class indices"):
        check_labels("d.npz", {"train": np.array([0]), "val": np.array([2.0**63])})
