"""Schema versions: a frozen v1 log migrates to the current schema with its data intact."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from sqlite_utils import Database

from bridgelab.data import SCHEMA_VERSION, DbNewerSchema, SessionStart, TriageStore
from bridgelab.data.schema import APPLICATION_ID, MIGRATIONS

BuildV1 = Callable[[Path], str]


def schema_of(path: Path) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name != 'sqlite_sequence' "
            "ORDER BY type, name"
        ).fetchall()
    return [(t, n, " ".join((sql or "").split())) for t, n, sql in rows]


def test_v1_log_migrates_to_the_current_schema(tmp_path: Path, build_v1: BuildV1) -> None:
    old, fresh = tmp_path / "old.db", tmp_path / "fresh.db"
    v1_session = build_v1(old)
    with TriageStore.open(old) as store:
        assert store.open_report.migrated == list(range(2, SCHEMA_VERSION + 1))
        record = store.get_session(v1_session)
        assert (record.failure_class, record.device_model) == ("stalled", "P2P-A1")
        assert [e.kind for e in store.session_events(v1_session)] == ["session-started"]
        # The migrated log takes new sessions like any other.
        new = store.begin_session(SessionStart(mode="local", port_url="emu://demo"))
        store.end_session(new, "success")
        with store.reading() as db:
            title = db.execute(
                "SELECT failure_title FROM session_overview WHERE id = ?", [v1_session]
            ).fetchone()[0]
        assert title == "Stalled"
    TriageStore.open(fresh).close()
    assert schema_of(old) == schema_of(fresh)
    with closing(sqlite3.connect(old)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        history = conn.execute("SELECT version FROM schema_history ORDER BY version").fetchall()
        assert [v for (v,) in history] == list(range(2, SCHEMA_VERSION + 1))


def test_frozen_v1_is_what_migration_1_builds(tmp_path: Path, build_v1: BuildV1) -> None:
    frozen, built = tmp_path / "frozen.db", tmp_path / "built.db"
    build_v1(frozen)
    with closing(sqlite3.connect(built)) as conn:
        MIGRATIONS[0](Database(conn))
        conn.commit()
    assert schema_of(frozen) == schema_of(built)


def test_a_log_from_a_newer_bridge_lab_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    TriageStore.open(path).close()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.commit()
    before = path.read_bytes()
    with pytest.raises(DbNewerSchema) as refused:
        TriageStore.open(path)
    assert refused.value.code == "db-newer-schema"
    assert path.read_bytes() == before
