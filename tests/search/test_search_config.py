"""Study configuration: file + overrides, fingerprint, what-changed messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from costmodels.errors import ConfigError
from costmodels.types import Arith
from dse.config import (
    SamplerName,
    build_config,
    describe_changes,
    fingerprint,
    load_config_file,
    parse_int_list,
    parse_objectives,
)


def test_file_then_overrides(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(
        "workload: digits-cnn\ndevice: XC7Z020\nobjectives: [accuracy, lut]\nsampler: tpe\n"
        "cap: 80\nspace:\n  max_pe: 16\n  w_bits: 2-4\n  arith: [lut, dsp]\n"
        "  fixed: {first: {w_bits: 8}}\n"
    )
    cfg = build_config(load_config_file(f), {"max_pe": 8, "seed": 3, "objectives": None})
    assert cfg.device == "XC7Z020" and cfg.cap_pct == 80 and cfg.seed == 3
    assert cfg.objectives == ("accuracy", "lut") and cfg.sampler is SamplerName.TPE
    assert cfg.space.max_pe == 8 and cfg.space.w_bits == (2, 3, 4)
    assert cfg.space.arith == (Arith.LUT, Arith.DSP)
    assert dict(cfg.space.fixed)["first"].w_bits == 8
    assert cfg.study_name() == "digits-cnn-xc7z020"


def test_defaults_per_workload_kind() -> None:
    cfg = build_config({}, {})
    assert cfg.objectives_for(cost_only=False) == ("accuracy", "latency_ms", "lut")
    assert cfg.objectives_for(cost_only=True) == ("fps", "lut")
    assert cfg.workload == "digits-cnn" and cfg.device == "XCZU3EG"
    assert cfg.storage == "sqlite:///runs/dse.db" and cfg.cap_pct == 85


def test_fingerprint_covers_the_definition_only() -> None:
    a = build_config({}, {"trials": 5, "sampler": "random"})
    b = build_config({}, {"trials": 500, "storage": "sqlite:///x.db"})
    assert fingerprint(a.definition(cost_only=False)) == fingerprint(b.definition(cost_only=False))
    c = build_config({}, {"max_pe": 8})
    assert fingerprint(a.definition(cost_only=False)) != fingerprint(c.definition(cost_only=False))
    changes = describe_changes(a.definition(cost_only=False), c.definition(cost_only=False))
    assert changes == ["space.max_pe: 64 -> 8"]
    d = build_config({}, {"objectives": "accuracy,lut"})
    assert describe_changes(a.definition(cost_only=False), d.definition(cost_only=False)) == [
        "objectives: [accuracy,latency_ms,lut] -> [accuracy,lut]"
    ]


def test_parsers() -> None:
    assert parse_int_list("1,2,4-6", "w") == (1, 2, 4, 5, 6)
    assert parse_objectives(" FPS , lut ") == ("fps", "lut")
    with pytest.raises(ConfigError, match="did you mean 'latency_ms'"):
        parse_objectives("latency")
    with pytest.raises(ConfigError, match="fraction"):
        build_config({}, {"min_accuracy": 90})
