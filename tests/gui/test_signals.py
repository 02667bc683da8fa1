"""The installed PySide6 keeps Python's reference counts straight across signal delivery.

PySide6 6.12.0 on Python 3.11 drops one reference to True on every signal delivered to a
Python slot, queued or direct, from Python or from C++: a window that lives long enough
(a one-hour OTA reports progress ten times a second) aborts with "bool_dealloc:
deallocating True or False". pyproject.toml keeps that release out; this test catches a
release with the same fault before the engineers do.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QTimer, Signal
from pytestqt.qtbot import QtBot

DELIVERIES = 500


class Sender(QObject):
    plain = Signal()
    carrying = Signal(object)


class Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def take(self, *_: object) -> None:
        self.count += 1


def test_signal_delivery_keeps_true_and_false_alive(qtbot: QtBot) -> None:
    sender, receiver = Sender(), Receiver()
    timer = QTimer()
    sender.plain.connect(receiver.take)
    sender.carrying.connect(receiver.take)
    sender.carrying.connect(lambda value: None)
    timer.timeout.connect(receiver.take)
    true_before, false_before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(DELIVERIES):
        sender.plain.emit()
        sender.carrying.emit(True)
        timer.timeout.emit()
    assert receiver.count == 3 * DELIVERIES
    # A few references may come and go elsewhere; hundreds lost is the fault.
    assert abs(sys.getrefcount(True) - true_before) < DELIVERIES // 10
    assert abs(sys.getrefcount(False) - false_before) < DELIVERIES // 10
