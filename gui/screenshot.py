"""`bridgelab gui --screenshot OUT.png`: render one view once it has its data, save, exit.

The director waits on the controllers' own signals, never on a clock: the device view
once the bridge is identified; the update view once the image's report is shown (and,
with `--start`, once the update's verdict is in); the triage view once the first page is
loaded and the newest session's story is shown; the bench view once the plan is loaded
(and, with `--start`, once the campaign has ended). A deadline guards against a bridge
that never answers: the picture is still saved, and the exit code says it is incomplete.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from bridgelab.errors import BridgeLabError
from bridgelab.gui.main_window import MainWindow

DEADLINE_MS = 120_000
SETTLE_MS = 150  # let the last layout pass and repaint land before grabbing
EXIT_INCOMPLETE = 2


@dataclass(frozen=True)
class ScreenshotPlan:
    output: Path
    view: str = "device"
    image: Path | None = None  # update view: check this image
    start: bool = False  # update or bench view: run it to the end first
    mode: str = "local"  # update view: local or ota
    plan: str | None = None  # bench view: a plan file, or "demo" for the demo rack


class ScreenshotDirector(QObject):
    def __init__(self, window: MainWindow, plan: ScreenshotPlan) -> None:
        super().__init__(window)
        self.window = window
        self.plan = plan
        self.problem: str | None = None
        self.done = False
        self._bench_started = False
        self._deadline = QTimer(self)
        self._deadline.setSingleShot(True)
        self._deadline.setInterval(DEADLINE_MS)
        self._deadline.timeout.connect(self._timed_out)

    def start(self) -> None:
        self.window.show_view(self.plan.view)
        self._deadline.start()
        waiters = {
            "device": self._wait_device,
            "update": self._wait_update,
            "triage": self._wait_triage,
            "bench": self._wait_bench,
        }
        waiters[self.plan.view]()

    # -- per view ---------------------------------------------------------------------------

    def _wait_device(self) -> None:
        session = self.window.session
        session.snapshotChanged.connect(self._ready_once)
        session.problem.connect(self._failed)

    def _wait_update(self) -> None:
        window, plan = self.window, self.plan
        if plan.mode == "ota":
            window.update_view.ota_mode.setChecked(True)

        def connected(_: object) -> None:
            window.session.snapshotChanged.disconnect(connected)
            if plan.image is None:
                self._ready()
                return
            window.updates.assessed.connect(assessed)
            window.updates.set_image(plan.image)

        def assessed(_: object) -> None:
            window.updates.assessed.disconnect(assessed)
            if not plan.start:
                self._ready()
                return
            window.updates.finished.connect(self._ready_once)
            try:
                window.updates.start(plan.mode)
            except BridgeLabError as error:
                self._failed(error)

        window.session.snapshotChanged.connect(connected)
        window.session.problem.connect(self._failed)
        window.updates.assessFailed.connect(self._failed)

    def _wait_triage(self) -> None:
        view = self.window.triage_view

        def first_page(rows: int) -> None:
            view.model.pageLoaded.disconnect(first_page)
            if rows:
                view.detail.loaded.connect(self._ready_once)
                view.table.selectRow(0)
            else:
                self._ready()

        view.model.pageLoaded.connect(first_page)
        self.window.store.failed.connect(self._failed)

    def _wait_bench(self) -> None:
        bench, plan = self.window.bench, self.plan
        bench.failed.connect(self._failed)
        if plan.start:
            bench.finished.connect(self._select_failed_lane)
            bench.finished.connect(self._ready_once)
            bench.planChanged.connect(self._start_bench)
        else:
            bench.planChanged.connect(self._ready_once)
        if plan.plan is None or plan.plan == "demo":
            QTimer.singleShot(0, bench.use_demo_rack)
        else:
            bench.load_plan(Path(plan.plan))

    def _select_failed_lane(self, _: object) -> None:
        """Show the first failed lane's story under the table (or the first lane's)."""
        view = self.window.bench_view
        states = [row[4] for row in (view.model.row(r) for r in range(view.model.rowCount()))]
        view.table.selectRow(states.index("failed") if "failed" in states else 0)

    def _start_bench(self, *_: object) -> None:
        """Start once the plan is loaded and the triage log is open (so it is logged)."""
        bench = self.window.bench
        if bench.plan is None or not bench.store.settled:
            if not bench.store.settled:
                bench.store.opened.connect(self._start_bench)
                bench.store.failed.connect(self._start_bench)
            return
        if not bench.running and not self._bench_started:
            self._bench_started = True
            bench.start()

    # -- ending -----------------------------------------------------------------------------

    def _ready_once(self, *_: object) -> None:
        self._ready()

    def _ready(self) -> None:
        if self.done:
            return
        self.done = True
        self._deadline.stop()
        QTimer.singleShot(SETTLE_MS, self._save)

    def _failed(self, error: BridgeLabError) -> None:
        self.problem = f"{error.message} {error.action}".strip()
        self._ready()

    def _timed_out(self) -> None:
        self.problem = f"the {self.plan.view} view had no data after {DEADLINE_MS // 1000} s"
        self._ready()

    def _save(self) -> None:
        self.plan.output.parent.mkdir(parents=True, exist_ok=True)
        picture = self.window.grab()
        if not picture.save(str(self.plan.output)):
            self.problem = f"cannot write {self.plan.output}"
        if self.problem:
            print(f"screenshot incomplete: {self.problem}", file=sys.stderr)
        QApplication.exit(EXIT_INCOMPLETE if self.problem else 0)
