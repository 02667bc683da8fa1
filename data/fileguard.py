"""Checks a file is a healthy triage log *before* anything writes to it.

Opening a file with SQLite in read-write mode can already change it (journal recovery,
WAL mode switch, migrations), so the store first inspects the file without writing: the
header bytes, then a read-only connection for the application id, the schema version and
the schema itself. Only a file that passes is opened for writing. A file that fails raises
a `StoreError` subclass and is left exactly as it was.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from bridgelab.data.errors import DbCorrupt, DbNewerSchema, NotATriageDb, StoreError
from bridgelab.data.schema import APPLICATION_ID, SCHEMA_VERSION

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100
REQUIRED_TABLES = frozenset({"devices", "images", "sessions", "events", "frames", "notes"})
# Looking at a file (its header, ids and schema) is quick; past this it is refused.
INSPECT_TIME_LIMIT_S = 30.0


@dataclass(frozen=True)
class DbFileState:
    """What the inspection found: `version` 0 means a new (absent or empty) log."""

    path: Path
    exists: bool
    version: int
    running_owners: frozenset[str | None] = frozenset()

    @property
    def needs_migration(self) -> bool:
        return self.version < SCHEMA_VERSION


def _wal_pending(path: Path) -> bool:
    wal = path.with_name(path.name + "-wal")
    return wal.exists() and wal.stat().st_size > 0


def read_only_uri(path: Path) -> str:
    """A SQLite URI that reads `path` without writing it or anything beside it.

    Without a pending write-ahead log the file alone is the whole database, so it is
    opened `immutable` (no locks, no `-shm`/`-wal` files created next to it); with one,
    read-only through the WAL, which then already has its companion files.
    """
    uri = path.absolute().as_uri()
    return uri + ("?mode=ro" if _wal_pending(path) else "?mode=ro&immutable=1")


def translate_sqlite_error(path: Path, error: sqlite3.Error) -> StoreError:
    """Map SQLite's complaints about a file to the store's errors (for `raise ... from`)."""
    text = str(error).lower()
    if "file is not a database" in text or "not a database" in text:
        return NotATriageDb(f"{path} is not a SQLite database.", details={"sqlite": str(error)})
    if "malformed" in text or "corrupt" in text or "disk i/o" in text:
        return DbCorrupt(f"The triage log {path} is damaged.", details={"sqlite": str(error)})
    return DbCorrupt(f"The triage log {path} cannot be read.", details={"sqlite": str(error)})


def _check_header(path: Path, header: bytes, file_size: int) -> None:
    if not header.startswith(SQLITE_MAGIC):
        raise NotATriageDb(f"{path} is not a Bridge Lab triage log (not a SQLite file).")
    if len(header) < HEADER_SIZE:
        raise DbCorrupt(f"The triage log {path} is cut short ({file_size} bytes).")
    raw_page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if raw_page_size == 1 else raw_page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise DbCorrupt(f"The triage log {path} has a damaged header.")
    change_counter = header[24:28]
    valid_for = header[92:96]
    page_count = int.from_bytes(header[28:32], "big")
    wal_pending = _wal_pending(path)
    # The page count is trusted only when the header says so, and a pending WAL may hold
    # pages a crashed checkpoint had not written yet.
    trusted = change_counter == valid_for and page_count and not wal_pending
    if trusted and file_size < page_count * page_size:
        raise DbCorrupt(
            f"The triage log {path} is cut short: {file_size} bytes where its header "
            f"promises {page_count * page_size}."
        )


def inspect_db_file(path: Path) -> DbFileState:
    """Check `path` without writing to it; raise if it must not be opened as our log.

    Returns the state for an absent file, an empty (zero-byte or table-less) SQLite file,
    or a triage log of this or an older schema, with the owners of its `running`
    sessions. Raises `NotATriageDb` (a directory, another program's file), `DbCorrupt`
    (damaged header, truncated, unreadable schema) or `DbNewerSchema`. Cheap: the full
    `quick_check` is a separate step, run before the store writes at open.
    """
    if not path.exists():
        return DbFileState(path, exists=False, version=0)
    if not path.is_file():
        raise NotATriageDb(f"{path} is a folder, not a triage log file.")
    with path.open("rb") as handle:
        header = handle.read(HEADER_SIZE)
        # The size is taken after the header, from the same open file: a writer in
        # another process can only grow the file between the two reads, so the size
        # is never older than the page count the header promises (taken before, a
        # log that another process was filling looked cut short).
        file_size = os.fstat(handle.fileno()).st_size
    if file_size == 0:
        return DbFileState(path, exists=True, version=0)
    _check_header(path, header, file_size)
    deadline = time.monotonic() + INSPECT_TIME_LIMIT_S
    try:
        with closing(sqlite3.connect(read_only_uri(path), uri=True)) as conn:
            # A hostile file must not make a look at it run for ever (a recursive view).
            conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
            conn.execute("PRAGMA trusted_schema = OFF")
            # One read transaction for every look below, so that they all see the same
            # snapshot. Each statement on its own would read the file as it is at that
            # moment: when another process creates the same new log at once, its first
            # migration can commit between the application id (0) and the table list
            # (its tables), and a brand-new log looked like another program's file.
            conn.execute("BEGIN")
            db = Database(conn, recursive_triggers=False, execute_plugins=False)
            app_id = int(db.execute("PRAGMA application_id").fetchone()[0])
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            # Only plain tables count: a view named `sessions` would run its own SQL.
            tables = {
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            if not tables and app_id == 0:
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            if app_id == 0 and not tables:
                return DbFileState(path, exists=True, version=0)
            if app_id != APPLICATION_ID:
                raise NotATriageDb(
                    f"{path} is a SQLite database of another program, not a triage log.",
                    details={"application_id": app_id},
                )
            if version > SCHEMA_VERSION:
                raise DbNewerSchema(
                    f"The triage log {path} was written by a newer Bridge Lab (schema "
                    f"{version}; this version reads up to {SCHEMA_VERSION}).",
                    details={"schema_version": version, "supported": SCHEMA_VERSION},
                )
            missing = REQUIRED_TABLES - tables
            if version < 1 or missing:
                raise DbCorrupt(
                    f"The triage log {path} is missing parts of its schema.",
                    details={"missing_tables": sorted(missing)},
                )
            owners = db.execute(
                "SELECT DISTINCT owner_id FROM sessions WHERE final_state = 'running'"
            ).fetchall()
            return DbFileState(path, True, version, frozenset(row[0] for row in owners))
    except sqlite3.Error as error:
        if "interrupted" in str(error).lower():
            raise DbCorrupt(
                f"Reading the schema of {path} took longer than {INSPECT_TIME_LIMIT_S:.0f} s.",
                details={"sqlite": str(error)},
            ) from error
        raise translate_sqlite_error(path, error) from error
    except RecursionError as error:  # a schema nested beyond what the parser takes
        raise DbCorrupt(f"The schema of {path} is nested too deeply to read.") from error
    except UnicodeDecodeError as error:  # SQLite's complaint quoting damaged schema bytes
        raise DbCorrupt(f"The triage log {path} is damaged (its schema is garbled).") from error


def check_integrity(path: Path) -> None:
    """Run SQLite's `quick_check` read-only; raise `DbCorrupt` with what it found.

    It reads the whole file (seconds for millions of events), so the store runs it only
    before it writes at open: a migration, or closing sessions a crash left running.
    """
    try:
        with closing(sqlite3.connect(read_only_uri(path), uri=True)) as conn:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(20)")]
    except sqlite3.Error as error:
        raise translate_sqlite_error(path, error) from error
    except UnicodeDecodeError as error:  # SQLite's complaint quoting damaged bytes
        raise DbCorrupt(f"The triage log {path} is damaged.") from error
    if problems != ["ok"]:
        raise DbCorrupt(
            f"The triage log {path} failed its integrity check.", details={"problems": problems}
        )
