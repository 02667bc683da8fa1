"""The file and question dialogs the views ask for, behind one replaceable object.

Views never call QFileDialog directly: they ask `Dialogs`, so tests (and the screenshot
mode) answer with paths instead of blocking on a modal window.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget


class Dialogs:
    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent

    def open_file(self, title: str, start: str, filters: str) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, title, start, filters)
        return Path(path) if path else None

    def save_file(self, title: str, suggested: str, filters: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, title, suggested, filters)
        return Path(path) if path else None

    def choose_folder(self, title: str, start: str) -> Path | None:
        path = QFileDialog.getExistingDirectory(self.parent, title, start)
        return Path(path) if path else None

    def confirm(self, title: str, question: str) -> bool:
        answer = QMessageBox.question(self.parent, title, question)
        return answer == QMessageBox.StandardButton.Yes

    def inform(self, title: str, text: str) -> None:
        QMessageBox.information(self.parent, title, text)

    def warn(self, title: str, text: str) -> None:
        QMessageBox.warning(self.parent, title, text)

    def ask_text(self, title: str, label: str, current: str = "") -> str | None:
        text, ok = QInputDialog.getText(self.parent, title, label, text=current)
        return text if ok else None
