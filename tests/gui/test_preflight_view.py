"""The update view follows the one pre-flight, and shows only what is about this bridge
and this image (real widgets, real emulated bridges)."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from bridgelab.emulator.demo_material import DEMO_DIR
from bridgelab.gui.main_window import MainWindow
from tests.gui.helpers import WAIT_MS, WindowFactory, connected

NEWER = DEMO_DIR / "bridge-demo-1.3.0.ota"
WRONG_TYPE = DEMO_DIR / "bridge-demo-wrong-type.ota"


def checked(qtbot: QtBot, window: MainWindow, path: object = NEWER) -> None:
    window.show_view("update")
    with qtbot.waitSignal(window.updates.assessed, timeout=WAIT_MS):
        window.updates.set_image(path)  # type: ignore[arg-type]


def test_a_legacy_bridge_is_offered_no_ota(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url("legacy"))
    checked(qtbot, window)
    view = window.update_view
    assert not view.ota_mode.isEnabled(), "OTA is refused for this bridge: it cannot be chosen"
    assert "no OTA client" in view.ota_mode.toolTip()
    assert view.ota_hint.text().startswith("Not available for this bridge")
    assert "would take" not in view.ota_hint.text(), "no OTA duration for a bridge without OTA"
    assert view.report.bridge.value("Real OTA would take") == "no OTA for this bridge"
    assert "Ready to send locally" in view.report.verdict.text()
    assert view.local_mode.isChecked() and view.start_button.isEnabled()
    # Even if OTA were chosen by a script, the controller refuses it with the reason.
    assert not window.updates.can_start("ota")
    assert "no OTA client" in (window.updates.start_refusal("ota") or "")


def test_an_ota_choice_falls_back_to_local_when_the_bridge_cannot_take_ota(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url("orphaned"))
    view = window.update_view
    view.ota_mode.setChecked(True)
    checked(qtbot, window)
    assert view.local_mode.isChecked(), "a refused mode does not stay chosen"
    assert not view.ota_mode.isEnabled()
    findings = [view.report.findings.item(i).text() for i in range(view.report.findings.count())]
    assert any("stays off the HAN" in line and "supplier" in line for line in findings)


def test_an_image_refusal_disables_start_and_is_said_once(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url())
    checked(qtbot, window, WRONG_TYPE)
    view = window.update_view
    assert not view.start_button.isEnabled()
    assert view.ota_mode.isEnabled(), "the image is refused, not the mode"
    assert "Refused" in view.report.verdict.text()
    assert view.start_reason.isHidden(), "the report's headline says it already"
    assert "type" in view.start_button.toolTip()


def test_another_bridge_clears_the_last_verdict_and_progress(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url())
    checked(qtbot, window)
    view = window.update_view
    with qtbot.waitSignal(window.updates.finished, timeout=WAIT_MS):
        view.start_button.click()
    qtbot.waitUntil(lambda: window.session.snapshot is not None, timeout=WAIT_MS)
    assert view.verdict.isVisibleTo(view) and view.progress.value() == 1000
    # Reconnecting to the same bridge (as after every update) keeps the verdict.
    with qtbot.waitSignal(window.session.snapshotChanged, timeout=WAIT_MS):
        window.session.connect_to(window.session.url)
    assert view.verdict.isVisibleTo(view)

    with qtbot.waitSignal(window.updates.resultCleared, timeout=WAIT_MS):
        window.session.connect_to(demo_url("legacy"))
    assert not view.verdict.isVisibleTo(view), "the old bridge's verdict is gone"
    assert view.progress.value() == 0
    assert view.notices.count() == 0
    qtbot.waitUntil(lambda: not view.ota_mode.isEnabled(), timeout=WAIT_MS)  # reassessed


def test_a_new_image_clears_the_last_verdict(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url())
    checked(qtbot, window)
    view = window.update_view
    with qtbot.waitSignal(window.updates.finished, timeout=WAIT_MS):
        view.start_button.click()
    assert view.verdict.isVisibleTo(view)
    checked(qtbot, window, WRONG_TYPE)
    assert not view.verdict.isVisibleTo(view)
    assert view.progress.value() == 0


def test_a_lost_bridge_is_no_longer_named_in_the_report(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url())
    checked(qtbot, window)
    with qtbot.waitSignal(window.updates.assessed, timeout=WAIT_MS):
        window.session.disconnect_bridge()
    view = window.update_view
    assert view.report.bridge.value("Bridge runs") == "not connected"
    assert not view.start_button.isEnabled()
