"""`TriageStore`: the one object the update engine, the GUI and the CLI use for the log.

Writer side (thread-safe, any thread): `begin_session`, `record_device`, `record_image`,
`update_session`, `enter_stage`, `log_event`, `log_progress`, `log_frame`, `end_session`,
`add_note`, `flush`. Durable calls return only after their transaction is on disk;
`log_progress`, `log_frame` and `log_event(durable=False)` only queue.

Reader side (thread-safe, any thread, concurrent with the writer): `query_sessions`,
`count_sessions`, `get_session`, `session_events`, `session_frames`, `session_notes`,
`short_ids`, `stats`, and `reading()` for a connection of one's own.

Opening checks the file before anything writes to it (see `fileguard`), migrates an older
schema, and marks `interrupted` the sessions a crashed writer left `running`.
"""

from __future__ import annotations

import getpass
import os
import platform
import socket
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from bridgelab import __version__
from bridgelab.data import queries, writes
from bridgelab.data.clock import iso_utc
from bridgelab.data.errors import (
    SessionNotOpen,
    StoreClosed,
    StoreError,
    StoreNotFound,
    StoreReadOnly,
    StoreWriteFailed,
)
from bridgelab.data.failures import Failure, FailureClass, FinalState, Stage
from bridgelab.data.fileguard import check_integrity, inspect_db_file, read_only_uri
from bridgelab.data.ids import uuid7
from bridgelab.data.location import StoreWarning, default_db_path, network_share_warning
from bridgelab.data.merge import MergeLimits, MergeReport, merge_attached, prepared_source
from bridgelab.data.owners import OwnerLock, owner_is_alive, sweep_dead_owners
from bridgelab.data.readers import ReaderPool
from bridgelab.data.records import (
    DeviceInfo,
    EventRecord,
    FrameRecord,
    ImageInfo,
    JsonDict,
    NoteRecord,
    SessionFilter,
    SessionRecord,
    SessionStart,
)
from bridgelab.data.schema import migrate
from bridgelab.data.stats import DEFAULT_GROUPS, StatsReport, compute_stats
from bridgelab.data.writer import EVENT, FRAME, PROGRESS, Writer, WriterState

if TYPE_CHECKING:  # sqlite_utils loads only when a store opens
    from sqlite_utils import Database

FRAME_DIRECTIONS = frozenset({"tx", "rx"})
# How long a write or read waits for a lock another program holds (docs/triage.md).
BUSY_TIMEOUT_S = 10.0


@dataclass
class _LiveSession:
    """What the store remembers of a session it runs: for frame times and defaults."""

    started_monotonic: float
    last_stage: Stage | None = None


@dataclass(frozen=True)
class OpenReport:
    """What opening did: schema versions applied and sessions closed as interrupted."""

    migrated: list[int] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)


def _machine_defaults() -> dict[str, str]:
    try:
        operator = getpass.getuser()
    except (KeyError, OSError):  # no user name in some containers and services
        operator = ""
    return {
        "host": socket.gethostname(),
        "operator": operator,
        "tool_version": __version__,
        "platform": platform.platform(terse=True),
    }


class _NoWriter:
    """The writer of a store opened read-only: every write is refused, with a reason."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.closed = False

    def _refuse(self) -> StoreError:
        if self.closed:
            return StoreClosed("The triage log is closed.")
        return StoreReadOnly(
            f"The triage log {self.path} was opened for reading only (the file or its "
            "folder cannot be written here)."
        )

    def call(self, work: Any, *, transaction: bool = True) -> Any:
        raise self._refuse()

    def put(self, item: tuple[Any, ...]) -> None:
        raise self._refuse()

    def stop(self, final_work: Any = None) -> None:
        self.closed = True


def read_only_warning(path: Path) -> StoreWarning:
    return StoreWarning(
        code="db-read-only",
        message=f"The triage log {path} cannot be written here (a read-only file or folder), "
        "so it was opened for reading only; sessions a crash left running still show "
        "`running`.",
        action="Copy it to a writable folder to add notes or merge into it.",
    )


def writable(path: Path) -> bool:
    """Whether the store could write `path` and the files SQLite keeps beside it."""
    folder = path.parent if str(path.parent) else Path(".")
    return os.access(path, os.W_OK) and os.access(folder, os.W_OK | os.X_OK)


def _close_own_sessions(state: WriterState, owner_id: str) -> None:
    """At close, mark this store's unended sessions; no write lock when there are none."""
    running = state.db.execute(
        "SELECT 1 FROM sessions WHERE final_state = 'running' AND owner_id = ? LIMIT 1",
        [owner_id],
    ).fetchone()
    if running:
        state.write(lambda: writes.interrupt_own_sessions(state, owner_id))


def _open_setup(path: Path, state: WriterState) -> OpenReport:
    migrated = migrate(state.db, state.write)
    # Only take the write lock when there is something to recover: a reader (`log list`)
    # must not wait for a lock another program holds just to find nothing to do.
    running = state.db.execute(
        "SELECT 1 FROM sessions WHERE final_state = 'running' LIMIT 1"
    ).fetchone()
    recovered = state.write(lambda: writes.recover_interrupted(state, path)) if running else []
    sweep_dead_owners(path)
    return OpenReport(migrated, recovered)


class TriageStore(AbstractContextManager["TriageStore"]):
    """The triage log. Create with `TriageStore.open(...)`; use as a context manager."""

    def __init__(
        self,
        path: Path,
        writer: Writer | _NoWriter,
        readers: ReaderPool,
        owner: OwnerLock | None,
        report: OpenReport,
        warnings: list[StoreWarning],
    ) -> None:
        self.path = path
        self.warnings = warnings
        self.open_report = report
        self._writer = writer
        self._readers = readers
        self._owner = owner
        self._live: dict[str, _LiveSession] = {}
        self._defaults = _machine_defaults()

    # -- opening and closing --------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        create: bool = True,
        batch_interval_s: float = 0.2,
        batch_max: int = 2000,
        integrity_check: bool = False,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        read_only: bool = False,
    ) -> TriageStore:
        """Open (or create) the log at `path`; None means `default_db_path()`.

        Raises, leaving the file untouched: `StoreNotFound` (absent and `create=False`),
        `NotATriageDb`, `DbCorrupt`, `DbNewerSchema`; `StoreReadOnly` when the file
        exists but cannot be written; and `StoreWriteFailed` when the folder cannot be
        written. Batched items are committed at least every
        `batch_interval_s` seconds or `batch_max` items. A write (or read) that finds the
        file locked by another program waits for it, retrying, up to `busy_timeout_s` in
        all, then raises `StoreBusy` saying how long it waited.

        `read_only=True` opens an existing log for reading only (for a file or folder
        that cannot be written): nothing is migrated, recovered or locked, every write
        raises `StoreReadOnly`, and `warnings` says so.

        SQLite's `quick_check` (it reads the whole file: about 0.3 s per million events)
        runs before opening writes anything (a migration, closing crashed sessions), or
        always with `integrity_check=True` (the CLI's one-off writes use it).
        """
        resolved = Path(path).expanduser() if path is not None else default_db_path()
        state = inspect_db_file(resolved)
        if not state.exists and (not create or read_only):
            raise StoreNotFound(f"There is no triage log at {resolved}.")
        if read_only:
            readers = ReaderPool(
                resolved, busy_timeout_s=busy_timeout_s, uri=read_only_uri(resolved)
            )
            warnings = [read_only_warning(resolved)]
            return cls(resolved, _NoWriter(resolved), readers, None, OpenReport(), warnings)
        will_recover = any(not owner_is_alive(resolved, o) for o in state.running_owners)
        if (
            state.exists
            and state.version
            and (integrity_check or state.needs_migration or will_recover)
        ):
            check_integrity(resolved)  # before the migration or recovery writes
        if state.exists and not os.access(resolved, os.W_OK):
            # SQLite would open it read-only anyway and fail only at the first write,
            # leaving its -wal and -shm files beside a log the user made read-only.
            raise StoreReadOnly(
                f"The triage log {resolved} is a read-only file, so it cannot be written."
            )
        warnings = [w for w in [network_share_warning(resolved)] if w is not None]
        try:
            resolved.parent.mkdir(parents=True, exist_ok=True)
            owner = OwnerLock(resolved)
        except OSError as error:
            raise StoreWriteFailed(
                f"Cannot write in {resolved.parent}: {error.strerror or error}.",
                action="Choose a writable place for the log with --db or BRIDGELAB_DB.",
            ) from error
        writer = Writer(
            resolved,
            partial(_open_setup, resolved),
            batch_interval_s=batch_interval_s,
            batch_max=batch_max,
            busy_timeout_s=busy_timeout_s,
        )
        try:
            report: OpenReport = writer.start()
        except BaseException:
            owner.release()
            raise
        readers = ReaderPool(resolved, busy_timeout_s=busy_timeout_s)
        return cls(resolved, writer, readers, owner, report, warnings)

    def close(self) -> None:
        """Commit what is queued, close every connection, stop the writer (idempotent).

        Sessions this store began and nobody ended are marked `interrupted`. Raises a
        deferred write error if a batch could not be written.
        """
        if self._writer.closed:
            return
        if self._owner is None:  # read-only: nothing of ours to close
            self._writer.stop()
            self._readers.close()
            return
        owner_id = self._owner.owner_id
        try:
            self._writer.stop(partial(_close_own_sessions, owner_id=owner_id))
        finally:
            self._readers.close()
            self._owner.release()
            self._live.clear()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._writer.closed

    @property
    def read_only(self) -> bool:
        return self._owner is None

    def _owner_id(self) -> str:
        if self._owner is None:
            raise StoreReadOnly(f"The triage log {self.path} was opened for reading only.")
        return self._owner.owner_id

    # -- writer side ------------------------------------------------------------------------

    def begin_session(self, info: SessionStart) -> str:
        """Start a session (state `running`); returns its UUIDv7 id once committed."""
        session_id = uuid7()
        self._writer.call(
            partial(
                writes.begin_session,
                session_id=session_id,
                info=info,
                defaults=self._defaults,
                owner_id=self._owner_id(),
                t=time.time(),
            )
        )
        self._live[session_id] = _LiveSession(time.monotonic())
        return session_id

    def record_device(self, info: DeviceInfo, *, session_id: str | None = None) -> str:
        """Insert or refresh a device (durable); link it to `session_id` when given.

        Returns the EUI-64 as stored. Fields the new report leaves None keep their values.
        """

        def work(state: WriterState) -> str:
            eui64 = writes.record_device(state, info, iso_utc())
            if session_id is not None:
                writes.update_session(state, session_id, {"device_eui64": eui64})
            return eui64

        return self._writer.call(work)

    def record_image(self, info: ImageInfo, *, session_id: str | None = None) -> str:
        """Insert or complete an image's metadata (durable); link it when asked."""

        def work(state: WriterState) -> str:
            sha256 = writes.record_image(state, info, iso_utc())
            if session_id is not None:
                fields: dict[str, Any] = {"image_sha256": sha256, "image_size": info.size}
                writes.update_session(state, session_id, fields)
            return sha256

        return self._writer.call(work)

    def update_session(self, session_id: str, **fields: Any) -> None:
        """Set session columns (durable). Allowed: `writes.UPDATABLE_FIELDS`.

        `details` (a dict) is merged into the stored details. Raises TypeError for an
        unknown field, `SessionNotFound` for an unknown session.
        """
        unknown = set(fields) - writes.UPDATABLE_FIELDS
        if unknown:
            raise TypeError(f"update_session() cannot set {', '.join(sorted(unknown))}")
        if fields:
            self._writer.call(partial(writes.update_session, session_id=session_id, fields=fields))

    def enter_stage(self, session_id: str, stage: Stage, data: JsonDict | None = None) -> None:
        """Record that the session entered `stage` (durable): a `stage` event + last_stage."""
        stage = Stage(stage)
        story: JsonDict = {"stage": stage.value, **(data or {})}
        t = time.time()

        def work(state: WriterState) -> None:
            state.insert_event(session_id, "stage", story, t)
            writes.update_session(state, session_id, {"last_stage": stage.value})

        self._writer.call(work)
        live = self._live.get(session_id)
        if live is not None:
            live.last_stage = stage

    def log_event(
        self, session_id: str, kind: str, data: JsonDict | None = None, *, durable: bool = True
    ) -> None:
        """Append an event to the session's story.

        Durable (the default: device commands, state changes): committed before return.
        Not durable: queued with the batch, the caller never waits on the disk.
        """
        if not kind:
            raise ValueError("an event needs a kind")
        t = time.time()
        if durable:
            self._writer.call(lambda state: state.insert_event(session_id, kind, data, t))
        else:
            self._require_live(session_id)
            self._writer.put((EVENT, session_id, t, kind, data))

    def log_progress(self, session_id: str, offset: int, total: int, **extra: Any) -> None:
        """Note transfer progress (a `progress` event): only a queue put for the caller."""
        if session_id not in self._live:
            self._require_live(session_id)
        self._writer.put((PROGRESS, session_id, time.time(), offset, total, extra))

    def log_frame(
        self, session_id: str, direction: str, data: bytes, t: float | None = None
    ) -> None:
        """Add a frame to the raw trace (batched). `direction` is "tx" or "rx"; `t` is a
        `time.monotonic()` reading (default now), stored as seconds since the session began.
        """
        live = self._live.get(session_id) or self._require_live(session_id)
        if direction not in FRAME_DIRECTIONS:
            raise ValueError(f"frame direction must be 'tx' or 'rx', not {direction!r}")
        moment = time.monotonic() if t is None else t
        self._writer.put(
            (FRAME, session_id, moment - live.started_monotonic, direction, bytes(data))
        )

    def end_session(
        self,
        session_id: str,
        final_state: FinalState | str,
        failure: Failure | None = None,
        **fields: Any,
    ) -> None:
        """Close the session (durable) with its final state and, if it failed, why.

        `failed` needs a `Failure`; `success` must not have one; `cancelled` and
        `interrupted` get one naming the last stage when none is given. Other columns may
        be set as with `update_session` (e.g. `version_after`, `throughput_bps`); the
        throughput is computed from the progress reports when not given.
        """
        state = FinalState(final_state)
        unknown = set(fields) - writes.ENDING_FIELDS
        if unknown:
            raise TypeError(f"end_session() cannot set {', '.join(sorted(unknown))}")
        failure = self._checked_failure(session_id, state, failure)
        self._writer.call(
            partial(
                writes.end_session,
                session_id=session_id,
                final_state=state,
                failure=failure,
                fields=fields,
                t=time.time(),
            )
        )
        self._live.pop(session_id, None)

    def _checked_failure(
        self, session_id: str, state: FinalState, failure: Failure | None
    ) -> Failure | None:
        if state is FinalState.RUNNING:
            raise ValueError("a session cannot end in the state 'running'")
        if state is FinalState.SUCCESS and failure is not None:
            raise ValueError("a successful session has no failure")
        if state is FinalState.FAILED and failure is None:
            raise ValueError("a failed session needs a Failure (stage, class, code, message)")
        if failure is None and state in (FinalState.CANCELLED, FinalState.INTERRUPTED):
            live = self._live.get(session_id)
            stage = (live.last_stage if live else None) or Stage.IDENTIFY
            cls = (
                FailureClass.CANCELLED
                if state is FinalState.CANCELLED
                else FailureClass.INTERRUPTED
            )
            failure = Failure(stage, cls)
        return failure

    def add_note(self, session: str, text: str, *, author: str | None = None) -> str:
        """Attach a free-text note to a session (id or unique prefix); returns the note id."""
        if not text.strip():
            raise ValueError("a note needs some text")
        session_id = self.resolve_session_id(session)
        note_id = uuid7()
        who = author if author is not None else self._defaults["operator"] or None
        self._writer.call(
            partial(writes.add_note, note_id=note_id, session_id=session_id, text=text, author=who)
        )
        return note_id

    def flush(self) -> None:
        """Wait until everything queued so far is committed; raises a deferred error."""
        self._writer.call(lambda state: None)

    def _require_live(self, session_id: str) -> _LiveSession:
        live = self._live.get(session_id)
        if live is None:
            if self._writer.closed:
                raise StoreClosed("The triage log is closed.")
            raise SessionNotOpen(f"Session {session_id} is not running in this triage log.")
        return live

    # -- reader side ------------------------------------------------------------------------

    def reading(self) -> AbstractContextManager[Database]:
        """A reader connection of one's own for a `with` block (exports, custom queries)."""
        return self._readers.connection()

    def query_sessions(
        self,
        filters: SessionFilter | None = None,
        limit: int | None = 100,
        offset: int = 0,
        order: str = "newest",
    ) -> list[SessionRecord]:
        with self.reading() as db:
            return queries.query_sessions(db, filters, limit, offset, order)

    @contextmanager
    def iter_sessions(
        self, filters: SessionFilter | None = None, limit: int | None = None
    ) -> Iterator[Iterator[SessionRecord]]:
        """Stream sessions (newest first) inside a `with` block, for large exports."""
        with self.reading() as db:
            yield queries.iter_sessions(db, filters, limit)

    def count_sessions(self, filters: SessionFilter | None = None) -> int:
        with self.reading() as db:
            return queries.count_sessions(db, filters)

    def resolve_session_id(self, id_or_prefix: str) -> str:
        with self.reading() as db:
            return queries.resolve_session_id(db, id_or_prefix)

    def get_session(self, id_or_prefix: str) -> SessionRecord:
        """The session with this id or unique id prefix (hyphens optional).

        Raises `SessionNotFound` or `SessionAmbiguous`.
        """
        with self.reading() as db:
            return queries.get_session(db, id_or_prefix)

    def session_events(
        self,
        session_id: str,
        *,
        after_seq: int | None = None,
        kinds: list[str] | None = None,
        limit: int | None = None,
    ) -> list[EventRecord]:
        with self.reading() as db:
            return queries.session_events(
                db, session_id, after_seq=after_seq, kinds=kinds, limit=limit
            )

    def session_frames(self, session_id: str) -> list[FrameRecord]:
        with self.reading() as db:
            return queries.session_frames(db, session_id)

    def session_notes(self, session_id: str) -> list[NoteRecord]:
        with self.reading() as db:
            return queries.session_notes(db, session_id)

    def get_device(self, eui64: str) -> dict[str, Any] | None:
        with self.reading() as db:
            return queries.get_device(db, eui64)

    def get_image(self, sha256: str) -> dict[str, Any] | None:
        with self.reading() as db:
            return queries.get_image(db, sha256)

    def short_ids(self, ids: list[str]) -> dict[str, str]:
        """The shortest unique prefix (8 characters or more) of each id, for display."""
        with self.reading() as db:
            return queries.short_ids(db, ids)

    def merge(self, source: str | Path, *, limits: MergeLimits | None = None) -> MergeReport:
        """Merge another triage log into this one (idempotent; the source is not written).

        The source is checked as hostile input first (`merge_source`): bad sessions are
        refused (listed in the report), the rest merge. Raises `StoreNotFound`,
        `MergeSameFile`, the open checks' errors for the source, and `MergeSourceRefused`,
        `MergeTooLarge`, `MergeTimedOut` (nothing merged).
        """
        path = Path(source).expanduser()
        with prepared_source(path, self.path, limits) as staged:
            work = partial(
                merge_attached, source=staged.path, label=str(path), refusals=staged.refusals
            )
            return self._writer.call(work, transaction=False)

    def stats(
        self, filters: SessionFilter | None = None, by: tuple[str, ...] = DEFAULT_GROUPS
    ) -> StatsReport:
        """Counts and failure rates of the filtered sessions, grouped each way in `by`."""
        with self.reading() as db:
            return compute_stats(db, filters, by)
