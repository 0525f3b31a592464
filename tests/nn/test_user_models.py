"""The user's own models (issue 13): each kind of the issue's table traces, evaluates,
prunes as one graph and costs; the pruned torch network has the channel counts the cost
model sees. Models in tests/fixtures/user_models.py, untrained (random weights) here."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from costmodels import estimate, get_device
from costmodels.errors import WorkloadError
from costmodels.network import resolve
from costmodels.pruning import prune_graph
from costmodels.types import Op
from dse.nn import AccuracyEvaluator, load_workload
from dse.nn.trace import trace_model
from search_spaces.limits import SpaceLimits
from search_spaces.space import SearchSpace
from tests.fixtures.user_models import ALL


class _Trial:
    """A seeded stand-in for an Optuna trial (the `Suggester` protocol)."""

    def __init__(self, seed: int, high: bool = False) -> None:
        self.rng = random.Random(seed)
        self.high = high

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        if self.high and name.endswith(".prune"):
            return high
        return self.rng.randint(low, high)

    def suggest_float(self, name: str, low: float, high: float) -> float:
        if self.high and name.endswith(".prune"):
            return high
        return self.rng.uniform(low, high)

    def suggest_categorical(self, name: str, choices: object) -> object:
        return self.rng.choice(list(choices))  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def workloads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    cache = tmp_path_factory.mktemp("user-models")
    return {
        name: load_workload(f"tests.fixtures.user_models:{name}_untrained", cache_dir=cache)
        for name in ALL
    }


@pytest.mark.parametrize("kind", ALL)
def test_each_kind_searches_with_pruning_and_torch_matches_cost_model(
    kind: str, workloads: dict[str, object]
) -> None:
    wl = workloads[kind]
    net = wl.network  # type: ignore[attr-defined]
    space = SearchSpace(net, SpaceLimits(), search_bits=True, search_prune=True)
    ev = AccuracyEvaluator(wl, finetune_steps=2)  # type: ignore[arg-type]
    device = get_device("zcu104")
    pruned_any = False
    for seed in range(4):
        cand = space.suggest(_Trial(seed, high=seed % 2 == 0))
        resolved = {r.name: r for r in resolve(cand.network)}
        cost = estimate(cand.network, device)
        assert cost.cycles_per_frame > 0 and cost.total.lut > 0
        model = ev.build_model(cand.network)
        for r in resolved.values():
            if not r.op.is_compute:
                continue
            w = model.weight[r.name.replace(".", "__")]
            assert w.shape[0] == r.out_channels, r.name
            if r.op is Op.CONV:
                per_group = 1 if r.is_depthwise else r.in_channels // r.spec.groups
                assert w.shape[1] == per_group, r.name
            else:
                assert w.shape[1] == r.mw, r.name
            pruned_any |= r.out_channels < r.spec.out_channels
        with torch.no_grad():
            out = model(wl.inputs("val")[:3])  # type: ignore[attr-defined]
        assert tuple(out.shape) == (3, 10)
        acc = ev.evaluate(cand.network).accuracy
        assert 0.0 <= acc <= 1.0
    groups = [g for g in prune_graph(net).groups if g.prunable]
    assert groups and pruned_any, f"{kind}: nothing was pruned"


def test_residual_adds_tie_their_channels(workloads: dict[str, object]) -> None:
    graph = prune_graph(workloads["resnet"].network)  # type: ignore[attr-defined]
    tied = {g.members for g in graph.groups if len(g.members) > 1}
    # block 1 (identity shortcut) ties the stem to its second conv; block 2 ties its
    # second conv to the projection shortcut
    assert ("stem", "layer1.c2") in tied
    assert ("layer2.c2", "layer2.proj.0") in tied


def test_depthwise_conv_carries_its_producers_channels(workloads: dict[str, object]) -> None:
    graph = prune_graph(workloads["mobilenet"].network)  # type: ignore[attr-defined]
    carried = {c: g.members for g in graph.groups for c in g.carriers}
    assert carried["features.3.0"] == ("features.0",)
    assert carried["features.4.0"] == ("features.3.3",)


def test_grouped_conv_keeps_whole_blocks(workloads: dict[str, object]) -> None:
    graph = prune_graph(workloads["grouped"].network)  # type: ignore[attr-defined]
    assert graph.group("c1").blocks == 2  # type: ignore[union-attr]
    assert graph.group("g2").blocks == 4  # type: ignore[union-attr]  # written by 2, read by 4
    assert graph.group("g4").blocks == 4  # type: ignore[union-attr]


def test_concat_is_a_layer_and_its_inputs_prune_apart(workloads: dict[str, object]) -> None:
    net = workloads["concat"].network  # type: ignore[attr-defined]
    cat = next(la for la in net.layers if la.op is Op.CONCAT)
    assert cat.inputs == ("stem", "b1", "b3")
    assert {r.name: r.out_shape for r in resolve(net)}[cat.name] == (24, 8, 8)
    graph = prune_graph(net)
    assert len({graph.group_of[n] for n in ("stem", "b1", "b3")}) == 3


# ----------------------------------------------------------------- trace features


class _Spellings(nn.Module):
    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4 if how != "mean" else 4, 3)

    def forward(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        if self.how == "view":
            x = x.view(x.size(0), -1)
        elif self.how == "reshape":
            x = x.reshape(x.shape[0], -1)
        elif self.how == "flatten":
            x = torch.flatten(x, 1)
        elif self.how == "method":
            x = x.flatten(1)
        elif self.how == "mean":
            x = x.mean((2, 3))
        return self.fc(x)  # type: ignore[no-any-return]


@pytest.mark.parametrize("how", ["view", "reshape", "flatten", "method", "mean"])
def test_flatten_spellings(how: str) -> None:
    traced = trace_model(_Spellings(how), torch.randn(2, 1, 8, 8))
    ops = [la.op for la in traced.layers]
    expect = [Op.CONV, Op.MAXPOOL, Op.AVGPOOL, Op.DENSE] if how == "mean" else [
        Op.CONV, Op.MAXPOOL, Op.DENSE
    ]  # fmt: skip
    assert ops == expect


def test_activations_become_clamps(workloads: dict[str, object]) -> None:
    cnv = workloads["cnv"].traced  # type: ignore[attr-defined]
    act = cnv.layer("features.0").act
    assert act is not None and (act.lo, act.hi) == (-1.0, 1.0) and not act.unsigned
    mob = workloads["mobilenet"].traced  # type: ignore[attr-defined]
    act = mob.layer("features.0").act
    assert act is not None and (act.lo, act.hi) == (0.0, 6.0) and act.unsigned
    ev = AccuracyEvaluator(workloads["cnv"], finetune_steps=0)  # type: ignore[arg-type]
    q = ev._act(cnv.layer("features.0"), 4)
    assert q is not None and q.signed and q.clip <= 1.0


class _Leaky(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.act = nn.LeakyReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.fc(x))  # type: ignore[no-any-return]


def test_refused_layer_says_what_to_use_instead() -> None:
    with pytest.raises(WorkloadError) as info:
        trace_model(_Leaky(), torch.randn(2, 4))
    msg = str(info.value)
    assert "LeakyReLU" in msg and "use ReLU" in msg and "\n" not in msg


def test_supported_message_lists_adaptive_pooling() -> None:
    class _Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.odd = nn.Softsign()

        def forward(self, x: Tensor) -> Tensor:
            return self.odd(self.fc(x))  # type: ignore[no-any-return]

    with pytest.raises(WorkloadError) as info:
        trace_model(_Odd(), torch.randn(2, 4))
    assert "AdaptiveAvgPool2d" in str(info.value) and "Hardtanh" in str(info.value)


# ----------------------------------------------------------------- data errors


def _factory_module(tmp_path: Path, body: str) -> str:
    name = f"userwl_{abs(hash(str(tmp_path)))}"  # a fresh module per test (no import cache)
    (tmp_path / f"{name}.py").write_text(
        "import numpy as np\nfrom torch import nn\nfrom dse.nn import WorkloadData\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.random((40, 1, 8, 8), dtype=np.float32)\n" + body
    )
    return name


@pytest.mark.parametrize(
    ("labels", "words"),
    [
        ("np.arange(40) % 10 + 1", "found 1..10"),
        ("np.where(np.arange(40) == 7, 42, np.arange(40) % 10)", "found 0..9, 42"),
        ("np.zeros(40)", "at least 2 classes"),
        ("-(np.arange(40) % 3)", "found -2..0"),
    ],
)
def test_labels_must_be_0_to_c_minus_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, labels: str, words: str
) -> None:
    monkeypatch.chdir(tmp_path)
    mod = _factory_module(
        tmp_path,
        f"y = {labels}\n"
        "def make():\n"
        "    m = nn.Sequential(nn.Flatten(), nn.Linear(64, 43))\n"
        "    return WorkloadData(m, x[:30], y[:30], x[30:], y[30:], pretrained=True)\n",
    )
    with pytest.raises(WorkloadError) as info:
        load_workload(f"{mod}:make", cache_dir=tmp_path)
    assert words in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(144, 10))", "3 channels"),
        ("nn.Sequential(nn.Flatten(), nn.Linear(50, 10))", "cannot be multiplied"),
        ("nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).double()", "model.float()"),
    ],
)
def test_model_data_mismatch_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str, words: str
) -> None:
    monkeypatch.chdir(tmp_path)
    mod = _factory_module(
        tmp_path,
        "y = np.arange(40) % 10\n"
        f"def make():\n    return WorkloadData({model}, x[:30], y[:30], x[30:], y[30:])\n",
    )
    with pytest.raises(WorkloadError) as info:
        load_workload(f"{mod}:make", cache_dir=tmp_path)
    msg = str(info.value)
    assert words in msg and "\n" not in msg and "does not accept the data" in msg


def test_factory_imports_a_sibling_lazily(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "proj"
    pkg.mkdir()
    (pkg / "helpers_i13.py").write_text(
        "import numpy as np\nfrom torch import nn\n"
        "def model():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 3))\n"
    )
    (pkg / "wl_i13.py").write_text(
        "import numpy as np\nfrom dse.nn import WorkloadData\n"
        "def make():\n"
        "    import helpers_i13\n"
        "    x = np.random.default_rng(0).random((30, 64), dtype=np.float32)\n"
        "    y = np.arange(30) % 3\n"
        "    return WorkloadData(helpers_i13.model(), x[:20], y[:20], x[20:], y[20:],"
        " pretrained=True)\n"
    )
    monkeypatch.chdir(tmp_path)
    wl = load_workload("proj.wl_i13:make", cache_dir=tmp_path)
    assert wl.num_classes == 3


def test_float_training_reports_every_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dse.nn.workloads import TRAIN_RECIPE
    from dse.training_hook import on_training

    monkeypatch.chdir(tmp_path)
    mod = _factory_module(
        tmp_path,
        "y = np.arange(40) % 4\n"
        "def make():\n"
        "    m = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))\n"
        "    return WorkloadData(m, x[:30], y[:30], x[30:], y[30:], name='tiny')\n",
    )
    seen: list[tuple[str, int, int]] = []
    with on_training(lambda name, epoch, epochs, acc: seen.append((name, epoch, epochs))):
        load_workload(f"{mod}:make", cache_dir=tmp_path)
    epochs = int(TRAIN_RECIPE["epochs"])
    assert [e for _, e, _ in seen] == list(range(1, epochs + 1))
    assert {(n, t) for n, _, t in seen} == {("tiny", epochs)}
    seen.clear()
    with on_training(lambda *a: seen.append(a)):  # cached: no training, no calls
        load_workload(f"{mod}:make", cache_dir=tmp_path)
    assert not seen


def test_noisy_digits_is_generated_and_split_by_original_image() -> None:
    from dse.nn.workloads import NOISY_COPIES, _noisy_digits

    a, b = _noisy_digits(), _noisy_digits()
    assert np.array_equal(a.x_test, b.x_test)  # generated with a fixed seed
    assert len(a.x_train) == NOISY_COPIES * 1078 and len(a.x_test) == NOISY_COPIES * 360
    assert a.x_train.shape[1:] == (1, 8, 8)
    assert sorted(set(a.y_test.tolist())) == list(range(10))


@pytest.mark.slow
def test_noisy_digits_bits_move_accuracy_beyond_noise(tmp_path: Path) -> None:
    """Measured 2026-12-06 (validation, 1,795 images, 100 fine-tuning steps): w8a8 79.1%,
    w4a4 78.4%, w2a2 69.9%, w1a2 56.5%; the 95% interval is about +/-1.9 points."""
    from dse.holdout import wilson

    wl = load_workload("noisy-digits", cache_dir=tmp_path)
    ev = AccuracyEvaluator(wl, finetune_steps=100)
    from dse.nn.choices import uniform_choices

    hi = ev.evaluate(uniform_choices(wl.network, 8, 8)).accuracy
    lo = ev.evaluate(uniform_choices(wl.network, 2, 2)).accuracy
    n = len(wl.labels("val"))
    assert wilson(round(lo * n), n)[1] < wilson(round(hi * n), n)[0]
