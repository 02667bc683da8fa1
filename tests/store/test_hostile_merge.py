"""Merge treats a foreign log as hostile: every planted defect is refused, the rest merges.

A valid field log is built through the store's API, then one thing in it is spoiled with
raw SQL (as a hand-edited or crafted file would be). Row-level defects must refuse just
the session concerned, naming it and why, while every other session merges; defects of
the file as a whole must be a coded error with nothing merged. The lab log stays sound.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import zipfile
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from bridgelab.cli import main
from bridgelab.data import (
    SessionStart,
    StoreError,
    TriageStore,
)
from bridgelab.data.merge import MergeLimits
from bridgelab.data.schema import APPLICATION_ID
from tests.store.field_logs import SESSIONS, build_field_log
from tests.unprivileged import Unprivileged

VICTIM = 1  # the session each row-level case spoils (the others must merge)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[str]]:
    path = tmp_path_factory.mktemp("template") / "field.db"
    ids = build_field_log(path)
    return path.read_bytes(), ids


def spoil(path: Path, *statements: str, params: tuple[object, ...] = ()) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("PRAGMA legacy_alter_table = ON")
        for statement in statements:
            conn.execute(statement, params if "?" in statement else ())
        conn.commit()


def sessions_in(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM sessions")}


def sound(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


V = "(SELECT id FROM sessions ORDER BY id LIMIT 1 OFFSET 1)"  # the victim's id, in SQL
DEEP = "[" * 5000 + "]" * 5000
NESTED_40 = '{"a":' * 40 + "1" + "}" * 40

# case -> SQL that spoils the victim session (or its rows)
ROW_CASES: dict[str, str] = {
    "id is a path (zip-slip)": f"UPDATE sessions SET id = '../../x' WHERE id = {V}",
    "id is an absolute path": f"UPDATE sessions SET id = '/etc/passwd' WHERE id = {V}",
    "id in upper case": f"UPDATE sessions SET id = upper(id) WHERE id = {V}",
    "id with braces": f"UPDATE sessions SET id = '{{' || id || '}}' WHERE id = {V}",
    "id with a NUL": f"UPDATE sessions SET id = substr(id, 1, 35) || char(0) WHERE id = {V}",
    "id empty": f"UPDATE sessions SET id = '' WHERE id = {V}",
    "id an integer": f"UPDATE sessions SET id = 42 WHERE id = {V}",
    "id with escapes": f"UPDATE sessions SET id = char(27) || '[2J' WHERE id = {V}",
    "details broken": f"UPDATE sessions SET details = '{{\"a\":' WHERE id = {V}",
    "details an array": f"UPDATE sessions SET details = '[1,2]' WHERE id = {V}",
    "details JSON null": f"UPDATE sessions SET details = 'null' WHERE id = {V}",
    "details 5000 deep": f"UPDATE sessions SET details = '{DEEP}' WHERE id = {V}",
    "details 40 deep": f"UPDATE sessions SET details = '{NESTED_40}' WHERE id = {V}",
    "details NaN": f"UPDATE sessions SET details = '{{\"a\": NaN}}' WHERE id = {V}",
    "details Infinity": f"UPDATE sessions SET details = '{{\"a\": -Infinity}}' WHERE id = {V}",
    "details 1e999": f"UPDATE sessions SET details = '{{\"a\": 1e999}}' WHERE id = {V}",
    "details 5000-digit int": (
        f"UPDATE sessions SET details = '{{\"a\": {'9' * 5000}}}' WHERE id = {V}"
    ),
    "details 300 KiB": (
        f"UPDATE sessions SET details = '{{\"a\":\"' || hex(zeroblob(150000)) || '\"}}' "
        f"WHERE id = {V}"
    ),
    "details a blob": f"UPDATE sessions SET details = x'7b7d' WHERE id = {V}",
    "details not UTF-8": f"UPDATE sessions SET details = CAST(x'7bff7d' AS TEXT) WHERE id = {V}",
    "mode unknown": f"UPDATE sessions SET mode = 'evil' WHERE id = {V}",
    "final state unknown": f"UPDATE sessions SET final_state = 'hacked' WHERE id = {V}",
    "started_at words": f"UPDATE sessions SET started_at = 'yesterday' WHERE id = {V}",
    "started_at a number": f"UPDATE sessions SET started_at = 1700000000 WHERE id = {V}",
    "started_at empty": f"UPDATE sessions SET started_at = '' WHERE id = {V}",
    "ended_at garbage": f"UPDATE sessions SET ended_at = '2025-13-45T99:99:99Z' WHERE id = {V}",
    "version text": f"UPDATE sessions SET version_before = 'abc' WHERE id = {V}",
    "version negative": f"UPDATE sessions SET version_before = -1 WHERE id = {V}",
    "version over 32 bits": f"UPDATE sessions SET version_after = 1 << 40 WHERE id = {V}",
    "version a float": f"UPDATE sessions SET version_after = 1.5 WHERE id = {V}",
    "baud zero": f"UPDATE sessions SET baud = 0 WHERE id = {V}",
    "retries negative": f"UPDATE sessions SET retries = -1 WHERE id = {V}",
    "retries text": f"UPDATE sessions SET retries = 'many' WHERE id = {V}",
    "throughput infinite": f"UPDATE sessions SET throughput_bps = 1e999 WHERE id = {V}",
    "throughput text": f"UPDATE sessions SET throughput_bps = 'fast' WHERE id = {V}",
    "last_offset a blob": f"UPDATE sessions SET last_offset = x'00' WHERE id = {V}",
    "message 100 KiB (a huge row)": (
        f"UPDATE sessions SET failure_message = hex(zeroblob(51200)) WHERE id = {V}"
    ),
    "port with a NUL": f"UPDATE sessions SET port_url = 'a' || char(0) || 'b' WHERE id = {V}",
    "port 2000 characters": f"UPDATE sessions SET port_url = hex(zeroblob(1000)) WHERE id = {V}",
    "operator a blob": f"UPDATE sessions SET operator = x'0102' WHERE id = {V}",
    "device spelt wrongly": f"UPDATE sessions SET device_eui64 = '00124b00000001' WHERE id = {V}",
    "device unknown": f"UPDATE sessions SET device_eui64 = '99:99:99:99:99:99:99:99' "
    f"WHERE id = {V}",
    "image unknown": f"UPDATE sessions SET image_sha256 = '{'e' * 64}' WHERE id = {V}",
    "image not hex": f"UPDATE sessions SET image_sha256 = '../../../etc' WHERE id = {V}",
    "event data broken": f"UPDATE events SET data = '{{' WHERE session_id = {V} AND seq = 1",
    "event data deep": f"UPDATE events SET data = '{DEEP}' WHERE session_id = {V}",
    "event data a blob": f"UPDATE events SET data = x'00ff' WHERE session_id = {V}",
    "event data a string": f"UPDATE events SET data = '\"text\"' WHERE session_id = {V}",
    "event seq text": f"UPDATE events SET seq = 'one' WHERE session_id = {V} AND seq = 1",
    "event seq negative": f"UPDATE events SET seq = -5 WHERE session_id = {V} AND seq = 1",
    "event kind empty": f"UPDATE events SET kind = '' WHERE session_id = {V}",
    "event kind 100 characters": (
        f"UPDATE events SET kind = hex(zeroblob(50)) WHERE session_id = {V}"
    ),
    "event at garbage": f"UPDATE events SET at = 'soon' WHERE session_id = {V}",
    "frame data text": f"UPDATE frames SET data = 'not bytes' WHERE session_id = {V}",
    "frame data 1 MiB": f"UPDATE frames SET data = zeroblob(1048576) WHERE session_id = {V}",
    "frame direction": f"UPDATE frames SET direction = 'up' WHERE session_id = {V}",
    "frame t_s text": f"UPDATE frames SET t_s = 'later' WHERE session_id = {V}",
    "frame t_s infinite": f"UPDATE frames SET t_s = -1e999 WHERE session_id = {V}",
    "note id a path": f"UPDATE notes SET id = '../note' WHERE session_id = {V}",
    "note text NUL": f"UPDATE notes SET text = 'a' || char(0) WHERE session_id = {V}",
    "note text 1 MiB": f"UPDATE notes SET text = hex(zeroblob(524288)) WHERE session_id = {V}",
    "note author a blob": f"UPDATE notes SET author = x'00' WHERE session_id = {V}",
    "note at garbage": f"UPDATE notes SET at = 'x' WHERE session_id = {V}",
    "device identity broken": (
        "UPDATE devices SET identity = '{' WHERE eui64 = "
        f"(SELECT device_eui64 FROM sessions WHERE id = {V})"
    ),
    "device identity 5000 deep": (
        f"UPDATE devices SET identity = '{DEEP}' WHERE eui64 = "
        f"(SELECT device_eui64 FROM sessions WHERE id = {V})"
    ),
    "device identity NaN": (
        "UPDATE devices SET identity = '{\"a\": NaN}' WHERE eui64 = "
        f"(SELECT device_eui64 FROM sessions WHERE id = {V})"
    ),
    "device identity an array": (
        "UPDATE devices SET identity = '[]' WHERE eui64 = "
        f"(SELECT device_eui64 FROM sessions WHERE id = {V})"
    ),
    "device identity 40 deep": (
        f"UPDATE devices SET identity = '{NESTED_40}' WHERE eui64 = "
        f"(SELECT device_eui64 FROM sessions WHERE id = {V})"
    ),
    "image details 5000 deep": (
        f"UPDATE images SET details = '{DEEP}' WHERE sha256 = "
        f"(SELECT image_sha256 FROM sessions WHERE id = {V})"
    ),
    "image details 1e999": (
        "UPDATE images SET details = '{\"a\": 1e999}' WHERE sha256 = "
        f"(SELECT image_sha256 FROM sessions WHERE id = {V})"
    ),
    "image details a blob": (
        "UPDATE images SET details = x'7b7d' WHERE sha256 = "
        f"(SELECT image_sha256 FROM sessions WHERE id = {V})"
    ),
    "event data 40 deep": f"UPDATE events SET data = '{NESTED_40}' WHERE session_id = {V}",
    "event data NaN": f"UPDATE events SET data = '{{\"a\": NaN}}' WHERE session_id = {V}",
    "event data not UTF-8": (
        f"UPDATE events SET data = CAST(x'7b22ff227d' AS TEXT) WHERE session_id = {V}"
    ),
    "device hardware out of range": (
        "UPDATE devices SET hardware_version = 70000 WHERE eui64 = "
        f"(SELECT device_eui64 FROM sessions WHERE id = {V})"
    ),
    "device first_seen garbage": (
        "UPDATE devices SET first_seen = 'x' WHERE eui64 = "
        f"(SELECT device_eui64 FROM sessions WHERE id = {V})"
    ),
    "image details broken": (
        "UPDATE images SET details = '[' WHERE sha256 = "
        f"(SELECT image_sha256 FROM sessions WHERE id = {V})"
    ),
    "image size negative": (
        "UPDATE images SET size = -1 WHERE sha256 = "
        f"(SELECT image_sha256 FROM sessions WHERE id = {V})"
    ),
    "image version over 32 bits": (
        "UPDATE images SET file_version = 1 << 33 WHERE sha256 = "
        f"(SELECT image_sha256 FROM sessions WHERE id = {V})"
    ),
}


@pytest.mark.parametrize("case", list(ROW_CASES))
def test_a_spoilt_session_is_refused_by_name_and_the_rest_merge(
    tmp_path: Path, template: tuple[bytes, list[str]], case: str
) -> None:
    data, ids = template
    source = tmp_path / "field.db"
    source.write_bytes(data)
    spoil(source, ROW_CASES[case])
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    lab = tmp_path / "lab.db"
    with TriageStore.open(lab) as store:
        report = store.merge(source)
        again = store.merge(source)
    victim = sorted(ids)[VICTIM]
    others = set(ids) - {victim}
    merged = sessions_in(lab)
    assert others <= merged, report.refusals
    assert victim not in merged and not any(s not in ids for s in merged)
    assert report.refused.get("session", 0) == 1, report.to_dict()
    named = [r for r in report.refusals if r["what"] == "session"]
    assert len(named) == 1 and named[0]["reason"]
    assert report.added["sessions"] == SESSIONS - 1
    assert again.total_added == 0 and again.refused == report.refused
    sound(lab)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before  # never written


def test_rows_without_a_session_are_counted_and_left_out(
    tmp_path: Path, template: tuple[bytes, list[str]]
) -> None:
    data, _ = template
    source = tmp_path / "field.db"
    source.write_bytes(data)
    ghost = "01900000-0000-7000-8000-00000000dead"
    spoil(
        source,
        f"INSERT INTO events VALUES ('{ghost}', 0, '2025-01-01T00:00:00.000Z', 'x', '{{}}')",
        f"INSERT INTO notes VALUES ('{ghost}', '{ghost}', '2025-01-01T00:00:00.000Z', 'a', 't')",
        f"INSERT INTO frames VALUES ('{ghost}', 0, 0.0, 'tx', x'00')",
    )
    lab = tmp_path / "lab.db"
    with TriageStore.open(lab) as store:
        report = store.merge(source)
    assert report.added["sessions"] == SESSIONS
    assert report.refused == {
        "event without a session": 1,
        "frame without a session": 1,
        "note without a session": 1,
    }
    sound(lab)


def test_a_duplicated_id_in_a_table_without_its_key_is_refused(
    tmp_path: Path, template: tuple[bytes, list[str]]
) -> None:
    data, ids = template
    source = tmp_path / "field.db"
    source.write_bytes(data)
    # The sessions table rebuilt without its primary key, the victim's row twice.
    spoil(
        source,
        "CREATE TABLE copy AS SELECT * FROM sessions",
        f"INSERT INTO copy SELECT * FROM sessions WHERE id = {V}",
        "DROP TABLE sessions",
        "ALTER TABLE copy RENAME TO sessions",
    )
    lab = tmp_path / "lab.db"
    with TriageStore.open(lab) as store:
        report = store.merge(source)
    assert report.refused == {"session": 1}
    assert "twice" in report.refusals[0]["reason"]
    assert sessions_in(lab) == set(ids) - {sorted(ids)[VICTIM]}


RECURSIVE = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x AS id FROM n"

# case -> (SQL making the whole file unmergeable, or None for fine, the code expected)
FILE_CASES: dict[str, tuple[list[str], str | None]] = {
    "sessions a recursive view": (
        ["DROP TABLE sessions", f"CREATE VIEW sessions AS {RECURSIVE}"],
        "db-corrupt",
    ),
    "events a recursive view": (
        ["DROP TABLE events", f"CREATE VIEW events AS {RECURSIVE}"],
        "db-corrupt",
    ),
    "notes a virtual table": (
        [
            "DROP TABLE notes",
            "CREATE VIRTUAL TABLE notes USING fts5(id, session_id, at, author, text)",
        ],
        "merge-source-refused",
    ),
    "a computed column": (
        [
            "DROP TABLE frames",
            "CREATE TABLE frames (session_id TEXT, seq INTEGER, t_s REAL, direction TEXT,"
            " data BLOB GENERATED ALWAYS AS (zeroblob(100)) VIRTUAL)",
        ],
        "merge-source-refused",
    ),
    "a missing column": (["ALTER TABLE sessions DROP COLUMN details"], "merge-source-refused"),
    "a missing table": (["DROP TABLE frames"], "db-corrupt"),
    "another program's database": (
        [f"PRAGMA application_id = {APPLICATION_ID + 1}"],
        "not-a-triage-db",
    ),
    "a newer schema": (["PRAGMA user_version = 99"], "db-newer-schema"),
    "a cell over 4 MiB": (
        [f"UPDATE sessions SET failure_message = hex(zeroblob(3000000)) WHERE id = {V}"],
        "merge-source-refused",
    ),
    # Not refusals: a trap that is never sprung is harmless.
    "a recursive extra view": ([f"CREATE VIEW trap AS {RECURSIVE}"], None),
    "a recursive session_overview": (
        ["DROP VIEW session_overview", f"CREATE VIEW session_overview AS {RECURSIVE}"],
        None,
    ),
    "triggers everywhere": (
        [
            "CREATE TABLE hits (n)",
            "CREATE TRIGGER t1 AFTER INSERT ON sessions BEGIN INSERT INTO hits VALUES (1); END",
            "CREATE TRIGGER t2 BEFORE DELETE ON sessions BEGIN SELECT RAISE(ABORT, 'no'); END",
            "CREATE TRIGGER t3 AFTER UPDATE ON notes BEGIN DELETE FROM sessions; END",
        ],
        None,
    ),
    "an extra table and index": (
        ["CREATE TABLE extra (x)", "CREATE INDEX extra_x ON extra (x)"],
        None,
    ),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_a_file_that_is_not_a_mergeable_log_is_refused_whole_with_a_code(
    tmp_path: Path, template: tuple[bytes, list[str]], case: str
) -> None:
    data, _ids = template
    source = tmp_path / "field.db"
    source.write_bytes(data)
    statements, code = FILE_CASES[case]
    spoil(source, *statements)
    lab = tmp_path / "lab.db"
    with TriageStore.open(lab) as store:
        if code is None:
            report = store.merge(source)
            assert report.added["sessions"] == SESSIONS and not report.refused
        else:
            with pytest.raises(StoreError) as refused:
                store.merge(source)
            assert refused.value.code == code
            assert refused.value.action
            assert store.count_sessions() == 0
    sound(lab)


def _bytes_source(tmp_path: Path, template: tuple[bytes, list[str]], case: str) -> Path:
    data, _ = template
    source = tmp_path / "source"
    if case == "random bytes":
        source.write_bytes(os.urandom(8192))
    elif case == "text":
        source.write_text("id,mode\n1,local\n")
    elif case == "header only":
        source.write_bytes(data[:100])
    elif case == "cut in half":
        source.write_bytes(data[: len(data) // 2])
    elif case == "pages scrambled":
        spoilt = bytearray(data)
        for offset in range(4096, len(spoilt), 997):
            spoilt[offset] ^= 0xA5
        source.write_bytes(bytes(spoilt))
    elif case == "empty file":
        source.write_bytes(b"")
    elif case == "a folder":
        source.mkdir()
    elif case == "a zip":
        with zipfile.ZipFile(source, "w") as archive:
            archive.writestr("triage.db", data)
    return source


@pytest.mark.parametrize(
    "case",
    ["random bytes", "text", "header only", "cut in half", "pages scrambled", "empty file",
     "a folder", "a zip"],
)  # fmt: skip
def test_a_source_that_is_not_sqlite_is_a_coded_error(
    tmp_path: Path, template: tuple[bytes, list[str]], case: str
) -> None:
    source = _bytes_source(tmp_path, template, case)
    with TriageStore.open(tmp_path / "lab.db") as store:
        with pytest.raises(StoreError) as refused:
            report = store.merge(source)
            # Scrambled pages may still read: then the damage must be refused row by row.
            assert case == "pages scrambled" and report.total_added < 100
            raise StoreError("read", code="merged-what-was-sound")
        assert refused.value.code in (
            "not-a-triage-db", "db-corrupt", "merge-source-refused", "merged-what-was-sound",
        )  # fmt: skip


SAME_FILE: dict[str, Callable[[Path, Path], Path]] = {
    "the target": lambda lab, tmp: lab,
    "by dot-dot": lambda lab, tmp: lab.parent / "x" / ".." / lab.name,
    "by symlink": lambda lab, tmp: _link(tmp / "alias.db", lab),
    "by hard link": lambda lab, tmp: _hard(tmp / "hard.db", lab),
    "its -wal": lambda lab, tmp: Path(str(lab) + "-wal"),
    "its -shm": lambda lab, tmp: Path(str(lab) + "-shm"),
}


def _link(link: Path, target: Path) -> Path:
    link.symlink_to(target)
    return link


def _hard(link: Path, target: Path) -> Path:
    os.link(target, link)
    return link


@pytest.mark.parametrize("case", list(SAME_FILE))
def test_the_target_by_any_path_is_refused_as_a_source(tmp_path: Path, case: str) -> None:
    folder = tmp_path / "labdir"
    (folder / "x").mkdir(parents=True)
    lab = folder / "lab.db"
    with TriageStore.open(lab) as store:
        store.begin_session(SessionStart(mode="local"))
        store.flush()
        with pytest.raises(StoreError) as refused:
            store.merge(SAME_FILE[case](lab, tmp_path))
        assert refused.value.code == "merge-same-file"


def test_limits_refuse_a_source_too_large_or_too_slow_with_nothing_merged(
    tmp_path: Path, template: tuple[bytes, list[str]]
) -> None:
    data, _ = template
    source = tmp_path / "field.db"
    source.write_bytes(data)
    with TriageStore.open(tmp_path / "lab.db") as store:
        with pytest.raises(StoreError) as large:
            store.merge(source, limits=MergeLimits(max_rows=10))
        assert large.value.code == "merge-too-large"
        with pytest.raises(StoreError) as slow:
            store.merge(source, limits=MergeLimits(time_limit_s=0.0))
        assert slow.value.code == "merge-timed-out"
        assert store.count_sessions() == 0
        assert store.merge(source).added["sessions"] == SESSIONS


def test_a_file_name_that_looks_like_uri_options_is_just_a_name(
    tmp_path: Path, template: tuple[bytes, list[str]]
) -> None:
    data, _ = template
    source = tmp_path / "field.db?mode=rwc&immutable=0#x"
    source.write_bytes(data)
    source.chmod(0o444)
    lab = tmp_path / "lab.db"
    with TriageStore.open(lab) as store:
        assert store.merge(source).added["sessions"] == SESSIONS
    assert source.read_bytes() == data
    assert not Path(str(source) + "-wal").exists() and not Path(str(source) + "-shm").exists()


def test_the_cli_names_refused_sessions_and_exits_0(
    tmp_path: Path, template: tuple[bytes, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    data, ids = template
    source = tmp_path / "field.db"
    source.write_bytes(data)
    spoil(source, ROW_CASES["details broken"])
    lab = tmp_path / "lab.db"
    assert main(["log", "merge", str(source), "--db", str(lab)]) == 0
    out = capsys.readouterr().out
    assert f"session {sorted(ids)[VICTIM]}: details: is not JSON" in out
    assert main(["log", "merge", str(source), "--db", str(lab), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["merged"][0]
    assert report["refused"] == {"session": 1}


# -- a lab log that already holds bad rows (merged by an older Bridge Lab) ---------------


@pytest.fixture
def spoilt_lab(tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "lab.db"
    ids = build_field_log(path)
    spoil(
        path,
        f"UPDATE sessions SET details = '{{broken' WHERE id = '{ids[0]}'",
        f"UPDATE sessions SET version_before = 'abc', started_at = 'soon', "
        f"throughput_bps = 'fast' WHERE id = '{ids[1]}'",
        f"UPDATE events SET data = '[' WHERE session_id = '{ids[2]}'",
        f"UPDATE frames SET data = 'text', t_s = 'x' WHERE session_id = '{ids[2]}'",
        "UPDATE devices SET identity = 'nope', hardware_version = 'hw'",
        "UPDATE images SET details = x'ff', size = 'big'",
        f"UPDATE sessions SET id = '../../evil', port_url = CAST(x'41ff42' AS TEXT) "
        f"WHERE id = '{ids[3]}'",
        f"UPDATE events SET session_id = '../../evil' WHERE session_id = '{ids[3]}'",
        f"UPDATE notes SET session_id = '../../evil' WHERE session_id = '{ids[3]}'",
    )
    return path, ids


def test_list_show_export_and_bundle_of_a_spoilt_lab_log_report_the_bad_rows(
    spoilt_lab: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path, ids = spoilt_lab
    db = ["--db", str(path)]
    commands = [
        ["log", "list", *db],
        ["log", "list", *db, "--json"],
        *(["log", "show", sid, *db, "--trace", "--all-events"] for sid in ids[:3]),
        *(["log", "show", sid, *db, "--json", "--trace"] for sid in ids[:3]),
        ["log", "export", "--format", "json", *db],
        ["log", "export", "--format", "csv", *db],
        ["log", "export", "--format", "csv", "--table", "events", *db],
        ["log", "stats", *db, "--by", "firmware", "--by", "hardware"],
        ["log", "bundle", *db, "-o", str(tmp_path / "b.zip")],
    ]
    for argv in commands:
        capsys.readouterr()
        assert main(argv) == 0, argv
        captured = capsys.readouterr()
        assert "internal-error" not in captured.out + captured.err
    capsys.readouterr()
    main(["log", "list", *db])
    err = capsys.readouterr().err
    assert f"session {ids[0]}: details is not JSON" in err
    with zipfile.ZipFile(tmp_path / "b.zip") as archive:
        names = archive.namelist()
    assert all(".." not in n and not n.startswith("/") for n in names), names
    assert any(n.startswith("unsafe-id-") for n in names)
    capsys.readouterr()
    main(["log", "show", ids[0], *db, "--json"])
    assert "details is not JSON" in json.loads(capsys.readouterr().out)["session"]["problems"]


def test_a_read_only_log_can_be_read_and_refuses_writes_with_a_code(tmp_path: Path) -> None:
    path = tmp_path / "ro" / "lab.db"
    path.parent.mkdir()
    ids = build_field_log(path)
    before = path.read_bytes()
    with TriageStore.open(path, read_only=True) as store:
        assert store.read_only
        assert [w.code for w in store.warnings] == ["db-read-only"]
        assert {r.id for r in store.query_sessions()} == set(ids)
        assert store.session_events(ids[0])
        with pytest.raises(StoreError) as refused:
            store.add_note(ids[0], "no")
        assert refused.value.code == "db-read-only"
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["lab.db", "lab.db-owners"]


@pytest.mark.parametrize("locked", ["folder", "file"])
def test_the_cli_opens_an_unwritable_log_read_only_with_a_note(
    unprivileged: Unprivileged, locked: str
) -> None:
    """A log the user cannot write (its file, or its folder for the files SQLite keeps
    beside it) is still listed, read only with a warning; a note is refused with a code.
    Runs as a user the permissions bind (nobody, when the tests run as root)."""
    path = unprivileged.home / "ro" / "lab.db"
    path.parent.mkdir()
    ids = build_field_log(path)
    # The log is the user's own; only the named part is locked.
    unprivileged.give(path.parent)
    before = path.read_bytes()
    files = sorted(p.name for p in path.parent.iterdir())
    with unprivileged.locked(path.parent if locked == "folder" else path):
        listed = unprivileged.run("log", "list", "--db", str(path))
        as_json = unprivileged.run("log", "list", "--db", str(path), "--json")
        note = unprivileged.run("log", "note", ids[0], "no", "--db", str(path), "--json")
    assert listed.returncode == 0, listed.stderr
    assert "warning [db-read-only]" in listed.stderr
    shown = [line.split()[0] for line in listed.stdout.splitlines()[1:] if line[:1].isalnum()]
    shown = [prefix for prefix in shown if any(sid.startswith(prefix) for sid in ids)]
    assert len(shown) == len(ids), listed.stdout  # every session, by its short id
    assert as_json.returncode == 0, as_json.stderr
    assert {s["id"] for s in json.loads(as_json.stdout)["sessions"]} == set(ids)
    assert note.returncode == 1, note.stdout + note.stderr
    error = json.loads(note.stdout)["error"]
    # A read-only file is refused as such; a locked folder as a place that cannot be written.
    assert error["code"] == {"file": "db-read-only", "folder": "store-write-failed"}[locked]
    assert error["action"]
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == files
