"""Helpers shared by the GUI tests (imported by conftest and the test modules alike)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytestqt.qtbot import QtBot

from bridgelab.gui.dialogs import Dialogs
from bridgelab.gui.main_window import MainWindow
from bridgelab.updates.policy import UpdatePolicy

FAST_POLICY = UpdatePolicy(healthy_s=0.3)
THREAD_EXIT_S = 5.0
WAIT_MS = 20_000


class ScriptedDialogs(Dialogs):
    """Dialogs that answer from lists instead of opening modal windows."""

    def __init__(self) -> None:
        super().__init__(None)
        self.open_paths: list[Path | None] = []
        self.save_paths: list[Path | None] = []
        self.folders: list[Path | None] = []
        self.texts: list[str | None] = []
        self.confirm_answer = True
        self.warnings: list[str] = []
        self.infos: list[str] = []

    def open_file(self, title: str, start: str, filters: str) -> Path | None:
        return self.open_paths.pop(0) if self.open_paths else None

    def save_file(self, title: str, suggested: str, filters: str) -> Path | None:
        return self.save_paths.pop(0) if self.save_paths else None

    def choose_folder(self, title: str, start: str) -> Path | None:
        return self.folders.pop(0) if self.folders else None

    def confirm(self, title: str, question: str) -> bool:
        return self.confirm_answer

    def inform(self, title: str, text: str) -> None:
        self.infos.append(text)

    def warn(self, title: str, text: str) -> None:
        self.warnings.append(text)

    def ask_text(self, title: str, label: str, current: str = "") -> str | None:
        return self.texts.pop(0) if self.texts else None


WindowFactory = Callable[..., MainWindow]


def scripted(window: MainWindow) -> ScriptedDialogs:
    dialogs = window.dialogs
    assert isinstance(dialogs, ScriptedDialogs)
    return dialogs


def connected(qtbot: QtBot, make_window: WindowFactory, url: str | None) -> MainWindow:
    """A window on `url` once the bridge is identified and the triage log has opened."""
    window = make_window(url)
    with qtbot.waitSignal(window.session.snapshotChanged, timeout=WAIT_MS):
        pass
    qtbot.waitUntil(lambda: window.store.settled, timeout=WAIT_MS)
    return window
