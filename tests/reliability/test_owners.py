"""`dse.storage.owners`: which process claimed a trial, and when it is provably dead.
Real processes throughout (started, killed, left as zombies); nothing is faked."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dse.storage.owners import Owner, provably_dead, this_process

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _tag_of(pid: int, trial: int) -> Owner:
    """The tag process `pid` would write: this machine's, with its pid and start time read
    the way the owner itself reads them (field 22 of /proc/<pid>/stat)."""
    me = this_process(trial)
    assert me is not None, "this test needs Linux /proc"
    stat = Path(f"/proc/{pid}/stat").read_text()
    start = int(stat.rsplit(")", 1)[1].split()[19])
    return dataclasses.replace(me, pid=pid, start=start)


def test_a_live_process_is_not_dead_and_a_killed_one_is() -> None:
    proc = subprocess.Popen(SLEEPER)
    try:
        tag = _tag_of(proc.pid, 7)
        assert not provably_dead(tag, 7)
        proc.kill()
        # not reaped yet: a zombie (state Z) has exited
        deadline = time.monotonic() + 10
        while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert provably_dead(tag, 7)
    finally:
        proc.kill()
        proc.wait()
    assert provably_dead(tag, 7)  # reaped: no process has the id any more


def test_a_reused_pid_is_not_the_owner() -> None:
    """The process with the owner's id started at another time: the owner is gone."""
    proc = subprocess.Popen(SLEEPER)
    try:
        tag = _tag_of(proc.pid, 3)
        assert not provably_dead(tag, 3)
        assert provably_dead(dataclasses.replace(tag, start=tag.start - 1), 3)
    finally:
        proc.kill()
        proc.wait()


def test_what_cannot_be_decided_counts_as_alive() -> None:
    proc = subprocess.Popen(SLEEPER)
    proc.kill()
    proc.wait()
    tag = _tag_of(os.getpid(), 5)
    dead = dataclasses.replace(tag, pid=proc.pid)
    assert provably_dead(dead, 5)
    # another machine, another boot, another PID namespace: the heartbeat decides
    assert not provably_dead(dataclasses.replace(dead, boot="another-boot"), 5)
    assert not provably_dead(dataclasses.replace(dead, pidns="pid:[1]"), 5)
    # a tag copied into another trial (a retry's attributes) names nobody
    assert not provably_dead(dead, 6)
    # this very process, and no tag at all
    assert not provably_dead(tag, 5)
    assert not provably_dead(None, 5)


def test_stored_tags_round_trip_and_junk_is_no_owner() -> None:
    tag = this_process(11)
    assert tag is not None
    assert Owner.from_dict(tag.as_dict()) == tag
    junk: list[object] = [
        None,
        [],
        "x",
        {},
        {**tag.as_dict(), "pid": "12"},
        {**tag.as_dict(), "pid": True},
        {**tag.as_dict(), "pid": 0},
        {k: v for k, v in tag.as_dict().items() if k != "start"},
    ]
    for raw in junk:
        assert Owner.from_dict(raw) is None, raw


def test_a_stopped_process_is_alive() -> None:
    """SIGSTOP (a paused worker, a debugger) is not death."""
    proc = subprocess.Popen(SLEEPER)
    try:
        tag = _tag_of(proc.pid, 1)
        proc.send_signal(signal.SIGSTOP)
        time.sleep(0.1)
        assert not provably_dead(tag, 1)
    finally:
        proc.kill()
        proc.wait()
