"""Device view against the emulated bridge: identity, join state, diagnosis, problems, events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from bridgelab.drivers.ports import scan_ports
from bridgelab.gui.bridge_session import ConnectionState
from bridgelab.gui.theme import Tone
from tests.gui.helpers import WAIT_MS, WindowFactory, connected


def test_demo_bridge_identity_join_state_and_diagnosis(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url())
    view = window.device_view
    assert view.identity.value("EUI-64") == "00:12:4B:00:01:B1:D6:01"
    assert view.identity.value("Manufacturer") == "0xB1D6"
    assert view.identity.value("Serial number") == "BLD-0001"
    assert view.firmware.value("Running").startswith("1.2.0 ")
    assert view.firmware.value("Inactive slot").startswith("1.1.0 ")
    assert view.join_badge.word == "JOINED" and view.join_badge.tone is Tone.GOOD
    assert view.han.value("Channel") == "15"
    assert view.han.value("PAN id") == "0x1A2B"
    assert "LQI 208, RSSI -61 dBm" in view.han.value("Signal")
    assert view.p2p.value("Link") == "up"
    assert view.diagnosis.text().startswith(Tone.GOOD.symbol)
    assert "Joined to the HAN and OTA capable" in view.diagnosis.text()
    assert view.hint.isVisible(), "the Demo bridge shows its first-run hint"
    assert window.connection.state_badge.word == "Connected"
    # The bridge's own log was read on connect (its power-on entry).
    qtbot.waitUntil(lambda: view.device_log.count() > 0, timeout=WAIT_MS)
    assert any("power on" in view.device_log.item(i).text() for i in range(view.device_log.count()))


def test_with_no_hardware_it_opens_on_the_demo_bridge(
    qtbot: QtBot, make_window: WindowFactory
) -> None:
    if any(port.vid is not None for port in scan_ports(include_demo=False)):
        pytest.skip("a USB serial adapter is plugged in: the app would pick it")
    window = connected(qtbot, make_window, None)
    assert window.session.url == "emu://demo?id=gui-demo"
    assert window.settings.last_port == "emu://demo"
    assert window.device_view.hint.isVisible()


def test_legacy_bridge_says_update_locally(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url("legacy"))
    view = window.device_view
    text = view.diagnosis.text()
    assert view.diagnosis.headline.text().endswith("Not OTA capable: update it locally now")
    assert "installed before the CH/DCC changes" in text
    assert not view.hint.isVisible(), "the Demo bridge hint is for the Demo bridge only"
    assert view.diagnosis.tone is Tone.WARN
    assert view.firmware.value("OTA client").startswith("no")
    assert view.firmware.value("Inactive slot") == "none"


def test_orphaned_bridge_shows_a_red_state_and_the_next_step(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url("orphaned"))
    view = window.device_view
    assert view.join_badge.word == "ORPHANED" and view.join_badge.tone is Tone.BAD
    assert "Orphaned after a Comms Hub swap-out" in view.diagnosis.text()
    assert "update it locally" in view.diagnosis.headline.text()
    details = view.diagnosis.details.text()
    assert "cannot rejoin the HAN" in details
    assert "update it locally" not in details.lower(), "the next step is said once"


def test_missing_port_shows_what_happened_and_the_fix_then_recovers(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = make_window("/dev/ttyBRIDGELAB-NOT-THERE")
    with qtbot.waitSignal(window.session.problem, timeout=WAIT_MS) as problem:
        pass
    assert problem.args is not None
    error = problem.args[0]
    assert error.code == "port-not-found"
    view = window.device_view
    assert view.problem.isVisible() and not view.details.isVisible()
    assert "does not exist" in view.problem.text()
    assert "Next step: Check the cable" in view.problem.text()
    assert window.session.state == ConnectionState.FAILED
    assert window.connection.state_badge.tone is Tone.BAD
    # Typing a URL into the picker and pressing Connect recovers.
    window.connection.set_url(demo_url())
    with qtbot.waitSignal(window.session.snapshotChanged, timeout=WAIT_MS):
        window.connection.connect_button.click()
    assert view.details.isVisible() and not view.problem.isVisible()


def test_no_answer_is_a_preflight_problem(qtbot: QtBot, make_window: WindowFactory) -> None:
    window = make_window("loop://")  # opens, but nothing speaks the protocol there
    with qtbot.waitSignal(window.session.problem, timeout=WAIT_MS) as problem:
        pass
    assert problem.args is not None and problem.args[0].code == "no-answer"
    assert "power-cycle" in window.device_view.problem.text()


def test_device_events_refresh_the_view(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url("demo", "leave-han-at=0.5"))
    view = window.device_view
    assert view.join_badge.word == "JOINED"
    # The bridge leaves the HAN by itself; its JOIN_CHANGED event updates the view.
    qtbot.waitUntil(lambda: view.join_badge.word == "LEFT", timeout=WAIT_MS)
    assert view.join_badge.tone is Tone.WARN
    assert "Left the HAN" in view.diagnosis.text()
    qtbot.waitUntil(
        lambda: any(
            "left" in view.device_log.item(i).text() for i in range(view.device_log.count())
        ),
        timeout=WAIT_MS,
    )


def test_a_bootloader_only_bridge_is_shown_as_such_and_recovered(
    qtbot: QtBot, make_window: WindowFactory, tmp_path: Path
) -> None:
    from tests.gbl_files import application_bytes, build_gbl
    from tests.gui.helpers import scripted

    gbl = tmp_path / "bridge-1.3.0.gbl"
    gbl.write_bytes(build_gbl(application_bytes(6000), version=0x01030000))
    window = make_window("emu://dead-app?id=gui-recovery")
    view = window.device_view
    qtbot.waitUntil(lambda: view.problem.isVisible(), timeout=WAIT_MS)
    assert "Bootloader only" in view.problem.text()
    assert "not available through the bootloader" in view.problem.text()
    assert view.problem.text().count("Next") == 1, "the next step is said once"
    assert view.problem_recover.isVisible()
    # The port answered (as the bootloader): the badge must not say "No connection".
    assert window.connection.state_badge.word == "Bootloader only"
    scripted(window).open_paths.append(gbl)
    view.problem_recover.click()
    qtbot.waitUntil(lambda: view.details.isVisible(), timeout=WAIT_MS)
    assert view.firmware.value("Running").startswith("1.3.0 ")
    assert not view.problem_recover.isVisible()
    # The engine's own events reached the view: the upload's progress to its end.
    assert view.recovery_progress.value() == 1000
    assert not view.recovery_progress.isVisible()  # the bridge's facts replace it


def test_recover_from_the_bridge_menu_on_a_running_bridge(
    qtbot: QtBot, make_window: WindowFactory, tmp_path: Path
) -> None:
    from tests.gbl_files import application_bytes, build_gbl
    from tests.gui.helpers import scripted

    gbl = tmp_path / "bridge-1.3.0.gbl"
    gbl.write_bytes(build_gbl(application_bytes(6000), version=0x01030000))
    window = connected(qtbot, make_window, "emu://demo?id=gui-menu-recovery")
    view = window.device_view
    assert view.firmware.value("Running").startswith("1.2.0 ")
    scripted(window).open_paths.append(gbl)
    recover = next(
        a
        for menu in window.menuBar().findChildren(QMenu)
        for a in menu.actions()
        if a.text().replace("&", "").startswith("Recover through the bootloader")
    )
    recover.trigger()  # the session lets go; the bridge is asked into its bootloader
    qtbot.waitUntil(
        lambda: view.details.isVisible() and view.firmware.value("Running").startswith("1.3.0 "),
        timeout=WAIT_MS,
    )
    assert "Recovered: the bridge runs 1.3.0 again" in window.statusBar().currentMessage()
