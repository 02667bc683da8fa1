"""Emulator control: the URL from the panel's fields, connecting the app to it, serving it on
a real pty for other tools, and a port another program holds."""

from __future__ import annotations

import sys

import pytest
from pytestqt.qtbot import QtBot

from bridgelab.drivers.client import BridgeClient
from bridgelab.errors import UsageError
from bridgelab.gui.emulator_server import emulator_url
from bridgelab.gui.theme import Tone
from tests.gui.helpers import WAIT_MS, WindowFactory

needs_pty = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")


def test_emulator_url_is_built_and_checked() -> None:
    url = emulator_url(
        "legacy", faults="drop-rate=0.01,reboot-at=8192", baud=115200, instance_id="rack-3"
    )
    assert url == "emu://legacy?baud=115200&faults=drop-rate=0.01,reboot-at=8192&id=rack-3"
    assert emulator_url("demo") == "emu://demo"
    with pytest.raises(UsageError) as error:
        emulator_url("demo", faults="melt-at=5")
    assert "melt-at" in error.value.message and "drop-rate" in error.value.action


def test_panel_connects_the_app_to_an_emulated_bridge(
    qtbot: QtBot, make_window: WindowFactory, demo_url: object
) -> None:
    window = make_window(None, start=False)
    window.show_emulator()
    panel = window.emulator_panel
    assert panel is not None
    panel.profile.setCurrentIndex(panel.profile.findData("orphaned"))
    panel.instance.setText("panel-test-orphaned")
    assert panel.url.text() == "emu://orphaned?id=panel-test-orphaned"
    panel.faults.setText("bogus=1")
    assert not panel.connect_button.isEnabled()
    assert "Unknown fault" in panel.problem.text()
    panel.faults.setText("")
    assert panel.connect_button.isEnabled()
    with qtbot.waitSignal(window.session.snapshotChanged, timeout=WAIT_MS):
        panel.connect_button.click()
    assert window.session.url == "emu://orphaned?id=panel-test-orphaned"
    assert window.device_view.join_badge.word == "ORPHANED"
    panel.close()


@needs_pty
def test_serve_on_a_pty_for_other_tools_and_a_busy_port(
    qtbot: QtBot, make_window: WindowFactory
) -> None:
    window = make_window(None, start=False)
    window.show_emulator()
    panel = window.emulator_panel
    assert panel is not None
    panel.instance.setText("")
    with qtbot.waitSignal(window.emulator.listening, timeout=WAIT_MS) as listening:
        panel.serve_button.click()
    assert listening.args is not None
    path = listening.args[0]
    assert path.startswith("/dev/") and panel.serving.text() == path

    # Another program holds the port: the app says so, and how to fix it.
    with BridgeClient.connect(path) as other:
        assert other.identity().serial_number == "BLD-0001"
        with qtbot.waitSignal(window.session.problem, timeout=WAIT_MS) as problem:
            window.connect_to(path)
        assert problem.args is not None and problem.args[0].code == "port-busy"
        assert "Another program holds the port" in window.device_view.problem.text()
        assert window.connection.state_badge.tone is Tone.BAD

    # Once it lets go, the app connects over the pty like any serial port.
    with qtbot.waitSignal(window.session.snapshotChanged, timeout=WAIT_MS):
        window.device_view.problem_retry.click()
    assert window.device_view.identity.value("Serial number") == "BLD-0001"

    window.session.disconnect_bridge()
    with qtbot.waitSignal(window.emulator.stopped, timeout=WAIT_MS):
        panel.serve_button.click()
    assert not window.emulator.serving and panel.serving.text() == ""
    panel.close()
