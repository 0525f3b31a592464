"""Twin mode of the search: the space's halves and names, and `dse search --mode twin`
-> `dse report` -> `dse export` on a temporary SQLite study."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml

from costmodels.types import Arith
from dse.cli import main
from dse.config import StudyConfig, build_config
from dse.errors import ConfigError
from dse.nn.workloads import prepare_network
from dse.spec import load_network
from dse.twin.pair import check_compressed
from dse.twin.search import TwinSettings
from search_spaces import SpaceLimits
from search_spaces.twin import THRESHOLD, TwinSpace


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_space_halves_and_prefixed_names():
    net = prepare_network("digits-cnn")
    space = TwinSpace(net, SpaceLimits(), t_max=8.0, search_prune=True)
    names = set(space.param_names)
    assert THRESHOLD in names
    assert {n.split(".")[0] for n in names - {THRESHOLD}} == {"cmp", "acc"}
    assert "cmp.conv2.pe" in names and "acc.conv2.w_bits" in names
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(40):
        trial = study.ask()
        cand = space.suggest(trial)
        assert set(trial.params) <= names
        assert 0.0 <= cand.threshold <= 8.0
        check_compressed(cand.compressed.network)  # binary/ternary, LUT/XNOR: never raises
        for layer in cand.compressed.network.compute_layers:
            assert layer.choice is not None and layer.choice.w_bits <= 2
        for layer in cand.accurate.network.compute_layers:
            c = layer.choice
            assert c is not None and c.w_bits >= 3
            assert c.arith in (Arith.DSP, Arith.RCCM2, Arith.RCCM3, Arith.RCCM4)
        assert set(cand.choices) == {f"cmp.{k}" for k in cand.compressed.choices} | {
            f"acc.{k}" for k in cand.accurate.choices
        }
        study.tell(trial, 0.0)


def test_params_for_routes_each_half_under_its_prefix():
    """params_for splits prefixed choices and asks each half's own space; the threshold
    rides along (the halves' projection onto valid folding is theirs, tested elsewhere)."""
    net = prepare_network("digits-cnn")
    space = TwinSpace(net, SpaceLimits(), t_max=8.0, search_prune=True)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask()
    cand = space.suggest(trial)
    params = space.params_for_candidate(cand)
    expect = {
        f"cmp.{k}": v for k, v in space.compressed.params_for(cand.compressed.choices).items()
    }
    expect |= {f"acc.{k}": v for k, v in space.accurate.params_for(cand.accurate.choices).items()}
    assert params == {**expect, "threshold": cand.threshold}
    again = space.suggest(optuna.trial.FixedTrial(params))
    assert again.threshold == cand.threshold
    assert [c.w_bits for c in again.compressed.choices.values()] == [
        c.w_bits for c in cand.compressed.choices.values()
    ]


def test_config_mode_and_twin_settings():
    cfg = build_config({"mode": "twin", "twin": {"margin": "softmax"}})
    assert cfg.mode == "twin"
    d = cfg.definition(cost_only=False)
    assert d["mode"] == "twin" and d["twin"]["t_max"] == 1.0
    # single-network studies keep their definition (and fingerprint) unchanged
    assert "mode" not in StudyConfig().definition(cost_only=False)
    with pytest.raises(ConfigError, match="unknown mode"):
        build_config({"mode": "tripple"})
    with pytest.raises(ConfigError, match="need mode: twin"):
        build_config({"twin": {"t_max": 3}})
    with pytest.raises(ConfigError, match="margin"):
        build_config({"mode": "twin", "twin": {"margin": "sigmoid"}})
    with pytest.raises(ConfigError, match="t_max"):
        TwinSettings.from_raw({"t_max": -1})
    with pytest.raises(ConfigError, match="unknown key"):
        TwinSettings.from_raw({"thresh": 1})


def test_search_report_export_end_to_end(tiny: Path, capsys: pytest.CaptureFixture[str]):
    url = f"sqlite:///{tiny / 'study.db'}"
    common = ("--storage", url, "--study", "tw")
    code, out, err = run(
        capsys, "search", "--mode", "twin", "--workload", "tinywl:make", "--trials", "5",
        "--finetune-steps", "3", "--json", *common,
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["trials_new"] == 5 and summary["feasible"] >= 1

    code, out, err = run(capsys, "report", "--format", "json", *common)
    assert code == 0, err
    doc = json.loads(out)
    row = doc["front"][0]
    for key in ("threshold", "recovery", "speedup", "recheck_fraction", "accuracy_accurate"):
        assert key in row
    assert 0.0 <= row["recheck_fraction"] <= 1.0
    assert any(k.startswith("cmp.") for k in row["layers"].replace(",", " ").split())

    number = str(row["trial"])
    code, out, _ = run(capsys, "report", "--trial", number, *common)
    assert code == 0 and "twin: T =" in out and "speed-up" in out

    code, _, err = run(capsys, "export", "--trial", number, "-o", str(tiny / "pair.yaml"), *common)
    assert code == 0, err
    cmp_net = load_network(tiny / "pair.compressed.yaml")
    acc_net = load_network(tiny / "pair.accurate.yaml")
    check_compressed(cmp_net)
    assert all(layer.choice and layer.choice.w_bits >= 3 for layer in acc_net.compute_layers)
    assert f"threshold T = {row['threshold']}" in (tiny / "pair.accurate.yaml").read_text()
    code, out, _ = run(capsys, "export", "--trial", number, *common)
    assert code == 0 and len(list(yaml.safe_load_all(out))) == 2

    # The stored pair swept again from the study: at the stored T it reproduces the trial.
    code, out, err = run(
        capsys, "twin-sweep", "--trial", number, "--thresholds", f"0,{row['threshold']!r}",
        "--json", *common,
    )  # fmt: skip
    assert code == 0, err
    again = {r["threshold"]: r for r in json.loads(out)["sweep"]}[row["threshold"]]
    assert again["accuracy"] == pytest.approx(row["accuracy"])
    assert again["latency_ms"] == pytest.approx(row["latency_ms"])
    code, _, err = run(capsys, "twin-sweep", "--trial", number, "--compressed", "x.yaml", *common)
    assert code == 2 and "drop --compressed" in err

    # Resume with the same configuration adds trials; a changed twin setting is refused.
    code, out, err = run(
        capsys, "search", "--mode", "twin", "--workload", "tinywl:make", "--trials", "1",
        "--finetune-steps", "3", "--json", *common,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["trials_total"] == 6
    (tiny / "cfg.yaml").write_text("mode: twin\ntwin: {t_max: 3}\n")
    code, _, err = run(
        capsys, "search", "--config", "cfg.yaml", "--workload", "tinywl:make", "--trials", "1",
        "--finetune-steps", "3", *common,
    )  # fmt: skip
    assert code == 2 and "different configuration" in err and "t_max" in err


def test_twin_needs_a_trainable_workload(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from costmodels.zoo import tfc_network
    from dse.spec import dump_network

    spec = tmp_path / "tfc.yaml"
    spec.write_text(dump_network(tfc_network()))
    code, _, err = run(capsys, "search", "--mode", "twin", "--workload", str(spec),
                       "--storage", f"sqlite:///{tmp_path / 's.db'}")  # fmt: skip
    assert code == 2 and "trainable workload" in err and err.count("\n") == 1


def test_impossible_twin_constraints(tiny: Path, capsys: pytest.CaptureFixture[str]):
    code, _, err = run(capsys, "search", "--mode", "twin", "--workload", "tinywl:make",
                       "--cap", "5", "--storage", f"sqlite:///{tiny / 's.db'}")  # fmt: skip
    assert code == 2 and "smallest twin pair" in err and err.count("\n") == 1
    # refused before any study is created (the accuracy cache may have made the file)
    code, _, err = run(capsys, "report", "--storage", f"sqlite:///{tiny / 's.db'}")
    assert code != 0 and "no stud" in err


@pytest.mark.parametrize("sampler", ["nsga2", "tpe", "random", "auto"])
def test_twin_search_completes_with_every_sampler(
    tiny: Path, capsys: pytest.CaptureFixture[str], sampler: str
):
    """`dse search --mode twin --sampler nsga2` crashed at NSGA-II's first generation
    (crossover looked up `conv1.arith` among the twin's `cmp.`/`acc.` parameters). 12
    trials: population 8, so the second generation is bred."""
    code, out, err = run(
        capsys, "search", "--mode", "twin", "--workload", "tinywl:make", "--trials", "12",
        "--sampler", sampler, "--finetune-steps", "2", "--json",
        "--storage", f"sqlite:///{tiny / 's.db'}", "--study", f"t-{sampler}",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["trials_new"] == 12 and summary["sampler"] != "auto"
