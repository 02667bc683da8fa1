"""A read-only table model over rows of text: the timeline, the raw trace, the lanes.

Rows are tuples of display strings built off the GUI thread; `data()` only indexes them.
An optional `foreground(row, column)` colours a cell (a result word, a failed lane).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()  # the invalid index: "the table itself"
Foreground = Callable[[int, int], QColor | None]


class RowsModel(QAbstractTableModel):
    def __init__(
        self,
        headers: Sequence[str],
        *,
        foreground: Foreground | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.headers = tuple(headers)
        self._rows: list[tuple[str, ...]] = []
        self._tooltips: list[str] = []
        self._foreground = foreground

    def set_rows(self, rows: Sequence[tuple[str, ...]], tooltips: Sequence[str] = ()) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._tooltips = list(tooltips)
        self.endResetModel()

    def set_row(self, row: int, cells: tuple[str, ...]) -> None:
        self._rows[row] = cells
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.headers) - 1))

    def row(self, row: int) -> tuple[str, ...]:
        return self._rows[row]

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.headers)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.ToolTipRole and index.row() < len(self._tooltips):
            return self._tooltips[index.row()] or None
        if role == Qt.ItemDataRole.ForegroundRole and self._foreground is not None:
            return self._foreground(index.row(), index.column())
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section]
        return None
