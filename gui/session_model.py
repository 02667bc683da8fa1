"""The triage table's model: sessions loaded a page at a time, queried on a worker.

A lab log holds 100,000 sessions and more. The model never asks for them all: it loads
`page_size` rows, and the view's `canFetchMore()`/`fetchMore()` (called as the engineer
scrolls) queues the next page on a worker; rows are inserted when the page arrives. Each
row's display text is built on the worker too, so `data()` is a tuple look-up. Changing the
filter bumps a generation number: pages of an older query that arrive late are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QGuiApplication

from bridgelab.data.failures import FailureClass
from bridgelab.data.records import SessionFilter, SessionRecord
from bridgelab.data.store import TriageStore
from bridgelab.drivers.versions import display_version
from bridgelab.errors import BridgeLabError
from bridgelab.gui.formatting import ARROW, format_local_time
from bridgelab.gui.tasks import TaskRunner
from bridgelab.gui.theme import RESULT_TONES, Tone, tone_text_color

PAGE_SIZE = 200
# What triage reads first comes first: the result, why it failed and on what model fit a
# 1366-pixel screen beside the session's story; device, mode, site and port follow.
COLUMNS = ("Started", "Result", "Failure", "Model", "Versions", "Device", "Mode", "Site", "Port")
RESULT_COLUMN, FAILURE_COLUMN, MODEL_COLUMN = 1, 2, 3
Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()  # the invalid index: "the table itself"


def failure_words(record: SessionRecord) -> str:
    if not record.failure_class:
        return ""
    try:
        title = FailureClass(record.failure_class).title
    except ValueError:
        title = record.failure_class
    return f"{record.failure_stage or '?'}: {title}"


def version_words(record: SessionRecord) -> str:
    before = display_version(record.version_before) if record.version_before is not None else "?"
    if record.version_after is not None:
        return f"{before} {ARROW} {display_version(record.version_after)}"
    if record.image_version is not None:
        return f"{before} {ARROW} ({display_version(record.image_version)})"
    return before


def row_cells(record: SessionRecord) -> tuple[str, ...]:
    """The display text of one session, column by column (built on the worker)."""
    return (
        format_local_time(record.started_at, seconds=False),
        record.final_state,
        failure_words(record),
        record.device_model or "-",
        version_words(record),
        record.device_eui64 or "-",
        record.mode,
        record.site_ref or "",
        record.port_url or "",
    )


@dataclass(frozen=True)
class Page:
    generation: int
    offset: int
    rows: list[tuple[SessionRecord, tuple[str, ...]]]


class SessionTableModel(QAbstractTableModel):
    countChanged = Signal(int)  # sessions matching the filter (from a separate count query)
    loadingChanged = Signal()  # read `.loading`
    pageLoaded = Signal(int)  # rows loaded so far
    failed = Signal(object)  # BridgeLabError (e.g. a bad filter)

    def __init__(
        self, runner: TaskRunner, *, page_size: int = PAGE_SIZE, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.page_size = page_size
        self.store: TriageStore | None = None
        self.filters = SessionFilter()
        self.order = "newest"
        self.total: int | None = None
        self._rows: list[tuple[SessionRecord, tuple[str, ...]]] = []
        self._generation = 0
        self._fetching = False
        self._exhausted = True

    # -- what to show -----------------------------------------------------------------------

    def set_store(self, store: TriageStore | None) -> None:
        self.store = store
        self.reload()

    def set_filter(self, filters: SessionFilter, order: str = "newest") -> None:
        self.filters, self.order = filters, order
        self.reload()

    def reload(self) -> None:
        """Forget the loaded rows and query again from the first page."""
        self.beginResetModel()
        self._generation += 1
        self._rows = []
        self._fetching = False
        self._exhausted = self.store is None
        self.total = None
        self.endResetModel()
        if self.store is not None:
            self._count()
            self.fetchMore(QModelIndex())

    def session_at(self, row: int) -> SessionRecord:
        return self._rows[row][0]

    def loaded_ids(self) -> list[str]:
        return [record.id for record, _ in self._rows]

    @property
    def loading(self) -> bool:
        return self._fetching

    # -- lazy loading -----------------------------------------------------------------------

    def canFetchMore(self, parent: Index = ROOT) -> bool:
        return not parent.isValid() and not self._exhausted and not self._fetching

    def fetchMore(self, parent: Index = ROOT) -> None:
        store = self.store
        if parent.isValid() or store is None or self._fetching or self._exhausted:
            return
        self._fetching = True
        self.loadingChanged.emit()
        generation, offset = self._generation, len(self._rows)
        filters, order, size = self.filters, self.order, self.page_size

        def query() -> Page:
            records = store.query_sessions(filters, limit=size, offset=offset, order=order)
            return Page(generation, offset, [(r, row_cells(r)) for r in records])

        self.runner.submit(query, self._page_arrived, self._query_failed)

    def _page_arrived(self, page: Page) -> None:
        if page.generation != self._generation:
            return
        self._fetching = False
        self.loadingChanged.emit()
        if len(page.rows) < self.page_size:
            self._exhausted = True
        if page.rows:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(page.rows) - 1)
            self._rows.extend(page.rows)
            self.endInsertRows()
        self.pageLoaded.emit(len(self._rows))

    def _query_failed(self, error: BridgeLabError) -> None:
        self._fetching = False
        self._exhausted = True
        self.loadingChanged.emit()
        self.failed.emit(error)

    def _count(self) -> None:
        store, filters, generation = self.store, self.filters, self._generation
        if store is None:
            return

        def counted(total: int) -> None:
            if generation == self._generation:
                self.total = total
                self.countChanged.emit(total)

        self.runner.submit(lambda: store.count_sessions(filters), counted, self._query_failed)

    # -- QAbstractTableModel ----------------------------------------------------------------

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record, cells = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return cells[column]
        if role == Qt.ItemDataRole.ForegroundRole and column == RESULT_COLUMN:
            tone = RESULT_TONES.get(record.final_state, Tone.NEUTRAL)
            return tone_text_color(tone, QGuiApplication.palette())
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == FAILURE_COLUMN and record.failure_message:
                return record.failure_message
            return f"Session {record.id}"
        if role == Qt.ItemDataRole.UserRole:
            return record.id
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None
