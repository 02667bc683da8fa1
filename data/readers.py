"""Reader connections: any thread may read while the writer writes.

WAL mode lets readers see the last committed state without blocking the writer (or being
blocked by it). A connection must only be used by one thread at a time, so readers borrow
one from this pool for the length of a query and give it back; a thread that reads while
another thread reads gets a connection of its own. Reader connections are `query_only`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from bridgelab.data.errors import StoreClosed
from bridgelab.data.fileguard import translate_sqlite_error
from bridgelab.data.writer import busy_error, is_busy


class ReaderPool:
    """Connections for reading `path`, created on demand and all closed by `close()`."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 10.0, uri: str | None = None) -> None:
        self._path = path
        self._uri = uri  # a read-only store reads through a `mode=ro` URI
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._idle: list[Database] = []
        self._closed = False

    def _new(self) -> Database:
        # check_same_thread=False: the pool hands a connection to one thread at a time.
        conn = sqlite3.connect(
            self._uri or str(self._path),
            timeout=self._busy_timeout_s,
            check_same_thread=False,
            uri=self._uri is not None,
        )
        # A log merged by an older Bridge Lab may hold text that is not UTF-8: show it
        # with replacement characters rather than fail the whole listing.
        conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
        db = Database(conn, recursive_triggers=False, execute_plugins=False)
        db.execute("PRAGMA query_only = ON")
        return db

    @contextmanager
    def connection(self) -> Iterator[Database]:
        """Borrow a reader for a `with` block; SQLite damage surfaces as `DbCorrupt`."""
        with self._lock:
            if self._closed:
                raise StoreClosed("The triage log is closed.")
            db = self._idle.pop() if self._idle else None
        if db is None:
            db = self._new()
        started = time.monotonic()
        try:
            yield db
        except sqlite3.DatabaseError as error:
            if "malformed" in str(error) or "not a database" in str(error):
                raise translate_sqlite_error(self._path, error) from error
            if is_busy(error):  # another program holds the file locked (exclusive mode)
                raise busy_error(self._path, time.monotonic() - started) from error
            raise
        finally:
            self._give_back(db)

    def _give_back(self, db: Database) -> None:
        if db.conn.in_transaction:
            db.conn.rollback()
        with self._lock:
            if not self._closed:
                self._idle.append(db)
                return
        db.close()

    def close(self) -> None:
        """Close every idle connection now; borrowed ones close when given back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()
