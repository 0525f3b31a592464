"""Sparse ternary layers and SYQ scaling through the CLI: searched, densities measured,
shown per layer by `dse report --trial`, exported, and re-estimated to the same numbers."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml


@pytest.mark.slow
def test_search_explores_sparse_and_syq_and_shows_them_per_layer(dse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "study.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "workload": "digits-mlp",
                "device": "ultra96",
                "finetune_steps": 5,
                "space": {
                    "w_bits": [2],
                    "a_bits": [2],
                    "arith": ["sparse", "lut"],
                    "threshold": [1.0, 2.0],
                    "scaling": ["channel", "layer"],
                },
            }
        )
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    run = dse("search", "--config", cfg, "--storage", url, "--trials", "20", "--sampler", "random",
              "--seed", "1", "--json")  # fmt: skip
    assert run.code == 0, run.err
    study = run.json()["study"]
    trials = optuna.load_study(study_name=study, storage=url).trials
    names = {p for t in trials for p in t.params}
    assert any(n.endswith(".threshold") for n in names)
    assert any(n.endswith(".scaling") for n in names)
    sparse = [
        (t, name, c)
        for t in trials
        for name, c in t.user_attrs["candidate"].items()
        if c["arith"] == "sparse"
    ]
    assert sparse, "no trial used the sparse arithmetic"
    for _, _, c in sparse:
        assert 0.0 < c["density"] < 1.0 and c["w_bits"] == 2
    t, name, c = sparse[0]
    rep = dse("report", "--storage", url, "--study", study, "--trial", t.number, "--format",
              "json")  # fmt: skip
    assert rep.code == 0, rep.err
    row = next(la for la in rep.json()["per_layer"] if la["layer"] == name)
    assert row["density"] == c["density"] and row["threshold"] == c["threshold"]
    text = dse("report", "--storage", url, "--study", study, "--trial", t.number)
    assert f"d={c['density']:.4g}" in text.out and "sparse/SYQ" in text.out
    out = tmp_path / "d.yaml"
    exp = dse("export", "--storage", url, "--study", study, "--trial", t.number, "-o", out)
    assert exp.code == 0, exp.err
    spec = yaml.safe_load(out.read_text())
    layer = next(la for la in spec["layers"] if la["name"] == name)
    assert layer["arith"] == "sparse" and layer["density"] == c["density"]
    est = dse("estimate", out, "--device", "ultra96", "--json")
    assert est.code == 0, est.err
    assert json.loads(est.out)["totals"]["lut"] == pytest.approx(t.user_attrs["cost"]["lut"])
