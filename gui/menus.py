"""The window's menus: every action with its shortcut, in one place.

File (open image, merge another log, export, quit), Bridge (connect, refresh, disconnect,
recover through the radio's bootloader, power-cycle an emulated bridge),
Update (start, cancel), View (the four views, Ctrl+1..4), Tools (emulator, trust store,
operator, raw trace), Help (the Demo bridge hint, About).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from bridgelab.gui.about import show_about
from bridgelab.gui.bridge_session import is_emulated

if TYPE_CHECKING:
    from bridgelab.gui.main_window import MainWindow

VIEWS = ("device", "update", "triage", "bench")
VIEW_TITLES = {"device": "&Device", "update": "&Update", "triage": "&Triage", "bench": "Lab &bench"}


def build_menus(window: MainWindow) -> None:
    bar = window.menuBar()

    def action(menu: QMenu, text: str, slot: object, shortcut: str = "") -> QAction:
        item = menu.addAction(text)
        item.triggered.connect(slot)
        if shortcut:
            item.setShortcut(QKeySequence(shortcut))
        return item

    file_menu = bar.addMenu("&File")
    action(file_menu, "&Open image\u2026", window.open_image, "Ctrl+O")
    action(file_menu, "&Merge another log\u2026", window.merge_log)
    action(file_menu, "&Export sessions\u2026", window.triage_view.export, "Ctrl+Shift+E")
    file_menu.addSeparator()
    quit_action = action(file_menu, "&Quit", window.close, "Ctrl+Q")
    quit_action.setMenuRole(QAction.MenuRole.QuitRole)

    bridge_menu = bar.addMenu("&Bridge")
    action(bridge_menu, "&Connect", lambda: window.connect_to(window.connection.current_url()),
           "Ctrl+K")  # fmt: skip
    action(bridge_menu, "&Refresh", window.session.refresh, "F5")
    action(bridge_menu, "&Disconnect", window.session.disconnect_bridge)
    action(bridge_menu, "Recover through the &bootloader\u2026", window.recover_through_bootloader)
    bridge_menu.addSeparator()
    power_cycle = action(
        bridge_menu, "&Power-cycle the emulated bridge", window.power_cycle_bridge, "Ctrl+Shift+P"
    )
    window.power_cycle_action = power_cycle
    bridge_menu.aboutToShow.connect(
        lambda: power_cycle.setEnabled(
            is_emulated(window.session.url) and not window.updates.running
        )
    )

    update_menu = bar.addMenu("&Update")
    update_menu.addAction(window.update_view.start_action)
    update_menu.addAction(window.update_view.cancel_action)

    view_menu = bar.addMenu("&View")
    for number, name in enumerate(VIEWS, start=1):
        action(view_menu, VIEW_TITLES[name], lambda _=False, n=name: window.show_view(n),
               f"Ctrl+{number}")  # fmt: skip

    tools = bar.addMenu("&Tools")
    action(tools, "&Emulator\u2026", window.show_emulator, "Ctrl+Shift+M")
    action(tools, "&Trust store folder\u2026", window.choose_trust_store)
    action(tools, "&Operator name\u2026", window.set_operator)
    trace = action(
        tools, "Record raw &trace", lambda on: setattr(window.settings, "record_trace", bool(on))
    )
    trace.setCheckable(True)
    trace.setChecked(window.settings.record_trace)

    help_menu = bar.addMenu("&Help")
    action(help_menu, "Show the &Demo bridge hint", window.show_hint_again)
    about = action(help_menu, "&About Bridge Lab", lambda: show_about(window), "F1")
    about.setMenuRole(QAction.MenuRole.AboutRole)
