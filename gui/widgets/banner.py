"""A message panel with a tone: a headline, the facts behind it and the next step.

Used for the update verdict, pre-flight problems ("No permission to open /dev/ttyUSB0" and
how to fix it), the diagnosis headline and the first-run hint. The tone shows as a coloured
bar and border with the symbol before the headline; the text stays in the palette's own
colours so it is readable in light and dark mode alike.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from bridgelab.gui.theme import Tone, tone_colors

BAR_WIDTH = 6


def _plain(text: str) -> str:
    return text.strip().rstrip(".").casefold()


class Banner(QFrame):
    def __init__(self, parent: QWidget | None = None, *, headline_scale: float = 1.25) -> None:
        super().__init__(parent)
        self._tone = Tone.NEUTRAL
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFont(self.headline.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * headline_scale)
        self.headline.setFont(font)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.next_step = QLabel()
        self.next_step.setWordWrap(True)
        self.next_step.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._buttons = QHBoxLayout()
        self._buttons.addStretch(1)
        text = QVBoxLayout()
        text.addWidget(self.headline)
        text.addWidget(self.details)
        text.addWidget(self.next_step)
        text.addStretch(1)  # room kept for a longer message stays below the text
        text.addLayout(self._buttons)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(BAR_WIDTH + 10, 8, 10, 8)
        outer.addLayout(text)
        # As tall as its text, never stretched: spare height stays below the banners.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

    @property
    def tone(self) -> Tone:
        return self._tone

    def add_button(self, text: str, accessible_name: str = "") -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(accessible_name or text.replace("&", ""))
        self._buttons.addWidget(button)
        return button

    def show_message(
        self,
        tone: Tone,
        headline: str,
        details: str | list[str] | tuple[str, ...] = "",
        next_step: str = "",
    ) -> None:
        self._tone = tone
        self.headline.setText(f"{tone.symbol}  {headline}")
        lines = [details] if isinstance(details, str) else list(details)
        # Each thing once: no detail line that repeats the headline or the next step.
        said = {_plain(headline), _plain(next_step)}
        body = "\n".join(line for line in lines if line and _plain(line) not in said)
        self.details.setText(body)
        self.details.setVisible(bool(body))
        self.next_step.setText(f"Next step: {next_step}" if next_step else "")
        self.next_step.setVisible(bool(next_step))
        self.setAccessibleName(headline)
        self.setAccessibleDescription(" ".join(filter(None, [body, next_step])))
        self.setVisible(True)
        self.update()

    def text(self) -> str:
        """Everything the banner says, as plain text (tests and screen readers)."""
        parts = [self.headline.text(), self.details.text(), self.next_step.text()]
        return "\n".join(part for part in parts if part)

    def paintEvent(self, event: QPaintEvent) -> None:
        fill, _ = tone_colors(self._tone, self.palette())
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        painter.setPen(QPen(fill, 2))
        painter.setBrush(self.palette().base())
        painter.drawRoundedRect(rect, 6, 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(rect.left(), rect.top(), BAR_WIDTH, rect.height()), 3, 3)
        painter.end()
