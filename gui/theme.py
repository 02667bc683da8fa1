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


# A dark palette for `bridgelab gui --theme dark`: where the desktop has no dark mode of
# its own (a bare X server, a kiosk laptop) the window can still be checked in dark.
_DARK_PALETTE = {
    QPalette.ColorRole.Window: "#2b2b2b",
    QPalette.ColorRole.WindowText: "#e8e8e8",
    QPalette.ColorRole.Base: "#1e1e1e",
    QPalette.ColorRole.AlternateBase: "#262626",
    QPalette.ColorRole.ToolTipBase: "#3a3a3a",
    QPalette.ColorRole.ToolTipText: "#e8e8e8",
    QPalette.ColorRole.Text: "#e8e8e8",
    QPalette.ColorRole.Button: "#353535",
    QPalette.ColorRole.ButtonText: "#e8e8e8",
    QPalette.ColorRole.BrightText: "#ffffff",
    QPalette.ColorRole.Highlight: "#2f6db5",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6aa7f0",
    QPalette.ColorRole.PlaceholderText: "#9a9a9a",
    QPalette.ColorRole.Light: "#4a4a4a",
    QPalette.ColorRole.Midlight: "#404040",
    QPalette.ColorRole.Mid: "#5a5a5a",
    QPalette.ColorRole.Dark: "#1a1a1a",
    QPalette.ColorRole.Shadow: "#000000",
}
THEMES = ("system", "light", "dark")


def theme_palette(theme: str, light: QPalette) -> QPalette | None:
    """The palette for `theme`: None for the system's own; `light` (the style's standard
    palette) for light; the dark palette above, with greyed-out text, for dark."""
    if theme == "system":
        return None
    if theme == "light":
        return light
    palette = QPalette(light)
    for role, colour in _DARK_PALETTE.items():
        palette.setColor(role, QColor(colour))
    disabled = QColor("#7a7a7a")
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette
