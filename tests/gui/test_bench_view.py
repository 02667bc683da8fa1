"""Lab bench view: the demo rack campaign lane by lane, retrying failed lanes, the report."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from pytestqt.qtbot import QtBot

from bridgelab.data.records import SessionFilter
from bridgelab.gui.bench_controller import DEMO_IMAGE, STATE_COLUMN
from bridgelab.gui.theme import Tone
from bridgelab.updates.campaign import CampaignPlan, CampaignSummary, PlannedJob
from tests.gui.helpers import WAIT_MS, WindowFactory, scripted


def test_demo_rack_campaign_retry_and_report(
    qtbot: QtBot, make_window: WindowFactory, tmp_path: Path
) -> None:
    window = make_window(None)
    qtbot.waitUntil(lambda: window.store.store is not None, timeout=WAIT_MS)
    window.show_view("bench")
    view, bench = window.bench_view, window.bench
    assert not view.start_button.isEnabled()
    view.demo_button.click()
    assert view.model.rowCount() == 4
    assert view.start_button.isEnabled()
    lane_states: set[str] = set()
    bench.laneChanged.connect(lambda row: lane_states.add(row.state))

    with qtbot.waitSignal(bench.finished, timeout=3 * WAIT_MS) as finished:
        view.start_button.click()
    assert finished.args is not None
    summary = finished.args[0]
    assert isinstance(summary, CampaignSummary)
    states = {job.job.label: job.state for job in summary.jobs}
    assert states == {
        "Bridge A": "passed",
        "Bridge B": "passed",
        "Legacy bridge": "failed",
        "Power cut": "passed",
    }
    assert "running" in lane_states, "lanes reported while they ran"
    legacy = next(job for job in summary.jobs if job.job.label == "Legacy bridge")
    assert legacy.last is not None and legacy.last.result == "not-ota-capable"
    power_cut = next(job for job in summary.jobs if job.job.label == "Power cut")
    assert power_cut.last is not None and power_cut.last.retries > 0
    assert view.summary.tone is Tone.BAD
    assert "3 passed, 1 failed" in view.summary.text()
    assert "not-ota-capable" in view.summary.text()
    cells = [view.model.row(r) for r in range(view.model.rowCount())]
    assert [row[STATE_COLUMN] for row in cells] == ["passed", "passed", "failed", "passed"]
    assert cells[0][6] == "100 %"
    # The only failure is a legacy bridge's OTA: a retry would fail the same way, so it
    # is not offered; the lane's next step is a local update.
    assert not view.retry_button.isEnabled()
    assert "Update it locally" in view.summary.text()
    assert "fail the same way" in view.summary.text()

    # The report holds every job's latest attempt.
    scripted(window).folders.append(tmp_path / "reports")
    with qtbot.waitSignal(bench.reportWritten, timeout=WAIT_MS) as written:
        view.report_button.click()
    assert written.args is not None
    csv_path, json_path = written.args[0]
    rows = list(csv.DictReader(io.StringIO(Path(csv_path).read_text(encoding="utf-8"))))
    assert [row["state"] for row in rows] == ["passed", "passed", "failed", "passed"]
    assert rows[2]["attempts"] == "1"
    assert json.loads(Path(json_path).read_text())["passed"] == 3

    # Every attempt is in the triage log, tagged with its campaign.
    store = window.store.store
    assert store is not None
    (first,) = bench.campaign_ids
    assert store.count_sessions(SessionFilter(campaign=first)) == 4


def test_a_failure_a_retry_can_fix_is_retried(
    qtbot: QtBot, make_window: WindowFactory, tmp_path: Path
) -> None:
    window = make_window(None)
    qtbot.waitUntil(lambda: window.store.store is not None, timeout=WAIT_MS)
    window.show_view("bench")
    view, bench = window.bench_view, window.bench
    unplugged = PlannedJob(0, str(tmp_path / "ttyUSB-unplugged"), DEMO_IMAGE, label="Unplugged")
    bench.use_plan(CampaignPlan(name="bench retry", jobs=(unplugged,), order=("plan",)))
    with qtbot.waitSignal(bench.finished, timeout=WAIT_MS):
        view.start_button.click()
    assert view.retry_button.isEnabled(), "a port that may come back is worth a retry"
    assert "Retry the 1 lane a retry can fix" in view.summary.text()
    with qtbot.waitSignal(bench.finished, timeout=WAIT_MS) as retried:
        view.retry_button.click()
    assert retried.args is not None
    (job,) = retried.args[0].jobs
    assert job.attempts == 2 and len(job.results) == 2, "its attempts add up"
    assert view.model.row(0)[5] == "2"
    assert len(bench.campaign_ids) == 2
