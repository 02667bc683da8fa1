"""Reap what a killed test run left running.

A test run killed from outside (SIGKILL, a CI timeout, a closed terminal) runs none of
its fixtures' teardown, so emulators, line relays, ser2net and labgrid exporters it
started keep running, holding ports and CPU for the next run. Every process a run
starts inherits `RUN_VAR` (its pytest process's pid and start time); the next run kills
the processes whose run is gone. The start time guards against a reused pid, and a run
that is still alive (a second pytest beside it) is left alone.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

RUN_VAR = "BRIDGELAB_TEST_RUN"
PROC = Path("/proc")


def _start_time(pid: int) -> str | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its end.
    return stat.rsplit(")", 1)[1].split()[19]


def run_token(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid)}"


def _alive(token: str) -> bool:
    pid_text, _, started = token.partition(":")
    return pid_text.isdigit() and _start_time(int(pid_text)) == started


def _run_of(pid: int) -> str | None:
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    prefix = RUN_VAR.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def orphans_of_dead_runs() -> list[int]:
    """Pids of processes started by test runs that are no longer running."""
    found = []
    me = os.getpid()
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        token = _run_of(int(entry.name))
        if token is not None and not _alive(token):
            found.append(int(entry.name))
    return found


def reap() -> list[int]:
    """Kill the leftovers of dead runs; return their pids."""
    killed = []
    for pid in orphans_of_dead_runs():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
        killed.append(pid)
    return killed


def mark_this_run() -> None:
    """Make every process this run starts carry its token (inherited through environ)."""
    os.environ.setdefault(RUN_VAR, run_token())
