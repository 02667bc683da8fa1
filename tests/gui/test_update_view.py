"""Update view against the emulated bridge: verify, update locally and by simulated OTA,
downgrade with a reason, cancel and resume, and open the session in the triage view."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytestqt.qtbot import QtBot

from bridgelab.data.failures import Stage
from bridgelab.emulator.demo_material import DEMO_DIR
from bridgelab.gui.main_window import MainWindow
from bridgelab.gui.theme import Tone
from bridgelab.gui.views.downgrade_dialog import DowngradeDialog
from bridgelab.gui.views.update_view import progress_words
from bridgelab.gui.widgets.stage_list import DONE
from bridgelab.updates import events as ev
from tests.gui.helpers import WAIT_MS, WindowFactory, connected

NEWER = DEMO_DIR / "bridge-demo-1.3.0.ota"
OLDER = DEMO_DIR / "bridge-demo-1.1.0.ota"
TAMPERED = DEMO_DIR / "bridge-demo-1.3.0-tampered.ota"
WRONG_TYPE = DEMO_DIR / "bridge-demo-wrong-type.ota"


def connected_window(qtbot: QtBot, make_window: WindowFactory, url: str) -> MainWindow:
    window = connected(qtbot, make_window, url)
    assert window.store.store is not None  # updates are logged
    window.show_view("update")
    return window


def assess(qtbot: QtBot, window: MainWindow, path: Path) -> None:
    with qtbot.waitSignal(window.updates.assessed, timeout=WAIT_MS):
        window.updates.set_image(path)


def run_update(qtbot: QtBot, window: MainWindow, mode: str = "local") -> ev.UpdateResult:
    view = window.update_view
    (view.ota_mode if mode == "ota" else view.local_mode).setChecked(True)
    with qtbot.waitSignal(window.updates.finished, timeout=WAIT_MS) as finished:
        view.start_button.click()
    assert finished.args is not None
    result = finished.args[0]
    assert isinstance(result, ev.UpdateResult)
    return result


def test_report_before_sending(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected_window(qtbot, make_window, demo_url())
    view = window.update_view
    assert not view.start_button.isEnabled(), "nothing to start before an image is checked"
    assert view.verdict.isHidden(), "no verdict (not even the sizing sample) before an update"
    assess(qtbot, window, NEWER)
    assert view.verdict.isHidden()
    report = view.report
    assert report.verdict.tone is Tone.GOOD
    assert "Ready to send to this bridge" in report.verdict.text()
    assert report.image.value("File version").startswith("1.3.0")
    assert report.image.value("Manufacturer") == "0xB1D6"
    assert report.signer.value("Signature") == "verified"
    assert "(demo)" in report.signer.value("Signed by")
    assert "newer than the running firmware" in report.bridge.value("This image")
    assert "7 min" in view.ota_hint.text(), "the predicted real OTA duration is shown"
    assert view.start_button.isEnabled()

    assess(qtbot, window, TAMPERED)
    assert report.verdict.tone is Tone.BAD
    assert "INVALID" in report.signer.value("Signature")
    assert not view.start_button.isEnabled()

    assess(qtbot, window, WRONG_TYPE)
    assert "Refused" in report.verdict.text() and "type" in report.verdict.text()
    assert not view.start_button.isEnabled()


def test_not_an_image_is_explained(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str], tmp_path: Path
) -> None:
    window = connected_window(qtbot, make_window, demo_url())
    junk = tmp_path / "notes.ota"
    junk.write_bytes(b"this is not a firmware image at all")
    with qtbot.waitSignal(window.updates.assessFailed, timeout=WAIT_MS):
        window.updates.set_image(junk)
    assert "Not a usable image" in window.update_view.report.verdict.text()
    assert not window.update_view.start_button.isEnabled()


def test_local_update_to_the_verdict(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected_window(qtbot, make_window, demo_url())
    assess(qtbot, window, NEWER)
    view = window.update_view
    result = run_update(qtbot, window)
    assert result.ok, result.error
    verdict = view.verdict.text()
    assert "Updated 1.2.0 \u2192 1.3.0, rejoined HAN, healthy" in verdict
    assert view.verdict.tone is Tone.GOOD
    assert all(view.stages.state(stage) == DONE for stage in Stage)
    assert view.progress.value() == view.progress.maximum()
    assert view.chart.samples, "the throughput chart received samples"
    # The session reconnects, the device view shows the new firmware, and the report
    # now says the bridge already runs this image.
    qtbot.waitUntil(
        lambda: window.device_view.firmware.value("Running").startswith("1.3.0"), timeout=WAIT_MS
    )
    qtbot.waitUntil(lambda: "already runs 1.3.0" in view.report.verdict.text(), timeout=WAIT_MS)
    assert not view.start_button.isEnabled()


def test_simulated_ota_to_the_verdict(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected_window(qtbot, make_window, demo_url())
    assess(qtbot, window, NEWER)
    progress: list[ev.Progress] = []
    window.updates.engineEvent.connect(
        lambda event: progress.append(event) if isinstance(event, ev.Progress) else None
    )
    result = run_update(qtbot, window, "ota")
    assert result.ok, result.error
    assert result.mode == "ota"
    assert result.simulated_duration_s and result.simulated_duration_s > 60
    assert "the real OTA would take" in window.update_view.verdict.text()
    radio = [p for p in progress if p.simulated_s is not None]
    assert radio and "radio time" in progress_words(radio[-1])
    assert window.update_view.progress_text.text().startswith("Done: 49,278 bytes")
    # The chart plots radio time for a simulated OTA: minutes, not the seconds it ran.
    assert window.update_view.chart.samples[-1][0] > 60


def test_downgrade_needs_a_reason_and_a_confirmation(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected_window(qtbot, make_window, demo_url())
    assess(qtbot, window, OLDER)
    view = window.update_view
    assert view.report.verdict.tone is Tone.WARN
    assert "Downgrade: 1.2.0 \u2192 1.1.0" in view.report.verdict.text()
    assert not view.start_button.isEnabled()
    assert view.downgrade_button.isVisible()

    dialog = DowngradeDialog(0x01020000, 0x01010000)
    qtbot.addWidget(dialog)
    assert not dialog.ok_button.isEnabled()
    dialog.reason.setPlainText("Field defect FD-118: 1.2.0 drops the P2P link")
    assert not dialog.ok_button.isEnabled(), "a reason alone is not enough"
    dialog.confirm.setChecked(True)
    assert dialog.ok_button.isEnabled()
    dialog.reason.setPlainText("   ")
    assert not dialog.ok_button.isEnabled(), "a blank reason is no reason"

    with qtbot.waitSignal(window.updates.assessed, timeout=WAIT_MS):
        window.updates.allow_downgrade("Field defect FD-118: 1.2.0 drops the P2P link")
    assert "Downgrade allowed" in view.report.verdict.text()
    assert view.start_button.isEnabled()
    result = run_update(qtbot, window)
    assert result.ok, result.error
    assert "Updated 1.2.0 \u2192 1.1.0" in view.verdict.text()


def test_cancel_then_resume(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    # A paced line (115200 baud: about 4 s for the demo image) leaves time to cancel.
    window = connected_window(qtbot, make_window, demo_url("demo", "baud=115200"))
    assess(qtbot, window, NEWER)
    view = window.update_view
    quarter: list[ev.Progress] = []

    def on_event(event: object) -> None:
        if isinstance(event, ev.Progress) and event.fraction >= 0.25 and not quarter:
            quarter.append(event)
            view.cancel_button.click()

    window.updates.engineEvent.connect(on_event)
    with qtbot.waitSignal(window.updates.finished, timeout=WAIT_MS) as finished:
        view.start_button.click()
    assert finished.args is not None
    cancelled = finished.args[0]
    assert cancelled.result == "cancelled"
    assert "Cancelled during transfer" in view.verdict.text()
    assert view.verdict.tone is Tone.NEUTRAL
    window.updates.engineEvent.disconnect(on_event)
    qtbot.waitUntil(lambda: view.start_button.isEnabled(), timeout=WAIT_MS)
    assert view.start_button.text() == "Resume"

    result = run_update(qtbot, window)
    assert result.ok, result.error
    assert result.resumed_from and result.resumed_from >= quarter[0].done // 2
    assert "resumed from byte" in view.verdict.text()
    assert view.start_button.text() == "Start"


def test_open_the_session_in_the_triage_view(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected_window(qtbot, make_window, demo_url())
    assess(qtbot, window, NEWER)
    result = run_update(qtbot, window)
    assert result.session_id
    detail = window.triage_view.detail
    with qtbot.waitSignal(detail.loaded, timeout=WAIT_MS) as loaded:
        window.update_view.show_session_button.click()
    assert loaded.args == [result.session_id]
    assert window.current_view() == "triage"
    kinds = {detail.timeline_model.row(r)[1] for r in range(detail.timeline_model.rowCount())}
    assert {"session-started", "stage", "progress", "session-ended"} <= kinds
    assert detail.trace_model.rowCount() > 0, "the raw trace was recorded"
    directions = {detail.trace_model.row(r)[2] for r in range(detail.trace_model.rowCount())}
    assert directions == {"tx", "rx"}
    assert detail.facts.value("Result") == "success"
    # The table lists it too (reloaded when the update ended).
    model = window.triage_view.model
    qtbot.waitUntil(lambda: result.session_id in model.loaded_ids(), timeout=WAIT_MS)
