"""A writer killed with SIGKILL at many points loses nothing it reported as committed.

A child process logs a scripted update session: durable stage changes and device
commands (each numbered, and announced on stdout as "committed N" once the call has
returned), with batched progress and frames in between. The parent kills it at random
points (including during start-up), then checks the file: integrity, every announced
durable event present, and on re-open the session marked `interrupted` at its last stage.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from bridgelab.data import SessionFilter, TriageStore

CHILD = r"""
import sys
from bridgelab.data import SessionStart, Stage, TriageStore

store = TriageStore.open(sys.argv[1], batch_interval_s=0.005)
sid = store.begin_session(SessionStart(mode="local", port_url="emu://crash", image_size=10**7))
print("session", sid, flush=True)
stages = list(Stage)
number = 0
for block in range(10**6):
    if block % 20 == 0:
        number += 1
        store.enter_stage(sid, stages[(block // 20) % len(stages)], {"n": number})
        print("committed", number, flush=True)
    store.log_progress(sid, block * 64, 10**7)
    store.log_frame(sid, "tx", bytes(64))
    if block % 3 == 0:
        number += 1
        store.log_event(sid, "command", {"n": number, "name": "image-block"})
        print("committed", number, flush=True)
"""

KILLS_MID_SESSION = 14
KILLS_AT_START = 3
INTERRUPTED = SessionFilter(result="interrupted")


def run_and_kill(path: Path, rng: random.Random, kill_after: int | None) -> tuple[str, int]:
    """Start the child; SIGKILL it after `kill_after` announcements (None: at start-up).

    Returns the session id it announced ("" if none) and the last committed number seen.
    """
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    session_id, last = "", 0
    try:
        if kill_after is None:
            time.sleep(rng.uniform(0.0, 0.25))  # somewhere in import, open or migration
        else:
            while last < kill_after:
                line = child.stdout.readline()
                assert line, "the child stopped on its own"
                word, value = line.split()
                if word == "session":
                    session_id = value
                else:
                    last = int(value)
            time.sleep(rng.uniform(0.0, 0.004))  # and land between announcements
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    return session_id, last


@pytest.mark.slow
def test_sigkill_loses_no_committed_event(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    rng = random.Random(20240601)
    plan: list[int | None] = [None] * KILLS_AT_START
    plan += [rng.randint(1, 250) for _ in range(KILLS_MID_SESSION)]
    rng.shuffle(plan)
    killed_sessions: set[str] = set()
    for kill_after in plan:
        session_id, last = run_and_kill(path, rng, kill_after)
        if not path.exists():
            continue  # killed before the file was created
        with closing(sqlite3.connect(path)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            numbers = {
                int(n)
                for (n,) in conn.execute(
                    "SELECT json_extract(data, '$.n') FROM events "
                    "WHERE session_id = ? AND kind IN ('stage', 'command')",
                    [session_id],
                )
            }
        assert set(range(1, last + 1)) <= numbers, f"lost events after kill at {last}"
        with TriageStore.open(path) as store:
            if session_id:
                assert session_id in store.open_report.recovered
                record = store.get_session(session_id)
                assert record.final_state == "interrupted"
                assert record.failure_class == "interrupted"
                stages = store.session_events(session_id, kinds=["stage"])
                assert record.failure_stage == stages[-1].data["stage"]
                assert record.ended_at == store.session_events(session_id)[-1].at
                killed_sessions.add(session_id)
            # Sessions recovered in earlier rounds stay as they were.
            assert store.count_sessions() == store.count_sessions(INTERRUPTED)
    assert len(killed_sessions) >= KILLS_MID_SESSION
