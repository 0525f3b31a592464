"""Which torch device the float training and the quick evaluation run on.

`--torch-device cpu|cuda|mps|auto` (CLI) sets `$DSE_TORCH_DEVICE`, so `--jobs` worker
processes inherit it; `auto` takes CUDA, else Apple's MPS, else the CPU. The code is
device-agnostic: tensors are created on the CPU (data, caches, the float-model cache file)
and moved to the device for the heavy loops (training batches, fine-tuning, inference
batches); results come back to the CPU. Tested on the CPU; the CUDA path runs in the test
suite where a GPU exists (skipped with the reason otherwise).
"""

from __future__ import annotations

import os

import torch

from costmodels.errors import ConfigError

DEVICE_ENV = "DSE_TORCH_DEVICE"
DEVICES = ("cpu", "cuda", "mps", "auto")

#: Samples per inference batch: bounds the activations held at once (a 64-channel 32x32
#: feature map of 1,024 samples is 256 MB in float32) whatever the size of the split.
EVAL_BATCH = 1024


def _mps() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def torch_device(name: str | None = None) -> torch.device:
    """The device named (default `$DSE_TORCH_DEVICE`, else `cpu`); `ConfigError` when it
    is not one of cpu|cuda|mps|auto or not available on this machine."""
    raw = (name if name is not None else os.environ.get(DEVICE_ENV, "cpu")).strip().lower()
    if raw not in DEVICES:
        raise ConfigError(f"torch device {raw!r} is not one of {', '.join(DEVICES)}")
    if raw == "auto":
        raw = "cuda" if torch.cuda.is_available() else "mps" if _mps() else "cpu"
    if raw == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "torch device 'cuda': no CUDA device is available to this torch "
            f"({torch.__version__}); use --torch-device cpu or auto"
        )
    if raw == "mps" and not _mps():
        raise ConfigError("torch device 'mps': Apple's MPS backend is not available here")
    return torch.device(raw)


def set_torch_device(name: str) -> torch.device:
    """Check `name` and make it this process's (and its workers') device."""
    dev = torch_device(name)
    os.environ[DEVICE_ENV] = dev.type
    return dev
