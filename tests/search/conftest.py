"""Fixtures of the search tests: spec files written from the reference networks, and a
helper that runs the `dse` CLI in-process and captures what a user would see."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from costmodels.zoo import cnv_network, tfc_network
from dse.cli import main
from dse.spec import dump_network


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def dse(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """`dse(*args)` runs the CLI in-process and returns exit code, stdout, stderr."""

    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main([str(a) for a in args])
        cap = capsys.readouterr()
        return Run(code, cap.out, cap.err)

    return run


@pytest.fixture(scope="session")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`cnv` (BNN-PYNQ CNV, 9 compute layers) and `tfc` (4 dense layers) spec files."""
    d = tmp_path_factory.mktemp("specs")
    out = {}
    for name, net in (("cnv", cnv_network()), ("tfc", tfc_network())):
        path = d / f"{name}.yaml"
        path.write_text(dump_network(net))
        out[name] = path
    return out
