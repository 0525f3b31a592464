"""The float-training progress hook, torch-free: the CLI installs it around every command
(`dse.cli.common.training_progress`) without importing torch, which a cost-only search
never needs (importing it took 1.4 s of a 4.2 s cost-only `dse search`); `dse.nn.workloads`
calls the hook after each training epoch."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

TrainingHook = Callable[[str, int, int, float], None]
_TRAINING_HOOK: contextvars.ContextVar[TrainingHook | None] = contextvars.ContextVar(
    "dse_training_hook", default=None
)


@contextlib.contextmanager
def on_training(hook: TrainingHook) -> Iterator[None]:
    """Within the block, every float-model training calls `hook(name, epoch, epochs,
    validation accuracy)` after each epoch (the CLI shows a progress bar with it)."""
    token = _TRAINING_HOOK.set(hook)
    try:
        yield
    finally:
        _TRAINING_HOOK.reset(token)


def training_hook() -> TrainingHook | None:
    """The hook installed by the innermost `on_training` block, if any."""
    return _TRAINING_HOOK.get()
