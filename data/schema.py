"""The triage log's schema and its migrations.

Plain tables that any SQLite tool reads well (Datasette, the sqlite3 shell); JSON text in
the `details`/`data`/`identity` columns; times as ISO 8601 UTC text. The file is marked as
ours with `PRAGMA application_id` and versioned with `PRAGMA user_version`: version N means
migrations 1..N have run. A fresh log is built by running every migration from 0, so the
path an old file takes and the path a new file takes are the same code.

Never edit a migration once released: add the next one. `tests/fixtures/` keeps a frozen
copy of each released schema and the tests migrate it to the current one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from bridgelab import __version__
from bridgelab.data.clock import iso_utc
from bridgelab.data.errors import DbNewerSchema
from bridgelab.data.failures import FailureClass

if TYPE_CHECKING:  # sqlite_utils loads only when a store opens
    from sqlite_utils import Database

# "BRLG": tells a triage log from any other SQLite file.
APPLICATION_ID = 0x42524C47

V1_SQL = """
CREATE TABLE devices (
    eui64 TEXT PRIMARY KEY,             -- 00:12:4B:00:01:02:03:04
    manufacturer_code INTEGER,
    model TEXT,
    hardware_version INTEGER,           -- u16: high byte version, low byte revision
    serial_number TEXT,
    identity TEXT,                      -- JSON: whatever else the driver reported
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);

CREATE TABLE images (
    sha256 TEXT PRIMARY KEY,            -- of the whole file
    size INTEGER NOT NULL,
    file_name TEXT,
    body_form TEXT,                     -- zigbee | gbcs
    manufacturer_code INTEGER,
    image_type INTEGER,
    file_version INTEGER,
    stack_version INTEGER,
    header_string TEXT,
    hardware_min INTEGER,
    hardware_max INTEGER,
    destination_eui64 TEXT,
    manufacturer_image_sha256 TEXT,     -- what GBCS activation (CS06) compares
    signer TEXT,
    signature_status TEXT,              -- verified | untrusted | invalid | absent
    details TEXT,                       -- JSON
    first_seen TEXT NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,                -- UUIDv7
    mode TEXT NOT NULL CHECK (mode IN ('local', 'ota', 'campaign')),
    device_eui64 TEXT REFERENCES devices(eui64),
    image_sha256 TEXT REFERENCES images(sha256),
    campaign_id TEXT,
    port_url TEXT,
    driver TEXT,
    baud INTEGER,
    host TEXT,
    operator TEXT,
    site_ref TEXT,
    version_before INTEGER,
    version_after INTEGER,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    final_state TEXT NOT NULL DEFAULT 'running'
        CHECK (final_state IN ('running', 'success', 'failed', 'cancelled', 'interrupted')),
    failure_stage TEXT,
    failure_class TEXT,
    failure_code TEXT,
    failure_message TEXT,
    last_stage TEXT,                    -- the stage last entered
    retries INTEGER NOT NULL DEFAULT 0,
    resumed_from INTEGER,               -- file offset the transfer resumed from
    last_offset INTEGER,                -- the last progress reported
    image_size INTEGER,
    throughput_bps REAL,                -- bytes per second during the transfer
    tool_version TEXT,
    platform TEXT,
    owner_id TEXT,                      -- the store instance that wrote it (crash recovery)
    details TEXT                        -- JSON
);
CREATE INDEX sessions_started ON sessions(started_at);
CREATE INDEX sessions_device ON sessions(device_eui64, started_at);
CREATE INDEX sessions_failure ON sessions(failure_class, started_at);
CREATE INDEX sessions_state ON sessions(final_state, started_at);
CREATE INDEX sessions_site ON sessions(site_ref, started_at);
CREATE INDEX sessions_image ON sessions(image_sha256);

CREATE TABLE events (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    seq INTEGER NOT NULL,               -- 0, 1, 2 ... within the session
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT,                          -- JSON
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

CREATE TABLE frames (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    seq INTEGER NOT NULL,
    t_s REAL NOT NULL,                  -- seconds since the session began
    direction TEXT NOT NULL CHECK (direction IN ('tx', 'rx')),
    data BLOB NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

CREATE TABLE notes (
    id TEXT PRIMARY KEY,                -- UUIDv7
    session_id TEXT NOT NULL REFERENCES sessions(id),
    at TEXT NOT NULL,
    author TEXT,
    text TEXT NOT NULL
);
CREATE INDEX notes_session ON notes(session_id);

CREATE TABLE schema_history (
    version INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL,
    tool_version TEXT NOT NULL
);
"""


def run_script(db: Database, script: str) -> None:
    """Run each statement of `script` inside the caller's transaction.

    Not `executescript`: it commits whatever transaction is open before it starts, which
    would split a migration from its version bump and let two processes creating the same
    new log both run it.
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        db.execute(statement)


def _to_v1(db: Database) -> None:
    run_script(db, V1_SQL)


# v2: the failure taxonomy as a table, and one view joining what triage looks at, so that
# a lab reading the log in Datasette or the sqlite3 shell sees titles, not just codes.
V2_SQL = """
CREATE TABLE failure_classes (
    class TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    explanation TEXT NOT NULL,
    action TEXT NOT NULL,
    area TEXT NOT NULL
);

CREATE VIEW session_overview AS
SELECT s.id, s.started_at, s.ended_at, s.mode, s.final_state,
       s.device_eui64, d.model AS device_model, d.hardware_version,
       s.version_before, i.file_version AS target_version, s.version_after,
       s.failure_stage, s.failure_class, f.title AS failure_title, s.failure_code,
       s.failure_message, s.site_ref, s.host, s.operator, s.throughput_bps
FROM sessions AS s
LEFT JOIN devices AS d ON d.eui64 = s.device_eui64
LEFT JOIN images AS i ON i.sha256 = s.image_sha256
LEFT JOIN failure_classes AS f ON f.class = s.failure_class;
"""


def refresh_failure_classes(db: Database) -> None:
    """Write the taxonomy of this Bridge Lab into `failure_classes` (insert or update)."""
    db.table("failure_classes").upsert_all(
        [
            {"class": c.value, "title": c.title, "explanation": c.explanation,
             "action": c.action, "area": c.area.value}
            for c in FailureClass
        ],
        pk="class",
    )  # fmt: skip


def _to_v2(db: Database) -> None:
    run_script(db, V2_SQL)
    refresh_failure_classes(db)


# MIGRATIONS[i] takes the schema from version i to version i + 1.
MIGRATIONS: tuple[Callable[[Database], None], ...] = (_to_v1, _to_v2)
SCHEMA_VERSION = len(MIGRATIONS)


def read_version(db: Database) -> tuple[int, int]:
    """(application_id, user_version) of an open database."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    return int(app_id), int(version)


def _newer(version: int) -> DbNewerSchema:
    return DbNewerSchema(
        f"The triage log was written by a newer Bridge Lab (schema {version}).",
        details={"schema_version": version, "supported": SCHEMA_VERSION},
    )


def migrate(db: Database, write: Callable[[Callable[[], bool]], bool]) -> list[int]:
    """Bring a triage log (or an empty file) to SCHEMA_VERSION; returns versions applied.

    Each step runs in its own write transaction (`write` runs a function in one `BEGIN
    IMMEDIATE` transaction, see `WriterState.write`) together with its `user_version`
    bump, so a crash mid-migration leaves the file at the last complete version. The
    version is read again inside the transaction: when two processes open the same new
    log at once, the second waits for the first's lock, finds the step done, and skips it.
    The caller has already checked the file is ours and not newer (see `fileguard`).
    """
    _, version = read_version(db)
    if version > SCHEMA_VERSION:  # only a newer writer's un-checkpointed WAL gets here
        raise _newer(version)
    applied: list[int] = []
    for target in range(version + 1, SCHEMA_VERSION + 1):

        def step(target: int = target) -> bool:
            _, current = read_version(db)
            if current > SCHEMA_VERSION:
                raise _newer(current)
            if current >= target:  # another process did this step first
                return False
            MIGRATIONS[target - 1](db)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {target}")
            db.execute(
                "INSERT INTO schema_history (version, applied_at, tool_version) VALUES (?, ?, ?)",
                [target, iso_utc(), __version__],
            )
            return True

        if write(step):
            applied.append(target)
    return applied
