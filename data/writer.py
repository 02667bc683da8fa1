"""The one thread that writes the triage log, and the queue every caller talks to it by.

sqlite3 connections must not be shared across threads, and a transfer must never wait on
the disk for a progress line. So one writer thread owns the only write connection;
callers on any thread put small tuples on a `SimpleQueue`:

* durable work (`call`): the writer first commits whatever is batched (order is kept),
  then runs the work in its own transaction and commits it (`synchronous=FULL`: on disk
  before the caller's wait returns). Stage changes, device commands, session start/end.
* batched items (events, progress, frames): the caller only pays for the `put`; the
  writer commits them together every `batch_interval_s` or `batch_max` items, whichever
  comes first, or earlier when durable work or `flush()` arrives.

A batch that fails (disk full, I/O error) is kept as a deferred error and raised to the
next durable caller, so logging errors are never silent and never stop a transfer early.

Other programs share the file (a CLI `log note` while the GUI updates, a second update, a
`sqlite3` shell). Every write transaction starts with `BEGIN IMMEDIATE`, so it takes the
write lock before it reads (a deferred transaction that read first fails at once with
"database is locked" when another writer committed meanwhile, whatever the busy timeout),
and a transaction that still meets a busy lock is rolled back and run again, with a short
back-off, until `busy_timeout_s` in all has passed: then `StoreBusy` says how long it
waited. Nothing queued is dropped on the way.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

from sqlite_utils import Database

from bridgelab.data.clock import iso_utc
from bridgelab.data.errors import StoreBusy, StoreClosed, StoreError, StoreWriteFailed
from bridgelab.data.fileguard import translate_sqlite_error
from bridgelab.data.records import JsonDict, json_text

T = TypeVar("T")

# Queue item kinds: batched ones first, then the two that act at once.
EVENT, PROGRESS, FRAME, CALL, STOP = range(5)

INSERT_EVENT = "INSERT INTO events (session_id, seq, at, kind, data) VALUES (?, ?, ?, ?, ?)"
INSERT_FRAME = "INSERT INTO frames (session_id, seq, t_s, direction, data) VALUES (?, ?, ?, ?, ?)"


def is_busy(error: BaseException) -> bool:
    """SQLite's "database is locked" / "database table is locked" / busy answers."""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    text = str(error).lower()
    return "locked" in text or "busy" in text


def busy_error(path: Path, waited_s: float) -> StoreBusy:
    return StoreBusy(
        f"The triage log {path} is locked by another program; Bridge Lab waited "
        f"{waited_s:.1f} s for it.",
        details={"waited_s": round(waited_s, 3)},
    )


def store_error_from(
    path: Path, error: BaseException, waited_s: float | None = None
) -> BaseException:
    """A SQLite failure during a write as the store error the caller should see."""
    if isinstance(error, StoreError) or not isinstance(error, sqlite3.Error):
        return error
    text = str(error).lower()
    if is_busy(error):
        return busy_error(path, waited_s or 0.0)
    if "malformed" in text or "not a database" in text:
        return translate_sqlite_error(path, error)
    if "foreign key" in text:
        return StoreWriteFailed(
            f"Could not write to the triage log {path}: the record names a session, device "
            "or image the log does not hold.",
            action="Record the device or image first, and log only for sessions begun here.",
            details={"sqlite": str(error)},
        )
    return StoreWriteFailed(
        f"Could not write to the triage log {path}: {error}.", details={"sqlite": str(error)}
    )


class _Transfer:
    """First and last progress of one session: enough for its throughput."""

    __slots__ = ("first_offset", "first_t", "last_offset", "last_t", "total")

    def __init__(self, t: float, offset: int, total: int) -> None:
        self.first_t = self.last_t = t
        self.first_offset = self.last_offset = offset
        self.total = total

    def bytes_per_second(self) -> float | None:
        elapsed = self.last_t - self.first_t
        moved = self.last_offset - self.first_offset
        return moved / elapsed if elapsed > 0 and moved > 0 else None


@contextmanager
def immediate(db: Database) -> Iterator[None]:
    """One write transaction that holds the write lock from its first statement.

    Nested `db.atomic()` blocks inside it become savepoints.
    """
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.conn.in_transaction:
            db.conn.rollback()
        raise
    try:
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.rollback()
        raise


class LockWait:
    """Runs a write transaction again while the file is busy, for `bound_s` in all."""

    _FIRST_PAUSE_S = 0.005
    _LONGEST_PAUSE_S = 0.25

    def __init__(self, path: Path, db: Database, bound_s: float) -> None:
        self.path = path
        self.db = db
        self.bound_s = bound_s

    def _set_timeout(self, seconds: float) -> None:
        self.db.conn.execute(f"PRAGMA busy_timeout = {max(1, int(seconds * 1000))}")

    def run(self, attempt: Callable[[], T], undo: Callable[[], None] | None = None) -> T:
        """`attempt()` (a whole transaction) until it is not busy or the bound is spent.

        `undo` puts back in-memory state an attempt changed before it was rolled back.
        Raises `StoreBusy` with the time waited.
        """
        started = time.monotonic()
        pause = self._FIRST_PAUSE_S
        while True:
            remaining = self.bound_s - (time.monotonic() - started)
            self._set_timeout(max(remaining, 0.001))
            try:
                return attempt()
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    raise
                if undo is not None:
                    undo()
                waited = time.monotonic() - started
                if waited + pause >= self.bound_s:
                    raise busy_error(self.path, waited) from error
                time.sleep(pause)
                pause = min(pause * 2, self._LONGEST_PAUSE_S)


class WriterState:
    """What durable work runs against, on the writer thread only."""

    def __init__(self, path: Path, db: Database, busy_timeout_s: float = 10.0) -> None:
        self.path = path
        self.db = db
        self.locks = LockWait(path, db, busy_timeout_s)
        # table -> session id -> the next sequence number to hand out
        self._next_seq: dict[str, dict[str, int]] = {"events": {}, "frames": {}}
        self.transfers: dict[str, _Transfer] = {}

    def _next(self, table: str, session_id: str) -> int:
        counters = self._next_seq[table]
        seq = counters.get(session_id)
        if seq is None:  # first use since this store opened: carry on from the table
            row = self.db.execute(
                f"SELECT coalesce(max(seq) + 1, 0) FROM {table} WHERE session_id = ?",
                [session_id],
            ).fetchone()
            seq = int(row[0])
        counters[session_id] = seq + 1
        return seq

    def next_event_seq(self, session_id: str) -> int:
        return self._next("events", session_id)

    def next_frame_seq(self, session_id: str) -> int:
        return self._next("frames", session_id)

    def insert_event(self, session_id: str, kind: str, data: JsonDict | None, t: float) -> int:
        seq = self.next_event_seq(session_id)
        self.db.conn.execute(INSERT_EVENT, (session_id, seq, iso_utc(t), kind, json_text(data)))
        return seq

    def write(self, work: Callable[[], T]) -> T:
        """`work()` in one `BEGIN IMMEDIATE` transaction, run again while the file is busy.

        Sequence counters handed out by a rolled-back attempt are taken back.
        """
        saved = {table: dict(counters) for table, counters in self._next_seq.items()}

        def undo() -> None:
            self._next_seq = {table: dict(counters) for table, counters in saved.items()}

        def attempt() -> T:
            with immediate(self.db):
                return work()

        return self.locks.run(attempt, undo)

    def forget(self, session_id: str) -> None:
        """Drop the counters of an ended session (they reload from the table if needed)."""
        for counters in self._next_seq.values():
            counters.pop(session_id, None)
        self.transfers.pop(session_id, None)

    def commit_batch(self, items: list[tuple[Any, ...]]) -> None:
        self.write(lambda: self._insert_batch(items))

    def _insert_batch(self, items: list[tuple[Any, ...]]) -> None:
        events: list[tuple[Any, ...]] = []
        frames: list[tuple[Any, ...]] = []
        touched: dict[str, _Transfer] = {}
        for item in items:
            kind = item[0]
            if kind == PROGRESS:
                _, session_id, t, offset, total, extra = item
                if extra or type(offset) is not int or type(total) is not int:
                    text = json_text({"offset": offset, "total": total, **extra})
                else:  # the common case, without json.dumps: most of a progress row's cost
                    text = f'{{"offset":{offset},"total":{total}}}'
                seq = self.next_event_seq(session_id)
                events.append((session_id, seq, iso_utc(t), "progress", text))
                transfer = self.transfers.get(session_id)
                if transfer is None:
                    transfer = self.transfers[session_id] = _Transfer(t, offset, total)
                transfer.last_t, transfer.last_offset, transfer.total = t, offset, total
                touched[session_id] = transfer
            elif kind == EVENT:
                _, session_id, t, event_kind, data = item
                seq = self.next_event_seq(session_id)
                events.append((session_id, seq, iso_utc(t), event_kind, json_text(data)))
            else:
                _, session_id, t_s, direction, payload = item
                frames.append(
                    (session_id, self.next_frame_seq(session_id), t_s, direction, payload)
                )
        if events:
            self.db.conn.executemany(INSERT_EVENT, events)
        if frames:
            self.db.conn.executemany(INSERT_FRAME, frames)
        for session_id, transfer in touched.items():
            self.db.conn.execute(
                "UPDATE sessions SET last_offset = ?, image_size = coalesce(image_size, ?) "
                "WHERE id = ?",
                (transfer.last_offset, transfer.total or None, session_id),
            )


class Writer:
    """The writer thread. `start()` opens the connection and runs `setup` on it first.

    `setup(state)` (migration, crash recovery) runs on the writer thread before anything
    else; its result is what `start()` returns, its exception is what `start()` raises.
    """

    def __init__(
        self,
        path: Path,
        setup: Callable[[WriterState], T],
        *,
        batch_interval_s: float = 0.2,
        batch_max: int = 2000,
        busy_timeout_s: float = 10.0,
    ) -> None:
        self.path = path
        self._setup: Callable[[WriterState], Any] = setup
        self._batch_interval_s = batch_interval_s
        self._batch_max = batch_max
        self._busy_timeout_s = busy_timeout_s
        self._queue: SimpleQueue[tuple[Any, ...]] = SimpleQueue()
        self._ready: Future[Any] = Future()
        self._closed = False
        self._close_lock = threading.Lock()
        self._deferred_error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name="bridgelab-triage-writer", daemon=True
        )

    # -- caller side -------------------------------------------------------------------

    def start(self) -> Any:
        self._thread.start()
        try:
            return self._ready.result()
        except BaseException:
            self._thread.join()
            self._closed = True
            raise

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: tuple[Any, ...]) -> None:
        """Queue a batched item (EVENT, PROGRESS or FRAME tuple); never waits on disk."""
        if self._closed:
            raise StoreClosed("The triage log is closed.")
        self._queue.put(item)

    def call(self, work: Callable[[WriterState], T], *, transaction: bool = True) -> T:
        """Run `work` in its own committed transaction on the writer thread; wait for it.

        Everything queued before is committed first. Raises what `work` raised (SQLite
        errors as `StoreError`s), or an earlier batch's deferred error. With
        `transaction=False` the work manages its own transactions (ATTACH needs that).
        """
        if self._closed:
            raise StoreClosed("The triage log is closed.")
        future: Future[T] = Future()
        self._queue.put((CALL, work, future, transaction))
        result = future.result()
        self.raise_deferred()
        return result

    def raise_deferred(self) -> None:
        error, self._deferred_error = self._deferred_error, None
        if error is not None:
            raise error

    def stop(self, final_work: Callable[[WriterState], Any] | None = None) -> None:
        """Commit what is queued, run `final_work`, close the connection, join the thread.

        `final_work` manages its own transaction (`state.write`), so that it can skip the
        write lock when there is nothing to write.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._queue.put((STOP, final_work))
        self._thread.join()
        self.raise_deferred()

    # -- writer thread -------------------------------------------------------------------

    def _connect(self) -> Database:
        # A URI connection, so that `ATTACH 'file:...?mode=ro'` (merge) is understood.
        conn = sqlite3.connect(
            self.path.absolute().as_uri(), uri=True, timeout=self._busy_timeout_s
        )
        db = Database(conn, execute_plugins=False)
        try:
            # Switching to WAL needs a moment of exclusive access: wait for it like a write.
            LockWait(self.path, db, self._busy_timeout_s).run(db.enable_wal)
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            db.close()
            raise
        return db

    def _run(self) -> None:
        started = time.monotonic()
        try:
            db = self._connect()
        except BaseException as error:
            waited = time.monotonic() - started
            self._ready.set_exception(store_error_from(self.path, error, waited))
            return
        state = WriterState(self.path, db, self._busy_timeout_s)
        try:
            self._ready.set_result(self._setup(state))
        except BaseException as error:
            db.close()
            self._ready.set_exception(store_error_from(self.path, error))
            return
        try:
            self._loop(state)
        finally:
            db.close()

    def _commit(self, state: WriterState, pending: list[tuple[Any, ...]]) -> None:
        if not pending:
            return
        try:
            state.commit_batch(pending)
        except BaseException as error:
            if self._deferred_error is None:
                self._deferred_error = store_error_from(self.path, error)
        pending.clear()

    def _loop(self, state: WriterState) -> None:
        pending: list[tuple[Any, ...]] = []
        deadline = 0.0
        get = self._queue.get
        while True:
            try:
                # Block for good when idle; wake at the batch deadline otherwise.
                timeout = max(0.0, deadline - time.monotonic()) if pending else None
                item = get(timeout=timeout)
            except Empty:
                self._commit(state, pending)
                continue
            kind = item[0]
            if kind < CALL:
                if not pending:
                    deadline = time.monotonic() + self._batch_interval_s
                pending.append(item)
                if len(pending) >= self._batch_max:
                    self._commit(state, pending)
                continue
            self._commit(state, pending)
            if kind == CALL:
                self._run_call(state, item[1], item[2], item[3])
                continue
            final_work = item[1]
            if final_work is not None:
                try:
                    self._run_work(state, final_work, transaction=False)
                except BaseException as error:
                    self._deferred_error = self._deferred_error or store_error_from(
                        self.path, error
                    )
            return

    def _run_work(
        self, state: WriterState, work: Callable[[WriterState], Any], transaction: bool = True
    ) -> Any:
        if not transaction:
            return work(state)
        return state.write(lambda: work(state))

    def _run_call(
        self,
        state: WriterState,
        work: Callable[[WriterState], Any],
        future: Future[Any],
        transaction: bool,
    ) -> None:
        try:
            result = self._run_work(state, work, transaction)
        except BaseException as error:
            future.set_exception(store_error_from(self.path, error))
        else:
            future.set_result(result)
