"""Which writers of a log are still alive: one locked file per open store.

Every open `TriageStore` holds an exclusive OS lock on `<db>-owners/<owner_id>.lock` and
stamps its sessions with that `owner_id`. The kernel drops the lock when the process
dies, however it dies (SIGKILL, power loss), so a session left `running` whose owner's
lock can be taken belongs to a dead writer and is safe to mark `interrupted`, while the
sessions of another live program (the GUI while a CLI command opens the same log) are
left alone. Sessions merged from another laptop have no lock file here: their writer is
not running on this machine, so they count as dead too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from bridgelab.data.ids import uuid7

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(handle: IO[bytes]) -> bool:
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(handle: IO[bytes]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _same_file(path: Path, handle: IO[bytes]) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
    except OSError:
        return False


def owners_dir(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-owners")


def _lock_path(db_path: Path, owner_id: str) -> Path:
    return owners_dir(db_path) / f"{owner_id}.lock"


class OwnerLock:
    """The lock that says "the store `owner_id` is open on this log", held until release.

    Raises OSError when the folder beside the log cannot be written.
    """

    _ATTEMPTS = 5

    def __init__(self, db_path: Path) -> None:
        owners_dir(db_path).mkdir(parents=True, exist_ok=True)
        for _ in range(self._ATTEMPTS):
            owner_id = uuid7()
            path = _lock_path(db_path, owner_id)
            handle = path.open("a+b")
            # A checker may open the new file before we lock it, judge it dead and remove
            # it: then our lock sits on an unlinked file, so check the name still points
            # at our file, and start again with a new id if not.
            if _try_lock(handle) and _same_file(path, handle):
                self.owner_id = owner_id
                self._path = path
                self._handle: IO[bytes] | None = handle
                return
            handle.close()
        raise OSError(f"could not take an owner lock in {owners_dir(db_path)}")

    def release(self) -> None:
        """Drop the lock and remove its file (idempotent)."""
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        try:
            self._path.unlink(missing_ok=True)
        finally:
            _unlock(handle)
            handle.close()


def owner_is_alive(db_path: Path, owner_id: str | None) -> bool:
    """True while the store that stamped `owner_id` is open in some process on this host.

    A dead owner's leftover lock file is removed on the way.
    """
    if not owner_id:
        return False
    path = _lock_path(db_path, owner_id)
    try:
        handle = path.open("r+b")
    except OSError:
        return False
    with handle:
        if not _try_lock(handle):
            return True
        try:
            path.unlink(missing_ok=True)
        finally:
            _unlock(handle)
    return False


def sweep_dead_owners(db_path: Path) -> int:
    """Remove the lock files of owners that died with no session left running."""
    folder = owners_dir(db_path)
    if not folder.is_dir():
        return 0
    removed = 0
    for entry in folder.glob("*.lock"):
        if not owner_is_alive(db_path, entry.stem):
            removed += 1
    return removed
