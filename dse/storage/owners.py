"""Which process runs a trial, and whether that process is provably dead.

A direct-mode worker tags each trial it claims with its owner (`OWNER_ATTR`, a trial system
attribute). A resume on the same machine can then fail and retry a killed worker's RUNNING
trial at once, instead of waiting for its heartbeat to go stale (3 intervals, 30 s by
default). Trials of other machines keep the heartbeat rule.

"Same machine" is the same running kernel and the same PID namespace, so that a process id
means the same thing to the owner and to the checker: the kernel's boot id
(`/proc/sys/kernel/random/boot_id`, random per boot; proc(5)) and the PID namespace inode
(`/proc/self/ns/pid`; namespaces(7)). A process id alone is not enough, ids are reused, so
the tag also holds the process's start time in clock ticks since boot (field 22 of
`/proc/<pid>/stat`, proc(5)): (boot id, namespace, pid, start time) names one process for
the life of the machine.

The owner is dead when no process has its id (`kill(pid, 0)` fails with ESRCH; kill(2)), when
the process with that id started at another time (the id was reused), or when it is a
zombie (state Z or X: exited, not yet reaped). Anything this machine cannot decide (another
boot or namespace, `/proc` unreadable, a permission error) counts as alive: a live
worker's trial is never failed on a guess.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

OWNER_ATTR = "dse:owner"
"""Trial system attribute holding the claiming worker's `Owner` (its `as_dict`)."""


@dataclass(frozen=True)
class Owner:
    """One process, named so that it can be told apart from any later one on any machine."""

    host: str  # for people reading the study; the identity is boot + pidns + pid + start
    boot: str
    pidns: str
    pid: int
    start: int  # clock ticks since boot (proc(5) /proc/<pid>/stat field 22)
    trial: int  # the trial id tagged: a copied tag (a retry's attributes) names no owner

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "boot": self.boot,
            "pidns": self.pidns,
            "pid": self.pid,
            "start": self.start,
            "trial": self.trial,
        }

    @classmethod
    def from_dict(cls, raw: object) -> Owner | None:
        """The owner stored in a trial, or None for anything not written by `as_dict`."""
        if not isinstance(raw, dict):
            return None
        try:
            owner = cls(
                host=str(raw["host"]),
                boot=str(raw["boot"]),
                pidns=str(raw["pidns"]),
                pid=raw["pid"],
                start=raw["start"],
                trial=raw["trial"],
            )
        except KeyError:
            return None
        ints = (owner.pid, owner.start, owner.trial)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in ints):
            return None
        return owner if owner.pid > 0 else None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read(4096)
    except OSError:
        return None


def _stat_fields(pid: int | str) -> list[str] | None:
    """Fields 3.. of `/proc/<pid>/stat` (state first), or None. The command name (field 2)
    is in parentheses and may hold spaces or ')' itself: split after the last ')'."""
    text = _read(f"/proc/{pid}/stat")
    if text is None or ")" not in text:
        return None
    return text.rsplit(")", 1)[1].split()


@lru_cache(maxsize=1)
def _machine() -> tuple[str, str] | None:
    """(boot id, PID namespace) of this process, or None where they cannot be read or
    `/proc` is not this namespace's (its idea of "self" is not our pid)."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    mine = _read("/proc/self/stat")
    if not boot or not boot.strip() or mine is None:
        return None
    if mine.split(" ", 1)[0] != str(os.getpid()):
        return None
    return boot.strip(), pidns


def _start_ticks(pid: int | str) -> int | None:
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    try:
        return int(fields[19])  # field 22 of the line; fields[0] is field 3 (state)
    except ValueError:
        return None


def this_process(trial_id: int) -> Owner | None:
    """The tag for `trial_id` claimed by this process; None where the machine cannot name
    its processes (no Linux `/proc`): such trials keep the heartbeat rule only."""
    machine = _machine()
    start = _start_ticks("self")
    if machine is None or start is None:
        return None
    return Owner(socket.gethostname(), machine[0], machine[1], os.getpid(), start, trial_id)


def provably_dead(owner: Owner | None, trial_id: int) -> bool:
    """Whether the process that claimed trial `trial_id` has certainly ended. False for
    another machine, boot or PID namespace, for a tag copied from another trial, and for
    whatever cannot be checked."""
    machine = _machine()
    if owner is None or machine is None or owner.trial != trial_id:
        return False
    if (owner.boot, owner.pidns) != machine:
        return False  # another machine (or container): its heartbeat decides
    if owner.pid == os.getpid():
        return False  # this process: a trial it is running, never a dead one
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return True  # no process has the id
    except PermissionError:
        pass  # some process has it (another user's): look at its start time
    except OSError:
        return False
    fields = _stat_fields(owner.pid)
    if fields is None:
        return False  # hidden (hidepid) or gone this instant: the next check decides
    if fields[0] in ("Z", "X"):
        return True  # exited; its parent has not reaped it yet
    start = _start_ticks(owner.pid)
    return start is not None and start != owner.start  # the id was reused


__all__ = ["OWNER_ATTR", "Owner", "provably_dead", "this_process"]
