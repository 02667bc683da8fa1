"""Readers (the GUI's views, a CLI in another process) read while the writer logs."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from bridgelab.data import Failure, FailureClass, SessionStart, Stage, TriageStore

SESSIONS_PER_ENGINE = 12
BLOCKS_PER_SESSION = 300


def engine(store: TriageStore, name: str) -> None:
    """A scripted update engine: durable stages and commands, batched progress and frames."""
    for number in range(SESSIONS_PER_ENGINE):
        sid = store.begin_session(SessionStart(mode="ota", port_url=f"emu://{name}"))
        for stage in (Stage.IDENTIFY, Stage.VALIDATE, Stage.TRANSFER):
            store.enter_stage(sid, stage)
        for block in range(BLOCKS_PER_SESSION):
            store.log_progress(sid, block * 63, BLOCKS_PER_SESSION * 63)
            store.log_frame(sid, "rx", bytes(63))
            if block % 50 == 0:
                store.log_event(sid, "command", {"block": block})
        if number % 4 == 3:
            store.end_session(sid, "failed", Failure(Stage.TRANSFER, FailureClass.STALLED))
        else:
            store.end_session(sid, "success", version_after=2)


def test_readers_never_error_or_wait_while_the_writer_logs(db_path: Path) -> None:
    errors: list[BaseException] = []
    done = threading.Event()
    reads = {"pool": 0, "raw": 0}

    with TriageStore.open(db_path, batch_interval_s=0.01) as store:

        def guarded(body: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                try:
                    body()
                except BaseException as error:
                    errors.append(error)
                    done.set()

            return run

        def gui_view() -> None:
            seen: dict[str, int] = {}
            while not done.is_set():
                for record in store.query_sessions(limit=20):
                    events = store.session_events(record.id)
                    assert [e.seq for e in events] == list(range(len(events)))
                    # A view never sees a session's story shrink.
                    assert len(events) >= seen.get(record.id, 0)
                    seen[record.id] = len(events)
                    assert store.get_session(record.id).id == record.id
                store.count_sessions()
                reads["pool"] += 1

        def other_process_reader() -> None:
            # timeout=0: any wait for a lock would raise "database is locked" at once.
            with closing(sqlite3.connect(db_path, timeout=0)) as conn:
                while not done.is_set():
                    conn.execute("SELECT count(*) FROM events").fetchone()
                    conn.execute(
                        "SELECT * FROM sessions ORDER BY started_at DESC LIMIT 50"
                    ).fetchall()
                    reads["raw"] += 1

        readers = [threading.Thread(target=guarded(gui_view)) for _ in range(2)]
        readers.append(threading.Thread(target=guarded(other_process_reader)))
        engines = [
            threading.Thread(target=guarded(lambda n=n: engine(store, f"bridge{n}")))
            for n in range(2)
        ]
        for thread in readers + engines:
            thread.start()
        for thread in engines:
            thread.join()
        done.set()
        for thread in readers:
            thread.join()
        assert not errors, errors
        assert reads["pool"] > 0 and reads["raw"] > 0
        assert store.count_sessions() == 2 * SESSIONS_PER_ENGINE
        per_session = 1 + 3 + BLOCKS_PER_SESSION + BLOCKS_PER_SESSION // 50 + 1
        with store.reading() as db:
            assert db.execute("SELECT count(*) FROM events").fetchone()[0] == (
                2 * SESSIONS_PER_ENGINE * per_session
            )
            assert db.execute("SELECT count(*) FROM frames").fetchone()[0] == (
                2 * SESSIONS_PER_ENGINE * BLOCKS_PER_SESSION
            )
