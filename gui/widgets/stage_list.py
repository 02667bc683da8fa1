"""The six stages of an update, each with its outcome: waiting, running, done, failed.

Identify, validate, transfer, verify, activate, confirm (the house style's staged
pipeline). Each row shows a symbol and a word, the stage's duration once it ends, and the
stage's description as a tooltip, so an engineer sees where an update is, or where it
stopped.
"""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

from bridgelab.data.failures import Stage
from bridgelab.gui.theme import Tone, tone_text_color
from bridgelab.updates.durations import format_duration

WAITING, RUNNING, DONE, FAILED, SKIPPED = "waiting", "running", "done", "failed", "not reached"
_TONES = {
    WAITING: Tone.NEUTRAL,
    RUNNING: Tone.BUSY,
    DONE: Tone.GOOD,
    FAILED: Tone.BAD,
    SKIPPED: Tone.NEUTRAL,
}
# The widest an outcome gets: the column is this wide from the start, so the panel (and
# the chart beside it) keep their size while an update runs.
WIDEST_OUTCOME = f"{SKIPPED} \u2013 59 min 59 s"


class StageList(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(2)
        self._state: dict[Stage, str] = {}
        self._symbols: dict[Stage, QLabel] = {}
        self._outcomes: dict[Stage, QLabel] = {}
        self._durations: dict[Stage, str] = {}
        outcome_width = QFontMetrics(self.font()).horizontalAdvance(WIDEST_OUTCOME) + 8
        for row, stage in enumerate(Stage):
            symbol = QLabel()
            symbol.setFixedWidth(QFontMetrics(self.font()).horizontalAdvance("\u2716") * 2)
            name = QLabel(stage.value.capitalize())
            name.setToolTip(stage.description)
            outcome = QLabel()
            outcome.setMinimumWidth(outcome_width)
            grid.addWidget(symbol, row, 0)
            grid.addWidget(name, row, 1)
            grid.addWidget(outcome, row, 2)
            self._symbols[stage] = symbol
            self._outcomes[stage] = outcome
        grid.setColumnStretch(2, 1)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.setAccessibleName("Update stages")
        self.reset()

    def reset(self) -> None:
        self._durations.clear()
        for stage in Stage:
            self._set(stage, WAITING)

    def state(self, stage: Stage) -> str:
        return self._state[stage]

    def started(self, stage: Stage, detail: str = "") -> None:
        # The detail (a port, a file) goes in the tooltip: the row keeps its width.
        self._set(stage, RUNNING)
        self._outcomes[stage].setToolTip(detail)

    def finished(self, stage: Stage, ok: bool, duration_s: float) -> None:
        self._durations[stage] = format_duration(duration_s)
        self._set(stage, DONE if ok else FAILED)

    def outcome(self, stage: Stage) -> str:
        """What the row says ("done \u2013 1.2 s")."""
        return self._outcomes[stage].text()

    def session_ended(self, ok: bool, failed_stage: str | None = None) -> None:
        """Mark the stage the session failed in, and the ones it never reached."""
        reached_failure = False
        for stage in Stage:
            current = self._state[stage]
            if stage.value == failed_stage and current != DONE:
                self._set(stage, FAILED)  # with its duration, if it had one, said once
                reached_failure = True
            elif current in (WAITING, RUNNING) and (reached_failure or not ok):
                self._set(stage, SKIPPED if current == WAITING else FAILED)

    def _set(self, stage: Stage, state: str) -> None:
        self._state[stage] = state
        detail = self._durations.get(stage, "") if state in (DONE, FAILED) else ""
        tone = _TONES[state]
        symbol = self._symbols[stage]
        symbol.setText(tone.symbol if state != WAITING else "\u25cb")  # white circle
        colour = tone_text_color(tone, self.palette()).name()
        symbol.setStyleSheet(f"color: {colour}; font-weight: bold;")
        words = state if not detail else f"{state} \u2013 {detail}"
        self._outcomes[stage].setText(words)
        self._outcomes[stage].setAccessibleName(f"{stage.value}: {words}")
