"""Update view: drop or open an image, read its report, then update locally or by simulated OTA.

Left: the verification report (nothing is sent before it says "Ready"). Right: the mode
(local, or simulated OTA with the predicted real duration), Start / Cancel / Resume, the
verdict, a progress bar with bytes, rate, line efficiency and ETA, the live throughput
chart, the stage list and the engine's notices. The view only renders what
`UpdateController` reports; the controller does the work.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMenu,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from bridgelab.data.failures import Stage
from bridgelab.errors import BridgeLabError
from bridgelab.gui.bridge_session import is_emulated
from bridgelab.gui.formatting import ARROW, format_eta, format_rate, percent
from bridgelab.gui.theme import VERDICT_TONES, Tone
from bridgelab.gui.update_controller import UpdateController
from bridgelab.gui.views.report_panel import ReportPanel
from bridgelab.gui.widgets.banner import Banner
from bridgelab.gui.widgets.panes import side_by_side
from bridgelab.gui.widgets.stage_list import StageList
from bridgelab.gui.widgets.throughput_chart import ThroughputChart
from bridgelab.updates import events as ev
from bridgelab.updates.durations import format_duration
from bridgelab.updates.emulated import DEMO_IMAGES
from bridgelab.updates.events import UpdateResult
from bridgelab.updates.preflight import Preflight
from bridgelab.updates.verdict import update_verdict

IMAGE_SUFFIXES = (".ota", ".zigbee", ".bin", ".img")
# Failures after which a bridge may be hung: stopped mid-stage, or not answering at all.
HANG_CLASSES = frozenset({"stalled", "no-response", "unhealthy"})


def progress_words(event: ev.Progress) -> str:
    """ "23,456 / 49,278 B · 120.5 KiB/s · 93 % of line rate · ETA 0:12"."""
    parts = [f"{event.done:,} / {event.total:,} B", format_rate(event.rate_bps)]
    if event.line_efficiency is not None:
        parts.append(f"{percent(event.line_efficiency)} of line rate")
    if event.simulated_s is not None:
        radio = f"radio time {format_duration(event.simulated_s)}"
        if event.predicted_s is not None:
            radio += f" of ~{format_duration(event.predicted_s)}"
        parts.append(radio)
    parts.append(f"ETA {format_eta(event.eta_s)}")
    if event.resumed_from:
        parts.append(f"resumed from {event.resumed_from:,}")
    return "  \u00b7  ".join(parts)


class UpdateView(QWidget):
    downgradeRequested = Signal()  # the window asks for a reason (DowngradeDialog)
    openImageRequested = Signal()  # the window shows the file dialog
    showSessionRequested = Signal(str)  # open this session in the triage view

    def __init__(self, controller: UpdateController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setAccessibleName("Update view")
        self.setAcceptDrops(True)
        self._transfer_started_at: float | None = None
        self._resumable: Path | None = None  # the image whose transfer can resume

        # -- image row
        self.open_button = QPushButton("&Open image\u2026")
        self.open_button.setAccessibleName("Open a firmware image")
        self.open_button.clicked.connect(self.openImageRequested)
        self.demo_button = QToolButton()
        self.demo_button.setText("Demo images")
        self.demo_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.demo_button.setAccessibleName("Demo images for the Demo bridge")
        demo_menu = QMenu(self.demo_button)
        for demo in DEMO_IMAGES:
            action = demo_menu.addAction(f"{demo.file_name}  \u2013  {demo.what}")
            action.triggered.connect(lambda _=False, path=demo.path: controller.set_image(path))
        self.demo_button.setMenu(demo_menu)
        self.image_label = QLabel("Drop an image file here, or open one.")
        self.image_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        image_row = QHBoxLayout()
        image_row.addWidget(self.open_button)
        image_row.addWidget(self.demo_button)
        image_row.addWidget(self.image_label, 1)

        self.report = ReportPanel()

        # -- mode and actions
        self.local_mode = QRadioButton("&Local update over the service port")
        self.ota_mode = QRadioButton("Simulated &OTA through the bridge's own OTA client")
        self.local_mode.setChecked(True)
        self.modes = QButtonGroup(self)
        self.modes.addButton(self.local_mode)
        self.modes.addButton(self.ota_mode)
        self.ota_hint = QLabel("")
        self.ota_hint.setIndent(24)
        self.ota_hint.setWordWrap(True)
        self.local_mode.toggled.connect(self._refresh_buttons)
        self.start_action = QAction("&Start update", self)
        self.start_action.setShortcut(QKeySequence("Ctrl+Return"))
        self.start_action.triggered.connect(self._start)
        self.cancel_action = QAction("&Cancel update", self)
        self.cancel_action.setShortcut(QKeySequence("Ctrl+."))
        self.cancel_action.triggered.connect(controller.cancel)
        self.start_button = QPushButton("Start")
        self.start_button.setAccessibleName("Start the update")
        self.start_button.setToolTip("Start the update (Ctrl+Return)")
        self.start_button.clicked.connect(self.start_action.trigger)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel the update")
        self.cancel_button.setToolTip("Cancel the update (Ctrl+.)")
        self.cancel_button.clicked.connect(self.cancel_action.trigger)
        self.downgrade_button = QPushButton("Allow &downgrade\u2026")
        self.downgrade_button.clicked.connect(self.downgradeRequested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.downgrade_button)
        buttons.addStretch(1)
        self.start_reason = QLabel("")
        self.start_reason.setAccessibleName("Why Start is not available")
        self.start_reason.setWordWrap(True)
        mode_box = QGroupBox("Update")
        mode_layout = QVBoxLayout(mode_box)
        mode_layout.addWidget(self.local_mode)
        mode_layout.addWidget(self.ota_mode)
        mode_layout.addWidget(self.ota_hint)
        mode_layout.addLayout(buttons)
        mode_layout.addWidget(self.start_reason)

        # -- progress
        self.verdict = Banner(headline_scale=1.35)
        self.show_session_button = self.verdict.add_button("Open in &Triage")
        self.show_session_button.clicked.connect(self._show_session)
        # Room for a verdict (headline, a line of facts, the next step, the button) from
        # the start of an update, so the chart below keeps its height when it arrives.
        # Measured on sample words, then hidden: showing a message makes a banner visible.
        self.verdict.show_message(Tone.BUSY, "Sample", "facts", "next step")
        self.verdict.setMinimumHeight(self.verdict.sizeHint().height())
        self.verdict.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Transfer progress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("%p %")
        self.progress_text = QLabel(" ")
        self.progress_text.setAccessibleName("Transfer figures")
        self.chart = ThroughputChart()
        self.stages = StageList()
        self.notices = QListWidget()
        self.notices.setAccessibleName("Update notices")
        self.notices.setWordWrap(True)
        stage_box = QGroupBox("Stages")
        QVBoxLayout(stage_box).addWidget(self.stages)
        # The stages keep one size from start to verdict (their words change, the box
        # does not); the chart above takes what height is left.
        stage_box.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.stage_box = stage_box
        notice_box = QGroupBox("Notices and retries")
        QVBoxLayout(notice_box).addWidget(self.notices)
        lower = QHBoxLayout()
        lower.addWidget(stage_box, 0, Qt.AlignmentFlag.AlignTop)
        lower.addWidget(notice_box, 1)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(mode_box)
        right_layout.addWidget(self.verdict)
        right_layout.addWidget(self.progress)
        right_layout.addWidget(self.progress_text)
        right_layout.addWidget(self.chart, 1)
        right_layout.addLayout(lower)
        layout = QVBoxLayout(self)
        layout.addLayout(image_row)
        layout.addWidget(side_by_side(self.report, right, 2, 3), 1)

        controller.assessing.connect(self._on_assessing)
        controller.assessed.connect(self._on_assessed)
        controller.assessFailed.connect(self._on_assess_failed)
        controller.runningChanged.connect(self._on_running)
        controller.engineEvent.connect(self._on_event)
        controller.finished.connect(self._on_finished)
        controller.crashed.connect(self._on_crashed)
        controller.resultCleared.connect(self._clear_result)
        controller.session.stateChanged.connect(self._refresh_buttons)
        controller.store.settledChanged.connect(self._refresh_buttons)
        self._refresh_buttons()

    # -- drag and drop ----------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.controller.set_image(Path(urls[0].toLocalFile()))
            event.acceptProposedAction()

    # -- controller signals -----------------------------------------------------------------

    def _on_assessing(self, path: Path) -> None:
        if path != self._resumable:
            self._resumable = None
        self.image_label.setText(str(path))
        self.report.show_checking(path.name)
        self._refresh_buttons()

    def _on_assessed(self, assessment: Preflight) -> None:
        self.report.show_assessment(assessment)
        self._refresh_buttons()

    def _clear_result(self) -> None:
        """What belonged to another bridge or image goes: verdict, progress, stages."""
        self.verdict.setVisible(False)
        self.stages.reset()
        self.chart.clear()
        self.notices.clear()
        self.progress.setValue(0)
        self.progress_text.setText(" ")
        self._resumable = None
        self._refresh_buttons()

    def _on_assess_failed(self, error: BridgeLabError) -> None:
        self.report.show_error(error)
        self._refresh_buttons()

    def _ota_hint(self) -> str:
        """The OTA line under the modes: why it is not available, or what it would take."""
        assessment = self.controller.assessment
        if assessment is None:
            return ""
        verdict = assessment.verdict("ota")
        if verdict.mode_refusal is not None:
            message = verdict.mode_refusal.message
            return f"Not available for this bridge: {message[:1].lower()}{message[1:]}"
        if not verdict.allowed:
            return ""
        return (
            f"The real OTA of this image would take about "
            f"{format_duration(assessment.predicted_ota_s)}; the simulation runs the same "
            "exchanges in seconds."
        )

    def _on_running(self) -> None:
        if self.controller.running:
            # The banner the verdict will take: shown from the start, so the chart does
            # not shrink when the verdict arrives.
            self.verdict.show_message(Tone.BUSY, f"Updating ({self._mode_words()})\u2026")
            self.show_session_button.setVisible(False)
            self.stages.reset()
            self.chart.clear()
            self.notices.clear()
            self.progress.setValue(0)
            self.progress_text.setText("Waiting for the bridge\u2026")
            request = self.controller.engine.request if self.controller.engine else None
            self.chart.set_line_rate(request.known_line_rate_bps if request else None)
            self._transfer_started_at = None
        self._refresh_buttons()

    def _on_event(self, event: ev.UpdateEvent) -> None:
        if isinstance(event, ev.StageStarted):
            self.stages.started(event.stage, event.detail)
        elif isinstance(event, ev.StageFinished):
            self.stages.finished(event.stage, event.ok, event.duration_s)
        elif isinstance(event, ev.Progress):
            if self._transfer_started_at is None:
                self._transfer_started_at = event.at
            self.progress.setValue(round(1000 * event.fraction))
            self.progress_text.setText(progress_words(event))
            # A simulated OTA's rate is in radio time: plot it against radio time too.
            elapsed = event.simulated_s
            if elapsed is None:
                elapsed = event.at - self._transfer_started_at
            self.chart.add_sample(elapsed, event.rate_bps)
        elif isinstance(event, ev.Retry):
            offset = f" at byte {event.resume_offset:,}" if event.resume_offset else ""
            self.notices.addItem(
                f"Retry {event.attempt} ({event.stage.value}){offset}: {event.reason}"
            )
        elif isinstance(event, ev.Notice):
            symbol = (Tone.WARN if event.level == "warning" else Tone.INFO).symbol
            self.notices.addItem(f"{symbol} {event.message}")

    def _on_finished(self, result: UpdateResult) -> None:
        verdict = update_verdict(result, arrow=ARROW)
        next_step = verdict.next_step
        if result.result in HANG_CLASSES and is_emulated(self.controller.session.url):
            next_step = (
                f"{next_step} An emulated bridge that hangs answers again after a power-cycle "
                "(Bridge \u2192 Power-cycle the emulated bridge)."
            ).strip()
        self.verdict.show_message(
            VERDICT_TONES[verdict.tone], verdict.headline, list(verdict.details), next_step
        )
        self.stages.session_ended(result.ok, result.failure_stage)
        if result.ok:
            self.progress.setValue(1000)
            self.progress_text.setText(f"Done: {result.bytes:,} bytes sent and confirmed.")
        for notice in result.notices:
            if notice.startswith("Triage log:"):
                self.notices.addItem(f"{Tone.WARN.symbol} {notice}")
        resumable = not result.ok and result.failure_stage == Stage.TRANSFER.value
        self._resumable = self.controller.image_path if resumable else None
        self.show_session_button.setVisible(bool(result.session_id))
        self._refresh_buttons()

    def _on_crashed(self, error: BridgeLabError) -> None:
        self.verdict.show_message(Tone.BAD, error.message, "", error.action)
        self._refresh_buttons()

    def _show_session(self) -> None:
        result = self.controller.last_result
        if result is not None and result.session_id:
            self.showSessionRequested.emit(result.session_id)

    # -- actions ----------------------------------------------------------------------------

    def _mode_words(self) -> str:
        return "simulated OTA" if self.mode() == "ota" else "local update"

    def mode(self) -> str:
        return "ota" if self.ota_mode.isChecked() else "local"

    def _start(self) -> None:
        self.show_session_button.setVisible(False)
        try:
            self.controller.start(self.mode())
        except BridgeLabError as error:
            self.verdict.show_message(Tone.BAD, error.message, "", error.action)

    def _refresh_buttons(self, *_: object) -> None:
        controller = self.controller
        running = controller.running
        assessment = controller.assessment
        # A mode the pre-flight refuses for this bridge (not for the image: that refuses
        # both) cannot be chosen, and the hint under it says why.
        ota_refusal = assessment.verdict("ota").mode_refusal if assessment is not None else None
        ota_blocked = ota_refusal is not None
        if ota_blocked and self.ota_mode.isChecked():
            self.local_mode.setChecked(True)
        self.ota_hint.setText(self._ota_hint())
        refusal = controller.start_refusal(self.mode())
        ready = refusal is None
        self.start_button.setText("Resume" if self._resumable is not None else "Start")
        self.start_button.setEnabled(ready)
        self.start_action.setEnabled(ready)
        self.start_button.setToolTip(
            "Start the update (Ctrl+Return)" if ready else f"Not available: {refusal}"
        )
        # The report's headline already says why an image is refused: say it here only
        # when the reason is the session's or this mode's.
        verdict = assessment.verdict(self.mode()) if assessment is not None else None
        image_refused = verdict is not None and verdict.refusal not in (None, *verdict.own)
        shown = refusal if refusal and not running and not image_refused else ""
        self.start_reason.setText(shown or "")
        self.start_reason.setVisible(bool(shown))
        self.cancel_button.setEnabled(running)
        self.cancel_action.setEnabled(running)
        self.downgrade_button.setVisible(
            assessment is not None and assessment.needs_downgrade_reason and not running
        )
        self.open_button.setEnabled(not running)
        self.demo_button.setEnabled(not running)
        self.local_mode.setEnabled(not running)
        self.ota_mode.setEnabled(not running and not ota_blocked)
        self.ota_mode.setToolTip(f"Not available: {ota_refusal.message}" if ota_refusal else "")
