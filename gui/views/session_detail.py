"""One session in full: its result explained, its facts, the event timeline, the raw trace
and the engineers' notes (add one with Ctrl+Return)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from bridgelab.data.store import TriageStore
from bridgelab.errors import BridgeLabError
from bridgelab.gui.formatting import format_local_time
from bridgelab.gui.rows_model import RowsModel
from bridgelab.gui.session_story import (
    TIMELINE_HEADERS,
    TRACE_HEADERS,
    SessionStory,
    load_story,
)
from bridgelab.gui.tasks import TaskRunner
from bridgelab.gui.theme import RESULT_TONES, Tone
from bridgelab.gui.widgets.banner import Banner
from bridgelab.gui.widgets.fact_group import FactGroup

FACT_LABELS = (
    "Session", "Result", "Started", "Duration", "Mode", "Device", "Versions", "Port",
    "Throughput", "Retries", "Site / operator", "Tool",
)  # fmt: skip


def make_table(model: RowsModel, name: str) -> QTableView:
    table = QTableView()
    table.setModel(model)
    table.setAccessibleName(name)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    vertical = table.verticalHeader()
    vertical.setVisible(False)
    vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vertical.setDefaultSectionSize(table.fontMetrics().height() + 6)
    return table


class SessionDetail(QWidget):
    bundleRequested = Signal(str)  # session id
    loaded = Signal(str)  # session id, once its story is shown

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.store: TriageStore | None = None
        self.session_id: str | None = None
        self.story: SessionStory | None = None
        self._request = 0
        self.setAccessibleName("Session detail")
        self.banner = Banner(headline_scale=1.1)
        self.facts = FactGroup("Session", FACT_LABELS)
        self.timeline_model = RowsModel(TIMELINE_HEADERS, parent=self)
        self.trace_model = RowsModel(TRACE_HEADERS, parent=self)
        self.timeline = make_table(self.timeline_model, "Event timeline")
        self.trace = make_table(self.trace_model, "Raw trace")
        self.notes = QListWidget()
        self.notes.setAccessibleName("Notes")
        self.notes.setWordWrap(True)
        self.note_edit = QPlainTextEdit()
        self.note_edit.setPlaceholderText("Add a note for whoever triages this (Ctrl+Return)")
        self.note_edit.setAccessibleName("New note")
        self.note_edit.setMaximumHeight(70)
        self.add_note_button = QPushButton("Add &note")
        self.add_note_button.clicked.connect(self.add_note)
        QShortcut(QKeySequence("Ctrl+Return"), self.note_edit, self.add_note)
        notes_page = QWidget()
        notes_layout = QVBoxLayout(notes_page)
        notes_layout.addWidget(self.notes, 1)
        notes_layout.addWidget(self.note_edit)
        notes_layout.addWidget(self.add_note_button)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.timeline, "&Timeline")
        self.tabs.addTab(self.trace, "Raw t&race")
        self.tabs.addTab(notes_page, "N&otes")
        self.tabs.addTab(self.facts, "&Facts")
        self.bundle_button = QPushButton("Defect &bundle\u2026")
        self.bundle_button.setAccessibleName("Write a defect bundle for this session")
        self.bundle_button.clicked.connect(self._bundle)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.bundle_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)
        self.clear()

    def set_store(self, store: TriageStore | None) -> None:
        self.store = store
        self.clear()

    def clear(self) -> None:
        self.session_id = None
        self.story = None
        self.banner.show_message(
            Tone.NEUTRAL, "No session selected", "Pick a session in the table to see its story."
        )
        self.facts.clear_values()
        self.timeline_model.set_rows([])
        self.trace_model.set_rows([])
        self.notes.clear()
        self._enable(False)

    def _enable(self, on: bool) -> None:
        for widget in (self.note_edit, self.add_note_button, self.bundle_button):
            widget.setEnabled(on)

    def show_session(self, session_id: str) -> None:
        store = self.store
        if store is None:
            return
        self.session_id = session_id
        self._request += 1
        request = self._request
        self.runner.submit(
            lambda: load_story(store, session_id),
            lambda story: self._show(request, story),
            lambda error: self._failed(request, error),
        )

    def _show(self, request: int, story: SessionStory) -> None:
        if request != self._request:
            return
        self.story = story
        record = story.record
        tone = RESULT_TONES.get(record.final_state, Tone.NEUTRAL)
        if story.failure is not None:
            title, explanation, action = story.failure
            self.banner.show_message(tone, title, explanation, action)
        else:
            versions = dict(story.facts)["Versions"]
            self.banner.show_message(tone, f"{record.final_state.capitalize()}: {versions}")
        self.facts.set_facts(story.facts)
        self.timeline_model.set_rows(story.timeline, story.timeline_tips)
        self.trace_model.set_rows(story.trace, story.trace_tips)
        self.timeline.resizeColumnToContents(0)
        self.timeline.resizeColumnToContents(1)
        for column in range(4):
            self.trace.resizeColumnToContents(column)
        self._show_notes(story)
        self._enable(True)
        self.loaded.emit(record.id)

    def _show_notes(self, story: SessionStory) -> None:
        self.notes.clear()
        for note in story.notes:
            who = note.author or "someone"
            self.notes.addItem(f"{format_local_time(note.at)}  {who}: {note.text}")
        if not story.notes:
            self.notes.addItem("No notes yet.")

    def _failed(self, request: int, error: BridgeLabError) -> None:
        if request == self._request:
            self.banner.show_message(Tone.BAD, error.message, "", error.action)

    def add_note(self) -> None:
        store, session_id = self.store, self.session_id
        text = self.note_edit.toPlainText().strip()
        if store is None or session_id is None or not text:
            return
        self.add_note_button.setEnabled(False)

        def added(_: object) -> None:
            self.note_edit.clear()
            self.add_note_button.setEnabled(True)
            if session_id == self.session_id:
                self.show_session(session_id)

        def failed(error: BridgeLabError) -> None:
            self.add_note_button.setEnabled(True)
            self.banner.show_message(Tone.BAD, error.message, "", error.action)

        self.runner.submit(lambda: store.add_note(session_id, text), added, failed)

    def _bundle(self) -> None:
        if self.session_id is not None:
            self.bundleRequested.emit(self.session_id)
