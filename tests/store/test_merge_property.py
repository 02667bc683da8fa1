"""Property: any merge source ends in a merge or a coded error; never a crash, never a hang.

Hypothesis builds 1,000 sources from a sound field log by planting random hostile values
in random cells, adding stray rows, changing the schema and flipping or cutting bytes.
Each one is merged into one lab log. Whatever happens must be a `MergeReport` or a
`StoreError` with a known code; and everything that did enter the lab must itself merge
cleanly into a new log (nothing unchecked got in).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing, suppress
from itertools import count
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridgelab.data import StoreError, TriageStore
from bridgelab.data.merge import MergeLimits
from tests.store.field_logs import build_field_log

EXAMPLES = 1000
KNOWN_CODES = {
    "not-a-triage-db", "db-corrupt", "db-newer-schema", "merge-source-refused",
    "merge-too-large", "merge-timed-out", "db-not-found",
}  # fmt: skip

KEYS = {
    "devices": "eui64",
    "images": "sha256",
    "sessions": "id",
    "events": "session_id, seq",
    "frames": "session_id, seq",
    "notes": "id",
}
COLUMNS = {
    "devices": ["eui64", "manufacturer_code", "model", "hardware_version", "serial_number",
                "identity", "first_seen", "last_seen"],
    "images": ["sha256", "size", "file_name", "body_form", "file_version", "header_string",
               "hardware_min", "destination_eui64", "signer", "details", "first_seen"],
    "sessions": ["id", "mode", "device_eui64", "image_sha256", "port_url", "baud",
                 "version_before", "version_after", "started_at", "ended_at", "final_state",
                 "failure_class", "failure_message", "retries", "last_offset",
                 "throughput_bps", "details"],
    "events": ["session_id", "seq", "at", "kind", "data"],
    "frames": ["session_id", "seq", "t_s", "direction", "data"],
    "notes": ["id", "session_id", "at", "author", "text"],
}  # fmt: skip

SPECIAL_TEXT = [
    "../../x", "/etc/passwd", "", "\x00", "a\x00b", "\x1b[2J", "\u202e", "=HYPERLINK(1)",
    "{", "[", "null", "[1]", '"s"', "NaN", '{"a": NaN}', '{"a": 1e999}', "[" * 3000,
    '{"a":' * 50 + "1" + "}" * 50, "{}", '{"k": "v"}', "local", "ota", "running", "tx",
    "2025-01-01T00:00:00.000Z", "2025-13-01", "yesterday", "00:12:4B:00:00:00:00:01",
    "01900000-0000-7000-8000-000000000001", "01900000-0000-7000-8000-00000000000G",
    "x" * 70_000, '{"a":"' + "b" * 300_000 + '"}',
]  # fmt: skip

values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.sampled_from(SPECIAL_TEXT),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=10,
    ).map(json.dumps),
)

cell_edits = st.tuples(st.sampled_from(sorted(COLUMNS)), st.integers(0, 20), st.data()).flatmap(
    lambda t: st.tuples(st.just(t[0]), st.sampled_from(COLUMNS[t[0]]), st.just(t[1]), values)
)

STRUCTURAL = [
    "DROP TABLE frames",
    "DROP TABLE sessions; CREATE VIEW sessions AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL "
    "SELECT x + 1 FROM n) SELECT x AS id FROM n",
    "CREATE VIEW trap AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
    "SELECT x FROM n",
    "CREATE TRIGGER t AFTER INSERT ON notes BEGIN DELETE FROM sessions; END",
    "ALTER TABLE sessions DROP COLUMN details",
    "ALTER TABLE events ADD COLUMN extra TEXT DEFAULT 'x'",
    "PRAGMA user_version = 7",
    "PRAGMA user_version = 1",
    "PRAGMA application_id = 1",
    "DELETE FROM devices",
    "DELETE FROM sessions WHERE rowid % 2 = 0",
    "INSERT INTO events SELECT session_id, seq + 1000, at, kind, data FROM events",
    "INSERT INTO notes SELECT id || 'x', session_id, at, author, text FROM notes",
    "CREATE TABLE copy AS SELECT * FROM notes; INSERT INTO copy SELECT * FROM notes; "
    "DROP TABLE notes; ALTER TABLE copy RENAME TO notes",
]


def apply_edits(path: Path, edits: list[tuple[str, str, int, Any]], structure: list[str]) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute("PRAGMA legacy_alter_table = ON")
        conn.execute("PRAGMA synchronous = OFF")  # a scratch file: no need to wait on disk
        for table, column, row, value in edits:
            key = KEYS[table]
            # A NOT NULL or key the edit would break: the file keeps its old value.
            with suppress(sqlite3.Error, OverflowError):
                conn.execute(
                    f"UPDATE {table} SET {column} = ? WHERE ({key}) IN "
                    f"(SELECT {key} FROM {table} ORDER BY {key} LIMIT 1 OFFSET ?)",
                    [value, row],
                )
        for script in structure:
            with suppress(sqlite3.Error):
                conn.executescript(script)
        conn.commit()


def damage(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    spoilt = bytearray(data)
    for offset, mask in flips:
        spoilt[offset % len(spoilt)] ^= mask or 1
    return bytes(spoilt[:cut] if cut is not None else spoilt)


def test_a_thousand_hostile_sources_end_in_a_merge_or_a_coded_error(tmp_path: Path) -> None:
    template = tmp_path / "template.db"
    build_field_log(template)
    data = template.read_bytes()
    numbers = count()
    outcomes = {"merged": 0, "refused": 0, "sessions-refused": 0}
    lab_path = tmp_path / "lab.db"
    limits = MergeLimits(time_limit_s=60.0)

    with TriageStore.open(lab_path) as lab:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(
            edits=st.lists(cell_edits, max_size=4),
            structure=st.lists(st.sampled_from(STRUCTURAL), max_size=2),
            flips=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=3),
            cut=st.none() | st.integers(0, len(data)),
        )
        def merge_one(
            edits: list[tuple[str, str, int, Any]],
            structure: list[str],
            flips: list[tuple[int, int]],
            cut: int | None,
        ) -> None:
            source = tmp_path / f"source{next(numbers)}.db"
            source.write_bytes(data)
            apply_edits(source, edits, structure)
            if flips or cut is not None:
                source.write_bytes(damage(source.read_bytes(), flips, cut))
            try:
                report = lab.merge(source, limits=limits)
            except StoreError as error:
                assert error.code in KNOWN_CODES, error.to_dict()
                assert error.action
                outcomes["refused"] += 1
            else:
                outcomes["merged"] += 1
                outcomes["sessions-refused"] += report.refused.get("session", 0)
                assert all(item["reason"] for item in report.refusals)
            finally:
                source.unlink(missing_ok=True)

        merge_one()

    print(f"merge sources: {outcomes}")  # shown with -s; quoted in docs/triage.md
    assert sum(outcomes[k] for k in ("merged", "refused")) == EXAMPLES
    assert outcomes["merged"] > 0 and outcomes["refused"] > 0 and outcomes["sessions-refused"] > 0
    with closing(sqlite3.connect(lab_path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    # Nothing unchecked got in: the lab log itself merges into a new log with no refusal.
    with TriageStore.open(tmp_path / "audit.db") as audit:
        report = audit.merge(lab_path)
    assert report.refused == {}, report.refusals[:5]
