"""The quick accuracy evaluation the search calls for every candidate.

`AccuracyEvaluator(workload).evaluate(network)` quantizes and prunes the workload's float
model as the candidate `network` says (per layer: weight format, output activation bits,
kept filters), optionally fine-tunes it for a few quantization-aware steps, and returns
the validation accuracy. With fine-tuning, the better of the post-training model and the
fine-tuned model on the validation split counts (best-checkpoint selection: both are
deployable, and a short fine-tune can cost a near-lossless 8-bit model a sample or two).
Only what changes accuracy enters the cache key (see `accuracy_key`): PE/SIMD/MMV never
do, pruning only through the kept channel counts.

Everything expensive that does not depend on the candidate is computed once per evaluator
and reused: folded float weights, calibration activations, clipping ranges per (layer,
bits), quantized weights per (layer, format, kept channels), the quantized input codes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from costmodels.errors import SpecError
from costmodels.network import INPUT, resolve
from costmodels.pruning import PruneGroup, prune_graph, tie_pruning
from costmodels.types import Arith, LayerChoice, Network, NumType, Op, WType
from dse.nn.cache import AccuracyCache
from dse.nn.device import EVAL_BATCH, torch_device
from dse.nn.lq import fit_weight_basis, qem, quantize_weight_lq
from dse.nn.prune import PruneRank, balanced_top, filter_importance
from dse.nn.qnet import (
    ActQuant,
    LayerQuant,
    QatNet,
    Step,
    build_inference_step,
    channel_plan,
    other_step,
    run_codes,
    sliced_weights,
)
from dse.nn.quant import (
    KLRow,
    WeightFormat,
    WeightKind,
    bn_factor,
    calibrate_clip,
    fold_batchnorm,
    kl_row,
    quantize_rccm,
    quantize_weight,
    rccm_scale,
)
from dse.nn.sparse_syq import density as weight_density
from dse.nn.trace import TracedLayer
from dse.nn.workloads import Workload, limit_threads

log = logging.getLogger(__name__)

# Bump when anything that changes an evaluation's result changes (old cache rows then miss).
EVAL_VERSION = 3

# Default quantization-aware fine-tuning budget (Adam steps of `finetune_batch` samples).
# From benchmarks/accuracy_fidelity.py and accuracy_seed_sanity.py on digits-cnn: PTQ alone
# leaves binary/ternary layers near chance (11-43%) and ranks 18 configurations against a
# 20-epoch QAT with Spearman 0.62; 100 steps (about 1-2 s on a loaded 2-core machine) recover
# them to within ~1 point and rank with Spearman 0.93 (docs/accuracy.md).
DEFAULT_FINETUNE_STEPS = 100

# Pre-activation values kept per layer to calibrate its clipping range (a seeded sample).
CALIB_VALUES = 32_768

K = TypeVar("K", bound=Hashable)
#: Fine-tuned weights (per layer: quantized weight, bias) and activation quantizers.
_Tuned = tuple[dict[str, tuple[Tensor, Tensor]], dict[str, ActQuant | None]]
V = TypeVar("V")


class _LRU(OrderedDict[K, V]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_or(self, key: K, make: Callable[[], V]) -> V:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


@dataclass(frozen=True)
class QuantPolicy:
    """Evaluation settings beyond the candidate's per-layer choices.

    `first_last_bits`: pin the first and last compute layers' weights to this many int
    bits (ELB-NN sec. IV.A keeps them at 8 bits; Faraone thesis Table 6.9 likewise keeps
    them wide); `None` evaluates the candidate exactly as given. `prune_rank` ranks filters
    (see `PruneRank`). The fine-tuning optimizer is Adam with `finetune_lr` on batches of
    `finetune_batch`, with cosine decay to zero over the budget unless `finetune_cosine` is
    off (lr and schedule picked on digits-cnn with benchmarks/accuracy_fidelity.py);
    `calib_samples` training samples calibrate the activation ranges.
    """

    first_last_bits: int | None = None
    prune_rank: PruneRank = PruneRank.AUTO
    finetune_lr: float = 5e-3
    finetune_batch: int = 64
    finetune_cosine: bool = True
    calib_samples: int = 512


@dataclass(frozen=True)
class EvalResult:
    """One evaluation: validation accuracy in [0, 1], wall seconds spent (0 when cached),
    whether it came from a cache, and the accuracy key."""

    accuracy: float
    seconds: float
    cached: bool
    key: str = ""


def pin_first_last(network: Network, bits: int) -> Network:
    """A copy of `network` whose first and last compute layers have `bits`-bit int weights
    (the layers' other choices unchanged; an RCCM arithmetic there becomes `auto`)."""
    compute = network.compute_layers
    if not compute:
        return network
    choices: dict[str, LayerChoice] = {}
    for layer in (compute[0], compute[-1]):
        c = layer.choice or LayerChoice()
        choices[layer.name] = replace(
            c, w_bits=bits, w_type=WType.INT if bits >= 2 else None,
            arith=Arith.AUTO if c.arith.is_rccm else c.arith,
        )  # fmt: skip
    return network.with_choices(choices)


class AccuracyEvaluator:
    """Quick accuracy of candidate networks of one workload (see module docstring).

    `finetune_steps` quantization-aware steps (0 = post-training quantization only);
    `seed` seeds the fine-tuning; `cache` (an `AccuracyCache` on the study database) makes
    results survive restarts and be shared between processes.
    """

    def __init__(
        self,
        workload: Workload,
        finetune_steps: int = DEFAULT_FINETUNE_STEPS,
        seed: int = 0,
        cache: AccuracyCache | None = None,
        policy: QuantPolicy | None = None,
        val_subset: int | None = None,
    ) -> None:
        if finetune_steps < 0:
            raise SpecError(f"finetune steps must be >= 0, got {finetune_steps}")
        limit_threads()
        self.workload = workload
        self.finetune_steps = int(finetune_steps)
        self.seed = int(seed)
        self.cache = cache
        self.policy = policy or QuantPolicy()
        # accuracy on a seeded subset of the validation split (None: all of it)
        n_val = len(workload.data["val"][1])
        self.val_subset = val_subset if val_subset is not None and val_subset < n_val else None
        self._val_idx: Tensor | None = None
        if self.val_subset is not None:
            gen = torch.Generator().manual_seed(0)
            self._val_idx = torch.randperm(n_val, generator=gen)[: self.val_subset].sort().values
        self._traced = workload.traced
        self._compute = [layer for layer in self._traced.layers if layer.op.is_compute]
        self._signature = tuple((lay.name, lay.op, lay.out_shape[0]) for lay in self._compute)
        self._folded: dict[str, tuple[Tensor, Tensor]] = {}
        # per-channel batch-norm factor folded into each layer (SYQ scales around it)
        self._norm: dict[str, Tensor] = {}
        for layer in self._compute:
            mod = layer.module
            assert isinstance(mod, (nn.Conv2d, nn.Linear))
            if layer.bn is not None:
                assert isinstance(layer.bn, (nn.BatchNorm1d, nn.BatchNorm2d))
                self._folded[layer.name] = fold_batchnorm(mod.weight, mod.bias, layer.bn)
                self._norm[layer.name] = bn_factor(layer.bn, mod.weight.shape[0])
            else:
                bias = (
                    mod.bias.detach().clone()
                    if mod.bias is not None
                    else torch.zeros(mod.weight.shape[0])
                )
                self._folded[layer.name] = (mod.weight.detach().clone().float(), bias.float())
        self._graph = prune_graph(workload.network)
        self._groups = {lay.name: lay.groups for lay in self._compute}
        self._memo: dict[str, float] = {}
        self._lambdas: dict[tuple[str, Arith], Tensor] = {}
        self._calib: dict[str, Tensor] | None = None
        self._means: dict[str, Tensor] = {}
        self._clips: dict[tuple[str, int, bool], float] = {}
        self._lq_w: dict[tuple[str, int], Tensor] = {}
        self._lq_a: dict[tuple[str, int, bool], tuple[float, ...]] = {}
        self._kept: dict[tuple[object, ...], tuple[int, ...]] = {}
        self._qweights: _LRU[tuple[object, ...], tuple[Tensor, Tensor]] = _LRU(2048)
        self._steps: _LRU[tuple[object, ...], Step] = _LRU(4096)
        self._codes: dict[tuple[str, int], tuple[Tensor, float]] = {}
        # fine-tuned weights and activation quantizers per key (None: the post-training
        # model was the better one)
        self._tuned: _LRU[str, _Tuned | None] = _LRU(8)

    # ------------------------------------------------------------------ configuration

    def config(self, network: Network) -> tuple[int, tuple[LayerQuant, ...]]:
        """What of `network` affects accuracy: input bits and, per compute layer, weight
        format, output activation bits and kept channels (after the policy's pinning).
        Raises `SpecError` if the network is not this workload's or is inconsistent."""
        sig = tuple((lay.name, lay.op, lay.out_channels) for lay in network.compute_layers)
        if sig != self._signature:
            raise SpecError(
                f"network {network.name!r} does not match workload {self.workload.name!r}: "
                "its compute layers differ (use workload.network with changed choices)"
            )
        if self.policy.first_last_bits is not None:
            network = pin_first_last(network, self.policy.first_last_bits)
        resolved = resolve(tie_pruning(network))
        layers = tuple(
            LayerQuant(
                r.name,
                WeightFormat.from_choice(r.choice),
                r.choice.a_bits,
                r.out_channels,
                r.choice.a_type is NumType.LQ and r.choice.a_bits is not None,
            )
            for r in resolved
            if r.op.is_compute
        )
        return network.input_bits, layers

    def accuracy_key(self, network: Network) -> str:
        """SHA-256 of exactly what affects accuracy: per layer weight format (type/bits or
        RCCM set), activation bits and kept channel count; input bits; the fine-tuning
        budget, seed and policy; the workload's hash; the evaluation method's version."""
        return self._key(self.config(network))

    def _key(self, cfg: tuple[int, tuple[LayerQuant, ...]]) -> str:
        input_bits, layers = cfg
        p = self.policy
        doc = {
            "v": EVAL_VERSION,
            "workload": self.workload.key,
            "seed": self.seed,
            "finetune_steps": self.finetune_steps,
            "policy": [
                p.first_last_bits,
                p.prune_rank.value,
                p.finetune_lr,
                p.finetune_batch,
                p.finetune_cosine,
                p.calib_samples,
            ],
            "input_bits": input_bits,
            "layers": [
                [q.name, q.fmt.label, q.a_bits, q.kept, *(["lq"] if q.a_lq else [])] for q in layers
            ],
        }
        if self.val_subset is not None:  # only when set: earlier cache keys stay valid
            doc["val_subset"] = self.val_subset
        return hashlib.sha256(json.dumps(doc, separators=(",", ":")).encode()).hexdigest()

    # ------------------------------------------------------------------ public

    def evaluate(self, network: Network) -> EvalResult:
        """Validation accuracy of `network` (cached by `accuracy_key`)."""
        cfg = self.config(network)
        key = self._key(cfg)
        if key in self._memo:
            return EvalResult(self._memo[key], 0.0, True, key)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self._memo[key] = hit
                return EvalResult(hit, 0.0, True, key)
        t0 = time.perf_counter()
        logits = self._logits(cfg, key, "val", subset=True)
        y = self._val_labels()
        acc = float((logits.argmax(dim=1) == y).float().mean())
        seconds = time.perf_counter() - t0
        if self.cache is not None:
            acc = self.cache.put(key, acc, self.workload.name, seconds)
        self._memo[key] = acc
        return EvalResult(acc, seconds, False, key)

    def outputs(self, network: Network, split: str = "val") -> np.ndarray:
        """Logits `[N, classes]` of the quantized (and fine-tuned) `network` on a split."""
        self.workload.inputs(split)  # validates the split name
        cfg = self.config(network)
        return self._logits(cfg, self._key(cfg), split).numpy()

    def warm_up(self, max_bits: int = 8) -> None:
        """Precompute what the first visits of new choices would otherwise pay for: the
        activation clipping ranges of every compute layer for 1..`max_bits` bits and the
        RCCM scales of every layer and set. Optional (everything is computed lazily
        otherwise); a search calls it once so that per-candidate costs stay flat."""
        for layer in self._compute:
            for bits in range(1, max_bits + 1):
                self._act(layer, bits)
            for arith in (Arith.RCCM2, Arith.RCCM3, Arith.RCCM4):
                self._rccm_lambda(layer.name, arith)

    def build_model(self, network: Network) -> QatNet:
        """The candidate as a real, smaller torch module: pruned filters and the matching
        input channels removed, BN folded, weights and activations fake-quantized in its
        forward pass (the module the fine-tuning trains; not fine-tuned here)."""
        _, layers = self.config(network)
        quants, plan, acts = self._assemble(layers)
        return self._qat_net(plan, quants, acts)

    def kl_report(self) -> list[KLRow]:
        """Per compute layer and RCCM set (2/3/4-Add): KL divergence of the weight
        distribution from the coefficient distribution (thesis eq. 6.2) and the relative
        quantization error."""
        return [
            kl_row(layer.name, self._folded[layer.name][0], arith)
            for layer in self._compute
            for arith in (Arith.RCCM2, Arith.RCCM3, Arith.RCCM4)
        ]

    # ------------------------------------------------------------------ internals

    def _rccm_lambda(self, name: str, arith: Arith) -> Tensor:
        """Per-channel RCCM scale chosen once on the layer's full folded weights (the
        distribution-matched initialisation of thesis sec. 6.5.2), reused for pruned
        slices and kept fixed while fine-tuning."""
        k = (name, arith)
        if k not in self._lambdas:
            self._lambdas[k] = rccm_scale(self._folded[name][0], arith)
        return self._lambdas[k]

    def _lq_weight_basis(self, name: str, bits: int) -> Tensor:
        """The layer's LQ weight basis fitted once on its full folded weights (QEM,
        `dse.nn.lq`), reused for pruned slices and as the fine-tuning's start."""
        k = (name, bits)
        if k not in self._lq_w:
            self._lq_w[k] = fit_weight_basis(self._folded[name][0], bits)
        return self._lq_w[k]

    def _quantize(
        self, name: str, w: Tensor, fmt: WeightFormat, out_idx: tuple[int, ...] | None
    ) -> Tensor:
        if fmt.kind is WeightKind.LQ:
            return quantize_weight_lq(w, self._lq_weight_basis(name, fmt.bits))
        if fmt.kind is WeightKind.RCCM:
            assert fmt.arith is not None
            lam = self._rccm_lambda(name, fmt.arith)
            if out_idx is not None:
                lam = lam[list(out_idx)]
            return quantize_rccm(w, fmt.arith, lam)
        return quantize_weight(w, fmt, self._layer_norm(name, out_idx))

    def _layer_norm(self, name: str, out_idx: tuple[int, ...] | None) -> Tensor | None:
        """The batch-norm factor of a layer's kept channels (None without a batch norm)."""
        norm = self._norm.get(name)
        if norm is None or out_idx is None:
            return norm
        return norm[list(out_idx)]

    def densities(self, network: Network) -> dict[str, float]:
        """Measured ratio of non-zero weights (gamma, thesis 3.4.4) of every layer that
        uses the `sparse` arithmetic: the quantized weights of the trained model, pruned
        as the candidate says (the zero mask stays fixed while fine-tuning, so this is the
        deployed density). Rounded to 4 decimals."""
        sparse = {
            layer.name
            for layer in network.compute_layers
            if layer.choice is not None and layer.choice.arith is Arith.SPARSE
        }
        if not sparse:
            return {}
        _, layers = self.config(network)
        quants, plan, _ = self._assemble(layers)
        out: dict[str, float] = {}
        for name in sorted(sparse):
            q = quants[name]
            out_idx, in_idx = plan[name]
            qw = self._qweights.get_or(
                (name, q.fmt.label, out_idx, in_idx),
                lambda n=name, f=q.fmt, o=out_idx, i=in_idx: self._quantized(n, f, o, i),  # type: ignore[misc]
            )[0]
            out[name] = round(weight_density(qw), 4)
        return out

    def _quantized(
        self, name: str, fmt: WeightFormat, o: tuple[int, ...] | None, i: tuple[int, ...] | None
    ) -> tuple[Tensor, Tensor]:
        """A layer's post-training quantized weights and bias, pruned as `o`/`i` say (the
        value `_run` caches under the same key)."""
        w, b = sliced_weights(self._folded, {name: (o, i)}, self._input_means(), self._groups)[name]
        return self._quantize(name, w, fmt, o), b

    def _qat_net(
        self,
        plan: dict[str, tuple[tuple[int, ...] | None, tuple[int, ...] | None]],
        quants: dict[str, LayerQuant],
        acts: dict[str, ActQuant | None],
    ) -> QatNet:
        lambdas = {}
        for name, q in quants.items():
            if q.fmt.kind is WeightKind.RCCM:
                assert q.fmt.arith is not None
                lam = self._rccm_lambda(name, q.fmt.arith)
                out_idx = plan[name][0]
                lambdas[name] = lam if out_idx is None else lam[list(out_idx)]
        weights = sliced_weights(self._folded, plan, self._input_means(), self._groups)
        fmts = {n: q.fmt for n, q in quants.items()}
        bases = {
            n: self._lq_weight_basis(n, q.fmt.bits)
            for n, q in quants.items()
            if q.fmt.kind is WeightKind.LQ
        }
        norms = {n: self._layer_norm(n, plan[n][0]) for n in quants}
        return QatNet(self._traced, weights, fmts, acts, lambdas, bases, norms)

    def _input_codes(self, split: str, bits: int) -> tuple[Tensor, float]:
        def make() -> tuple[Tensor, float]:
            x = self.workload.inputs(split)
            ref = self.workload.inputs("train")
            signed = self.workload.input_signed
            top = float(ref.abs().max()) or 1.0
            act = ActQuant(bits, signed, top)
            lo, hi = act.code_range
            if signed and bits == 1:
                return torch.where(x >= 0, 1.0, -1.0), act.step
            return torch.clamp(torch.floor(x / act.step + 0.5), lo, hi), act.step

        k = (split, bits)
        if k not in self._codes:
            self._codes[k] = make()
        return self._codes[k]

    def _calibration(self) -> dict[str, Tensor]:
        """Float pre-activations (after folded BN, before the activation) of each compute
        layer on the first `calib_samples` training samples, subsampled to at most
        CALIB_VALUES, and each compute layer's mean input per channel/feature."""
        if self._calib is not None:
            return self._calib
        x0 = self.workload.inputs("train")[: self.policy.calib_samples]
        vals: dict[str, Tensor] = {INPUT: x0}
        out: dict[str, Tensor] = {}
        means: dict[str, Tensor] = {}
        gen = torch.Generator().manual_seed(0)
        fn = torch.nn.functional
        with torch.no_grad():
            for layer in self._traced.layers:
                args = [vals[n] for n in layer.inputs]
                x = args[0]
                if layer.op.is_compute:
                    w, b = self._folded[layer.name]
                    if layer.op is Op.CONV:
                        means[layer.name] = x.mean(dim=(0, 2, 3))
                        x = fn.conv2d(x, w, b, layer.stride or 1, layer.padding, 1, layer.groups)
                    else:
                        flat_in = x.flatten(1) if x.dim() > 2 else x
                        means[layer.name] = flat_in.mean(dim=0)
                        x = fn.linear(flat_in, w, b)
                    flat = x.reshape(-1)
                    if flat.numel() > CALIB_VALUES:
                        flat = flat[torch.randperm(flat.numel(), generator=gen)[:CALIB_VALUES]]
                    out[layer.name] = flat.clone()
                elif layer.op is Op.MAXPOOL:
                    x = fn.max_pool2d(x, layer.kernel, layer.stride or layer.kernel, layer.padding)
                elif layer.op is Op.AVGPOOL:
                    x = fn.avg_pool2d(x, layer.kernel, layer.stride or layer.kernel, layer.padding)
                elif layer.op is Op.ADD:
                    x = args[0] + args[1]
                else:
                    x = torch.cat(args, dim=1)
                if (
                    layer.act is not None
                    and layer.op is not Op.MAXPOOL
                    and layer.op is not Op.AVGPOOL
                ):
                    x = layer.act(x)
                vals[layer.name] = x
        self._calib = out
        self._means = means
        return out

    def _input_means(self) -> dict[str, Tensor]:
        """Mean input of each compute layer per channel (conv) or feature (dense) on the
        calibration samples."""
        self._calibration()
        return self._means

    def _act(self, layer: TracedLayer, bits: int | None, lq: bool = False) -> ActQuant | None:
        """The layer's output quantizer: unsigned after a clamp at 0 (ReLU, ReLU6), signed
        otherwise (Hardtanh, no activation: Brevitas' QuantHardTanh/QuantIdentity), its
        clipping range calibrated for the least squared error and capped at the clamp's
        bound (ReLU6: 6, Hardtanh: max |bound|); with `lq` an LQ-Nets basis."""
        if bits is None:
            return None
        name = layer.name
        signed = not layer.relu
        k = (name, bits, signed)
        if k not in self._clips:
            clip = calibrate_clip(self._calibration()[name], bits, signed)
            bound = layer.act.bound if layer.act is not None else None
            self._clips[k] = min(clip, bound) if bound is not None and bound > 0 else clip
        if not lq:
            return ActQuant(bits, signed, self._clips[k])
        if k not in self._lq_a:
            # LQ-Nets activation basis by QEM on the calibration pre-activations (ReLU'd
            # for {0, 1} codes), from the uniform grid with the best scale
            x = self._calibration()[name]
            fit = qem(x if signed else torch.relu(x), bits, signed)
            self._lq_a[k] = tuple(float(v) for v in fit.basis)
        return ActQuant(bits, signed, self._clips[k], self._lq_a[k])

    def _assemble(
        self, layers: tuple[LayerQuant, ...]
    ) -> tuple[
        dict[str, LayerQuant],
        dict[str, tuple[tuple[int, ...] | None, tuple[int, ...] | None]],
        dict[str, ActQuant | None],
    ]:
        """Per-layer quantizers by name, the channel plan of the pruned network (which
        filters each layer keeps and which inputs the next one loses), and the activation
        quantizers: what both the model builder and the evaluation need."""
        quants = {q.name: q for q in layers}
        kept: dict[int, tuple[int, ...]] = {}
        for group in self._graph.groups:
            if not group.members:
                continue
            counts = {quants[m].kept for m in group.members}
            if len(counts) != 1:
                raise SpecError(
                    f"layers {', '.join(group.members)} share their output channels (an add, "
                    f"depthwise or grouped conv ties them) but keep {sorted(counts)}; prune "
                    "them alike (dse search does)"
                )
            idx = self._group_idx(group, quants)
            if idx is not None:
                kept[group.index] = idx
        plan = channel_plan(self._traced, self._graph, kept)
        acts = {
            lay.name: self._act(lay, quants[lay.name].a_bits, quants[lay.name].a_lq)
            for lay in self._compute
        }
        return quants, plan, acts

    def _group_idx(
        self, group: PruneGroup, quants: dict[str, LayerQuant]
    ) -> tuple[int, ...] | None:
        """The channels a prune group keeps (None: all): ranked by the sum of its producing
        layers' filter importances, each normalised by its mean (DepGraph's group
        importance), balanced over the group's blocks (grouped convs)."""
        kept = quants[group.members[0]].kept
        if kept >= group.channels:
            return None
        k = (group.index, tuple((m, quants[m].fmt.label) for m in group.members), kept)
        if k not in self._kept:
            total = np.zeros(group.channels)
            for m in group.members:
                imp = filter_importance(self._folded[m][0], quants[m].fmt, self.policy.prune_rank)
                total += imp / (np.abs(imp).mean() or 1.0)
            self._kept[k] = balanced_top(total, kept, group.blocks)
        return self._kept[k]

    def _val_labels(self) -> Tensor:
        y = self.workload.data["val"][1]
        return y if self._val_idx is None else y[self._val_idx]

    def _logits(
        self,
        cfg: tuple[int, tuple[LayerQuant, ...]],
        key: str,
        split: str,
        subset: bool = False,
    ) -> Tensor:
        """Logits on `split`; with `subset` (the search's accuracy) on the validation subset
        only. The post-training/fine-tuned choice is made on the same validation samples
        the accuracy is measured on."""
        input_bits, layers = cfg
        quants, plan, acts = self._assemble(layers)
        tuned = None
        if self.finetune_steps > 0:

            def select() -> _Tuned | None:
                weights, tuned_acts = self._finetune(plan, quants, acts, input_bits)
                y = self._val_labels()
                ptq = self._run(input_bits, quants, plan, acts, None, "val", True)
                ft = self._run(input_bits, quants, plan, tuned_acts, weights, "val", True)
                better = (ft.argmax(1) == y).sum() > (ptq.argmax(1) == y).sum()
                return (weights, tuned_acts) if bool(better) else None

            tuned = self._tuned.get_or(key, select)
        if tuned is not None:
            return self._run(input_bits, quants, plan, tuned[1], tuned[0], split, subset)
        return self._run(input_bits, quants, plan, acts, None, split, subset)

    def _run(
        self,
        input_bits: int,
        quants: dict[str, LayerQuant],
        plan: dict[str, tuple[tuple[int, ...] | None, tuple[int, ...] | None]],
        acts: dict[str, ActQuant | None],
        tuned: dict[str, tuple[Tensor, Tensor]] | None,
        split: str,
        subset: bool = False,
    ) -> Tensor:
        """Logits of the candidate on `split` (the validation subset with `subset`):
        post-training weights (`tuned` None, from the caches) or the fine-tuned quantized
        weights."""
        x, scale = self._input_codes(split, input_bits)
        if subset and split == "val" and self._val_idx is not None:
            x = x[self._val_idx]
        scales: dict[str, float] = {INPUT: scale}
        steps: list[Step] = []
        for layer in self._traced.layers:
            if not layer.op.is_compute:
                steps.append(other_step(layer))
                in_scales = [scales[n] for n in layer.inputs]
                same = all(v == in_scales[0] for v in in_scales)
                keeps = layer.op in (Op.MAXPOOL, Op.AVGPOOL) or (
                    layer.op is Op.CONCAT and same and layer.act is None
                )
                scales[layer.name] = in_scales[0] if keeps else 1.0
                continue
            in_scale = scales[layer.inputs[0]]
            q = quants[layer.name]
            act = acts[layer.name]
            out_idx, in_idx = plan[layer.name]
            if tuned is None:
                wkey = (layer.name, q.fmt.label, out_idx, in_idx)

                def make_q(
                    name: str = layer.name,
                    fmt: WeightFormat = q.fmt,
                    o: tuple[int, ...] | None = out_idx,
                    i: tuple[int, ...] | None = in_idx,
                ) -> tuple[Tensor, Tensor]:
                    w, b = sliced_weights(
                        self._folded, {name: (o, i)}, self._input_means(), self._groups
                    )[name]
                    return self._quantize(name, w, fmt, o), b

                qw, b = self._qweights.get_or(wkey, make_q)
                skey = (*wkey, in_scale, act)
                cached_step = self._steps.get(skey)
                if cached_step is None:
                    cached_step = build_inference_step(layer, qw, b, act, in_scale)
                    self._steps[skey] = cached_step
                    if len(self._steps) > self._steps.size:
                        self._steps.popitem(last=False)
                step = cached_step
            else:
                qw, b = tuned[layer.name]
                step = build_inference_step(layer, qw, b, act, in_scale)
            steps.append(step)
            scales[layer.name] = act.step if act is not None else 1.0
        dev = torch_device()
        with torch.no_grad():
            return torch.cat(
                [run_codes(steps, xb.to(dev), scale, dev).cpu() for xb in x.split(EVAL_BATCH)]
            )

    def _finetune(
        self,
        plan: dict[str, tuple[tuple[int, ...] | None, tuple[int, ...] | None]],
        quants: dict[str, LayerQuant],
        acts: dict[str, ActQuant | None],
        input_bits: int,
    ) -> _Tuned:
        """Quantization-aware fine-tuning (STE) of the pruned network for
        `finetune_steps` Adam steps on seeded random training batches; LQ bases move by
        QEM steps in the forward passes. Returns the weights and activation quantizers."""
        dev = torch_device()
        net = self._qat_net(plan, quants, acts).to(dev)
        codes, s = self._input_codes("train", input_bits)
        x = codes * s
        y = self.workload.data["train"][1]
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        opt = torch.optim.Adam(net.parameters(), lr=self.policy.finetune_lr)
        sched = None
        if self.policy.finetune_cosine:
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.finetune_steps)
        loss_fn = nn.CrossEntropyLoss()
        batch = min(self.policy.finetune_batch, len(x))
        order = torch.randperm(len(x), generator=gen)
        pos = 0
        net.train()
        with torch.enable_grad():
            for _ in range(self.finetune_steps):
                if pos + batch > len(x):
                    order, pos = torch.randperm(len(x), generator=gen), 0
                idx = order[pos : pos + batch]
                pos += batch
                opt.zero_grad(set_to_none=True)
                loss_fn(net(x[idx].to(dev)), y[idx].to(dev)).backward()
                opt.step()
                if sched is not None:
                    sched.step()
        net.eval()
        return {k: (w.cpu(), b.cpu()) for k, (w, b) in net.quantized_weights().items()}, dict(
            net.acts
        )
