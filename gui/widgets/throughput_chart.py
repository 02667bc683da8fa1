"""A live throughput chart drawn with QPainter (QtCharts is not part of PySide6-Essentials).

Samples are (seconds since the transfer started, bytes per second). The chart keeps at
most `MAX_POINTS`, halving its resolution when full, so an hour-long OTA costs the same to
draw as a short local update. The line rate, when known, is a dashed reference line:
the gap between the two is the protocol's overhead, at a glance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from bridgelab.gui.formatting import format_rate
from bridgelab.gui.theme import Tone, tone_colors

MAX_POINTS = 600
Sample = tuple[float, float]


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is >= `value` (axis maximum)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


def time_axis(latest_s: float) -> tuple[float, str]:
    """The time axis' end (seconds) and its label: seconds, or whole minutes past two."""
    if latest_s >= 120:
        minutes = nice_ceiling(latest_s / 60)
        return minutes * 60, f"{minutes:g} min"
    seconds = nice_ceiling(latest_s) if latest_s > 0 else 1.0
    return seconds, f"{seconds:g} s"


def plot_points(samples: Sequence[Sample], area: QRectF, x_max: float, y_max: float) -> QPolygonF:
    """Map samples into `area` (y grows upwards from the bottom edge)."""
    polygon = QPolygonF()
    if x_max <= 0 or y_max <= 0:
        return polygon
    for t_s, rate in samples:
        x = area.left() + area.width() * min(t_s / x_max, 1.0)
        y = area.bottom() - area.height() * min(max(rate, 0.0) / y_max, 1.0)
        polygon.append(QPointF(x, y))
    return polygon


def thin(samples: list[Sample]) -> list[Sample]:
    """Every other sample, keeping the last: halves the resolution, keeps the shape."""
    kept = samples[::2]
    if samples and kept[-1] is not samples[-1]:
        kept.append(samples[-1])
    return kept


class ThroughputChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._samples: list[Sample] = []
        self._line_rate: float | None = None
        self.setAccessibleName("Throughput chart")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(110)

    @property
    def samples(self) -> list[Sample]:
        return list(self._samples)

    def clear(self) -> None:
        self._samples.clear()
        self.update()

    def set_line_rate(self, bytes_per_s: float | None) -> None:
        self._line_rate = bytes_per_s
        self.update()

    def add_sample(self, t_s: float, bytes_per_s: float) -> None:
        self._samples.append((t_s, bytes_per_s))
        if len(self._samples) > MAX_POINTS:
            self._samples = thin(self._samples)
        last = format_rate(bytes_per_s)
        self.setAccessibleDescription(f"Current throughput {last}")
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(360, 150)

    def has_scale(self) -> bool:
        """Something to measure against: samples, or the line rate. Without either the
        chart draws no axis labels (an idle "1 B/s, 0 B/s, 0 B/s" scale says nothing)."""
        return any(rate > 0 for _, rate in self._samples) or bool(self._line_rate)

    def axis_labels(self) -> list[str]:
        """The rate axis' labels, bottom to top (empty while there is no scale)."""
        if not self.has_scale():
            return []
        y_max = self.y_max()
        return [format_rate(y_max * fraction) for fraction in (0.0, 0.5, 1.0)]

    def y_max(self) -> float:
        peak = max((rate for _, rate in self._samples), default=0.0)
        return nice_ceiling(max(peak, self._line_rate or 0.0) * 1.05)

    def paintEvent(self, event: QPaintEvent) -> None:
        palette = self.palette()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        metrics = QFontMetrics(self.font())
        y_max = self.y_max()
        labels = self.axis_labels()
        # A fixed label column (the widest a rate label gets), so the plot does not shift
        # sideways as the scale grows during a transfer.
        left = metrics.horizontalAdvance("9999.9 KiB/s") + 8
        bottom_margin = metrics.height() + 4
        area = QRectF(left, metrics.height() / 2 + 2, self.width() - left - 8, 0)
        area.setBottom(self.height() - bottom_margin)
        if area.width() < 10 or area.height() < 10:
            painter.end()
            return
        text_pen = QPen(palette.color(QPalette.ColorRole.Text))
        grid_pen = QPen(palette.color(QPalette.ColorRole.Mid), 1, Qt.PenStyle.DotLine)
        for index, fraction in enumerate((0.0, 0.5, 1.0)):
            y = area.bottom() - area.height() * fraction
            painter.setPen(grid_pen)
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            if labels:
                painter.setPen(text_pen)
                painter.drawText(
                    QRectF(0, y - metrics.height() / 2, left - 4, metrics.height()),
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                    labels[index],
                )
        x_max, x_label = time_axis(max((t for t, _ in self._samples), default=0.0))
        if self._samples:
            painter.setPen(text_pen)
            painter.drawText(
                QRectF(area.left(), area.bottom() + 2, area.width(), metrics.height()),
                Qt.AlignmentFlag.AlignRight,
                x_label,
            )
            painter.drawText(
                QRectF(area.left(), area.bottom() + 2, area.width(), metrics.height()),
                Qt.AlignmentFlag.AlignLeft,
                "0 s",
            )
        if self._line_rate:
            y = area.bottom() - area.height() * min(self._line_rate / y_max, 1.0)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Text), 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.drawText(
                QRectF(area.left() + 4, y - metrics.height(), area.width() - 8, metrics.height()),
                Qt.AlignmentFlag.AlignLeft,
                f"line rate {format_rate(self._line_rate)}",
            )
        if self._samples:
            colour = self.line_color()
            painter.setPen(QPen(colour, 2))
            painter.drawPolyline(plot_points(self._samples, area, x_max, y_max))
        else:
            painter.setPen(text_pen)
            painter.drawText(
                area, Qt.AlignmentFlag.AlignCenter, "Throughput shows here during a transfer"
            )
        painter.end()

    def line_color(self) -> QColor:
        return tone_colors(Tone.BUSY, self.palette())[0]
