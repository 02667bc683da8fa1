"""The port picker follows the OS: a plugged-in adapter appears, a pulled one goes."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from bridgelab.drivers.ports import DEMO_URL, PortInfo
from bridgelab.gui.port_list import PortList
from bridgelab.gui.tasks import TaskRunner
from bridgelab.gui.widgets.connection_bar import ConnectionBar
from tests.gui.helpers import WAIT_MS

DEMO = PortInfo(DEMO_URL, "Demo bridge (emulated)", emulated=True)
FTDI = PortInfo("/dev/ttyUSB0", "FT232R USB UART", 0x0403, 0x6001, "A50285BI", "FTDI")


def test_plug_and_unplug_update_the_picker(qtbot: QtBot, thread_guard: None) -> None:
    seen: list[list[PortInfo]] = [[DEMO]]
    runner = TaskRunner()
    ports = PortList(runner, scan=lambda: list(seen[-1]), interval_ms=20)
    bar = ConnectionBar()
    qtbot.addWidget(bar)
    ports.portsChanged.connect(bar.set_ports)
    try:
        with qtbot.waitSignal(ports.portsChanged, timeout=WAIT_MS):
            ports.start()
        assert bar.ports.count() == 1
        bar.set_url("socket://rig:7000")  # what the engineer typed survives rescans

        seen.append([FTDI, DEMO])
        with qtbot.waitSignal(ports.plugged, timeout=WAIT_MS) as plugged:
            pass
        assert plugged.args == [FTDI]
        qtbot.waitUntil(lambda: bar.ports.count() == 2, timeout=WAIT_MS)
        label = bar.ports.itemText(0)
        assert "/dev/ttyUSB0" in label and "FT232R" in label and "0403:6001" in label
        assert bar.current_url() == "socket://rig:7000"

        seen.append([DEMO])
        qtbot.waitUntil(lambda: bar.ports.count() == 1, timeout=WAIT_MS)
        bar.ports.setCurrentIndex(0)
        assert bar.current_url() == DEMO_URL
    finally:
        ports.stop()
        runner.shutdown()
