"""Workloads: a trained float model, its data splits and its hardware `Network`.

Three sources, one result (`Workload`):

- built-ins `digits-mlp` and `digits-cnn` on scikit-learn's embedded `load_digits`
  (8x8 images, 1,797 samples, no download) with a fixed seeded 60/20/20 split;
- `pkg.module:factory`, a user function returning `WorkloadData` (or a dict with the same
  keys), imported from the installed packages or the current directory;
- `path/to/file.npz` with arrays `x_train, y_train, x_val, y_val[, x_test, y_test]`,
  trained with the built-in model for its input shape (MLP for vectors, CNN for images).

Untrained models are trained once (seeded, Adam, a few seconds on 2 cores) and the float
weights cached under the cache directory (`runs/cache/` unless `DSE_CACHE_DIR` or the
`cache_dir` argument says otherwise), keyed by a hash of the model definition, the data,
the seed and the training recipe.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from costmodels.errors import WorkloadError
from costmodels.reading import check_npz
from costmodels.types import Network
from dse.nn.device import EVAL_BATCH, torch_device
from dse.nn.models import MLP, model_for_shape
from dse.nn.trace import TracedModel, to_network, trace_model
from dse.training_hook import training_hook

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
DATA_SPLIT_SEED = 0  # the built-in data split is fixed whatever the training seed
TRAIN_RECIPE: dict[str, Any] = {
    "optimizer": "adam", "lr": 0.01, "epochs": 40, "batch": 64, "schedule": "cosine"
}  # fmt: skip
CACHE_ENV = "DSE_CACHE_DIR"
THREADS_ENV = "DSE_TORCH_THREADS"
DEFAULT_CACHE_DIR = Path("runs") / "cache"


def limit_threads(n: int | None = None) -> None:
    """Cap torch's intra-op threads at `n` (default `$DSE_TORCH_THREADS`, else 1).

    The models here are tiny: a second thread gains nothing, and when other processes keep
    the 2 cores busy OpenMP's spinning made 100 fine-tuning steps of digits-mlp take 14 s
    with 2 threads against 0.2-1 s with 1 (measured on the 2-core build machine under load
    average 5.6; /tmp/t7.py in the session log). Search workers each get one thread.
    """
    if n is None:
        try:
            n = max(1, int(os.environ.get(THREADS_ENV, "1")))
        except ValueError:
            n = 1
    if torch.get_num_threads() > n:
        torch.set_num_threads(n)


def cache_dir_from(cache_dir: Path | str | None) -> Path:
    """The cache directory: the argument, else `$DSE_CACHE_DIR`, else `runs/cache/`."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else DEFAULT_CACHE_DIR


@dataclass
class WorkloadData:
    """What a user workload factory returns (a dict with these keys works too).

    `model` is a torch module taking a batch `[N, *input_shape]` and returning logits
    `[N, classes]`, built from Conv2d/Linear (optionally followed by BatchNorm and ReLU),
    MaxPool2d/AvgPool2d, Flatten and residual adds (see `dse.nn.trace`). `x_*` are float
    arrays `[N, *input_shape]`, `y_*` integer class labels `[N]` in 0..classes-1.
    `input_shape` defaults to `x_train.shape[1:]`. With `pretrained=False` (default) dse
    trains the float model itself (and caches it); with `True` it uses the weights as given.
    """

    model: nn.Module
    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any = None
    y_test: Any = None
    input_shape: tuple[int, ...] | None = None
    pretrained: bool = False
    name: str | None = None


@dataclass
class Workload:
    """A trained float model with its data splits and its hardware network.

    `network` carries default choices (8-bit weights and activations, pe=simd=1) and the
    same layer names as the torch modules. `key` hashes model definition, data and seed.
    """

    name: str
    key: str
    model: nn.Module
    traced: TracedModel
    network: Network
    num_classes: int
    float_accuracy: float
    seed: int
    data: dict[str, tuple[Tensor, Tensor]] = field(repr=False)
    input_signed: bool = False

    def inputs(self, split: str = "val") -> Tensor:
        return self._split(split)[0]

    def labels(self, split: str = "val") -> np.ndarray:
        """Integer class labels of a split (`train`, `val`, `test`)."""
        return self._split(split)[1].numpy()

    def _split(self, split: str) -> tuple[Tensor, Tensor]:
        if split not in self.data:
            raise WorkloadError(
                f"workload {self.name!r} has no {split!r} split; it has {', '.join(self.data)}"
            )
        return self.data[split]


# --------------------------------------------------------------------------- built-ins


def _digits_split() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(DATA_SPLIT_SEED).permutation(len(x))
    n_train, n_val = int(0.6 * len(x)), int(0.2 * len(x))
    parts = {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }
    return {k: (x[idx], y[idx]) for k, idx in parts.items()}


def _digits_mlp() -> WorkloadData:
    d = _digits_split()
    return WorkloadData(
        model=MLP(64, (64, 64, 64), 10),
        x_train=d["train"][0], y_train=d["train"][1],
        x_val=d["val"][0], y_val=d["val"][1],
        x_test=d["test"][0], y_test=d["test"][1],
        input_shape=(64,), name="digits-mlp",
    )  # fmt: skip


def _digits_cnn() -> WorkloadData:
    d = _digits_split()

    def img(a: np.ndarray) -> np.ndarray:
        return a.reshape(-1, 1, 8, 8)

    return WorkloadData(
        model=model_for_shape((1, 8, 8), 10),
        x_train=img(d["train"][0]), y_train=d["train"][1],
        x_val=img(d["val"][0]), y_val=d["val"][1],
        x_test=img(d["test"][0]), y_test=d["test"][1],
        input_shape=(1, 8, 8), name="digits-cnn",
    )  # fmt: skip


NOISY_COPIES = 5
NOISY_SIGMA = 0.35


def _noisy_digits() -> WorkloadData:
    """A harder built-in on which bit-widths and pruning move accuracy by more than the
    sampling noise (digits saturates near 99%): each of the 1,797 digits in 5 copies, each
    shifted by up to one pixel and with Gaussian pixel noise (sigma 0.35 of the range),
    generated with a fixed seed (no download). Split 60/20/20 by *original* image, so no
    copy of a test digit is trained on; 1,800 test images give 95% intervals of about
    +/-1.5 points at 90% accuracy."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32).reshape(-1, 8, 8)
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(DATA_SPLIT_SEED + 13)
    order = rng.permutation(len(x))
    n_train, n_val = int(0.6 * len(x)), int(0.2 * len(x))
    parts = {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split, idx in parts.items():
        xs, ys = [], []
        for _ in range(NOISY_COPIES):
            shifted = np.empty((len(idx), 8, 8), dtype=np.float32)
            for j, i in enumerate(idx):
                dy, dx = rng.integers(-1, 2, size=2)
                shifted[j] = np.roll(np.roll(x[i], int(dy), axis=0), int(dx), axis=1)
            noisy = shifted + rng.normal(0.0, NOISY_SIGMA, size=shifted.shape).astype(np.float32)
            xs.append(np.clip(noisy, -1.0, 2.0).reshape(-1, 1, 8, 8))
            ys.append(y[idx])
        out[split] = (np.concatenate(xs), np.concatenate(ys))
    return WorkloadData(
        model=model_for_shape((1, 8, 8), 10),
        x_train=out["train"][0], y_train=out["train"][1],
        x_val=out["val"][0], y_val=out["val"][1],
        x_test=out["test"][0], y_test=out["test"][1],
        input_shape=(1, 8, 8), name="noisy-digits",
    )  # fmt: skip


BUILTINS: dict[str, tuple[str, Callable[[], WorkloadData]]] = {
    "digits-mlp": ("FINN TFC-like MLP 64-64-64-64-10 on sklearn digits (8x8)", _digits_mlp),
    "digits-cnn": ("CNV-like CNN (4 conv, 2 pool, 2 dense) on sklearn digits (8x8)", _digits_cnn),
    "noisy-digits": (
        "the digits-cnn model on 5 shifted, noisy copies of each digit (harder; 1,800 test)",
        _noisy_digits,
    ),
}


# --------------------------------------------------------------------------- sources


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _from_factory(spec: str, seed: int) -> WorkloadData:
    module_name, _, func_name = spec.partition(":")
    if not module_name or not func_name:
        raise WorkloadError(f"workload {spec!r} must look like pkg.module:factory")
    cwd = os.getcwd()
    added: list[str] = []
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
        added.append(cwd)
    local = Path(cwd, *module_name.split(".")).with_suffix(".py")
    if local.is_file() and str(local.parent) not in sys.path:
        # a module under the current directory: its siblings importable from its top level
        sys.path.insert(1, str(local.parent))
        added.append(str(local.parent))
    try:
        try:
            module = importlib.import_module(module_name)
        except SystemExit as exc:
            raise WorkloadError(
                f"workload module {module_name!r} called exit({exc.code!r}) while importing"
            ) from None
        except Exception as exc:
            raise WorkloadError(
                f"cannot import workload module {module_name!r} (from {cwd} and the installed "
                f"packages): {_one_line(exc)}"
            ) from None
        # the module's own directory too, so that a factory importing a sibling module
        # (`import helpers` next to my_workload.py) works wherever dse is started from
        where = getattr(module, "__file__", None)
        if where:
            folder = str(Path(where).resolve().parent)
            if folder not in sys.path:
                sys.path.insert(1, folder)
                added.append(folder)
        factory = getattr(module, func_name, None)
        if not callable(factory):
            raise WorkloadError(f"workload module {module_name!r} has no function {func_name!r}")
        torch.manual_seed(seed)
        try:
            result = factory()
        except WorkloadError:
            raise
        except SystemExit as exc:  # `builtins:exit`, sys.exit() in a factory: not a success
            raise WorkloadError(
                f"workload factory {spec} called exit({exc.code!r}) instead of returning data"
            ) from None
        except Exception as exc:
            raise WorkloadError(f"workload factory {spec} failed: {_one_line(exc)}") from None
    finally:
        for path in added:
            if path in sys.path:
                sys.path.remove(path)
    if isinstance(result, Mapping):
        allowed = set(WorkloadData.__dataclass_fields__)
        unknown = set(result) - allowed
        if unknown:
            raise WorkloadError(
                f"workload factory {spec} returned unknown key {sorted(unknown)[0]!r}"
            )
        missing = {"model", "x_train", "y_train", "x_val", "y_val"} - set(result)
        if missing:
            raise WorkloadError(f"workload factory {spec} returned no {sorted(missing)[0]!r}")
        result = WorkloadData(**dict(result))
    if not isinstance(result, WorkloadData):
        raise WorkloadError(
            f"workload factory {spec} must return WorkloadData or a dict, "
            f"got {type(result).__name__}"
        )
    if result.name is None:
        result.name = spec
    return result


def _from_npz(path: Path) -> WorkloadData:
    check_npz(path, WorkloadError)  # costmodels.reading: regular file, inflated size bounded
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as exc:
        raise WorkloadError(f"cannot read {path}: {_one_line(exc)}") from None
    missing = [k for k in ("x_train", "y_train", "x_val", "y_val") if k not in arrays]
    if missing:
        raise WorkloadError(
            f"{path} has no array {missing[0]!r} (need x_train, y_train, x_val, y_val)"
        )
    x_train = arrays["x_train"]
    if x_train.ndim == 3:  # [N, H, W] images: one channel
        for k in ("x_train", "x_val", "x_test"):
            if k in arrays:
                arrays[k] = arrays[k].reshape(arrays[k].shape[0], 1, *arrays[k].shape[1:])
    shape = tuple(int(d) for d in arrays["x_train"].shape[1:])
    if len(shape) not in (1, 3):
        raise WorkloadError(
            f"{path}: x_train must be [N, F], [N, H, W] or [N, C, H, W], got {list(x_train.shape)}"
        )
    labels = {k[2:]: arrays[k] for k in ("y_train", "y_val", "y_test") if k in arrays}
    for k, y in labels.items():
        if y.ndim != 1 or not (
            np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)
        ):
            raise WorkloadError(f"{path}: y_{k} must be a 1-D array of integer class labels")
    classes = check_labels(path.name, labels)
    return WorkloadData(
        model=model_for_shape(shape, classes),
        x_train=arrays["x_train"], y_train=arrays["y_train"],
        x_val=arrays["x_val"], y_val=arrays["y_val"],
        x_test=arrays.get("x_test"), y_test=arrays.get("y_test"),
        input_shape=shape, name=path.stem,
    )  # fmt: skip


MAX_CLASSES = 100_000


def _ranges(values: np.ndarray, limit: int = 6) -> str:
    """Sorted integers as compact ranges: `1..10`, `0..9, 42`."""
    parts: list[str] = []
    start = prev = int(values[0])
    for v in [*(int(x) for x in values[1:]), None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(str(start) if start == prev else f"{start}..{prev}")
        if v is not None:
            start = prev = v
    shown = ", ".join(parts[:limit])
    return shown + (f", ... ({len(parts) - limit} more)" if len(parts) > limit else "")


def check_labels(name: str, labels: Mapping[str, Any]) -> int:
    """The number of classes C of integer labels that must be exactly 0..C-1 over all
    splits (C >= 2). A label set with gaps or not starting at 0 would silently build
    extra output neurons (in hardware too), so it is refused, naming the values found."""
    found: set[int] = set()
    for split, y in labels.items():
        a = np.asarray(y)
        if a.size == 0:
            continue
        if not np.isfinite(a.astype(np.float64)).all() or np.any(a != np.round(a)):
            raise WorkloadError(f"workload {name!r}: y_{split} must be integer class labels")
        lo, hi = float(a.min()), float(a.max())
        if max(-lo, hi) > MAX_CLASSES:  # before any int conversion: 2**63 overflows
            raise WorkloadError(
                f"workload {name!r}: y_{split} holds labels {lo:.6g}..{hi:.6g}; labels "
                f"must be class indices 0..C-1 with C at most {MAX_CLASSES:,}"
            )
        found.update(int(v) for v in np.unique(a))
    values = np.array(sorted(found), dtype=np.int64)
    if len(values) < 2:
        raise WorkloadError(
            f"workload {name!r}: need at least 2 classes; labels found: "
            f"{_ranges(values) if len(values) else 'none'}"
        )
    classes = int(values[-1]) + 1
    if values[0] != 0 or len(values) != classes:
        raise WorkloadError(
            f"workload {name!r}: labels must be class indices 0..C-1 with every class "
            f"present; found {_ranges(values)} ({len(values)} distinct values)"
        )
    if classes > MAX_CLASSES:
        raise WorkloadError(f"workload {name!r}: {classes} classes; at most {MAX_CLASSES}")
    return classes


def _array(v: Any, what: str, name: str) -> np.ndarray:
    try:
        if isinstance(v, Tensor):
            v = v.detach().cpu().numpy()
        a = np.asarray(v)
    except Exception as exc:
        raise WorkloadError(
            f"workload {name!r}: {what} is not an array: {_one_line(exc)}"
        ) from None
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise WorkloadError(f"workload {name!r}: {what} must be numeric, got dtype {a.dtype}")
    return a


def _validate(wd: WorkloadData) -> tuple[dict[str, tuple[Tensor, Tensor]], tuple[int, ...], int]:
    name = wd.name or "workload"
    if not isinstance(wd.model, nn.Module):
        raise WorkloadError(
            f"workload {name!r}: model must be a torch.nn.Module, got {type(wd.model).__name__}"
        )
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split in SPLITS:
        xv, yv = getattr(wd, f"x_{split}"), getattr(wd, f"y_{split}")
        if xv is None and yv is None and split == "test":
            continue
        if xv is None or yv is None:
            raise WorkloadError(f"workload {name!r}: x_{split} and y_{split} must both be given")
        x = _array(xv, f"x_{split}", name).astype(np.float32)
        y = _array(yv, f"y_{split}", name)
        if x.ndim < 2 or y.ndim != 1 or len(x) != len(y):
            raise WorkloadError(
                f"workload {name!r}: x_{split} {list(x.shape)} and y_{split} {list(y.shape)} must "
                "be [N, ...] and [N] with the same N"
            )
        if len(x) == 0:
            raise WorkloadError(f"workload {name!r}: the {split} split is empty")
        if not np.isfinite(x).all():
            raise WorkloadError(f"workload {name!r}: x_{split} contains NaN or infinite values")
        if not np.isfinite(y.astype(np.float64)).all() or np.any(y != np.round(y)):
            raise WorkloadError(f"workload {name!r}: y_{split} must be integer class labels")
        splits[split] = (x, y.astype(np.int64))
    shape = tuple(int(d) for d in splits["train"][0].shape[1:])
    if wd.input_shape is not None and tuple(wd.input_shape) != shape:
        raise WorkloadError(
            f"workload {name!r}: input_shape {list(wd.input_shape)} does not match "
            f"x_train {list(shape)}"
        )
    for split, (x, _) in splits.items():
        if tuple(x.shape[1:]) != shape:
            raise WorkloadError(
                f"workload {name!r}: x_{split} has shape {list(x.shape[1:])}, x_train {list(shape)}"
            )
    classes = check_labels(name, {k: y for k, (_, y) in splits.items()})
    data = {
        k: (torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y))
        for k, (x, y) in splits.items()
    }
    return data, shape, classes


# --------------------------------------------------------------------------- training


def _hash_update_array(h: Any, a: Tensor) -> None:
    h.update(str(tuple(a.shape)).encode())
    h.update(a.detach().cpu().contiguous().numpy().tobytes())


def workload_key(
    model: nn.Module, data: dict[str, tuple[Tensor, Tensor]], seed: int, pretrained: bool
) -> str:
    """Hash of the model definition (its repr and initial parameters), the data, the seed
    and the training recipe: the float baseline's cache key."""
    h = hashlib.sha256()
    h.update(repr(model).encode())
    h.update(json.dumps(TRAIN_RECIPE, sort_keys=True).encode())
    h.update(f"seed={seed};pretrained={pretrained}".encode())
    for k, v in model.state_dict().items():
        h.update(k.encode())
        _hash_update_array(h, v)
    for split in sorted(data):
        h.update(split.encode())
        for a in data[split]:
            _hash_update_array(h, a)
    return h.hexdigest()


def _accuracy(model: nn.Module, x: Tensor, y: Tensor, device: torch.device | None = None) -> float:
    """Accuracy of `model` on (x, y), in batches of EVAL_BATCH on `device` (memory stays
    bounded on large splits)."""
    model.eval()
    dev = device or torch.device("cpu")
    right = 0
    with torch.no_grad():
        for i in range(0, len(x), EVAL_BATCH):
            out = model(x[i : i + EVAL_BATCH].to(dev)).argmax(dim=1).cpu()
            right += int((out == y[i : i + EVAL_BATCH]).sum())
    return right / max(1, len(x))


def train_float(
    model: nn.Module,
    data: dict[str, tuple[Tensor, Tensor]],
    seed: int,
    num_classes: int,
    name: str = "model",
) -> None:
    """Train the float baseline in place (TRAIN_RECIPE: Adam, cosine learning rate,
    cross-entropy), seeded; keeps the weights of the best validation epoch."""
    torch.manual_seed(seed)
    dev = torch_device()
    model.to(dev)
    x, y = data["train"]
    xv, yv = data["val"]
    gen = torch.Generator().manual_seed(seed)
    epochs, batch = int(TRAIN_RECIPE["epochs"]), int(TRAIN_RECIPE["batch"])
    steps = epochs * math.ceil(len(x) / batch)
    opt = torch.optim.Adam(model.parameters(), lr=float(TRAIN_RECIPE["lr"]))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    loss_fn = nn.CrossEntropyLoss()
    best, best_state = -1.0, None
    hook = training_hook()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            if len(idx) < 2:
                continue
            opt.zero_grad()
            out = model(x[idx].to(dev))
            if out.dim() != 2 or out.shape[1] < num_classes:
                raise WorkloadError(
                    f"the model returns {list(out.shape[1:])} per sample; "
                    f"need logits [{num_classes}]"
                )
            loss_fn(out, y[idx].to(dev)).backward()
            opt.step()
            sched.step()
        acc = _accuracy(model, xv, yv, dev)
        if hook is not None:
            hook(name, epoch + 1, epochs, acc)
        if acc > best:
            best = acc
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.to("cpu")
    if best_state is not None:
        model.load_state_dict({k: v.cpu() for k, v in best_state.items()})
    model.eval()


def _load_or_train(
    model: nn.Module,
    data: dict[str, tuple[Tensor, Tensor]],
    seed: int,
    classes: int,
    key: str,
    name: str,
    cache_dir: Path,
    pretrained: bool,
) -> None:
    if pretrained:
        model.eval()
        return
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:60]
    path = cache_dir / f"{safe}-{key[:16]}.pt"
    if path.is_file():
        try:
            blob = torch.load(path, weights_only=True)
            if blob.get("key") == key:
                model.load_state_dict(blob["state_dict"])
                model.eval()
                return
        except Exception as exc:  # a torn or foreign file: retrain and overwrite
            log.warning("ignoring unreadable cache file %s: %s", path, _one_line(exc))
    log.info("training the float baseline of %s (seed %d)", name, seed)
    train_float(model, data, seed, classes, name)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        torch.save({"key": key, "name": name, "state_dict": model.state_dict()}, buf)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot write the model cache %s: %s", path, exc)


def cached_float_path(name: str, seed: int = 0, cache_dir: Path | str | None = None) -> Path | None:
    """The cache file of a workload's float baseline if it was trained already, else None
    (no training happens here)."""
    wd, _, _, _, key = _prepare(name, seed)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in (wd.name or name))[:60]
    path = cache_dir_from(cache_dir) / f"{safe}-{key[:16]}.pt"
    return path if path.is_file() else None


def _prepare(
    name: str, seed: int
) -> tuple[WorkloadData, dict[str, tuple[Tensor, Tensor]], tuple[int, ...], int, str]:
    if name in BUILTINS:
        torch.manual_seed(seed)
        wd = BUILTINS[name][1]()
    elif name.endswith(".npz"):
        torch.manual_seed(seed)
        wd = _from_npz(Path(name))
    elif ":" in name:
        wd = _from_factory(name, seed)
    else:
        raise WorkloadError(
            f"unknown workload {name!r}; use one of {', '.join(BUILTINS)}, a FILE.npz "
            "or pkg.module:factory"
        )
    data, shape, classes = _validate(wd)
    key = workload_key(wd.model, data, seed, wd.pretrained)
    return wd, data, shape, classes, key


def prepare_network(name: str, seed: int = 0) -> Network:
    """The hardware network of a workload without training it (for validating choices)."""
    wd, data, _, _, _ = _prepare(name, seed)
    traced = trace_model(wd.model, data["train"][0][:2])
    return to_network(traced, wd.name or name)


def load_workload(name: str, cache_dir: Path | str | None = None, seed: int = 0) -> Workload:
    """Load a workload by name (built-in), `FILE.npz` or `pkg.module:factory`; train its
    float baseline on first use (cached), trace its network. Raises `WorkloadError`."""
    limit_threads()
    wd, data, _, classes, key = _prepare(name, seed)
    model = wd.model
    traced = trace_model(model, data["train"][0][:2])
    wname = wd.name or name
    network = to_network(traced, wname)
    with torch.no_grad():
        model.eval()
        out = model(data["val"][0][:2])
    if out.dim() != 2 or out.shape[1] < classes:
        raise WorkloadError(
            f"workload {wname!r}: the model returns {list(out.shape[1:])} per sample; "
            f"need logits [{classes}]"
        )
    classes = int(out.shape[1])
    _load_or_train(model, data, seed, classes, key, wname, cache_dir_from(cache_dir), wd.pretrained)
    for p in model.parameters():
        p.requires_grad_(False)
    acc = _accuracy(model, *data["val"])
    signed = bool((data["train"][0] < 0).any())
    return Workload(
        name=wname,
        key=key,
        model=model,
        traced=traced,
        network=network,
        num_classes=classes,
        float_accuracy=acc,
        seed=seed,
        data=data,
        input_signed=signed,
    )
