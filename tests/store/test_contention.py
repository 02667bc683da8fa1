"""Contention between real processes: nothing lost, new logs made once, locks reported.

Every test here starts separate Python processes (the CLI or small scripts over the
store's API), released together through a "go" file so that they really collide.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from bridgelab.data import SessionStart, StoreBusy, TriageStore

PROCESS_TIMEOUT_S = 240

PRELUDE = """
import os, sys, time
from pathlib import Path
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.001)
"""

UPDATES_SCRIPT = (
    PRELUDE
    + """
from bridgelab.data import Failure, FailureClass, SessionStart, Stage, TriageStore
path, stop, sessions = Path(sys.argv[2]), Path(sys.argv[3]), 0
with TriageStore.open(path, batch_interval_s=0.01) as store:
    while not stop.exists() or sessions < 3:
        sid = store.begin_session(SessionStart(mode="local", port_url=f"emu://{os.getpid()}"))
        for stage in (Stage.IDENTIFY, Stage.VALIDATE, Stage.TRANSFER):
            store.enter_stage(sid, stage)
        for block in range(200):
            store.log_progress(sid, block * 64, 200 * 64)
            store.log_frame(sid, "tx", bytes(64))
            if block % 40 == 0:
                store.log_event(sid, "command", {"block": block})
        store.end_session(sid, "success", version_after=2)
        sessions += 1
print(sessions)
"""
)

NOTES_SCRIPT = (
    PRELUDE
    + """
from bridgelab.data import TriageStore
path, session, count = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
for number in range(count):
    # As `bridgelab log note` does: open (with the integrity check), add, close.
    with TriageStore.open(path, create=False, integrity_check=True) as store:
        store.add_note(session, f"note {os.getpid()}-{number}")
"""
)

CREATE_SCRIPT = (
    PRELUDE
    + """
from bridgelab.data import SessionStart, TriageStore
with TriageStore.open(Path(sys.argv[2])) as store:
    sid = store.begin_session(SessionStart(mode="ota"))
    store.end_session(sid, "success")
"""
)

HOLD_SCRIPT = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[2] == "exclusive-mode":
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
conn.execute("BEGIN EXCLUSIVE")
conn.execute("INSERT INTO schema_history VALUES (999, 'x', 'lock holder')")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def python(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=PROCESS_TIMEOUT_S)
    assert process.returncode == 0, err
    return out


def test_sixty_notes_written_while_updates_run_are_all_kept(tmp_path: Path) -> None:
    path, go, stop = tmp_path / "lab.db", tmp_path / "go", tmp_path / "stop"
    with TriageStore.open(path) as store:
        target = store.begin_session(SessionStart(mode="local"))
        store.end_session(target, "success")
    updaters = [python(UPDATES_SCRIPT, str(go), str(path), str(stop)) for _ in range(2)]
    writers = [python(NOTES_SCRIPT, str(go), str(path), target, "10") for _ in range(4)]
    go.touch()
    # Twenty more through the real command line, while the others write.
    cli = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bridgelab",
                "log",
                "note",
                target[:13],
                f"cli {n}",
                "--db",
                str(path),
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(20)
    ]
    for process in writers + cli:
        finish(process)
    stop.touch()
    sessions = sum(int(finish(process)) for process in updaters)
    with closing(sqlite3.connect(path)) as conn:
        notes = conn.execute("SELECT count(*) FROM notes WHERE session_id = ?", [target])
        assert notes.fetchone()[0] == 60
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1 + sessions
        # No event lost either: every update's story is whole and gap-free.
        per_session = 1 + 3 + 200 + 5 + 1
        rows = conn.execute(
            "SELECT session_id, count(*), max(seq) FROM events GROUP BY session_id"
        ).fetchall()
        stories = {sid: (count, top) for sid, count, top in rows if sid != target}
        assert len(stories) == sessions
        assert set(stories.values()) == {(per_session, per_session - 1)}
        frames = conn.execute("SELECT count(*) FROM frames").fetchone()[0]
        assert frames == 200 * sessions
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("round_number", range(3))
def test_processes_creating_the_same_new_log_at_once_all_succeed(
    tmp_path: Path, round_number: int
) -> None:
    path, go = tmp_path / f"new{round_number}" / "triage.db", tmp_path / "go"
    processes = [python(CREATE_SCRIPT, str(go), str(path)) for _ in range(6)]
    time.sleep(0.3)  # let every interpreter reach the starting line (not an assertion)
    go.touch()
    for process in processes:
        finish(process)
    with closing(sqlite3.connect(path)) as conn:
        history = [row[0] for row in conn.execute("SELECT version FROM schema_history")]
        assert sorted(history) == [1, 2]
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 6
        assert conn.execute("SELECT count(*) FROM failure_classes").fetchone()[0] > 0


def _holder(path: Path, how: str) -> subprocess.Popen[str]:
    """Another program holding the log locked until it is sent a line."""
    sqlite_shell = shutil.which("sqlite3")
    if sqlite_shell and how == "exclusive-mode":
        process = subprocess.Popen(
            [sqlite_shell, str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(
            "PRAGMA locking_mode = EXCLUSIVE;\nBEGIN EXCLUSIVE;\n"
            "INSERT INTO schema_history VALUES (999, 'x', 'shell');\nSELECT 'locked';\n"
        )
        process.stdin.flush()
    else:
        process = python(HOLD_SCRIPT, str(path), how)
    assert process.stdout is not None
    while (line := process.stdout.readline()) and line.strip() != "locked":
        pass  # the shell echoes the pragma's answer first
    assert line.strip() == "locked", process.stderr.read() if process.stderr else ""
    return process


def _release(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("ROLLBACK;\n.quit\n" if "sqlite3" in str(process.args) else "\n")
    process.stdin.flush()
    process.communicate(timeout=PROCESS_TIMEOUT_S)


@pytest.mark.parametrize("how", ["exclusive-mode", "exclusive-transaction"])
def test_a_log_locked_by_another_program_says_so_and_how_long_it_waited(
    tmp_path: Path, how: str
) -> None:
    path = tmp_path / "lab.db"
    with TriageStore.open(path) as store:
        sid = store.begin_session(SessionStart(mode="local"))
        store.end_session(sid, "success")
    holder = _holder(path, how)
    try:
        # A writer opened before the lock, and one that tries to open during it.
        with (
            pytest.raises(StoreBusy) as opening,
            TriageStore.open(path, busy_timeout_s=0.5) as store,
        ):
            store.add_note(sid, "during the lock")
        assert opening.value.code == "db-busy"
        assert "locked by another program" in opening.value.message
        assert opening.value.details["waited_s"] >= 0.5
        assert "waited" in opening.value.message
    finally:
        _release(holder)
    with TriageStore.open(path) as store:  # and once it lets go, all is well
        store.add_note(sid, "after the lock")
        assert [n.text for n in store.session_notes(sid)] == ["after the lock"]


def test_the_command_line_reports_a_locked_log_with_a_code(tmp_path: Path) -> None:
    path = tmp_path / "lab.db"
    with TriageStore.open(path) as store:
        sid = store.begin_session(SessionStart(mode="local"))
        store.end_session(sid, "success")
    holder = _holder(path, "exclusive-mode")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bridgelab", "log", "note", sid, "x", "--db", str(path),
             "--json"],
            capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S,
        )  # fmt: skip
    finally:
        _release(holder)
    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "db-busy"
    assert "waited 1" in error["message"]  # the default bound: 10 s
    assert error["details"]["waited_s"] >= 10


def test_a_batch_that_meets_a_short_lock_waits_and_is_written(tmp_path: Path) -> None:
    path = tmp_path / "lab.db"
    with TriageStore.open(path, batch_interval_s=0.01) as store:
        sid = store.begin_session(SessionStart(mode="local"))
        holder = _holder(path, "exclusive-transaction")
        try:
            for offset in range(500):
                store.log_progress(sid, offset, 500)
            time.sleep(0.3)  # the writer meets the lock with a batch (not an assertion)
        finally:
            _release(holder)
        store.end_session(sid, "success")
        events = store.session_events(sid)
    assert [e.seq for e in events] == list(range(len(events)))
    assert sum(e.kind == "progress" for e in events) == 500
    assert os.path.exists(path)


BRIEF_HOLD_SCRIPT = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def _sound_log(path: Path) -> str:
    with TriageStore.open(path) as store:
        sid = store.begin_session(SessionStart(mode="local"))
        store.end_session(sid, "success")
    return sid


def test_a_note_waits_for_a_short_lock_and_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "lab.db"
    sid = _sound_log(path)
    holder = python(BRIEF_HOLD_SCRIPT, str(path), "1.5")
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    result = subprocess.run(
        [sys.executable, "-m", "bridgelab", "log", "note", sid, "during", "--db", str(path),
         "--json"],
        capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S,
    )  # fmt: skip
    finish(holder)
    assert result.returncode == 0, result.stdout + result.stderr
    with TriageStore.open(path) as store:
        assert [n.text for n in store.session_notes(sid)] == ["during"]


def test_listing_is_not_held_up_by_a_writer_holding_its_lock(tmp_path: Path) -> None:
    path = tmp_path / "lab.db"
    sid = _sound_log(path)
    holder = _holder(path, "exclusive-transaction")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bridgelab", "log", "list", "--db", str(path), "--json"],
            capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S,
        )  # fmt: skip
    finally:
        _release(holder)
    assert result.returncode == 0, result.stderr
    assert [s["id"] for s in json.loads(result.stdout)["sessions"]] == [sid]


MERGE_SCRIPT = (
    PRELUDE
    + """
from bridgelab.data import TriageStore
with TriageStore.open(Path(sys.argv[2])) as lab:
    print(lab.merge(Path(sys.argv[3])).added["sessions"])
"""
)


def test_two_processes_merging_the_same_source_at_once_add_each_row_once(
    tmp_path: Path,
) -> None:
    from bridgelab.data.synthetic import fill_synthetic

    source, lab, go = tmp_path / "field.db", tmp_path / "lab.db", tmp_path / "go"
    TriageStore.open(source).close()
    fill_synthetic(source, 200, 5, seed=3)
    _sound_log(lab)
    merges = [python(MERGE_SCRIPT, str(go), str(lab), str(source)) for _ in range(3)]
    time.sleep(0.3)  # every interpreter at the starting line (not an assertion)
    go.touch()
    added = sorted(int(finish(process)) for process in merges)
    assert added[-1] == 200 and sum(added) == 200  # one process added them, the others none
    with closing(sqlite3.connect(lab)) as conn:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 201
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 200 * 5 + 2
