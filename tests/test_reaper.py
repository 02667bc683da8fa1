"""The test run's reaper ends what a killed run left, and nothing of a live run."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests import reaper

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _dead_run_token() -> str:
    # A real process that was a "run" and is gone: its token can no longer match.
    gone = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    token = reaper.run_token(gone.pid)
    gone.wait()
    return token


def _sleeper(token: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, **{reaper.RUN_VAR: token})
    return subprocess.Popen(SLEEPER, env=env)


def _wait_for_exec(process: subprocess.Popen[bytes], token: str) -> None:
    # Until it execs, a child's /proc environ is still its parent's (with our token).
    deadline = time.monotonic() + 10
    while reaper._run_of(process.pid) != token:
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.01)


def test_leftovers_of_a_dead_run_are_killed_and_a_live_runs_are_not() -> None:
    dead = _dead_run_token()
    orphan = _sleeper(dead)
    ours = _sleeper(reaper.run_token())
    try:
        _wait_for_exec(orphan, dead)
        _wait_for_exec(ours, reaper.run_token())
        killed = reaper.reap()
        assert orphan.pid in killed
        assert orphan.wait(timeout=10) == -9
        assert ours.pid not in killed
        assert ours.poll() is None
    finally:
        for process in (orphan, ours):
            process.kill()
            process.wait()


def test_a_reused_pid_does_not_make_a_dead_run_look_alive() -> None:
    pid, _, _ = reaper.run_token().partition(":")
    assert not reaper._alive(f"{pid}:0")
    assert reaper._alive(reaper.run_token())
