"""The layout faults the engineers met, each on real widgets: the emulator dialog's width
and Close button, the idle chart's axis, the triage columns at 1366x768, panels that keep
their size during an update, banners that say each thing once, and a way out of a hang."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

from bridgelab.data.failures import Stage
from bridgelab.emulator.demo_material import DEMO_DIR
from bridgelab.gui.session_model import FAILURE_COLUMN, MODEL_COLUMN
from bridgelab.gui.theme import Tone
from bridgelab.gui.views.emulator_panel import MAX_WIDTH
from bridgelab.gui.widgets.banner import Banner
from bridgelab.gui.widgets.stage_list import StageList
from bridgelab.gui.widgets.throughput_chart import ThroughputChart
from bridgelab.updates.policy import StageTimeouts, UpdatePolicy
from tests.gui.helpers import WAIT_MS, WindowFactory, connected

NEWER = DEMO_DIR / "bridge-demo-1.3.0.ota"


def test_the_emulator_dialog_fits_the_screen_and_closes(
    qtbot: QtBot, make_window: WindowFactory
) -> None:
    window = make_window(None, start=False)
    window.show_emulator()
    panel = window.emulator_panel
    assert panel is not None
    qtbot.waitExposed(panel)
    assert panel.width() <= MAX_WIDTH < 1366, "the fault names wrap instead of widening it"
    assert panel.fault_names.wordWrap()
    close = panel.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Close)
    assert close is not None and close.isVisible()
    close.click()
    assert not panel.isVisible()


def test_an_idle_chart_has_no_scale_to_show(qtbot: QtBot) -> None:
    chart = ThroughputChart()
    qtbot.addWidget(chart)
    assert chart.axis_labels() == [], "no '1 B/s, 0 B/s, 0 B/s' before anything was measured"
    chart.add_sample(0.0, 0.0)
    assert chart.axis_labels() == [], "a transfer that never moved a byte has no scale either"
    chart.set_line_rate(11_520)
    assert chart.axis_labels()[-1].endswith("KiB/s")
    chart.set_line_rate(None)
    chart.add_sample(1.0, 5_000)
    assert chart.axis_labels() == ["0 B/s", "4.9 KiB/s", "9.8 KiB/s"]


def test_a_failed_stage_says_failed_once(qtbot: QtBot) -> None:
    stages = StageList()
    qtbot.addWidget(stages)
    stages.started(Stage.TRANSFER, "/a/very/long/path/to/an/image/file/that/would/widen.ota")
    assert stages.outcome(Stage.TRANSFER) == "running", "the detail goes in the tooltip"
    stages.finished(Stage.TRANSFER, False, 18.0)
    stages.session_ended(False, "transfer")
    assert stages.outcome(Stage.TRANSFER) == "failed \u2013 18 s"
    assert stages.outcome(Stage.VERIFY) == "not reached"


def test_a_banner_does_not_repeat_its_headline(qtbot: QtBot) -> None:
    banner = Banner()
    qtbot.addWidget(banner)
    banner.show_message(
        Tone.BAD, "Stalled", ["Stalled.", "No progress for 10 s at 33 %."], "Retry it."
    )
    assert banner.details.text() == "No progress for 10 s at 33 %."
    banner.show_message(Tone.BAD, "Stalled", ["Retry it."], "Retry it.")
    assert banner.details.isHidden(), "the next step is said once, as the next step"


def test_the_legacy_diagnosis_says_the_next_step_once(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url("legacy"))
    view = window.device_view
    assert view.diagnosis.headline.text().endswith("update it locally now")
    assert "update it locally now" not in view.diagnosis.details.text().lower()
    listed = [view.findings.item(i).text() for i in range(view.findings.count())]
    assert not any("Not OTA capable" in line for line in listed), "the banner says it"


def test_triage_failure_and_model_columns_are_not_clipped_at_1366(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url("legacy"))
    with qtbot.waitSignal(window.updates.assessed, timeout=WAIT_MS):
        window.updates.set_image(NEWER)
    view = window.update_view
    with qtbot.waitSignal(window.updates.finished, timeout=WAIT_MS):
        view.local_mode.setChecked(True)
        view.start_button.click()
    window.resize(1366, 768)
    window.show_view("triage")
    triage = window.triage_view
    qtbot.waitUntil(lambda: triage.model.rowCount() > 0, timeout=WAIT_MS)
    QApplication.processEvents()
    table = triage.table
    metrics = table.fontMetrics()
    viewport = table.viewport().width()
    for column in (FAILURE_COLUMN, MODEL_COLUMN):
        text = str(triage.model.data(triage.model.index(0, column)))
        assert table.columnWidth(column) >= metrics.horizontalAdvance(text), text
        right_edge = table.columnViewportPosition(column) + table.columnWidth(column)
        assert right_edge <= viewport, f"column {column} runs past the visible table"


def test_the_stages_panel_and_chart_keep_their_size_during_an_update(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url("demo", "baud=460800"))
    window.resize(1366, 768)
    window.show_view("update")
    with qtbot.waitSignal(window.updates.assessed, timeout=WAIT_MS):
        window.updates.set_image(NEWER)
    view = window.update_view
    QApplication.processEvents()
    before = view.stage_box.size()
    sizes = set()

    def measure(_: object) -> None:
        QApplication.processEvents()
        sizes.add((view.stage_box.size().toTuple(), view.chart.size().toTuple()))

    window.updates.engineEvent.connect(measure)
    with qtbot.waitSignal(window.updates.finished, timeout=WAIT_MS):
        view.start_button.click()
    QApplication.processEvents()
    assert view.stages.outcome(Stage.CONFIRM).startswith("done")
    assert view.stage_box.size() == before, "the stages keep their size from start to verdict"
    assert len(sizes) == 1, f"the panels changed size while the update ran: {sizes}"


def test_a_hung_emulated_bridge_can_be_power_cycled_from_the_app(
    qtbot: QtBot, make_window: WindowFactory, demo_url: Callable[..., str]
) -> None:
    window = connected(qtbot, make_window, demo_url("demo", "faults=stall-at=20000"))
    window.updates.policy = UpdatePolicy(
        timeouts=StageTimeouts(stall_s=1.0, identify_s=2.0), healthy_s=0.3
    )
    with qtbot.waitSignal(window.updates.assessed, timeout=WAIT_MS):
        window.updates.set_image(NEWER)
    view = window.update_view
    with qtbot.waitSignal(window.updates.finished, timeout=WAIT_MS) as finished:
        view.start_button.click()
    assert finished.args is not None and finished.args[0].result == "stalled"
    assert "power-cycle" in view.verdict.next_step.text().lower(), "the hint after a hang"
    # The app reconnects after the update; the hung bridge does not answer.
    with qtbot.waitSignal(window.session.problem, timeout=WAIT_MS):
        pass
    device = window.device_view
    assert device.problem_power_cycle.isVisibleTo(device)
    assert "power-cycle" in device.problem.next_step.text().lower()
    with qtbot.waitSignal(window.session.snapshotChanged, timeout=WAIT_MS):
        device.problem_power_cycle.click()
    assert window.session.state == "connected", "it answers again after the power-cycle"
    assert not device.problem.isVisibleTo(device)
