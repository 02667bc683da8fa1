"""Lab bench view: a rack of bridges at once, one row per lane job, pass or fail at a glance.

Open a campaign plan (TOML) or the demo rack, start it, watch each lane's state and
progress, retry the failed lanes, and save the summary report (CSV and JSON).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from bridgelab.errors import BridgeLabError
from bridgelab.gui.bench_controller import (
    LANE_HEADERS,
    PROGRESS_COLUMN,
    STATE_COLUMN,
    BenchController,
    LaneRow,
    summary_words,
)
from bridgelab.gui.dialogs import Dialogs
from bridgelab.gui.formatting import ARROW
from bridgelab.gui.rows_model import RowsModel
from bridgelab.gui.theme import Tone, tone_text_color
from bridgelab.gui.widgets.banner import Banner
from bridgelab.updates.campaign import CampaignPlan, CampaignSummary
from bridgelab.updates.verdict import update_verdict

STATE_TONES = {
    "queued": Tone.NEUTRAL,
    "running": Tone.BUSY,
    "passed": Tone.GOOD,
    "failed": Tone.BAD,
    "cancelled": Tone.WARN,
}
COLUMN_CHARS = (3, 44, 22, 6, 9, 5, 10, 18, 16)


class ProgressDelegate(QStyledItemDelegate):
    """Draws the progress column as a progress bar ("37 %")."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        text = str(index.data() or "0 %")
        try:
            value = int(text.rstrip(" %"))
        except ValueError:
            value = 0
        bar = QStyleOptionProgressBar()
        rect = QRect(option.rect)
        bar.rect = rect.adjusted(2, 3, -2, -3)
        bar.minimum = 0
        bar.maximum = 100
        bar.progress = value
        bar.text = text
        bar.textVisible = True
        style = QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class BenchView(QWidget):
    showSessionRequested = Signal(str)  # open this session in the triage view

    def __init__(
        self, controller: BenchController, dialogs: Dialogs, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.dialogs = dialogs
        self.setAccessibleName("Lab bench view")
        self._rows: dict[int, int] = {}  # job index -> table row
        self.model = RowsModel(LANE_HEADERS, foreground=self._foreground, parent=self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Lanes")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setItemDelegateForColumn(PROGRESS_COLUMN, ProgressDelegate(self.table))
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 12)
        self.table.horizontalHeader().setStretchLastSection(True)
        char = self.table.fontMetrics().averageCharWidth()
        for column, chars in enumerate(COLUMN_CHARS):
            self.table.setColumnWidth(column, chars * char + 14)

        self.open_button = QPushButton("&Open plan\u2026")
        self.open_button.setAccessibleName("Open a campaign plan")
        self.open_button.clicked.connect(self._open_plan)
        self.demo_button = QPushButton("Demo &rack")
        self.demo_button.setAccessibleName("Load the demo rack of emulated bridges")
        self.demo_button.clicked.connect(controller.use_demo_rack)
        self.start_button = QPushButton("&Start")
        self.start_button.setAccessibleName("Start the campaign")
        self.start_button.clicked.connect(self._start)
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.setAccessibleName("Cancel the campaign")
        self.cancel_button.clicked.connect(controller.cancel)
        self.retry_button = QPushButton("Retry &failed")
        self.retry_button.setAccessibleName("Retry the failed lanes")
        self.retry_button.clicked.connect(self._retry)
        self.report_button = QPushButton("Save re&port\u2026")
        self.report_button.setAccessibleName("Save the summary report")
        self.report_button.clicked.connect(self._save_report)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.demo_button, self.start_button,
                       self.cancel_button, self.retry_button, self.report_button):  # fmt: skip
            buttons.addWidget(button)
        buttons.addStretch(1)

        self.summary = Banner()
        self.summary.show_message(
            Tone.NEUTRAL,
            "No campaign loaded",
            "Open a campaign plan (TOML: bridges, images, lanes, retries) or load the demo "
            "rack of emulated bridges to see how a bench run looks.",
        )
        self.lane = Banner()
        self.lane_triage = self.lane.add_button("Open in &Triage")
        self.lane_triage.clicked.connect(self._open_lane_session)
        self.lane.setVisible(False)
        self.table.selectionModel().selectionChanged.connect(self._show_lane)
        self.model.dataChanged.connect(self._show_lane)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.lane)

        controller.planChanged.connect(self._on_plan)
        controller.laneChanged.connect(self._on_lane)
        controller.runningChanged.connect(self._on_running)
        controller.finished.connect(self._on_finished)
        controller.failed.connect(self._on_failed)
        controller.reportWritten.connect(self._on_report)
        controller.store.settledChanged.connect(self._refresh_buttons)
        self._refresh_buttons()

    def _foreground(self, row: int, column: int) -> QColor | None:
        if column != STATE_COLUMN:
            return None
        tone = STATE_TONES.get(self.model.row(row)[STATE_COLUMN], Tone.NEUTRAL)
        return tone_text_color(tone, self.palette())

    # -- controller signals -----------------------------------------------------------------

    def _on_plan(self, plan: CampaignPlan) -> None:
        rows = self.controller.rows()
        self._rows = {row.index: n for n, row in enumerate(rows)}
        self.model.set_rows([row.cells() for row in rows])
        self.summary.show_message(
            Tone.NEUTRAL,
            f"Plan \u201c{plan.name}\u201d: {len(plan.jobs)} job(s) in {plan.lanes} lane(s)",
            f"Order: {', '.join(plan.order)}; {plan.retries} automatic retr"
            f"{'y' if plan.retries == 1 else 'ies'} per job.",
            "Press Start.",
        )
        self._refresh_buttons()

    def _on_lane(self, row: LaneRow) -> None:
        table_row = self._rows.get(row.index)
        if table_row is not None:
            self.model.set_row(table_row, row.cells())

    def selected_job(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        for index, table_row in self._rows.items():
            if table_row == rows[0].row():
                return index
        return None

    def _show_lane(self, *_: object) -> None:
        """The selected lane's latest attempt in words, with the way to its session."""
        index = self.selected_job()
        state = self.controller.jobs.get(index) if index is not None else None
        if state is None or state.last is None:
            self.lane.setVisible(False)
            return
        verdict = update_verdict(state.last, arrow=ARROW)
        tone = {"good": Tone.GOOD, "bad": Tone.BAD}.get(verdict.tone, Tone.NEUTRAL)
        name = state.job.label or state.job.port
        attempts = f"{state.attempts} attempt{'s' if state.attempts != 1 else ''}"
        self.lane.show_message(
            tone,
            f"Job {index + 1 if index is not None else '?'} ({name}): {verdict.headline}",
            [f"{state.job.port}, {attempts}", *verdict.details],
            verdict.next_step,
        )
        self.lane_triage.setVisible(bool(state.last.session_id))

    def _open_lane_session(self) -> None:
        index = self.selected_job()
        state = self.controller.jobs.get(index) if index is not None else None
        if state is not None and state.last is not None and state.last.session_id:
            self.showSessionRequested.emit(state.last.session_id)

    def _on_running(self) -> None:
        if self.controller.running:
            self.summary.show_message(Tone.BUSY, "Campaign running\u2026")
        self._refresh_buttons()

    def _on_finished(self, summary: CampaignSummary) -> None:
        tone = Tone.GOOD if summary.all_passed else Tone.BAD
        failed = [job for job in summary.jobs if job.state != "passed"]
        details = [
            f"Job {job.job.index + 1} ({job.job.label or job.job.port}): "
            f"{job.last.result if job.last else job.state}"
            + (f" \u2192 {job.next_step}" if job.next_step else "")
            for job in failed
        ]
        retryable = [job for job in failed if job.retryable]
        if retryable:
            count = len(retryable)
            next_step = (
                f"Retry the {count} lane{'s' if count != 1 else ''} a retry can fix, or open "
                "them in the Triage view."
            )
        elif failed:
            next_step = "A retry would fail the same way: follow each lane's next step above."
        else:
            next_step = ""
        self.summary.show_message(tone, summary_words(summary), details, next_step)
        self._refresh_buttons()

    def _on_failed(self, error: BridgeLabError) -> None:
        self.summary.show_message(Tone.BAD, error.message, "", error.action)
        self._refresh_buttons()

    def _on_report(self, paths: object) -> None:
        names = ", ".join(str(path) for path in paths) if isinstance(paths, tuple) else ""
        self.summary.show_message(Tone.GOOD, "Report saved", names)

    # -- actions ----------------------------------------------------------------------------

    def _open_plan(self) -> None:
        path = self.dialogs.open_file("Open a campaign plan", "", "Campaign plans (*.toml)")
        if path is not None:
            self.controller.load_plan(path)

    def _start(self) -> None:
        try:
            self.controller.start()
        except BridgeLabError as error:
            self._on_failed(error)

    def _retry(self) -> None:
        try:
            self.controller.retry_failed()
        except BridgeLabError as error:
            self._on_failed(error)

    def _save_report(self) -> None:
        folder = self.dialogs.choose_folder("Save the campaign report in", "")
        if folder is not None:
            self.controller.save_report(folder)

    def _refresh_buttons(self, *_: object) -> None:
        controller = self.controller
        running = controller.running
        has_failed = bool(controller.retryable_jobs())
        self.open_button.setEnabled(not running)
        self.demo_button.setEnabled(not running)
        self.start_button.setEnabled(controller.can_start)
        self.cancel_button.setEnabled(running)
        self.retry_button.setEnabled(has_failed and not running and controller.summary is not None)
        self.report_button.setEnabled(controller.summary is not None and not running)
