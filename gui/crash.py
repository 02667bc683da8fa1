"""Bugs end in a dialog and a crash file, never in a traceback on a terminal nobody reads.

`CrashHandler.install()` replaces `sys.excepthook` (exceptions escaping a slot or an event
handler on the GUI thread) and `threading.excepthook` (a library thread that died): each
writes the traceback to a file in the crash folder and shows one dialog that names it.
`internal_error()` does the same for a worker task's exception and returns the
`BridgeLabError` the view shows instead.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Signal, Slot

from bridgelab import crash
from bridgelab.errors import BridgeLabError

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def internal_error(error: BaseException, *, folder: Path | None = None) -> BridgeLabError:
    """A bug in a worker task as an error the window can show (with its crash file)."""
    return crash.internal_error(error, where="worker task", folder=folder)


Notifier = Callable[[str, Path], None]


class CrashHandler(QObject):
    """Routes uncaught exceptions from any thread to a crash file and one GUI dialog."""

    # (one-line summary, crash file); emitted from any thread, handled on the GUI thread.
    crashed = Signal(str, object)

    def __init__(self, notify: Notifier, *, folder: Path | None = None) -> None:
        super().__init__()
        self._notify = notify
        self._folder = folder
        self._showing = False
        self._previous_hooks: tuple[object, object] | None = None
        self.reports: list[Path] = []
        self.crashed.connect(self._show)

    def install(self) -> None:
        self._previous_hooks = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.handle
        threading.excepthook = self._handle_thread

    def uninstall(self) -> None:
        if self._previous_hooks is not None:
            sys.excepthook, threading.excepthook = self._previous_hooks  # type: ignore[assignment]
            self._previous_hooks = None

    def handle(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
        where: str = "GUI thread",
    ) -> Path:
        """Record one uncaught exception and ask the GUI thread to tell the user."""
        path = crash.write_crash_report(exc.with_traceback(tb), where=where, folder=self._folder)
        self.reports.append(path)
        self.crashed.emit(f"{exc_type.__name__}: {exc}", path)
        return path

    def _handle_thread(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "?"
        self.handle(args.exc_type, args.exc_value, args.exc_traceback, f"thread {name}")

    @Slot(str, object)
    def _show(self, summary: str, path: object) -> None:
        # One dialog at a time: an error that repeats on every repaint must not open a
        # stack of windows; the files still record every occurrence.
        if self._showing:
            return
        self._showing = True
        try:
            self._notify(summary, Path(str(path)))
        finally:
            self._showing = False
