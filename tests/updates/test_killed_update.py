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
from bridgelab.drivers.emulator.demo_material import DEMO_IMAGES

NEWER = DEMO_IMAGES[0].path
STAGE_ORDER = ["identify", "validate", "transfer", "verify", "activate", "confirm"]


@pytest.mark.parametrize("kill_after_s", [0.4, 1.2, 2.2, 3.4])
def test_sigkill_mid_update(tmp_path: Path, kill_after_s: float) -> None:
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
    time.sleep(kill_after_s)
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
    assert stages and stages == STAGE_ORDER[: len(stages)]  # committed, in order, none lost
    assert session.last_stage == stages[-1]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
