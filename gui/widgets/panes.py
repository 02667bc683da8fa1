"""Layout helpers: two resizable panes side by side, and a view that scrolls when the
screen is smaller than it needs (a 1366x768 laptop with a large font)."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QWidget


def side_by_side(left: QWidget, right: QWidget, left_share: int, right_share: int) -> QSplitter:
    """Two panes the engineer can resize, sharing the width `left_share:right_share`."""
    splitter = QSplitter()
    splitter.addWidget(left)
    splitter.addWidget(right)
    splitter.setStretchFactor(0, left_share)
    splitter.setStretchFactor(1, right_share)
    splitter.setChildrenCollapsible(False)
    return splitter


def scrollable(view: QWidget) -> QScrollArea:
    """`view` in a frameless scroll area: on a screen smaller than the view needs, it
    scrolls instead of pushing the window off the screen."""
    area = QScrollArea()
    area.setWidget(view)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area
