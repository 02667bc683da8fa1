"""Device view: who the bridge is, what it runs, whether it is on the HAN, and what to do.

The top row is for a glance across a meter cupboard: the HAN join state as a large
coloured word, and the diagnosis headline with its next step. Below: identity, firmware
slots, HAN details and the P2P link, every finding in plain words, and the bridge's own
log as it reports entries. A pre-flight problem (permission, busy port, no answer) replaces
the facts with what happened and how to fix it.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from bridgelab.drivers import protocol as p
from bridgelab.drivers.join_state import MEANINGS
from bridgelab.errors import BridgeLabError
from bridgelab.gui import device_facts as facts
from bridgelab.gui.bridge_session import BridgeSnapshot, ConnectionState, is_emulated
from bridgelab.gui.theme import JOIN_TONES, SEVERITY_TONES, Tone
from bridgelab.gui.views.update_view import progress_words
from bridgelab.gui.widgets.banner import Banner
from bridgelab.gui.widgets.fact_group import FactGroup
from bridgelab.gui.widgets.status_badge import StatusBadge
from bridgelab.updates import events as ev

MAX_LOG_LINES = 200
FACT_SCALE = 1.1
DEMO_HINT = (
    "This is the Demo bridge, an emulated bridge that ships with Bridge Lab: nothing here "
    "touches real hardware, so try anything."
)
DEMO_HINT_NEXT = (
    "Open the Update view and send bridge-demo-1.3.0.ota (a local update, or a simulated "
    "OTA that predicts how long the real one takes); try bridge-demo-1.1.0.ota for a "
    "downgrade. Tools \u2192 Emulator starts bridges with faults."
)


class DeviceView(QWidget):
    tryUpdateRequested = Signal()
    retryRequested = Signal()
    recoverRequested = Signal()
    powerCycleRequested = Signal()  # switch the connected emulated bridge off and on
    hintDismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Device view")
        self.hint = Banner(headline_scale=1.1)
        self.hint.show_message(Tone.INFO, "Demo bridge", DEMO_HINT, DEMO_HINT_NEXT)
        self.hint_try = self.hint.add_button("Try an &update")
        self.hint_try.clicked.connect(self.tryUpdateRequested)
        self.hint_dismiss = self.hint.add_button("Dis&miss", "Dismiss the Demo bridge hint")
        self.hint_dismiss.clicked.connect(self._dismiss_hint)
        self.hint.setVisible(False)

        self.problem = Banner()
        self.problem_retry = self.problem.add_button("&Retry", "Retry the connection")
        self.problem_retry.clicked.connect(self.retryRequested)
        # Shown only for a radio that answers as its bootloader alone.
        self.problem_recover = self.problem.add_button(
            "Recover through the &bootloader\u2026", "Recover through the bootloader"
        )
        self.problem_recover.clicked.connect(self.recoverRequested)
        self.problem_recover.setVisible(False)
        self.problem_power_cycle = self.problem.add_button(
            "&Power-cycle", "Power-cycle the emulated bridge"
        )
        self.problem_power_cycle.clicked.connect(self.powerCycleRequested)
        self.problem_power_cycle.setVisible(False)
        self.problem.setVisible(False)

        self.join_badge = StatusBadge(scale=1.6)
        self.join_badge.setAccessibleDescription("HAN join state")
        self.diagnosis = Banner(headline_scale=1.3)
        top = QHBoxLayout()
        top.addWidget(self.join_badge)
        top.addWidget(self.diagnosis, 1)

        self.identity = FactGroup("Identity", facts.IDENTITY_LABELS)
        self.firmware = FactGroup("Firmware", facts.FIRMWARE_LABELS)
        self.han = FactGroup("HAN", facts.HAN_LABELS)
        self.p2p = FactGroup("P2P link (premises side)", facts.P2P_LABELS)
        self.findings = QListWidget()
        self.findings.setAccessibleName("Diagnosis")
        self.findings.setWordWrap(True)
        self.findings.setMinimumHeight(40)
        diagnosis_box = QGroupBox("Diagnosis")
        QVBoxLayout(diagnosis_box).addWidget(self.findings)
        self.device_log = QListWidget()
        self.device_log.setAccessibleName("Bridge event log")
        self.device_log.setMinimumHeight(40)
        log_box = QGroupBox("Bridge log")
        QVBoxLayout(log_box).addWidget(self.device_log)

        # Three columns of facts over the diagnosis and the bridge's log: fits 1366x768.
        grid = QGridLayout()
        grid.addWidget(self.identity, 0, 0)
        middle = QVBoxLayout()
        middle.addWidget(self.firmware)
        middle.addWidget(self.p2p)
        grid.addLayout(middle, 0, 1)
        grid.addWidget(self.han, 0, 2)
        grid.addWidget(diagnosis_box, 1, 0, 1, 2)
        grid.addWidget(log_box, 1, 2)
        for column in range(3):
            grid.setColumnStretch(column, 1)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        for group in (self.identity, self.firmware, self.han, self.p2p):
            group.scale_values(FACT_SCALE)  # read at arm's length in a meter cupboard
        self.details = QWidget()
        details_layout = QVBoxLayout(self.details)
        details_layout.setContentsMargins(0, 0, 0, 0)
        details_layout.addLayout(top)
        details_layout.addLayout(grid, 1)

        self.placeholder = QLabel("Connecting\u2026")
        # A recovery's stages and upload, from the engine's own events (as an update's).
        self.recovery_progress = QProgressBar()
        self.recovery_progress.setAccessibleName("Recovery progress")
        self.recovery_progress.setRange(0, 1000)
        self.recovery_progress.setFormat("%p %")
        self.recovery_progress.setVisible(False)
        self.recovery_step = QLabel(" ")
        self.recovery_step.setAccessibleName("Recovery step")
        self.recovery_step.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(self.problem)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.recovery_progress)
        layout.addWidget(self.recovery_step)
        layout.addWidget(self.details, 1)
        layout.addStretch(0)  # the spare height while the details are hidden (a problem)
        self.details.setVisible(False)

    # -- what the session says --------------------------------------------------------------

    def set_state(self, state: ConnectionState, url: str) -> None:
        if state == ConnectionState.CONNECTING:
            self.problem.setVisible(False)
            self.placeholder.setText(f"Connecting to {url}\u2026")
            self.placeholder.setVisible(not self.details.isVisible())
        elif state == ConnectionState.RELEASED:
            self.placeholder.setText("An update is using the bridge; its state shows here after.")
        elif state == ConnectionState.DISCONNECTED:
            self.details.setVisible(False)
            self.problem.setVisible(False)
            self.placeholder.setText("Not connected. Pick a port or the Demo bridge above.")
            self.placeholder.setVisible(True)

    def show_problem(self, error: BridgeLabError, url: str) -> None:
        self._show_recovery(False)
        self.details.setVisible(False)
        self.placeholder.setVisible(False)
        bootloader_only = error.code == "bootloader-only"
        self.problem_recover.setVisible(bootloader_only)
        if bootloader_only:
            version = getattr(error, "version", "?")
            self.problem.show_message(
                Tone.WARN,
                "Bootloader only: the bridge application is not running",
                [
                    f"Port: {url}. The radio answers as its Gecko Bootloader v{version}.",
                    "Identity, firmware versions, join status and the event log: not "
                    "available through the bootloader.",
                ],
                "Recover through the bootloader with the bridge's .gbl file.",
            )
            return
        # An emulated bridge that stopped answering (a stall fault, a hang) has a way out
        # a real one has too: switch it off and on.
        hung = is_emulated(url) and error.code not in ("port-not-found", "unknown-url-scheme")
        self.problem_power_cycle.setVisible(hung)
        action = error.action
        if hung:
            action = (
                f"{action} An emulated bridge that hangs answers again after a power-cycle "
                "(Power-cycle below, or Bridge \u2192 Power-cycle)."
            ).strip()
        self.problem.show_message(
            Tone.BAD,
            error.message,
            f"Port: {url}   (error code {error.code})",
            action,
        )

    def show_recovering(self, url: str, image_name: str) -> None:
        self.problem.setVisible(False)
        self.details.setVisible(False)
        self.placeholder.setText(
            f"Recovering {url} through the bootloader with {image_name}\u2026 (logged as an update)"
        )
        self.placeholder.setVisible(True)
        self.recovery_progress.setValue(0)
        self.recovery_step.setText("Starting\u2026")
        self._show_recovery(True)

    def show_recovery_event(self, event: ev.UpdateEvent) -> None:
        """The recovery session's stage and upload progress, as its engine tells them."""
        if isinstance(event, ev.StageStarted):
            detail = f" ({event.detail})" if event.detail else ""
            self.recovery_step.setText(f"Stage: {event.stage.value}{detail}")
        elif isinstance(event, ev.Progress):
            self.recovery_progress.setValue(round(1000 * event.fraction))
            self.recovery_step.setText(f"Stage: transfer  \u00b7  {progress_words(event)}")

    def _show_recovery(self, shown: bool) -> None:
        self.recovery_progress.setVisible(shown)
        self.recovery_step.setVisible(shown)

    def show_snapshot(self, snapshot: BridgeSnapshot, *, show_hint: bool) -> None:
        identity, join = snapshot.identity, snapshot.join
        self._show_recovery(False)
        self.problem.setVisible(False)
        self.placeholder.setVisible(False)
        self.details.setVisible(True)
        self.hint.setVisible(show_hint and facts.is_demo_bridge(snapshot.url))
        tone = JOIN_TONES[join.state]
        self.join_badge.set_state(tone, facts.join_word(join.state), MEANINGS[join.state].title)
        top = facts.headline(snapshot.findings)
        if top is not None:
            title, rest = facts.finding_headline(top)
            self.diagnosis.show_message(SEVERITY_TONES[top.severity], title, rest)
        self.identity.set_facts(facts.identity_facts(identity))
        self.firmware.set_facts(facts.firmware_facts(identity))
        self.han.set_facts(facts.han_facts(join))
        self.p2p.set_facts(facts.p2p_facts(snapshot.p2p))
        self.findings.clear()
        # The banner above says the top finding: the list holds the others, once each.
        others = [finding for finding in snapshot.findings if finding is not top]
        for finding in others:
            symbol = SEVERITY_TONES[finding.severity].symbol
            self.findings.addItem(f"{symbol} {finding.severity.upper()}: {finding.message}")
        if not others:
            self.findings.addItem("Nothing else to report.")

    def show_log(self, entries: list[p.LogEntry]) -> None:
        self.device_log.clear()
        for entry in entries[-MAX_LOG_LINES:]:
            self.add_log_entry(entry)

    def add_log_entry(self, entry: p.LogEntry) -> None:
        self.device_log.insertItem(0, f"{entry.uptime_s:>7} s  [{entry.code:#06x}]  {entry.text}")
        while self.device_log.count() > MAX_LOG_LINES:
            self.device_log.takeItem(self.device_log.count() - 1)

    def _dismiss_hint(self) -> None:
        self.hint.setVisible(False)
        self.hintDismissed.emit()
