"""Triage view on real SQLite logs: lazy pages, filters, search, detail, notes, export,
defect bundle, and merging another laptop's log."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from bridgelab.data.records import SessionFilter
from bridgelab.data.store import TriageStore
from bridgelab.data.synthetic import fill_synthetic
from bridgelab.gui.main_window import MainWindow
from tests.gui.helpers import WAIT_MS, WindowFactory, scripted

SESSIONS = 1000


def synthetic_log(path: Path, sessions: int, seed: int = 0) -> Path:
    TriageStore.open(path).close()  # create it with the current schema
    fill_synthetic(path, sessions, events_per_session=4, seed=seed)
    return path


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_log(tmp_path_factory.mktemp("triage") / "big.db", SESSIONS)


def triage_window(qtbot: QtBot, make_window: WindowFactory, db: Path) -> MainWindow:
    """A window on the Demo bridge with `db` as its log, triage view showing page one."""
    window = make_window(None, start=False, db=db)
    window.show_view("triage")
    with qtbot.waitSignal(window.triage_view.model.pageLoaded, timeout=WAIT_MS):
        window.start()
    qtbot.waitUntil(lambda: window.triage_view.model.total is not None, timeout=WAIT_MS)
    return window


def test_pages_load_lazily_as_the_table_scrolls(
    qtbot: QtBot, make_window: WindowFactory, tmp_path: Path
) -> None:
    db = synthetic_log(tmp_path / "log.db", SESSIONS)
    window = triage_window(qtbot, make_window, db)
    model = window.triage_view.model
    assert model.rowCount() == model.page_size == 200
    assert model.total == SESSIONS
    assert "1,000 sessions match; 200 shown" in window.triage_view.status.text()
    assert model.canFetchMore()
    # Scrolling to the bottom asks the model for the next page (on a worker).
    table = window.triage_view.table
    with qtbot.waitSignal(model.pageLoaded, timeout=WAIT_MS):
        table.scrollToBottom()
        scrollbar = table.verticalScrollBar()
        scrollbar.setValue(scrollbar.maximum())
    assert model.rowCount() == 400
    # Newest first, as the store orders them.
    started = [model.session_at(row).started_at for row in range(model.rowCount())]
    assert started == sorted(started, reverse=True)
    while model.canFetchMore():
        with qtbot.waitSignal(model.pageLoaded, timeout=WAIT_MS):
            model.fetchMore()
    assert model.rowCount() == SESSIONS
    assert not model.canFetchMore()


def test_filters_and_search(qtbot: QtBot, make_window: WindowFactory, big_log: Path) -> None:
    window = triage_window(qtbot, make_window, big_log)
    view, model = window.triage_view, window.triage_view.model
    with TriageStore.open(big_log) as store:
        failed = store.count_sessions(SessionFilter(result="failed"))
        stalled = store.count_sessions(SessionFilter(result="failed", failure_class="stalled"))
        one_site = store.count_sessions(SessionFilter(text="SITE-007"))
    assert 0 < stalled < failed < SESSIONS

    with qtbot.waitSignals([model.countChanged, model.pageLoaded], timeout=WAIT_MS):
        view.result.setCurrentIndex(view.result.findData("failed"))
    assert model.total == failed
    assert {model.session_at(r).final_state for r in range(model.rowCount())} == {"failed"}

    with qtbot.waitSignals([model.countChanged, model.pageLoaded], timeout=WAIT_MS):
        view.failure.setCurrentIndex(view.failure.findData("stalled"))
    assert model.total == stalled
    assert {model.session_at(r).failure_class for r in range(model.rowCount())} == {"stalled"}

    with qtbot.waitSignals([model.countChanged, model.pageLoaded], timeout=WAIT_MS):
        view.result.setCurrentIndex(0)
        view.failure.setCurrentIndex(0)
        view.search.setText("SITE-007")
    assert model.total == one_site > 0
    assert {model.session_at(r).site_ref for r in range(model.rowCount())} == {"SITE-007"}

    device = model.session_at(0).device_eui64
    assert device is not None
    with qtbot.waitSignals([model.countChanged, model.pageLoaded], timeout=WAIT_MS):
        view.search.clear()
        view.device.setText(device.replace(":", ""))
    assert model.total and {model.session_at(r).device_eui64 for r in range(model.rowCount())} == {
        device
    }

    with qtbot.waitSignal(model.failed, timeout=WAIT_MS):
        view.device.setText("not-an-eui64")
    assert "not an EUI-64" in view.status.text()


def test_detail_notes_export_and_bundle(
    qtbot: QtBot, make_window: WindowFactory, big_log: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "log.db"
    copy.write_bytes(big_log.read_bytes())
    window = triage_window(qtbot, make_window, copy)
    view = window.triage_view
    detail = view.detail
    with qtbot.waitSignal(detail.loaded, timeout=WAIT_MS):
        view.table.selectRow(0)
    record = view.model.session_at(0)
    assert detail.facts.value("Session") == record.id
    assert detail.timeline_model.rowCount() == 4
    if record.failure_class:
        assert "Next step:" in detail.banner.text()

    detail.note_edit.setPlainText("Seen twice on this site; swap the service cable.")
    with qtbot.waitSignal(detail.loaded, timeout=WAIT_MS):
        detail.add_note_button.click()
    notes = [detail.notes.item(i).text() for i in range(detail.notes.count())]
    assert any("swap the service cable" in note for note in notes)

    dialogs = scripted(window)
    export = tmp_path / "export.csv"
    dialogs.save_paths.append(export)
    with qtbot.waitSignal(view.message, timeout=WAIT_MS, check_params_cb=lambda m: "Exported" in m):
        view.export()
    rows = list(csv.DictReader(io.StringIO(export.read_text(encoding="utf-8"))))
    assert len(rows) == SESSIONS
    assert rows[0]["id"] == record.id

    bundle = tmp_path / "defect.zip"
    dialogs.save_paths.append(bundle)
    with qtbot.waitSignal(view.message, timeout=WAIT_MS, check_params_cb=lambda m: "bundle" in m):
        view.bundle_button.click()
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        assert "manifest.json" in names
        assert f"{record.id}/session.json" in names
        story = archive.read(f"{record.id}/session.json").decode()
    assert "swap the service cable" in story


def test_merge_another_laptops_log(
    qtbot: QtBot, make_window: WindowFactory, tmp_path: Path
) -> None:
    mine = synthetic_log(tmp_path / "mine.db", 50, seed=1)
    theirs = synthetic_log(tmp_path / "theirs.db", 30, seed=2)
    window = triage_window(qtbot, make_window, mine)
    model = window.triage_view.model
    assert model.total == 50
    scripted(window).open_paths.append(theirs)
    with qtbot.waitSignals([model.countChanged, model.pageLoaded], timeout=WAIT_MS):
        window.merge_log()
    assert model.total == 80
    assert "Merged theirs.db: 30 new session(s)" in window.statusBar().currentMessage()
