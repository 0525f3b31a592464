"""How many hostile inputs were tried, and how many raised anything but a `DseError`.

Usage: python benchmarks/reliability_hostile.py [--examples 2000]

Sources: every row of the bad-input table (tests/reliability/hostile_cases.py,
docs/reliability.md) run through `dse.cli.main`; random JSON values and near-valid specs
(hypothesis strategies of tests/reliability/test_properties.py) through
`network_from_dict` and `costmodels.estimate`; random config mappings through
`build_config`; random files (YAML/JSON fragments with aliases, deep brackets, tags,
non-finite numbers, control characters, binary) through the spec, device and config
readers, random `.npz` archives through the data reader; ONNX models (a valid QONNX model
with random byte flips, truncations and tensor-dimension edits) through `load_network`;
CSV cells (random text through `dse.outputs.csv_text`, read back: no cell may start a
formula unless it is a plain number); random hostile command lines
(tests/reliability/test_fuzz_hostile.py) through `dse.cli.main`, checked against the rule:
non-zero exit with at most 4 lines, no traceback, no password, a foreign database
untouched. An unhandled exception is any exception that is not a `DseError`, or a CLI run
that broke the rule.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "reliability")]  # this tree, not another

import hostile_cases  # noqa: E402
import test_fuzz_hostile as fz  # noqa: E402
import test_properties as props  # noqa: E402

from costmodels import estimate  # noqa: E402
from costmodels.devices import get_device  # noqa: E402
from costmodels.errors import DseError  # noqa: E402
from dse.cli import main as cli_main  # noqa: E402
from dse.config import build_config, load_config_file  # noqa: E402
from dse.nn.workloads import _from_npz  # noqa: E402
from dse.spec import load_network, network_from_dict  # noqa: E402


def run_table(tally: Counter[str], bad: list[str], rows: list[str] | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        study_db = root / "study.db"
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            cli_main(
                [
                    "search",
                    "--workload",
                    hostile_cases.TFC,
                    "--device",
                    "XC7Z020",
                    "--storage",
                    f"sqlite:///{study_db}",
                    "--study",
                    "s",
                    "--trials",
                    "5",
                ]
            )
        for i, case in enumerate(hostile_cases.CASES):
            folder = root / f"c{i}"
            folder.mkdir()
            for name, content in case.files.items():
                p = folder / name
                p.write_bytes(content) if isinstance(content, bytes) else p.write_text(content)
            args = [
                a.replace("{dir}", str(folder))
                .replace("{db}", f"sqlite:///{folder / 'x.db'}")
                .replace("{study_db}", f"sqlite:///{study_db}")
                .replace("{study_path}", str(study_db))
                for a in case.args
            ]
            err = io.StringIO()
            try:
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    code = cli_main(args)
            except BaseException as exc:
                bad.append(f"{case.id}: {type(exc).__name__}: {exc}")
                continue
            finally:
                tally["cli table rows"] += 1
            errors = [ln for ln in err.getvalue().splitlines() if ln.startswith("error:")]
            if rows is not None:
                said = errors[0] if errors else "(accepted: runs normally)"
                said = said.replace(str(folder), "DIR").replace(str(root), "DIR")
                said = said.replace(hostile_cases.TFC, "tfc-w1a1.yaml").replace("|", "\\|")
                rows.append(f"| {case.what.replace('|', '/')} | {code} | `{said}` |")
            if "Traceback" in err.getvalue() or len(errors) > 1 or (code != 0) != bool(errors):
                bad.append(f"{case.id}: exit {code}, stderr {err.getvalue()[:200]!r}")


def fuzz(
    name: str,
    strategy: Any,
    check: Callable[[Any], None],
    n: int,
    tally: Counter[str],
    bad: list[str],
) -> None:
    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def one(value: Any) -> None:
        tally[name] += 1
        try:
            check(value)
        except DseError:
            pass
        except Exception as exc:
            bad.append(f"{name}: {type(exc).__name__}: {exc}"[:300])

    one()


def _read_all(folder: Path, content: str | bytes) -> None:
    """One random file through the spec, device and config readers (`.yaml` and `.json`)."""
    for suffix in (".yaml", ".json"):
        path = folder / f"f{suffix}"
        try:
            fz._write(folder, path.name, content)
        except UnicodeEncodeError:
            return
        for read in (load_network, get_device, load_config_file):
            with contextlib.suppress(DseError):
                read(str(path))


def fuzz_cli(n: int, tally: Counter[str], bad: list[str]) -> None:
    """Random hostile command lines through `dse.cli.main`, checked against the rule."""
    import hashlib
    import os

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with contextlib.redirect_stderr(io.StringIO()):
            arena = fz.make_arena(root)
        theirs = arena["theirs"]
        digest = hashlib.sha256(theirs.read_bytes()).hexdigest()
        cwd = os.getcwd()
        os.chdir(root)
        try:

            @settings(max_examples=n, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            @given(fz.command_lines(fz._values(arena)))
            def one(argv: list[str]) -> None:
                tally["random command lines"] += 1
                out, err = io.StringIO(), io.StringIO()
                try:
                    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                        code = cli_main(argv)
                except BaseException as exc:
                    bad.append(f"cli {argv}: {type(exc).__name__}: {exc}"[:300])
                    return
                text = err.getvalue()
                lines = [ln for ln in text.splitlines() if ln.strip()]
                broke = (
                    "Traceback" in text
                    or fz.SECRET in text + out.getvalue()
                    or (code != 0 and not 1 <= len(lines) <= 4)
                    or hashlib.sha256(theirs.read_bytes()).hexdigest() != digest
                )
                if broke:
                    bad.append(f"cli {argv}: exit {code}, stderr {text[:200]!r}")

            one()
        finally:
            os.chdir(cwd)


def fuzz_onnx(n: int, tally: Counter[str], bad: list[str]) -> None:
    """Mutated QONNX models through `load_network` (skipped without the onnx package)."""
    try:
        import onnx
    except ImportError:
        return
    import random

    sys.path.insert(0, str(REPO / "tests" / "onnx_in"))
    from qonnx_graphs import small_cnv

    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        good = small_cnv(Path(tmp) / "good.onnx", dynamo=False).read_bytes()
        model = onnx.load_model_from_string(good)
        path = Path(tmp) / "m.onnx"
        for i in range(n):
            if i % 3 == 0:  # a tensor claiming other dimensions
                m = onnx.ModelProto()
                m.CopyFrom(model)
                t = m.graph.initializer[rng.randrange(len(m.graph.initializer))]
                del t.dims[:]
                t.dims.extend(rng.choice([[], [0], [-1], [1 << 62], [3, 3], [1 << 40, 1 << 40]]))
                blob = m.SerializeToString()
            else:  # flipped bytes, maybe truncated
                data = bytearray(good)
                for _ in range(rng.randint(1, 16)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
                blob = bytes(data[: rng.randint(len(data) // 2, len(data))])
            path.write_bytes(blob)
            tally["mutated ONNX models"] += 1
            try:
                load_network(path)
            except DseError:
                pass
            except Exception as exc:
                bad.append(f"onnx #{i}: {type(exc).__name__}: {str(exc)[:120]}")


def fuzz_csv(n: int, tally: Counter[str], bad: list[str]) -> None:
    """Random text cells through `csv_text`, read back with the csv module."""
    import csv
    import random

    from dse.outputs import csv_text

    rng = random.Random(1)
    alphabet = "=+-@\t\r\n,\"'a1.eE ;|!()"
    for i in range(n):
        cells = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))) for _ in range(4)]
        tally["CSV cells"] += len(cells)
        text = csv_text([{f"c{j}": c for j, c in enumerate(cells)}])
        back = list(csv.reader(io.StringIO(text)))
        if len(back) != 2 or len(back[1]) != 4:
            bad.append(f"csv #{i}: {cells!r} read back as {back!r}")
            continue
        for cell in back[1]:
            if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
                try:
                    float(cell)
                except ValueError:
                    bad.append(f"csv #{i}: formula cell {cell!r}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=2000)
    ap.add_argument("--table", action="store_true", help="print the docs table and stop")
    args = ap.parse_args()
    tally: Counter[str] = Counter()
    bad: list[str] = []
    if args.table:
        rows: list[str] = []
        run_table(tally, bad, rows)
        print("| bad input | exit | what the user sees (stderr) |\n| --- | --- | --- |")
        print("\n".join(rows))
        return
    run_table(tally, bad)
    dev = get_device("XCZU3EG")
    fuzz("random JSON specs", props.json_values, network_from_dict, args.examples, tally, bad)
    fuzz(
        "near-valid specs + cost model",
        props.spec_dicts(),
        lambda d: props._check_cost(estimate(network_from_dict(d), dev)),
        args.examples,
        tally,
        bad,
    )
    fuzz(
        "random configs",
        props.config_values.map(lambda v: {"space": v})
        | props.st.dictionaries(props.config_keys, props.config_values, max_size=6),
        lambda raw: build_config(raw, {}),
        args.examples,
        tally,
        bad,
    )
    with tempfile.TemporaryDirectory() as tmp:
        fuzz("random files through the readers", fz.documents,
             lambda c: _read_all(Path(tmp), c), args.examples // 4, tally, bad)  # fmt: skip
        npz = Path(tmp) / "d.npz"
        fuzz("random .npz archives", fz.npz_files(),
             lambda b: (npz.write_bytes(b), _from_npz(npz)),
             args.examples // 4, tally, bad)  # fmt: skip
    fuzz_onnx(args.examples // 4, tally, bad)
    fuzz_csv(args.examples, tally, bad)
    fuzz_cli(args.examples // 10, tally, bad)
    total = sum(tally.values())
    for name, n in tally.items():
        print(f"{name}: {n}")
    print(f"hostile inputs tried: {total}, unhandled exceptions: {len(bad)}")
    for line in bad[:20]:
        print("  ", line)


if __name__ == "__main__":
    main()
