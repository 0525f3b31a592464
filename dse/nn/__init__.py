"""The torch side of `dse`: workloads, quantizers, pruning and the quick accuracy evaluation.

Public API (stable; the search calls exactly this)::

    wl = load_workload("digits-cnn", cache_dir=..., seed=0)      # -> Workload
    ev = AccuracyEvaluator(wl, finetune_steps=..., seed=0, cache=AccuracyCache(url))
    ev.accuracy_key(network); ev.evaluate(network); ev.outputs(network, split="val")
"""

from dse.nn.cache import AccuracyCache
from dse.nn.evaluate import (
    DEFAULT_FINETUNE_STEPS,
    AccuracyEvaluator,
    EvalResult,
    QuantPolicy,
    pin_first_last,
)
from dse.nn.models import Add
from dse.nn.prune import PruneRank
from dse.nn.quant import KLRow, WeightFormat
from dse.nn.workloads import BUILTINS, Workload, WorkloadData, load_workload, prepare_network

__all__ = [
    "BUILTINS",
    "DEFAULT_FINETUNE_STEPS",
    "AccuracyCache",
    "AccuracyEvaluator",
    "Add",
    "EvalResult",
    "KLRow",
    "PruneRank",
    "QuantPolicy",
    "WeightFormat",
    "Workload",
    "WorkloadData",
    "load_workload",
    "pin_first_last",
    "prepare_network",
]
