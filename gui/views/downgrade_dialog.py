"""An explicit confirmation, with a reason, before an older image may go on a bridge.

OK stays disabled until a reason is written and the engineer ticks that the bridge will
run older firmware; the reason is recorded with the attempt in the triage log.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from bridgelab.drivers.versions import display_version
from bridgelab.gui.formatting import ARROW


class DowngradeDialog(QDialog):
    def __init__(self, running: int, image: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Allow a downgrade")
        intro = QLabel(
            f"This image is OLDER than the firmware the bridge runs "
            f"({display_version(running)} {ARROW} {display_version(image)}).\n"
            "Downgrades undo fixes, including security fixes: only send one on purpose "
            "(a field defect, a supplier's instruction)."
        )
        intro.setWordWrap(True)
        self.reason = QPlainTextEdit()
        self.reason.setPlaceholderText("Why must the older image go on? (kept in the triage log)")
        self.reason.setAccessibleName("Reason for the downgrade")
        self.reason.setTabChangesFocus(True)
        self.confirm = QCheckBox(
            f"I understand the bridge will run {display_version(image)} after this update."
        )
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.ok_button
        ok.setText("Allow &downgrade")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.reason.textChanged.connect(self._update_ok)
        self.confirm.toggled.connect(self._update_ok)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        label = QLabel("&Reason:")
        label.setBuddy(self.reason)
        layout.addWidget(label)
        layout.addWidget(self.reason)
        layout.addWidget(self.confirm)
        layout.addWidget(self.buttons)
        self._update_ok()

    @property
    def ok_button(self) -> QPushButton:
        button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert button is not None
        return button

    def reason_text(self) -> str:
        return self.reason.toPlainText().strip()

    def _update_ok(self) -> None:
        self.ok_button.setEnabled(bool(self.reason_text()) and self.confirm.isChecked())
