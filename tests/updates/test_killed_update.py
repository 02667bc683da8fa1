"""The tool killed (SIGKILL) in the middle of a real update: the log keeps every committed
event, stays intact, and the session is marked interrupted at its last stage."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridgelab.data.store import TriageStore
from bridgelab.emulator.demo_material import DEMO_IMAGES

NEWER = DEMO_IMAGES[0].path
STAGE_ORDER = ["identify", "validate", "transfer", "verify", "activate", "confirm"]


def _reached(db: Path, stage: str) -> bool:
    """Whether the child's session has entered `stage` (read while it writes: WAL)."""
    if not db.exists():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as reader:
            rows = reader.execute("SELECT last_stage FROM sessions").fetchall()
    except sqlite3.Error:
        return False  # not created yet
    reached = [row[0] for row in rows if row[0]]
    return bool(reached) and STAGE_ORDER.index(reached[-1]) >= STAGE_ORDER.index(stage)


@pytest.mark.parametrize(
    ("stage", "then_s"),
    [("identify", 0.0), ("transfer", 0.05), ("transfer", 0.8), ("confirm", 0.3)],
)
def test_sigkill_mid_update(tmp_path: Path, stage: str, then_s: float) -> None:
    db = tmp_path / "triage.db"
    # 230400 baud: the 48 KiB transfer takes about two seconds, then activate and confirm.
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridgelab",
            "update",
            "--port",
            "emu://demo?baud=230400",
            str(NEWER),
            "--db",
            str(db),
            "--healthy-s",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not _reached(db, stage):
        assert child.poll() is None, "the update ended before the kill"
        assert time.monotonic() < deadline, f"the update never reached {stage}"
        time.sleep(0.01)
    time.sleep(then_s)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with TriageStore.open(db) as store:
        (session,) = store.query_sessions(limit=5)
        assert session.final_state == "interrupted"
        assert session.failure_class == "interrupted"
        events = store.session_events(session.id)
    stages = [e.data["stage"] for e in events if e.kind == "stage"]
    assert stages == STAGE_ORDER[: len(stages)]  # committed, in order, none lost
    assert stage in stages and session.last_stage == stages[-1]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
