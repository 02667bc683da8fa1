"""The triage store's exception tree: every failure of `bridgelab.data` is a `StoreError`.

Codes are stable (scripts and the GUI match on them); messages say what happened to the
log file in words a field engineer understands, actions say what to do about it.
"""

from __future__ import annotations

from bridgelab.errors import BridgeLabError


class StoreError(BridgeLabError):
    """Base of the triage store's errors."""

    code = "store-error"
    default_action = "Check the triage log file named in the message."


class StoreNotFound(StoreError):
    """A read-only command was pointed at a file that does not exist."""

    code = "db-not-found"
    default_action = (
        "Check the path given with --db or BRIDGELAB_DB; the default log is created by the "
        "first update."
    )


class NotATriageDb(StoreError):
    """The file exists but is not a Bridge Lab triage log (another program's file)."""

    code = "not-a-triage-db"
    default_action = (
        "Give the path of a Bridge Lab triage log (triage.db); this file was left as it is."
    )


class DbCorrupt(StoreError):
    """The file is a damaged triage log (or a damaged SQLite file)."""

    code = "db-corrupt"
    default_action = (
        "Keep a copy of the file for the lab, then start a new log with --db NEW_FILE; "
        "this file was left as it is."
    )


class DbNewerSchema(StoreError):
    """The log was written by a newer Bridge Lab whose schema this version cannot read."""

    code = "db-newer-schema"
    default_action = "Update Bridge Lab on this machine; the file was left as it is."


class StoreBusy(StoreError):
    """Another program held the log locked for longer than the store waits."""

    code = "db-busy"
    default_action = "Close other programs using the triage log, then try again."


class StoreWriteFailed(StoreError):
    """SQLite refused a write (disk full, read-only folder, I/O error, ...)."""

    code = "store-write-failed"
    default_action = (
        "Check that the disk has space and the folder is writable; the update itself was "
        "not affected by this logging error."
    )


class StoreReadOnly(StoreError):
    """A write to a log that was opened for reading only (a read-only file or folder)."""

    code = "db-read-only"
    default_action = (
        "Copy the log to a folder you can write to (or fix its permissions), then try again."
    )


class StoreClosed(StoreError):
    """The store was used after `close()` (or its writer stopped on an earlier error)."""

    code = "store-closed"
    default_action = "Open the triage log again."


class SessionNotFound(StoreError):
    """No session matches the id (or id prefix) given."""

    code = "session-not-found"
    default_action = "List sessions with `bridgelab log list` and copy an id from there."


class SessionAmbiguous(StoreError):
    """An id prefix matches more than one session."""

    code = "session-ambiguous"
    default_action = "Give more characters of the session id."


class SessionAlreadyEnded(StoreError):
    """`end_session` for a session that has already ended (its record stays as it was)."""

    code = "session-already-ended"
    default_action = "End each session once; add what was learnt later as a note."


class SessionNotOpen(StoreError):
    """Progress or trace logged for a session this store is not running."""

    code = "session-not-open"
    default_action = "Begin the session with begin_session() before logging its progress."


class BadFilter(StoreError):
    """A filter value (time, state, failure class, ...) cannot be understood."""

    code = "bad-filter"
    default_action = "See `bridgelab log list --help` for the accepted values."


class MergeSameFile(StoreError):
    """A merge was asked to read the log it writes to."""

    code = "merge-same-file"
    default_action = "Merge the other laptops' files into this one, not the file into itself."
