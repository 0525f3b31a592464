"""Property-based hostile input (hypothesis) for the file readers (spec, device file, study
config, `.npz` data) and for the command-line surface, checking the rule of
docs/reliability.md: a bad input gets a non-zero exit and at most 4 lines, never a
traceback, never a secret, and files dse did not create stay byte-for-byte as they were."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hostile_cases import TFC
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costmodels.devices import get_device
from costmodels.errors import DseError
from dse.cli import main
from dse.config import load_config_file
from dse.nn.workloads import _from_npz
from dse.spec import load_network

FAST = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
SECRET = "Sekr3tPW"

# Pieces of YAML/JSON that have broken parsers before: anchors and aliases, deep brackets,
# tags, non-finite and huge numbers, control characters, keys of every reader.
_FRAGMENTS = [
    "name: t\n", "input: {shape: [64], bits: 8}\n", "layers:\n", "- {name: fc0, op: dense, ",
    "out_features: 32, w_bits: 4, a_bits: 4}\n", "&a [1, 2, 3]", "*a", "&b [*a, *a, *a, *a]",
    "[*b, *b, *b, *b, *b, *b]", "[" * 200, "]" * 200, "{" * 70, "}" * 70,
    "!!python/object:os.system",
    "!!binary AAAA", ".inf", "-.inf", ".nan", "1e400", "9" * 401, "\x1b[31m", "\x00", "\t",
    "part: X\n", "lut: 100\n", "dsp: 5\n", "bram18: 7\n", "clock_mhz: .inf\n", "workload: ",
    TFC, "\n", "device: XC7Z020\n", "space: {w_bits: 1-100000000000}\n", "seed: -1\n",
    "trials: 2\n", "timeout: .nan\n", '{"a": ', "}", ": ", "- ", "? ", "%YAML 1.1\n", "---\n",
]  # fmt: skip
documents = st.one_of(
    st.binary(max_size=600),
    st.lists(st.sampled_from(_FRAGMENTS), max_size=30).map("".join),
    st.text(max_size=300),
)


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    else:
        path.write_bytes(content)
    return path


@FAST
@given(content=documents, suffix=st.sampled_from([".yaml", ".json"]))
def test_spec_device_and_config_readers_only_raise_dse_errors(
    tmp_path_factory: pytest.TempPathFactory, content: str | bytes, suffix: str
) -> None:
    folder = tmp_path_factory.mktemp("doc")
    with contextlib.suppress(UnicodeEncodeError):
        path = _write(folder, f"f{suffix}", content)
        for read in (load_network, get_device, load_config_file):
            with contextlib.suppress(DseError):
                read(str(path))


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


label_arrays = st.one_of(
    st.lists(st.integers(-3, 5), min_size=1, max_size=8).map(np.array),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=8).map(np.array),
    st.lists(st.text(max_size=3), min_size=1, max_size=8).map(np.array),
    st.just(np.zeros((0,), dtype=np.int64)),
    st.just(np.array([[0, 1], [1, 0]])),
)


@st.composite
def npz_files(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["arrays", "garbage", "truncated"]))
    n = draw(st.integers(1, 6))
    x = np.zeros((n, draw(st.integers(1, 4))), dtype=np.float32)
    arrays = {
        "x_train": x,
        "y_train": draw(label_arrays),
        "x_val": x,
        "y_val": draw(label_arrays),
    }
    for key in draw(st.lists(st.sampled_from(sorted(arrays)), max_size=2, unique=True)):
        del arrays[key]
    blob = _npz_bytes(arrays)
    if kind == "garbage":
        return draw(st.binary(max_size=300))
    if kind == "truncated":
        return blob[: draw(st.integers(0, len(blob)))]
    return blob


@FAST
@given(blob=npz_files())
def test_npz_reader_only_raises_dse_errors(
    tmp_path_factory: pytest.TempPathFactory, blob: bytes
) -> None:
    path = _write(tmp_path_factory.mktemp("npz"), "d.npz", blob)
    with contextlib.suppress(DseError):
        _from_npz(path)


def test_npz_that_inflates_past_the_cap_is_refused_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zip bomb: 8 MiB of zeros compress to a few KiB; with the cap at 1 MiB the zip
    directory alone refuses it (the 3 GB case of the issue, scaled down)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        arr = io.BytesIO()
        np.save(arr, np.zeros(2 * 2**20, dtype=np.float32))
        zf.writestr("x_train.npy", arr.getvalue())
    path = _write(tmp_path, "bomb.npz", buf.getvalue())
    assert path.stat().st_size < 64 * 1024
    monkeypatch.setenv("DSE_MAX_DATA_BYTES", str(2**20))
    with pytest.raises(DseError, match="inflates to 8 MiB"):
        _from_npz(path)


# ----------------------------------------------------------------------------- the CLI


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_arena(root: Path) -> dict[str, Path]:
    """Files the fuzzer points dse at, in `root`: a study it made, and files it did not
    make (a text file, a foreign SQLite database with a `studies` table) that must stay
    untouched. Also the hostile benchmark's (benchmarks/reliability_hostile.py)."""
    study = root / "study.db"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["search", "--workload", TFC, "--device", "XC7Z020", "--storage",
                     f"sqlite:///{study}", "--study", "s", "--trials", "3", "--json"])  # fmt: skip
    assert code == 0, "the arena's study could not be made"
    notes = root / "notes.txt"
    notes.write_text("not yours\n")
    theirs = root / "theirs.db"
    conn = sqlite3.connect(theirs)
    conn.execute("create table studies (id integer primary key, title text)")
    conn.commit()
    conn.close()
    return {"root": root, "study": study, "notes": notes, "theirs": theirs}


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    yield make_arena(tmp_path_factory.mktemp("arena"))


def _values(arena: dict[str, Path]) -> st.SearchStrategy[str]:
    root, study = arena["root"], arena["study"]
    return st.sampled_from(
        [
            "inf", "-inf", "nan", "-1", "0", "1", "3", str(2**64), "9" * 401, "1-100000000000",
            "1e400", "", "\x1b[31m", "a\x00b", "lut,fps", "accuracy", "XC7Z020", "ZU99", "tpe",
            TFC, "/dev/zero", "/dev/full", "/dev/null", str(arena["notes"]),
            str(arena["theirs"]), str(study), str(root / "out.png"), str(root / "x.gif"),
            f"sqlite:///{study}", f"sqlite:///{arena['theirs']}", f"sqlite:///{arena['notes']}",
            "sqlite://", "sqlite:///:memory:", "sqlite:////dev/null",
            f"postgresql://u:{SECRET}@127.0.0.1:1/db", f"mysql://u:{SECRET}@127.0.0.1:1/db",
            "builtins:exit", "os:abort_not_here", "s",
        ]
    )  # fmt: skip


_OPTIONS: dict[str, list[str]] = {
    "search": ["--workload", "--device", "--objectives", "--sampler", "--seed", "--timeout",
               "--study", "--storage", "--storage-mode", "--cap", "--min-accuracy",
               "--clock-mhz", "--w-bits", "--a-bits", "--prune", "--arith", "--max-pe",
               "--config"],
    "report": ["--study", "--storage", "--format", "--plot", "--trial"],
    "export": ["--study", "--storage", "--format", "--trial", "-o"],
    "studies": ["--storage"],
    "estimate": ["--device", "--clock-mhz", "--estimator", "--template", "--cap", "--engines"],
    "devices": ["--json"],
}  # fmt: skip


@st.composite
def command_lines(draw: st.DrawFn, values: st.SearchStrategy[str]) -> list[str]:
    command = draw(st.sampled_from(sorted(_OPTIONS)))
    args = [command]
    if command == "estimate":
        args.append(draw(values))
    for opt in draw(st.lists(st.sampled_from(_OPTIONS[command]), max_size=4, unique=True)):
        args += [opt] if opt == "--json" else [opt, draw(values)]
    if command == "search":
        # cost-only searches stay short; --jobs is covered by its own tests
        args += ["--trials", "2", "--json"]
        if "--storage" not in args:
            args += ["--storage", f"sqlite:///{draw(st.sampled_from(['a', 'b']))}.db"]
    return args


@pytest.mark.parametrize("examples", [25, pytest.param(300, marks=pytest.mark.slow)])
def test_cli_rule_on_random_hostile_command_lines(
    arena: dict[str, Path],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    examples: int,
) -> None:
    monkeypatch.chdir(arena["root"])
    untouched = {p: _digest(p) for p in (arena["notes"], arena["theirs"])}
    seen: list[Any] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(argv=command_lines(_values(arena)))
    def one(argv: list[str]) -> None:
        capfd.readouterr()
        code = main(argv)
        out, err = capfd.readouterr()
        seen.append(code)
        assert "Traceback" not in err, (argv, err)
        assert SECRET not in out + err, (argv, err)
        assert _digest(arena["theirs"]) == untouched[arena["theirs"]], argv  # never a database
        if code != 0:
            lines = [ln for ln in err.splitlines() if ln.strip()]
            assert 1 <= len(lines) <= 4, (argv, err)
            assert "\x1b[31m" not in err and "\x00" not in err, (argv, err)
            assert _digest(arena["notes"]) == untouched[arena["notes"]], argv
        untouched[arena["notes"]] = _digest(arena["notes"])  # `-o notes.txt` may succeed

    one()
    assert seen and os.path.exists(arena["study"])


def test_libyaml_nesting_limit_reads_as_too_deep() -> None:
    """libyaml (PyYAML 6.0.4 bundles one that stops at 1,000 levels with a scanner error)
    and the pure-Python parser both give the same depth refusal."""
    from costmodels.reading import MAX_DEPTH, parse_document

    for n in (MAX_DEPTH + 1, 1_500, 50_000):
        with pytest.raises(DseError, match="nested deeper"):
            parse_document("a: " + "[" * n + "]" * n, "spec", DseError, as_json=False)
