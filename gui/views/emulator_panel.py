"""Emulator panel (Tools → Emulator): build an emulated bridge with a profile and faults,
connect the app to it, or serve it on a pty so other tools can connect."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from bridgelab.errors import BridgeLabError
from bridgelab.gui.emulator_server import EmulatorServer, emulator_url
from bridgelab.updates.emulated import SHIPPED, VALID_FAULTS

PROFILE_WORDS = {
    "demo": "current bridge: joined, OTA capable",
    "legacy": "first generation: no OTA client, local updates only",
    "orphaned": "after a Comms Hub swap-out: cannot rejoin, no OTA",
    "not-in-log": "not in the Comms Hub device log yet",
}
BAUDS = (None, 115200, 230400, 460800, 921600)


MAX_WIDTH = 720  # fits a 1366-pixel screen beside the window's own edge


class EmulatorPanel(QDialog):
    connectRequested = Signal(str)  # an emu:// URL for the app's port picker
    powerCycleRequested = Signal()  # switch the connected emulated bridge off and on

    def __init__(self, server: EmulatorServer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.server = server
        self.setWindowTitle("Emulated bridges")
        self.setAccessibleName("Emulator panel")
        self.profile = QComboBox()
        for name in SHIPPED:
            self.profile.addItem(f"{name} \u2013 {PROFILE_WORDS.get(name, '')}", name)
        self.profile.setAccessibleName("Profile")
        self.faults = QLineEdit()
        self.faults.setPlaceholderText("e.g. drop-rate=0.01,reboot-at=8192")
        self.faults.setToolTip("Faults: " + ", ".join(VALID_FAULTS))
        self.faults.setAccessibleName("Faults")
        self.baud = QComboBox()
        for rate in BAUDS:
            self.baud.addItem("unpaced (instant)" if rate is None else f"{rate} baud", rate)
        self.baud.setAccessibleName("Line rate")
        self.latency = QDoubleSpinBox()
        self.latency.setRange(0.0, 100.0)
        self.latency.setSuffix(" ms")
        self.latency.setDecimals(1)
        self.latency.setAccessibleName("USB adapter latency")
        self.instance = QLineEdit("lab-1")
        self.instance.setAccessibleName("Instance id")
        self.instance.setToolTip("Re-opening a URL with the same id reaches the same bridge.")
        self.url = QLineEdit()
        self.url.setReadOnly(True)
        self.url.setAccessibleName("Emulator URL")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        copy = QPushButton("Cop&y URL")
        copy.clicked.connect(lambda: self._copy(self.url.text()))
        url_row = QHBoxLayout()
        url_row.addWidget(self.url, 1)
        url_row.addWidget(copy)
        form = QFormLayout()
        form.addRow("&Profile:", self.profile)
        form.addRow("&Faults:", self.faults)
        # The fault names wrap: one unwrapped line made the dialog 1,300 pixels wide.
        self.fault_names = QLabel("Valid faults: " + ", ".join(VALID_FAULTS))
        self.fault_names.setWordWrap(True)
        form.addRow(QLabel(""), self.fault_names)
        form.addRow("&Line:", self.baud)
        form.addRow("Adapter &latency:", self.latency)
        form.addRow("&Instance id:", self.instance)
        form.addRow("URL:", url_row)

        self.connect_button = QPushButton("&Connect the app to it")
        self.connect_button.clicked.connect(self._connect)
        self.serve_button = QPushButton("&Serve on a pty for other tools")
        self.serve_button.clicked.connect(self._toggle_serving)
        self.serving = QLineEdit()
        self.serving.setReadOnly(True)
        self.serving.setPlaceholderText("Not serving")
        self.serving.setAccessibleName("Serving address")
        buttons = QHBoxLayout()
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.serve_button)
        self.power_cycle_button = QPushButton("&Power-cycle the connected bridge")
        self.power_cycle_button.setToolTip(
            "Switch the connected emulated bridge off and on: a bridge that hangs (a stall "
            "fault) answers again, keeping what its flash holds."
        )
        self.power_cycle_button.clicked.connect(self.powerCycleRequested)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        close.addButton(self.power_cycle_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addLayout(buttons)
        layout.addWidget(self.serving)
        layout.addWidget(close)
        self.setMaximumWidth(MAX_WIDTH)

        for signal in (self.faults.textChanged, self.instance.textChanged):
            signal.connect(self._rebuild)
        for combo in (self.profile, self.baud):
            combo.currentIndexChanged.connect(self._rebuild)
        self.latency.valueChanged.connect(self._rebuild)
        server.listening.connect(self._on_listening)
        server.stopped.connect(self._on_stopped)
        server.failed.connect(self._on_failed)
        self._rebuild()

    def current_url(self) -> str | None:
        """The URL the fields describe, or None (the problem label says why)."""
        try:
            url = emulator_url(
                str(self.profile.currentData()),
                faults=self.faults.text(),
                baud=self.baud.currentData(),
                latency_ms=self.latency.value(),
                instance_id=self.instance.text(),
            )
        except BridgeLabError as error:
            self.problem.setText(f"{error.message} {error.action}")
            return None
        self.problem.setText("")
        return url

    def _rebuild(self) -> None:
        url = self.current_url()
        self.url.setText(url or "")
        ok = url is not None
        self.connect_button.setEnabled(ok)
        self.serve_button.setEnabled(ok or self.server.serving)

    def _connect(self) -> None:
        url = self.current_url()
        if url is not None:
            self.connectRequested.emit(url)

    def _toggle_serving(self) -> None:
        if self.server.serving:
            self.server.stop()
            return
        url = self.current_url()
        if url is None:
            return
        try:
            self.server.start(url)
        except BridgeLabError as error:
            self._on_failed(error)
            return
        self.serve_button.setText("Stop &serving")
        self.serving.setText("Starting\u2026")

    def _on_listening(self, address: str) -> None:
        self.serving.setText(address)
        self.serving.setToolTip(f"Other tools connect to {address}")

    def _on_stopped(self) -> None:
        self.serve_button.setText("&Serve on a pty for other tools")
        self.serving.setText("")

    def _on_failed(self, error: BridgeLabError) -> None:
        self._on_stopped()
        self.problem.setText(f"{error.message} {error.action}")

    def _copy(self, text: str) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None and text:
            clipboard.setText(text)
