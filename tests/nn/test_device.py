"""--torch-device and batched evaluation (issue 13)."""

from __future__ import annotations

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
