"""`dse search --calibration`: the study records the profile's fingerprint, and resuming it
with another profile is refused like any other changed configuration."""

from __future__ import annotations

from pathlib import Path

import optuna

from costmodels.calibration.profile import default_profile, dump_profile


def test_study_records_profile_and_refuses_another(dse, specs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'c.db'}"
    common = ["--workload", specs["tfc"], "--device", "XC7Z020", "--storage", url, "--study", "t"]
    run = dse(
        "search", *common, "--trials", "6", "--seed", "1", "--calibration", "default", "--json"
    )
    assert run.code == 0, run.err
    study = optuna.load_study(study_name="t", storage=url)
    text = str(study.user_attrs)
    assert default_profile().fingerprint in text

    other = default_profile().with_coefficients(
        {**default_profile().coefficients, "LabelSelect": {"lut": {"const": 1.0}}}
    )
    path = tmp_path / "other.yaml"
    path.write_text(dump_profile(other))
    db = Path(url.removeprefix("sqlite:///"))
    before = db.read_bytes()
    run = dse("search", *common, "--trials", "2", "--seed", "1", "--calibration", str(path))
    assert run.code == 2
    assert "calibration" in run.err and "--fork" in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert db.read_bytes() == before
    # the same profile resumes
    run = dse("search", *common, "--trials", "2", "--seed", "1", "--calibration", "default")
    assert run.code == 0, run.err


def test_bad_calibration_is_one_line(dse, specs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'c.db'}"
    run = dse(
        "search", "--workload", specs["tfc"], "--device", "XC7Z020", "--storage", url,
        "--trials", "2", "--calibration", str(tmp_path / "missing.yaml"),
    )  # fmt: skip
    assert run.code == 2 and "missing.yaml" in run.err and "not found" in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert not Path(url.removeprefix("sqlite:///")).exists()
