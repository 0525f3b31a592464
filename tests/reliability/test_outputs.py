"""Every writer of an output against a write that fails: `/dev/full`, a full file system and
a read-only one. The same answer each time: one line `error: cannot write ...`, exit 1
(`costmodels.errors.OutputError`), nothing reported as written, no temporary file left, the
study untouched. Standard output that cannot be written gets the same (exit 1).

The file systems are real tmpfs mounts (root); without mount rights those cases skip."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from reliability_helpers import SPEC, dse_cmd, env, one_error_line, search_args, sha256

from dse.cli import main

CALIBRATION_ROWS = Path(__file__).parents[1] / "fixtures" / "finn_synth_sample.csv"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("outputs") / "s.db"
    assert main(search_args(f"sqlite:///{db}", "s", 5)) == 0
    return db


def _writers(db: Path) -> dict[str, Callable[[Path], list[str]]]:
    """Every command that writes a file on request, as a function of the output path (each
    given the extension it accepts)."""
    url = f"sqlite:///{db}"
    return {
        "export-spec": lambda p: ["export", "--storage", url, "--trial", "0", "-o", f"{p}.yaml"],
        "export-finn": lambda p: [
            "export", "--storage", url, "--trial", "0", "--format", "finn-folding",
            "-o", f"{p}.json",
        ],
        "report-plot-png": lambda p: ["report", "--storage", url, "--plot", f"{p}.png"],
        "report-plot-svg": lambda p: [
            "report", "--storage", url, "--format", "json", "--plot", f"{p}.svg"
        ],
        "calibrate": lambda p: ["calibrate", str(CALIBRATION_ROWS), "-o", f"{p}.yaml"],
    }  # fmt: skip


@contextlib.contextmanager
def _tmpfs(size: str, *, read_only: bool = False, fill: bool = False) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = Path(f"/tmp/dse-out-{uuid.uuid4().hex[:8]}")
    mnt.mkdir()
    opts = f"size={size}" + (",ro" if read_only else "")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mnt)]).returncode:
        mnt.rmdir()
        pytest.skip("cannot mount a tmpfs here")
    try:
        if fill:
            for name, chunk in (("filler", 65536), ("filler2", 512), ("filler3", 1)):
                with contextlib.suppress(OSError), open(mnt / name, "wb", buffering=0) as fh:
                    while True:
                        fh.write(b"\0" * chunk)
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        shutil.rmtree(mnt, ignore_errors=True)


def _refused(args: list[str], capfd: pytest.CaptureFixture[str]) -> str:
    capfd.readouterr()
    code = main(args)
    out, err = capfd.readouterr()
    assert code == 1, (args, err)
    line = one_error_line(err)
    assert line.startswith("error: cannot write"), line
    assert "wrote" not in out + err and "written to" not in out + err
    return line


@pytest.mark.parametrize("writer", sorted(_writers(Path("x"))))
def test_a_full_device_is_an_error(
    writer: str, study: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """`/dev/full` under the writer's own extension (a symlink, so each writer's
    extension check passes): every write fails with ENOSPC."""
    target = tmp_path / "full"
    args = _writers(study)[writer](target)
    Path(args[-1]).symlink_to("/dev/full")
    before = sha256(study)
    assert "No space left" in _refused(args, capfd)
    assert sha256(study) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [Path(args[-1]).name]


@pytest.mark.parametrize("writer", sorted(_writers(Path("x"))))
def test_a_full_file_system_is_an_error(
    writer: str, study: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with _tmpfs("256k", fill=True) as mnt:
        before_files = sorted(p.name for p in mnt.iterdir())
        args = _writers(study)[writer](mnt / "out")
        assert "No space left" in _refused(args, capfd)
        assert sorted(p.name for p in mnt.iterdir()) == before_files  # no temporary left


@pytest.mark.parametrize("writer", sorted(_writers(Path("x"))))
def test_a_read_only_file_system_is_an_error(
    writer: str, study: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with _tmpfs("1m", read_only=True) as mnt:
        args = _writers(study)[writer](mnt / "out")
        assert "read-only file system" in _refused(args, capfd)


def test_an_existing_output_on_a_read_only_file_system(
    study: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with _tmpfs("1m") as mnt:
        (mnt / "out.yaml").write_text("mine\n")
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        args = _writers(study)["export-spec"](mnt / "out")
        assert "read-only file system" in _refused(args, capfd)
        assert (mnt / "out.yaml").read_text() == "mine\n"


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--format", "csv"],
        ["report", "--format", "json"],
        ["report"],
        ["export", "--trial", "0"],
        ["studies"],
        ["estimate", str(SPEC), "--device", "XC7Z020"],
        ["devices"],
    ],
    ids=lambda a: "-".join(x for x in a if not x.startswith("/"))[:40],
)
def test_standard_output_on_a_full_device(args: list[str], study: Path) -> None:
    """`dse ... > /dev/full` in a real process (the stream is the process's stdout)."""
    if args[0] in ("report", "export", "studies"):
        args = [*args, "--storage", f"sqlite:///{study}"]
    with open("/dev/full", "w") as full:
        res = subprocess.run(
            dse_cmd(args), stdout=full, stderr=subprocess.PIPE, text=True, env=env(), timeout=120
        )
    assert res.returncode == 1, res.stderr
    line = one_error_line(res.stderr)
    assert line == (
        "error: cannot write the output (standard output): No space left on device; not written"
    ), line


def test_finn_folding_onto_a_device_puts_nothing_beside_it(study: Path) -> None:
    """`-o /dev/stdout` (a device): the folding goes there, and no `<stem>.spec.yaml` is
    created in /dev or /proc."""
    res = subprocess.run(
        dse_cmd(["export", "--storage", f"sqlite:///{study}", "--trial", "0",
                 "--format", "finn-folding", "-o", "/dev/stdout"]),
        capture_output=True, text=True, env=env(), timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.lstrip().startswith("{")
    assert not Path("/dev/stdout.spec.yaml").exists()
    assert not Path("/dev/null.spec.yaml").exists()


def test_a_named_pipe_nobody_reads_is_an_error_not_a_hang(study: Path, tmp_path: Path) -> None:
    """`-o FIFO` with no reader: one line at once (open would block forever); with a reader,
    the export goes through the pipe."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    args = ["export", "--storage", f"sqlite:///{study}", "--trial", "0", "-o", str(fifo)]
    res = subprocess.run(dse_cmd(args), capture_output=True, text=True, env=env(), timeout=60)
    assert res.returncode == 1, res.stderr
    assert "no process is reading this named pipe" in one_error_line(res.stderr)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)  # cat has the pipe open for reading
        res = subprocess.run(dse_cmd(args), capture_output=True, text=True, env=env(), timeout=60)
        out, _ = reader.communicate(timeout=60)
    finally:
        reader.kill()
    assert res.returncode == 0, res.stderr
    assert "name: tfc-w1a1" in out
