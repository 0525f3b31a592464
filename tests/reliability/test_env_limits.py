"""Environment variables are input too: each bad value is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_helpers import SPEC

from dse.cli import main


@pytest.mark.parametrize(
    "name, value, expect",
    [
        ("DSE_HEARTBEAT_S", "99999999999999999999", "must be in 1..3600 seconds"),
        ("DSE_HEARTBEAT_S", "0", "must be in 1..3600 seconds"),
        ("DSE_HEARTBEAT_S", "abc", "whole number of seconds"),
        ("DSE_MAX_DATA_BYTES", "-1", "must be at least 1 byte"),
        ("DSE_MAX_DATA_BYTES", "lots", "whole number of bytes"),
    ],
)
def test_bad_environment_values(
    name: str,
    value: str,
    expect: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(name, value)
    npz = tmp_path / "d.npz"
    import numpy as np

    np.savez(npz, x_train=np.zeros((4, 2)), y_train=np.zeros(4), x_val=np.zeros((4, 2)),
             y_val=np.zeros(4))  # fmt: skip
    args = (
        [
            "search",
            "--workload",
            str(SPEC),
            "--device",
            "XC7Z020",
            "--trials",
            "2",
            "--storage-mode",
            "direct",
            "--storage",
            f"sqlite:///{tmp_path}/s.db",
        ]
        if name == "DSE_HEARTBEAT_S"
        else ["evaluate", "--workload", str(npz)]
    )
    capfd.readouterr()
    code = main(args)
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], err
