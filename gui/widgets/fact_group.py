"""A titled group of label/value facts ("EUI-64: 00:12:4B:00:01:B1:D6:01").

Values are selectable (an engineer copies an EUI-64 into a ticket) and each carries an
accessible name made of its label, so a screen reader reads "EUI-64, 00:12:...".
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QWidget

Fact = tuple[str, str]


class FactGroup(QGroupBox):
    def __init__(self, title: str, labels: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self._form = QFormLayout(self)
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self._values: dict[str, QLabel] = {}
        for label in labels:
            value = QLabel("-")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            value.setAccessibleName(label)
            self._form.addRow(f"{label}:", value)
            self._values[label] = value

    def scale_values(self, factor: float) -> None:
        """Larger value text (the labels keep the normal size)."""
        for value in self._values.values():
            font = QFont(value.font())
            font.setPointSizeF(font.pointSizeF() * factor)
            value.setFont(font)

    def set_facts(self, facts: Sequence[Fact]) -> None:
        for label, text in facts:
            self._values[label].setText(text)

    def value(self, label: str) -> str:
        return self._values[label].text()

    def clear_values(self) -> None:
        for value in self._values.values():
            value.setText("-")
