"""Merging laptops' logs: every distinct row once, and merging again adds nothing."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from bridgelab.data import (
    DeviceInfo,
    SessionStart,
    Stage,
    StoreNotFound,
    TriageStore,
)
from bridgelab.data.errors import MergeSameFile
from bridgelab.data.merge import MERGE_TABLES
from bridgelab.data.synthetic import fill_synthetic

SOURCES = 20
SESSIONS_PER_SEED = 500
EVENTS_PER_SESSION = 10  # so each source holds 2 x 500 x 10 = 10,000 events


def keys(path: Path, table: str) -> set[tuple[object, ...]]:
    key = {
        "devices": "eui64",
        "images": "sha256",
        "sessions": "id",
        "events": "session_id, seq",
        "frames": "session_id, seq",
        "notes": "id",
    }[table]
    with closing(sqlite3.connect(path)) as conn:
        return set(conn.execute(f"SELECT {key} FROM {table}").fetchall())


def test_twenty_laptops_merge_to_their_distinct_rows_and_remerge_adds_nothing(
    tmp_path: Path,
) -> None:
    sources = []
    for number in range(SOURCES):
        path = tmp_path / f"laptop{number:02d}.db"
        TriageStore.open(path).close()
        # Neighbouring laptops share one seed's sessions: copies of the same history.
        fill_synthetic(path, SESSIONS_PER_SEED, EVENTS_PER_SESSION, seed=number)
        fill_synthetic(path, SESSIONS_PER_SEED, EVENTS_PER_SESSION, seed=number + 1)
        sources.append(path)
    with closing(sqlite3.connect(sources[0])) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 10_000
    expected = {table: set().union(*(keys(p, table) for p in sources)) for table in MERGE_TABLES}
    assert len(expected["sessions"]) == (SOURCES + 1) * SESSIONS_PER_SEED

    target = tmp_path / "lab.db"
    with TriageStore.open(target) as lab:
        first = [lab.merge(path) for path in sources]
        again = [lab.merge(path) for path in sources]
    for table in MERGE_TABLES:
        assert keys(target, table) == expected[table], table
        assert sum(r.added[table] for r in first) == len(expected[table]), table
    assert all(r.total_added == 0 for r in again)
    assert all(sum(r.updated.values()) == 0 for r in again)
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_copy_taken_mid_update_is_completed_by_a_later_one(tmp_path: Path) -> None:
    laptop, snapshot, lab = tmp_path / "laptop.db", tmp_path / "snapshot.db", tmp_path / "lab.db"
    with TriageStore.open(laptop) as field:
        sid = field.begin_session(SessionStart(mode="local", device=DeviceInfo(eui64=7)))
        field.enter_stage(sid, Stage.TRANSFER)
        field.flush()
        shutil.copyfile(laptop, snapshot)
        wal = laptop.with_name("laptop.db-wal")
        if wal.exists():
            shutil.copyfile(wal, tmp_path / "snapshot.db-wal")
        field.log_event(sid, "command", {"name": "activate"})
        field.end_session(sid, "success", version_after=5)
        field.add_note(sid, "Done on the second try.")
    with TriageStore.open(lab) as store:
        store.merge(snapshot)
        assert store.get_session(sid).final_state == "running"
        report = store.merge(laptop)
        assert report.updated["sessions"] == 1
        assert report.added["events"] == 2 and report.added["notes"] == 1
        assert store.get_session(sid).final_state == "success"
        # The older copy never overwrites the finished one.
        assert store.merge(snapshot).total_added == 0
        assert store.get_session(sid).version_after == 5


def test_devices_keep_earliest_first_and_latest_last_seen(tmp_path: Path) -> None:
    early, late, lab = tmp_path / "early.db", tmp_path / "late.db", tmp_path / "lab.db"
    for path, seen, model in ((early, "2024-01-01", None), (late, "2025-01-01", "P2P-B1")):
        TriageStore.open(path).close()
        with closing(sqlite3.connect(path)) as conn:
            conn.execute(
                "INSERT INTO devices (eui64, model, first_seen, last_seen) VALUES (?, ?, ?, ?)",
                ["00:00:00:00:00:00:00:07", model, seen, seen],
            )
            conn.commit()
    with TriageStore.open(lab) as store:
        store.merge(late)
        report = store.merge(early)
        assert report.updated["devices"] == 1
        device = store.get_device("00:00:00:00:00:00:00:07")
        assert device is not None
        assert (device["first_seen"], device["last_seen"]) == ("2024-01-01", "2025-01-01")
        assert device["model"] == "P2P-B1"
        assert store.merge(early).updated["devices"] == 0


def test_an_old_schema_source_is_merged_without_being_changed(
    tmp_path: Path, build_v1: Callable[[Path], str]
) -> None:
    old, lab = tmp_path / "old.db", tmp_path / "lab.db"
    v1_session = build_v1(old)
    before = old.read_bytes()
    with TriageStore.open(lab) as store:
        report = store.merge(old)
        assert report.added["sessions"] == 1
        assert store.get_session(v1_session).failure_class == "stalled"
    assert old.read_bytes() == before


def test_merging_the_log_into_itself_or_a_missing_file_is_refused(tmp_path: Path) -> None:
    lab = tmp_path / "lab.db"
    with TriageStore.open(lab) as store:
        with pytest.raises(MergeSameFile):
            store.merge(lab)
        with pytest.raises(StoreNotFound):
            store.merge(tmp_path / "absent.db")
