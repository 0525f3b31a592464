"""`ram_style` (where a layer's weights live) as a search knob: a per-layer categorical
parameter of the sampled search when `space.ram_style` lists several styles, never URAM on
a part without it; the decomposed search's solver chooses it; exports carry what the cost
model costed (URAM weights with FINN's `runtime_writeable_weights: 1` and
`mem_mode: internal_decoupled`)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from costmodels import estimate, get_device
from costmodels.types import RamStyle
from costmodels.zoo import tfc_network
from dse.config import build_config, fingerprint
from dse.errors import ConfigError
from dse.hardware import decomposed_limits
from search_spaces import SearchSpace, SpaceLimits

STYLES = (RamStyle.AUTO, RamStyle.BLOCK, RamStyle.DISTRIBUTED, RamStyle.ULTRA)


def test_config_parses_ram_style_and_keeps_older_fingerprints() -> None:
    cfg = build_config({"space": {"ram_style": "ultra, block,auto"}})
    assert cfg.space.ram_style == (RamStyle.AUTO, RamStyle.BLOCK, RamStyle.ULTRA)
    assert cfg.space.as_dict()["ram_style"] == ["auto", "block", "ultra"]
    plain = build_config({})
    assert "ram_style" not in plain.space.as_dict()  # studies before the knob: same hash
    assert fingerprint(plain.definition(cost_only=False)) != fingerprint(
        cfg.definition(cost_only=False)
    )
    with pytest.raises(ConfigError, match="unknown ram_style 'bram'"):
        build_config({"space": {"ram_style": "bram"}})


def test_sampled_space_has_a_ram_style_parameter_per_layer() -> None:
    space = SearchSpace(
        tfc_network(), SpaceLimits(ram_style=STYLES), search_bits=False, search_prune=False
    )
    dists = space.distributions()
    names = [n for n in dists if n.endswith(".ram_style")]
    assert len(names) == len(space.layers)
    assert set(dists[names[0]].choices) == {s.value for s in STYLES}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    dev = get_device("XCZU7EV")
    for _ in range(30):
        trial = study.ask()
        cand = space.suggest(trial)
        study.tell(trial, 0.0)
        for name, c in cand.choices.items():
            assert c.ram_style.value == trial.params[f"{name}.ram_style"]
            seen.add(c.ram_style)
        # the cost model puts the weights where the choice says
        cost = estimate(cand.network, dev)
        if all(c.ram_style is RamStyle.ULTRA for c in cand.choices.values()):
            assert cost.total.uram > 0
        # the stored parameters say what was evaluated
        stored = space.params_of(cand)
        for n, c in cand.choices.items():
            assert stored[f"{n}.ram_style"] == c.ram_style.value
    assert seen == set(STYLES)
    # without a list there is no parameter: the cost model's placement, as before
    plain = SearchSpace(tfc_network(), SpaceLimits(), search_bits=False, search_prune=False)
    assert not any(n.endswith(".ram_style") for n in plain.distributions())


def test_solver_chooses_among_the_styles_the_device_holds() -> None:
    assert decomposed_limits(SpaceLimits(), get_device("XCZU3EG")).ram_style == (
        RamStyle.AUTO, RamStyle.BLOCK, RamStyle.DISTRIBUTED,
    )  # fmt: skip
    assert decomposed_limits(SpaceLimits(), get_device("XCZU7EV")).ram_style == STYLES
    listed = SpaceLimits(ram_style=(RamStyle.AUTO, RamStyle.DISTRIBUTED))
    assert decomposed_limits(listed, get_device("XCZU7EV")).ram_style == listed.ram_style


def test_sampled_search_exports_the_ram_style_it_costed(dse, specs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'r.db'}"
    common = ("--storage", url, "--study", "r")
    d = dse(
        "search", "--workload", specs["tfc"], "--device", "XCZU7EV", "--hardware", "sample",
        "--ram-style", "auto,block,distributed,ultra", "--trials", "30", "--json", *common,
    ).json()  # fmt: skip
    study = optuna.load_study(study_name="r", storage=url)
    sampled = [t for t in study.trials if "baseline" not in t.user_attrs]
    assert all(any(k.endswith(".ram_style") for k in t.params) for t in sampled)
    assert d["feasible"] >= 1
    ultra = [
        t for t in sampled
        if t.user_attrs.get("status") == "feasible"
        and any(v == "ultra" for k, v in t.params.items() if k.endswith(".ram_style"))
    ]  # fmt: skip
    assert ultra, "30 random-ish trials over 4 styles x 4 layers pick URAM somewhere"
    t = ultra[0]
    out = tmp_path / "f.json"
    r = dse("export", "--trial", t.number, "--format", "finn-folding", "-o", out, *common)
    assert r.code == 0, r.err
    cfg = json.loads(out.read_text())
    units = [v for k, v in cfg.items() if k.startswith("MVAU")]  # fc0..fc3, graph order
    assert len(units) == 4
    for layer, unit in zip(("fc0", "fc1", "fc2", "fc3"), units, strict=True):
        wanted = t.params[f"{layer}.ram_style"]
        if wanted != "auto":  # auto: where the cost model put the weights
            assert unit["ram_style"] == wanted
        ultra_unit = unit["ram_style"] == "ultra"
        assert unit["runtime_writeable_weights"] == (1 if ultra_unit else 0)
        if ultra_unit:
            assert unit["mem_mode"] == "internal_decoupled"
    assert any(u["ram_style"] == "ultra" for u in units)
    # the spec export carries it too and re-estimates to the stored numbers
    spec = tmp_path / "d.yaml"
    assert dse("export", "--trial", t.number, "-o", spec, *common).code == 0
    est = dse("estimate", spec, "--device", "XCZU7EV", "--json").json()
    assert est["totals"]["uram"] == pytest.approx(t.user_attrs["cost"]["uram"])
