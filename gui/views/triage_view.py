"""Triage view: every update attempt in the log, filtered, searched, explained, exported.

Filters (device, result, failure class, time, free-text search) drive a lazily loaded
table (`SessionTableModel`: pages of 200 rows queried on a worker, so a log of 100,000
sessions scrolls smoothly). Selecting a session shows its story (`SessionDetail`). Export
writes the filtered sessions as CSV or JSON; a defect bundle zips the selected sessions
for a supplier; another laptop's log merges in from the File menu.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelection, QModelIndex, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from bridgelab.data.clock import parse_when
from bridgelab.data.failures import FailureClass, FinalState
from bridgelab.data.records import SessionFilter
from bridgelab.data.store import TriageStore
from bridgelab.errors import BridgeLabError
from bridgelab.gui.dialogs import Dialogs
from bridgelab.gui.session_model import COLUMNS, FAILURE_COLUMN, MODEL_COLUMN, SessionTableModel
from bridgelab.gui.tasks import TaskRunner
from bridgelab.gui.triage_jobs import EXPORT_FORMATS, bundle_sessions, export_sessions
from bridgelab.gui.views.session_detail import SessionDetail
from bridgelab.gui.widgets.panes import side_by_side

TIME_RANGES = (("Any time", ""), ("Last hour", "1h"), ("Last 24 hours", "24h"),
               ("Last 7 days", "7d"), ("Last 30 days", "30d"))  # fmt: skip
FILTER_DELAY_MS = 300
# A sample of each column's widest usual text: the width is measured in the font in use.
COLUMN_SAMPLES = ("2025-05-31 23:45", "interrupted", "transfer: Activation failed", "P2P-A1 xxx",
                  "1.2.0 \u2192 1.3.0.17", "00:12:4B:00:01:B1:D6:01", "local", "SITE-000",
                  "/dev/ttyUSB0")  # fmt: skip
MODEL_WIDTH_MAX = 380  # pixels: a long model name is elided, the rest of the row still fits


class TriageView(QWidget):
    # The columns sized to what the sessions hold (the others keep their sample width).
    FITTED_COLUMNS = (FAILURE_COLUMN, MODEL_COLUMN)

    message = Signal(str)  # one line for the status bar

    def __init__(self, runner: TaskRunner, dialogs: Dialogs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.dialogs = dialogs
        self.store: TriageStore | None = None
        self.setAccessibleName("Triage view")
        self.model = SessionTableModel(runner, parent=self)

        # -- filters
        self.device = QLineEdit()
        self.device.setPlaceholderText("EUI-64")
        self.device.setAccessibleName("Filter by device EUI-64")
        self.result = QComboBox()
        self.result.addItem("Any result", "")
        for state in FinalState:
            self.result.addItem(state.value, state.value)
        self.result.setAccessibleName("Filter by result")
        self.failure = QComboBox()
        self.failure.addItem("Any failure class", "")
        for cls in FailureClass:
            self.failure.addItem(cls.title, cls.value)
        self.failure.setAccessibleName("Filter by failure class")
        self.since = QComboBox()
        for label, age in TIME_RANGES:
            self.since.addItem(label, age)
        self.since.setAccessibleName("Filter by time")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search id, port, site, operator, error\u2026")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search sessions")
        self.order = QComboBox()
        self.order.addItem("Newest first", "newest")
        self.order.addItem("Oldest first", "oldest")
        self.order.setAccessibleName("Sort order")
        filters = QHBoxLayout()
        for widget, stretch in ((self.search, 3), (self.device, 2), (self.result, 0),
                                (self.failure, 1), (self.since, 0), (self.order, 0)):  # fmt: skip
            filters.addWidget(widget, stretch)
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_filters)
        for line in (self.device, self.search):
            line.textChanged.connect(self._filter_timer.start)
        for combo in (self.result, self.failure, self.since, self.order):
            combo.currentIndexChanged.connect(self._filter_timer.start)

        # -- table
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Sessions")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vertical = self.table.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row measuring
        vertical.setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        metrics = self.table.fontMetrics()
        for column, sample in enumerate(COLUMN_SAMPLES[: len(COLUMNS)]):
            self.table.setColumnWidth(column, metrics.horizontalAdvance(sample) + 16)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.detail = SessionDetail(runner)
        self.detail.bundleRequested.connect(lambda sid: self.write_bundle([sid]))

        # -- status and actions
        self.status = QLabel("Opening the triage log\u2026")
        self.status.setAccessibleName("Triage status")
        self.export_button = QPushButton("&Export\u2026")
        self.export_button.setAccessibleName("Export the filtered sessions")
        self.export_button.clicked.connect(self.export)
        self.bundle_button = QPushButton("&Bundle selected\u2026")
        self.bundle_button.setAccessibleName("Defect bundle of the selected sessions")
        self.bundle_button.clicked.connect(self._bundle_selected)
        self.refresh_button = QPushButton("Re&fresh")
        self.refresh_button.clicked.connect(self.model.reload)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.refresh_button)
        status_row.addWidget(self.export_button)
        status_row.addWidget(self.bundle_button)

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(side_by_side(self.table, self.detail, 5, 3), 1)
        layout.addLayout(status_row)

        self.model.countChanged.connect(self._update_status)
        self.model.pageLoaded.connect(self._update_status)
        self.model.pageLoaded.connect(self._fit_columns)
        self.model.failed.connect(self._on_query_failed)
        self._enable(False)

    # -- store ------------------------------------------------------------------------------

    def set_store(self, store: TriageStore | None) -> None:
        self.store = store
        self.detail.set_store(store)
        self.model.set_store(store)
        self._enable(store is not None)
        if store is not None:
            self.status.setText(f"Reading {store.path}\u2026")

    def show_store_problem(self, error: BridgeLabError) -> None:
        self.status.setText(f"The triage log cannot be used: {error.message} {error.action}")

    def _enable(self, on: bool) -> None:
        for widget in (self.export_button, self.bundle_button, self.refresh_button):
            widget.setEnabled(on)

    # -- filters ----------------------------------------------------------------------------

    def current_filter(self) -> SessionFilter:
        """The filter the widgets describe; raises BadFilter for a time it cannot read."""
        age = str(self.since.currentData() or "")
        return SessionFilter(
            device=self.device.text().strip() or None,
            result=str(self.result.currentData() or "") or None,
            failure_class=str(self.failure.currentData() or "") or None,
            since=parse_when(age) if age else None,
            text=self.search.text().strip() or None,
        )

    def apply_filters(self) -> None:
        self.detail.clear()
        self.model.set_filter(self.current_filter(), str(self.order.currentData()))

    def _fit_columns(self, *_: object) -> None:
        """Widen Failure and Model to what the loaded sessions say, Model up to a cap, so
        neither is clipped at 1366x768 beside the session's story."""
        metrics = self.table.fontMetrics()
        for column in self.FITTED_COLUMNS:
            texts = [
                str(self.model.data(self.model.index(row, column)) or "")
                for row in range(min(self.model.rowCount(), 200))
            ]
            widest = max((metrics.horizontalAdvance(text) for text in texts), default=0) + 16
            sample = metrics.horizontalAdvance(COLUMN_SAMPLES[column]) + 16
            width = max(sample, widest)
            if column == MODEL_COLUMN:
                width = min(width, MODEL_WIDTH_MAX)
            self.table.setColumnWidth(column, width)

    def _update_status(self, *_: object) -> None:
        total = self.model.total
        loaded = self.model.rowCount()
        if total is None:
            self.status.setText(f"{loaded:,} sessions loaded\u2026")
        else:
            more = " (scroll for more)" if loaded < total else ""
            self.status.setText(f"{total:,} sessions match; {loaded:,} shown{more}.")

    def _on_query_failed(self, error: BridgeLabError) -> None:
        self.status.setText(f"{error.message} {error.action}".strip())

    # -- selection and detail ---------------------------------------------------------------

    def selected_ids(self) -> list[str]:
        selection = self.table.selectionModel()
        return [self.model.session_at(index.row()).id for index in selection.selectedRows()]

    def _on_selection(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.selected_ids()
        if rows:
            self.detail.show_session(rows[-1])

    def open_session(self, session_id: str) -> None:
        """Show one session (e.g. the update that just ended), selecting it if loaded."""
        ids = self.model.loaded_ids()
        if session_id in ids:
            self.table.selectRow(ids.index(session_id))
            self.table.scrollTo(self.model.index(ids.index(session_id), 0))
        self.detail.show_session(session_id)

    def first_row_index(self) -> QModelIndex:
        return self.model.index(0, 0)

    # -- export and bundle ------------------------------------------------------------------

    def export(self) -> None:
        store = self.store
        if store is None:
            return
        filters_text = ";;".join(EXPORT_FORMATS.values())
        path = self.dialogs.save_file("Export sessions", "bridgelab-sessions.csv", filters_text)
        if path is None:
            return
        fmt = "json" if path.suffix.lower() == ".json" else "csv"
        filters = self.model.filters
        self.message.emit(f"Exporting to {path}\u2026")
        self.runner.submit(
            lambda: export_sessions(store, filters, path, fmt),
            lambda count: self.message.emit(f"Exported {count:,} sessions to {path}."),
            self._job_failed,
        )

    def _bundle_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            self.message.emit("Select one or more sessions for the bundle first.")
            return
        self.write_bundle(ids)

    def write_bundle(self, session_ids: list[str]) -> None:
        store = self.store
        if store is None:
            return
        suggested = f"bridgelab-defect-{session_ids[0][:8]}.zip"
        path = self.dialogs.save_file("Defect bundle", suggested, "Zip files (*.zip)")
        if path is None:
            return
        self.runner.submit(
            lambda: bundle_sessions(store, session_ids, Path(path)),
            lambda report: self.message.emit(
                f"Defect bundle of {len(report.sessions)} session(s) written to {report.path}."
            ),
            self._job_failed,
        )

    def _job_failed(self, error: BridgeLabError) -> None:
        self.message.emit(f"{error.message} {error.action}".strip())
        self.dialogs.warn("Triage log", f"{error.message}\n\n{error.action}".strip())
