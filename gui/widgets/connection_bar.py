"""The port picker across the top of the window: which bridge, at what baud, connected or not.

The list holds the serial ports with their descriptions and USB ids, and the Demo bridge;
it is editable, so any pyserial URL (socket://HOST:PORT, rfc2217://HOST:PORT) or an
emu:// URL can be typed and connected with Enter.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from bridgelab.drivers.ports import PortInfo
from bridgelab.gui.bridge_session import ConnectionState
from bridgelab.gui.theme import Tone
from bridgelab.gui.widgets.status_badge import StatusBadge

BAUD_RATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
_STATE_WORDS = {
    ConnectionState.DISCONNECTED: (Tone.NEUTRAL, "Not connected"),
    ConnectionState.CONNECTING: (Tone.BUSY, "Connecting"),
    ConnectionState.CONNECTED: (Tone.GOOD, "Connected"),
    ConnectionState.FAILED: (Tone.BAD, "No connection"),
    ConnectionState.RELEASED: (Tone.BUSY, "Updating"),
}


def port_label(port: PortInfo) -> str:
    if port.emulated:
        return f"{port.description} \u2013 {port.url}"
    extra = f" [{port.usb_id}]" if port.usb_id else ""
    if port.description and port.description != port.url:
        return f"{port.url} \u2013 {port.description}{extra}"
    return f"{port.url}{extra}"


class ConnectionBar(QWidget):
    connectRequested = Signal(str)  # the URL to open
    disconnectRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ports = QComboBox()
        self.ports.setEditable(True)
        self.ports.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.ports.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.ports.setMinimumContentsLength(28)
        self.ports.setAccessibleName("Port or URL of the bridge")
        self.ports.setToolTip(
            "A serial port, socket://HOST:PORT, rfc2217://HOST:PORT or emu://PROFILE"
        )
        line = self.ports.lineEdit()
        if line is not None:
            line.setPlaceholderText("/dev/ttyUSB0, COM3, socket://host:port, emu://demo")
            line.returnPressed.connect(self._request_connect)
        label = QLabel("&Bridge:")
        label.setBuddy(self.ports)
        self.baud = QComboBox()
        for rate in BAUD_RATES:
            self.baud.addItem(f"{rate} baud", rate)
        self.baud.setAccessibleName("Baud rate")
        self.connect_button = QPushButton("&Connect")
        self.connect_button.setAccessibleName("Connect to the bridge")
        self.connect_button.clicked.connect(self._request_connect)
        self.disconnect_button = QPushButton("&Disconnect")
        self.disconnect_button.setAccessibleName("Disconnect from the bridge")
        self.disconnect_button.clicked.connect(self.disconnectRequested)
        self.state_badge = StatusBadge()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(label)
        layout.addWidget(self.ports, 1)
        layout.addWidget(self.baud)
        layout.addWidget(self.connect_button)
        layout.addWidget(self.disconnect_button)
        layout.addWidget(self.state_badge)
        self.set_state(ConnectionState.DISCONNECTED)

    # -- ports ------------------------------------------------------------------------------

    def set_ports(self, ports: Sequence[PortInfo]) -> None:
        """Replace the list, keeping what is typed or selected."""
        current = self.current_url()
        self.ports.blockSignals(True)
        self.ports.clear()
        for port in ports:
            self.ports.addItem(port_label(port), port.url)
            maker = port.manufacturer or ""
            serial = f"serial number {port.serial_number}" if port.serial_number else ""
            tip = ", ".join(part for part in (maker, serial) if part)
            self.ports.setItemData(self.ports.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.set_url(current)
        self.ports.blockSignals(False)

    def set_url(self, url: str) -> None:
        index = self.ports.findData(url)
        if index >= 0:
            self.ports.setCurrentIndex(index)
        else:
            self.ports.setEditText(url)

    def current_url(self) -> str:
        text = self.ports.currentText().strip()
        index = self.ports.findText(text)
        if index >= 0:
            data = self.ports.itemData(index)
            if isinstance(data, str):
                return data
        return text

    def set_baud(self, rate: int) -> None:
        index = self.baud.findData(rate)
        if index < 0:
            self.baud.addItem(f"{rate} baud", rate)
            index = self.baud.count() - 1
        self.baud.setCurrentIndex(index)

    def show_bootloader_only(self, detail: str = "") -> None:
        """The port answered, but only as the radio's bootloader: not "no connection"."""
        self.state_badge.set_state(Tone.WARN, "Bootloader only", detail)

    def current_baud(self) -> int:
        return int(self.baud.currentData())

    # -- state ------------------------------------------------------------------------------

    def set_state(self, state: ConnectionState, detail: str = "") -> None:
        tone, word = _STATE_WORDS[state]
        self.state_badge.set_state(tone, word, detail)
        busy = state in (ConnectionState.CONNECTING, ConnectionState.RELEASED)
        self.connect_button.setEnabled(state != ConnectionState.RELEASED)
        self.disconnect_button.setEnabled(
            state in (ConnectionState.CONNECTED, ConnectionState.CONNECTING)
        )
        self.ports.setEnabled(state != ConnectionState.RELEASED)
        self.baud.setEnabled(not busy)

    @Slot()
    def _request_connect(self) -> None:
        url = self.current_url()
        if url:
            self.connectRequested.emit(url)
