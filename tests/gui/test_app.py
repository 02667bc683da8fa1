"""Entry points and start-up: `bridgelab` opens the window, `--screenshot` renders a view,
no display is an error with a next step, crashes end in a dialog and a file, About lists
the versions, and the CLI without the GUI never imports Qt."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from bridgelab.gui.about import versions
from bridgelab.gui.app import check_can_open_window
from bridgelab.gui.crash import CrashHandler, internal_error
from tests.conftest import PROJECT_ROOT

RUN_TIMEOUT_S = 60


def gui_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment whose settings and triage log live in `tmp_path`."""
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        BRIDGELAB_DB=str(tmp_path / "triage.db"),
        BRIDGELAB_SETTINGS=str(tmp_path / "settings.ini"),
    )
    env.update(extra)
    return env


def bridgelab(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridgelab", *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_no_command_opens_the_window_on_the_demo_bridge(tmp_path: Path) -> None:
    env = gui_env(tmp_path, BRIDGELAB_GUI_EXIT_AFTER_EXPOSE="1", BRIDGELAB_GUI_STATS="1")
    done = bridgelab(env=env)
    assert done.returncode == 0, done.stderr
    assert "first-window-exposed-s=" in done.stdout
    assert '"peak_rss_mib"' in done.stdout
    assert "Traceback" not in done.stderr
    assert "last_view=device" in (tmp_path / "settings.ini").read_text(), "settings persist"


def test_screenshot_of_the_device_view(tmp_path: Path) -> None:
    out = tmp_path / "shots" / "device.png"
    done = bridgelab("gui", "--screenshot", str(out), "--view", "device", env=gui_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert png_size(out) == (1366, 768)
    assert not (tmp_path / "settings.ini").exists(), "screenshots leave the settings alone"


def test_screenshot_reports_a_view_without_data(tmp_path: Path) -> None:
    out = tmp_path / "device.png"
    done = bridgelab(
        "gui", "--screenshot", str(out), "--port", "/dev/ttyBRIDGELAB-NONE", env=gui_env(tmp_path)
    )
    assert done.returncode == 2
    assert "screenshot incomplete" in done.stderr and "does not exist" in done.stderr
    assert out.is_file(), "the picture (showing the problem) is still saved"


def test_screenshot_options_need_screenshot(tmp_path: Path) -> None:
    done = bridgelab("gui", "--start", env=gui_env(tmp_path))
    assert done.returncode == 1
    assert "--screenshot" in done.stderr


def test_no_display_is_an_error_with_a_next_step(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the display check is for Linux desktops")
    env = gui_env(tmp_path)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(name, None)
    done = bridgelab(env=env)
    assert done.returncode == 1
    # No display, or (checked first) the X11 libraries Qt would need are missing here:
    # either way one plain line with the next step, never Qt's abort.
    assert re.search(r"^error \[(no-display|qt-system-library-missing)\]: ", done.stderr, re.M)
    assert "Traceback" not in done.stderr and "qt.qpa" not in done.stderr
    check_can_open_window()  # the tests' own offscreen platform needs no display


def test_cli_without_the_gui_never_imports_qt() -> None:
    code = (
        "import sys; from bridgelab.cli import build_parser; build_parser(); "
        "print('PySide6' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    assert done.stdout.strip() == "False", done.stderr


def test_crash_handler_writes_a_file_and_tells_once(qtbot: QtBot, tmp_path: Path) -> None:
    told: list[tuple[str, Path]] = []
    handler = CrashHandler(lambda summary, path: told.append((summary, path)), folder=tmp_path)
    handler.install()
    try:
        try:
            raise ValueError("slot went wrong")
        except ValueError as error:
            path = handler.handle(type(error), error, error.__traceback__)
        qtbot.waitUntil(lambda: len(told) == 1)
        assert told[0][0] == "ValueError: slot went wrong"
        text = path.read_text()
        assert "Traceback" in text and "slot went wrong" in text and "Bridge Lab" in text

        def die() -> None:
            raise RuntimeError("worker thread died")

        thread = threading.Thread(target=die, name="doomed")
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: len(told) == 2)
        assert told[1][0] == "RuntimeError: worker thread died"
        assert "thread doomed" in told[1][1].read_text()
    finally:
        handler.uninstall()
    assert sys.excepthook is not handler.handle


def test_internal_error_names_its_crash_file(tmp_path: Path) -> None:
    try:
        {}["missing"]
    except KeyError as error:
        wrapped = internal_error(error, folder=tmp_path)
    assert wrapped.code == "internal-error"
    crash_file = Path(wrapped.details["crash_file"])
    assert crash_file.parent == tmp_path and str(crash_file) in wrapped.action
    assert "KeyError" in crash_file.read_text()


def test_about_lists_the_versions_a_bug_report_needs() -> None:
    names = [name for name, _ in versions()]
    for wanted in ("Bridge Lab", "Python", "Qt", "PySide6", "pyserial", "sqlite-utils",
                   "cryptography"):  # fmt: skip
        assert wanted in names
    assert all(value and value != "not installed" for _, value in versions())
