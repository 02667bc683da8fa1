"""Status colours that follow the system's light or dark palette, and always carry a word.

A state is never colour alone (a colour-blind engineer, a sunlit screen): every tone has
a symbol and the widgets show a word beside it. Colours are picked from the palette in use
at paint time, so switching the desktop to dark mode restyles the window without a restart.
"""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtGui import QColor, QPalette

from bridgelab.data.failures import FinalState
from bridgelab.drivers.join_state import JoinState


class Tone(StrEnum):
    GOOD = "good"
    WARN = "warn"
    BAD = "bad"
    BUSY = "busy"
    INFO = "info"
    NEUTRAL = "neutral"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


_SYMBOLS = {
    Tone.GOOD: "\u2714",  # heavy check mark
    Tone.WARN: "!",
    Tone.BAD: "\u2716",  # heavy multiplication x
    Tone.BUSY: "\u2026",  # ellipsis
    Tone.INFO: "\u2139",  # information source
    Tone.NEUTRAL: "\u2013",  # en dash
}

# (fill, text) for a light window, then for a dark one; text contrast >= 4.5:1 on fill.
_LIGHT = {
    Tone.GOOD: ("#1b7a2f", "#ffffff"),
    Tone.WARN: ("#f2b705", "#1a1a1a"),
    Tone.BAD: ("#b3261e", "#ffffff"),
    Tone.BUSY: ("#1f5fa8", "#ffffff"),
    Tone.INFO: ("#1f5fa8", "#ffffff"),
}
_DARK = {
    Tone.GOOD: ("#5cc46f", "#0b1f10"),
    Tone.WARN: ("#f5c542", "#1a1a1a"),
    Tone.BAD: ("#ff6b61", "#1f0705"),
    Tone.BUSY: ("#6aa7f0", "#081526"),
    Tone.INFO: ("#6aa7f0", "#081526"),
}


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def tone_colors(tone: Tone, palette: QPalette) -> tuple[QColor, QColor]:
    """(fill, text) for a badge of `tone` in `palette`."""
    if tone is Tone.NEUTRAL:
        return palette.color(QPalette.ColorRole.Mid), palette.color(QPalette.ColorRole.WindowText)
    fill, text = (_DARK if is_dark(palette) else _LIGHT)[tone]
    return QColor(fill), QColor(text)


def tone_text_color(tone: Tone, palette: QPalette) -> QColor:
    """A colour for text of `tone` written on the window's own background."""
    if tone is Tone.NEUTRAL:
        return palette.color(QPalette.ColorRole.WindowText)
    if tone is Tone.WARN:  # yellow text is unreadable on white: use a dark amber
        return QColor("#f5c542") if is_dark(palette) else QColor("#8a5a00")
    return tone_colors(tone, palette)[0]


JOIN_TONES: dict[JoinState, Tone] = {
    JoinState.JOINED: Tone.GOOD,
    JoinState.AWAITING_JOIN: Tone.BUSY,
    JoinState.JOINING: Tone.BUSY,
    JoinState.NOT_IN_DEVICE_LOG: Tone.BAD,
    JoinState.JOIN_FAILED: Tone.BAD,
    JoinState.LEFT: Tone.WARN,
    JoinState.ORPHANED: Tone.BAD,
}

RESULT_TONES: dict[str, Tone] = {
    FinalState.SUCCESS: Tone.GOOD,
    FinalState.FAILED: Tone.BAD,
    FinalState.RUNNING: Tone.BUSY,
    FinalState.CANCELLED: Tone.NEUTRAL,
    FinalState.INTERRUPTED: Tone.WARN,
}

SEVERITY_TONES: dict[str, Tone] = {"error": Tone.BAD, "warning": Tone.WARN, "info": Tone.GOOD}

VERDICT_TONES: dict[str, Tone] = {"good": Tone.GOOD, "bad": Tone.BAD, "neutral": Tone.NEUTRAL}
