"""GUI test fixtures: offscreen Qt, a window on a temp triage log, and a thread-leak guard.

Every window runs against the real emulated bridge (`emu://` URLs with an id unique to
the test, so no two tests share a bridge), a real SQLite log in `tmp_path`, settings in a
temp INI file (never the user's), and a short health check (`UpdatePolicy(healthy_s=0.3)`).
A test fails if a thread it started is still alive once its window has shut down.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bridgelab.gui.main_window import MainWindow, WindowOptions
from bridgelab.gui.settings import Settings
from tests.gui.helpers import FAST_POLICY, THREAD_EXIT_S, ScriptedDialogs, WindowFactory


def _alive_threads() -> set[threading.Thread]:
    return {
        thread
        for thread in threading.enumerate()
        if thread.is_alive() and not isinstance(thread, threading._DummyThread)
    }


@pytest.fixture
def thread_guard() -> Iterator[None]:
    """Fails the test if a Python thread it started outlives its windows."""
    before = _alive_threads()
    yield
    leaked = []
    for thread in _alive_threads() - before:
        thread.join(THREAD_EXIT_S)
        if thread.is_alive():
            leaked.append(thread.name)
    assert not leaked, f"threads leaked by the test: {sorted(leaked)}"


@pytest.fixture
def demo_url() -> Callable[..., str]:
    """`demo_url("legacy", "baud=115200")`: an emulated bridge only this test uses."""

    def make(profile: str = "demo", options: str = "") -> str:
        query = f"id=test-{uuid.uuid4().hex[:10]}" + (f"&{options}" if options else "")
        return f"emu://{profile}?{query}"

    return make


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.at(tmp_path / "settings.ini")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "triage.db"


@pytest.fixture
def make_window(
    qtbot: object, thread_guard: None, settings: Settings, db_path: Path
) -> Iterator[WindowFactory]:
    """Open a window on `port` (started: log opening, connecting); shut down at the end."""
    windows: list[MainWindow] = []

    def make(port: str | None, *, start: bool = True, db: Path | None = None) -> MainWindow:
        window = MainWindow(
            settings,
            WindowOptions(port=port, db=db or db_path, policy=FAST_POLICY, watch_ports=False),
            dialogs=ScriptedDialogs(),
        )
        windows.append(window)
        window.resize(1366, 768)
        window.show()
        if start:
            window.start()
        return window

    yield make
    for window in windows:
        window.close()
        window.shutdown()
        window.deleteLater()
