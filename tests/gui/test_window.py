"""The window's craft: shortcuts for every view and action, names for screen readers,
a layout that fits 1366x768, and closing with an update running."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox, QLineEdit
from pytestqt.qtbot import QtBot

from bridgelab.emulator.demo_material import DEMO_DIR
from bridgelab.updates import events as ev
from tests.gui.helpers import WAIT_MS, WindowFactory, connected, scripted


def menu_actions(window: object) -> dict[str, QAction]:
    actions: dict[str, QAction] = {}
    for menu_action in window.menuBar().actions():  # type: ignore[attr-defined]
        menu = menu_action.menu()
        for item in menu.actions() if menu is not None else []:
            if item.text():
                actions[item.text().replace("&", "").rstrip("\u2026")] = item
    return actions


def test_shortcuts_and_accessible_names(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url())
    actions = menu_actions(window)
    shortcuts = {name: item.shortcut().toString() for name, item in actions.items()}
    for name, keys in {
        "Open image": "Ctrl+O", "Start update": "Ctrl+Return", "Cancel update": "Ctrl+.",
        "Device": "Ctrl+1", "Update": "Ctrl+2", "Triage": "Ctrl+3", "Lab bench": "Ctrl+4",
        "Refresh": "F5", "Quit": "Ctrl+Q", "About Bridge Lab": "F1", "Emulator": "Ctrl+Shift+M",
    }.items():  # fmt: skip
        assert shortcuts.get(name) == keys, name
    for name, view in (("Lab bench", "bench"), ("Triage", "triage"), ("Device", "device")):
        actions[name].trigger()
        assert window.current_view() == view
    # Every control a screen reader lands on has a name.
    unnamed = [
        widget.objectName() or type(widget).__name__
        for kind in (QAbstractButton, QComboBox, QLineEdit)
        for widget in window.findChildren(kind)
        if widget.isVisibleTo(window)
        and not (widget.accessibleName() or (isinstance(widget, QAbstractButton) and widget.text()))
        and not isinstance(widget.parent(), QComboBox)  # a combo box's own line edit
    ]
    assert not unnamed, unnamed


def test_each_view_fits_a_1366x768_screen(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url())
    for name in ("device", "update", "triage", "bench"):
        window.show_view(name)
        QApplication.processEvents()  # the new tab's layout pass
        assert window.minimumSizeHint().height() <= 768
        assert window.height() <= 768 and window.width() <= 1366, name


def test_closing_during_an_update_asks_then_cancels(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url("demo", "baud=115200"))
    with qtbot.waitSignal(window.updates.assessed, timeout=WAIT_MS):
        window.updates.set_image(DEMO_DIR / "bridge-demo-1.3.0.ota")
    with qtbot.waitSignal(
        window.updates.engineEvent,
        timeout=WAIT_MS,
        check_params_cb=lambda event: isinstance(event, ev.Progress) and event.done > 0,
    ):
        window.update_view.start_button.click()
    dialogs = scripted(window)
    dialogs.confirm_answer = False
    assert not window.close(), "the engineer said no: the window stays"
    assert window.updates.running
    dialogs.confirm_answer = True
    assert window.close()
    assert not window.runner.busy
