"""How many hostile inputs were tried, and how many raised anything but a `DseError`.

Usage: python benchmarks/reliability_hostile.py [--examples 2000]

Three sources: every row of the bad-input table (tests/reliability/hostile_cases.py,
docs/reliability.md) run through `dse.cli.main`; random JSON values and near-valid specs
(hypothesis strategies of tests/reliability/test_properties.py) through
`network_from_dict` and `costmodels.estimate`; random config mappings through
`build_config`. An unhandled exception is any exception that is not a `DseError`, or a CLI
run that printed a traceback / more than one error line.
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
import test_properties as props  # noqa: E402

from costmodels import estimate  # noqa: E402
from costmodels.devices import get_device  # noqa: E402
from costmodels.errors import DseError  # noqa: E402
from dse.cli import main as cli_main  # noqa: E402
from dse.config import build_config  # noqa: E402
from dse.spec import network_from_dict  # noqa: E402


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
    total = sum(tally.values())
    for name, n in tally.items():
        print(f"{name}: {n}")
    print(f"hostile inputs tried: {total}, unhandled exceptions: {len(bad)}")
    for line in bad[:20]:
        print("  ", line)


if __name__ == "__main__":
    main()
