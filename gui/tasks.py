"""Work off the GUI thread: blocking calls run on worker threads, outcomes come back as signals.

Every serial exchange, SQLite query, hash and signature check in the application goes
through one `TaskRunner`. `submit(fn, on_done, on_error)` returns at once; `fn` runs on a
pool thread and its result (or its error) is delivered to `on_done` / `on_error` on the
thread that owns the runner (the GUI thread) through a queued signal, so callbacks may
touch widgets and never need locks.

Two pools: quick reads share a small one, and long jobs (an update session, a campaign,
an emulator serving a pty) get their own, so an hour-long OTA never starves the triage
view's queries. `shutdown()` waits for every task and drops undelivered callbacks: after
it, no thread started by the runner is left.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from bridgelab.errors import BridgeLabError
from bridgelab.gui.crash import internal_error

T = TypeVar("T")
DoneCallback = Callable[[Any], None]
ErrorCallback = Callable[[BridgeLabError], None]

QUICK_THREADS = 4
LONG_THREADS = 12  # one per campaign lane, plus the update and the emulator


class TaskRunner(QObject):
    """Runs blocking callables on worker threads; delivers outcomes on the owner's thread."""

    # The task id whose outcome is ready; emitted on a worker, delivered queued.
    _finished = Signal(int)
    # An error no caller handled (on_error=None): the window shows it.
    unhandledError = Signal(object)
    # The last task in flight was delivered (screenshot mode and tests wait on it).
    idle = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._quick = QThreadPool(self)
        self._quick.setMaxThreadCount(QUICK_THREADS)
        self._long = QThreadPool(self)
        self._long.setMaxThreadCount(LONG_THREADS)
        self._ids = itertools.count(1)
        self._callbacks: dict[int, _Callbacks] = {}
        self._outcomes: dict[int, tuple[bool, object]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._finished.connect(self._deliver)

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def submit(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: ErrorCallback | None = None,
        *,
        long: bool = False,
        on_dropped: Callable[[T], None] | None = None,
    ) -> int:
        """Run `fn()` on a worker; returns the task id. Raises RuntimeError after shutdown.

        A `BridgeLabError` from `fn` goes to `on_error` as it is; any other exception is a
        bug: its traceback is written to a crash file and `on_error` gets an
        `internal-error` naming that file. With `on_error` None, errors go to
        `unhandledError`. `on_dropped(result)` releases what `fn` opened (a port, a log)
        when the result can no longer be delivered because the runner shut down first.
        """
        if self._closed:
            raise RuntimeError("the task runner is shut down")
        task_id = next(self._ids)
        self._callbacks[task_id] = _Callbacks(on_done, on_error, on_dropped)
        pool = self._long if long else self._quick
        pool.start(lambda: self._run(task_id, fn))
        return task_id

    def _run(self, task_id: int, fn: Callable[[], Any]) -> None:
        """On the worker: never lets an exception escape into Qt's thread pool."""
        outcome: tuple[bool, object]
        try:
            outcome = (True, fn())
        except BridgeLabError as error:
            outcome = (False, error)
        except BaseException as error:  # a bug in a worker: record it, tell the user
            outcome = (False, internal_error(error))
        with self._lock:
            self._outcomes[task_id] = outcome
        self._finished.emit(task_id)

    @Slot(int)
    def _deliver(self, task_id: int) -> None:
        if self._closed:
            return  # shutdown() releases what is left
        with self._lock:
            ok, payload = self._outcomes.pop(task_id)
        callbacks = self._callbacks.pop(task_id)
        try:
            if ok:
                if callbacks.on_done is not None:
                    callbacks.on_done(payload)
            elif callbacks.on_error is not None:
                assert isinstance(payload, BridgeLabError)
                callbacks.on_error(payload)
            else:
                self.unhandledError.emit(payload)
        finally:
            if not self._callbacks:
                self.idle.emit()

    def shutdown(self, timeout_s: float = 20.0) -> bool:
        """Wait for every task (callers cancel long jobs first); True when all ended.

        Outcomes not yet delivered are dropped, their `on_dropped` run here: the windows
        they were for are closing. Each pool's threads exit before this returns.
        """
        self._closed = True
        deadline_ms = int(timeout_s * 1000)
        quick_done = self._quick.waitForDone(deadline_ms)
        long_done = self._long.waitForDone(deadline_ms)
        with self._lock:
            leftovers, self._outcomes = self._outcomes, {}
        for task_id, (ok, payload) in leftovers.items():
            callbacks = self._callbacks.get(task_id)
            if ok and callbacks is not None and callbacks.on_dropped is not None:
                callbacks.on_dropped(payload)
        self._callbacks.clear()
        return quick_done and long_done


@dataclass(frozen=True)
class _Callbacks:
    on_done: DoneCallback | None
    on_error: ErrorCallback | None
    on_dropped: DoneCallback | None
