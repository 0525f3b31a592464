"""--torch-device and batched evaluation (issue 13)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from costmodels.errors import ConfigError
from dse.cli import main
from dse.nn import AccuracyEvaluator, Workload
from dse.nn import device as dev_mod
from dse.nn.device import torch_device


def test_device_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(dev_mod.DEVICE_ENV, raising=False)
    assert torch_device().type == "cpu"
    assert torch_device("CPU").type == "cpu"
    assert torch_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ConfigError, match="not one of"):
        torch_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            torch_device("cuda")


def test_unavailable_device_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code = main(["evaluate", "-w", "digits-mlp", "--torch-device", "cuda"])
    err = capsys.readouterr().err
    assert code == 2 and "no CUDA device" in err and len(err.strip().splitlines()) == 1


def test_batched_inference_equals_one_batch(cnn: Workload, monkeypatch: pytest.MonkeyPatch) -> None:
    net = cnn.network.with_choices(
        {la.name: la.choice for la in cnn.network.compute_layers if la.choice is not None}
    )
    whole = AccuracyEvaluator(cnn, finetune_steps=0).outputs(net, split="val")
    monkeypatch.setattr("dse.nn.evaluate.EVAL_BATCH", 7)
    batched = AccuracyEvaluator(cnn, finetune_steps=0).outputs(net, split="val")
    np.testing.assert_allclose(batched, whole, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_evaluation_matches_cpu(cnn: Workload, monkeypatch: pytest.MonkeyPatch) -> None:
    net = cnn.network
    cpu = AccuracyEvaluator(cnn, finetune_steps=5).evaluate(net).accuracy
    monkeypatch.setenv(dev_mod.DEVICE_ENV, "cuda")
    gpu = AccuracyEvaluator(cnn, finetune_steps=5).evaluate(net).accuracy
    assert abs(gpu - cpu) <= 0.01


def test_validation_subset_scores_on_n_samples(cnn: Workload) -> None:
    full = AccuracyEvaluator(cnn, finetune_steps=0)
    sub = AccuracyEvaluator(cnn, finetune_steps=0, val_subset=50)
    net = cnn.network
    assert full.accuracy_key(net) != sub.accuracy_key(net)
    acc = sub.evaluate(net).accuracy
    assert abs(acc * 50 - round(acc * 50)) < 1e-6  # a count out of 50
    # outputs (twin designs, reports) still cover the whole split
    assert len(sub.outputs(net, split="val")) == len(cnn.labels("val"))
    # a subset as large as the split is the split
    big = AccuracyEvaluator(cnn, finetune_steps=0, val_subset=10_000)
    assert big.accuracy_key(net) == full.accuracy_key(net)


def test_search_val_subset_states_its_noise(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    code = main([
        "search", "--workload", "tests.fixtures.user_models:tfc_untrained", "--trials", "3",
        "--finetune-steps", "0", "--val-subset", "100", "--storage", url, "--study", "v",
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0 and "subset of 100 validation samples" in err and "+/-" in err
