"""CSV outputs against spreadsheet formula injection (OWASP "CSV Injection"): a layer named
`=HYPERLINK(...)` in somebody's spec must reach the CSV as text, never as a formula, and
numbers must stay numbers."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest

from dse.cli import main
from dse.outputs import csv_cell, csv_text

HOSTILE = (
    'name: "=net"\ninput: {shape: [64], bits: 8}\nlayers:\n'
    '- {name: "=HYPERLINK(\\"http://x\\",\\"y\\")", op: dense, out_features: 32, w_bits: 4,'
    " a_bits: 4, pe: 4, simd: 4}\n"
    '- {name: "@fc1", op: dense, out_features: 16, w_bits: 4, a_bits: 4, pe: 2, simd: 4}\n'
    '- {name: "-fc2,+x", op: dense, out_features: 10, w_bits: 4, a_bits: null, pe: 2,'
    " simd: 4}\n"
    '- {name: "+fc3", op: dense, out_features: 10, w_bits: 4, a_bits: null, pe: 2, simd: 2}\n'
)
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            if cell.startswith(FORMULA):
                float(cell)  # only a plain number may start with + or -


@pytest.fixture(scope="module")
def hostile_study(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("csv")
    (folder / "s.yaml").write_text(HOSTILE)
    url = f"sqlite:///{folder / 's.db'}"
    args = ["search", "--workload", str(folder / "s.yaml"), "--device", "XC7Z020"]
    assert main([*args, "--storage", url, "--trials", "4", "--json"]) == 0
    return url


@pytest.mark.parametrize("extra", [[], ["--trial", "0"]], ids=["front", "trial"])
def test_report_csv_escapes_hostile_names(
    hostile_study: str, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["report", "--storage", hostile_study, "--format", "csv", *extra]) == 0
    out = capsys.readouterr().out
    rows = _cells(out)
    assert len(rows) >= 2
    _no_formula(rows)
    assert '\'=HYPERLINK("http://x","y")' in out.replace('""', '"')
    width = len(rows[0])
    assert all(len(r) == width for r in rows)  # a comma in a name never splits a row
    if extra:  # per layer: the names are the first column, escaped, and nothing else is
        assert [r[0] for r in rows[1:]] == [
            "'=HYPERLINK(\"http://x\",\"y\")", "'@fc1", "'-fc2,+x", "'+fc3"
        ]  # fmt: skip
        lut = rows[0].index("lut")
        assert all(float(r[lut]) > 0 for r in rows[1:])  # numbers stay numbers


def test_cells() -> None:
    assert csv_cell("=1+1") == "'=1+1"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("\tx") == "'\tx" and csv_cell("\rx") == "'\rx"
    assert csv_cell("+x") == "'+x" and csv_cell("-x") == "'-x"
    assert csv_cell("-1.5e3") == "-1.5e3" and csv_cell("+2") == "+2"  # plain numbers
    assert csv_cell(-3) == -3 and csv_cell(1.5) == 1.5 and csv_cell(None) == ""
    assert csv_cell(float("-inf")) == "'-inf"  # text, not a number a sheet can compute
    assert csv_cell(True) == "True" and csv_cell("fc0") == "fc0"
    assert not math.isnan(float(csv_cell("1e5")))
    text = csv_text([{"=h": "a\nb", "n": 2}])
    assert _cells(text) == [["'=h", "n"], ["a\nb", "2"]]
    # a bare CR inside a cell is a line break to every reader: quoted, it stays in the cell
    text = csv_text([{"a": "x\r=cmd()", "b": "\r"}])
    assert _cells(text) == [["a", "b"], ["x\r=cmd()", "'\r"]]


def test_no_csv_is_written_without_the_csv_module() -> None:
    """Every CSV writer goes through `dse.outputs.csv_text` (the csv module, cells escaped):
    no other module of dse makes a csv writer of its own."""
    root = Path(__file__).parents[2] / "dse"
    writers = []
    for path in root.rglob("*.py"):
        text = path.read_text()
        if "csv.writer" in text or "csv.DictWriter" in text:
            writers.append(path.relative_to(root).as_posix())
    assert writers == ["outputs.py"], writers
