"""A state at a glance: a filled, rounded badge with a symbol and a word ("✔ JOINED").

Readable across a meter cupboard: the word is bold and large, the colour is a second cue,
and the symbol a third. Screen readers get the word and the detail as the accessible name.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from bridgelab.gui.theme import Tone, tone_colors

PADDING_EM = 0.6


class StatusBadge(QWidget):
    def __init__(self, parent: QWidget | None = None, *, scale: float = 1.0) -> None:
        super().__init__(parent)
        self._tone = Tone.NEUTRAL
        self._word = ""
        self._detail = ""
        self._scale = scale
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * scale)
        self.setFont(font)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    @property
    def tone(self) -> Tone:
        return self._tone

    @property
    def word(self) -> str:
        return self._word

    def set_state(self, tone: Tone, word: str, detail: str = "") -> None:
        self._tone, self._word, self._detail = tone, word, detail
        self.setAccessibleName(f"{word}. {detail}".strip(". ") if detail else word)
        self.setToolTip(detail)
        self.updateGeometry()
        self.update()

    def text(self) -> str:
        return f"{self._tone.symbol} {self._word}" if self._word else ""

    def sizeHint(self) -> QSize:
        metrics = QFontMetrics(self.font())
        pad = round(metrics.height() * PADDING_EM)
        width = metrics.horizontalAdvance(self.text() or "\u2013") + 2 * pad
        return QSize(width, metrics.height() + pad)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:
        fill, ink = tone_colors(self._tone, self.palette())
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        radius = rect.height() / 4
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, radius, radius)
        painter.setPen(ink)
        painter.setFont(self.font())
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.text())
        painter.end()
