"""The verification report, shown before anything is sent: fields, signer, fit, findings."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QGroupBox,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from bridgelab.errors import BridgeLabError
from bridgelab.gui import report_facts
from bridgelab.gui.theme import SEVERITY_TONES, Tone, tone_text_color
from bridgelab.gui.widgets.banner import Banner
from bridgelab.gui.widgets.fact_group import FactGroup
from bridgelab.gui.widgets.panes import scrollable
from bridgelab.updates.preflight import Preflight


class ReportPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Verification report", parent)
        self.setAccessibleName("Verification report")
        self.verdict = Banner(headline_scale=1.15)
        self.image = FactGroup("Image", report_facts.IMAGE_LABELS)
        self.signer = FactGroup("Signer", report_facts.SIGNER_LABELS)
        self.bridge = FactGroup("Against the connected bridge", report_facts.BRIDGE_LABELS)
        self.findings = QListWidget()
        self.findings.setWordWrap(True)
        self.findings.setAccessibleName("Findings")
        self.findings.setMinimumHeight(90)
        # The facts scroll rather than push the window taller than a 768-pixel screen.
        facts = QWidget()
        facts_layout = QVBoxLayout(facts)
        facts_layout.setContentsMargins(0, 0, 0, 0)
        facts_layout.addWidget(self.image)
        facts_layout.addWidget(self.signer)
        facts_layout.addWidget(self.bridge)
        facts_layout.addWidget(self.findings, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.verdict)
        layout.addWidget(scrollable(facts), 1)
        self.clear()

    def clear(self) -> None:
        self.verdict.show_message(
            Tone.NEUTRAL,
            "No image yet",
            "Open an image (Ctrl+O) or drop an .ota file here: it is checked against the "
            "bridge before a single byte is sent.",
        )
        for group in (self.image, self.signer, self.bridge):
            group.clear_values()
        self.findings.clear()

    def show_checking(self, name: str) -> None:
        self.verdict.show_message(Tone.BUSY, f"Checking {name}\u2026")

    def show_error(self, error: BridgeLabError) -> None:
        for group in (self.image, self.signer, self.bridge):
            group.clear_values()
        self.findings.clear()
        self.verdict.show_message(
            Tone.BAD, f"Not a usable image: {error.message}", "", error.action
        )

    def show_assessment(self, assessment: Preflight) -> None:
        tone, headline, next_step = report_facts.report_verdict(assessment)
        self.verdict.show_message(tone, headline, "", next_step)
        self.image.set_facts(report_facts.image_facts(assessment))
        self.signer.set_facts(report_facts.signer_facts(assessment))
        self.bridge.set_facts(report_facts.bridge_facts(assessment))
        self.findings.clear()
        for severity, text in report_facts.finding_lines(assessment):
            tone = SEVERITY_TONES.get(severity, Tone.NEUTRAL)
            item = QListWidgetItem(f"{tone.symbol} {text}")
            item.setForeground(tone_text_color(tone, self.palette()))
            self.findings.addItem(item)
