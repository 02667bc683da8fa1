"""The triage log for the whole window: opened on a worker, shared, closed last.

Opening checks the file and may migrate or recover it, so it never runs on the GUI thread.
The store itself is thread-safe (a writer thread, a pool of readers): the update engine
writes to it from its worker while the triage view reads from others. `changed` tells the
triage view that sessions were added (an update ended, another laptop's log was merged).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from bridgelab.data.store import TriageStore
from bridgelab.errors import BridgeLabError
from bridgelab.gui.tasks import TaskRunner


class StoreHolder(QObject):
    opened = Signal(object)  # TriageStore
    failed = Signal(object)  # BridgeLabError: the log cannot be used (updates still run)
    changed = Signal()
    settledChanged = Signal()  # opening ended, either way: updates may start

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.store: TriageStore | None = None
        self.problem: BridgeLabError | None = None
        self.path: Path | None = None

    @property
    def settled(self) -> bool:
        """Opening has ended, one way or the other (an update may start: logged or not)."""
        return self.store is not None or self.problem is not None

    def open(self, path: Path | None) -> None:
        """Open the log at `path` (None: `BRIDGELAB_DB` or the user data folder)."""
        self.runner.submit(
            lambda: TriageStore.open(path),
            self._opened,
            self._failed,
            on_dropped=lambda store: store.close(),  # the window closed while it opened
        )

    def _opened(self, store: TriageStore) -> None:
        self.store, self.path, self.problem = store, store.path, None
        self.opened.emit(store)
        self.settledChanged.emit()

    def _failed(self, error: BridgeLabError) -> None:
        self.problem = error
        self.failed.emit(error)
        self.settledChanged.emit()

    def close(self) -> None:
        """Blocking: commits what is queued and stops the writer thread (shutdown only)."""
        store, self.store = self.store, None
        if store is not None:
            store.close()
