"""The main window: the port picker, four views in tabs, menus, and the status bar.

Deliberately thin. It creates the controllers (`BridgeSession`, `UpdateController`,
`BenchController`, `EmulatorServer`, `PortList`, `StoreHolder`) around one `TaskRunner`,
hands them to the views, and wires signals between them; the work lives in the
controllers, the drawing in the views. `shutdown()` stops everything in order (long jobs
cancelled, workers joined, the bridge and the triage log closed), so closing the window
leaves no thread behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from bridgelab.drivers.ports import PortInfo
from bridgelab.drivers.versions import display_version
from bridgelab.errors import BridgeLabError
from bridgelab.gui.bench_controller import BenchController
from bridgelab.gui.bridge_session import (
    BridgeSession,
    BridgeSnapshot,
    ConnectionState,
    is_emulated,
)
from bridgelab.gui.dialogs import Dialogs
from bridgelab.gui.emulator_server import EmulatorServer
from bridgelab.gui.menus import VIEW_TITLES, VIEWS, build_menus
from bridgelab.gui.port_list import PortList, choose_start_port
from bridgelab.gui.settings import Settings
from bridgelab.gui.store_holder import StoreHolder
from bridgelab.gui.tasks import TaskRunner
from bridgelab.gui.triage_jobs import merge_log, merge_words
from bridgelab.gui.update_controller import UpdateController
from bridgelab.gui.views.bench_view import BenchView
from bridgelab.gui.views.device_view import DeviceView
from bridgelab.gui.views.downgrade_dialog import DowngradeDialog
from bridgelab.gui.views.emulator_panel import EmulatorPanel
from bridgelab.gui.views.triage_view import TriageView
from bridgelab.gui.views.update_view import UpdateView
from bridgelab.gui.widgets.connection_bar import ConnectionBar
from bridgelab.gui.widgets.panes import scrollable
from bridgelab.updates import events as ev
from bridgelab.updates.emulated import DEMO_DIR, DEMO_IMAGES
from bridgelab.updates.policy import UpdatePolicy

IMAGE_FILTER = "Firmware images (*.ota *.zigbee *.bin *.img);;All files (*)"
DEFAULT_SIZE = (1280, 760)


@dataclass(frozen=True)
class WindowOptions:
    """What the command line (or a test) asks of the window."""

    port: str | None = None  # connect here instead of choosing
    db: Path | None = None  # triage log (None: BRIDGELAB_DB or the user data folder)
    policy: UpdatePolicy | None = None  # update timeouts (tests shorten the health check)
    watch_ports: bool = True  # False: list the ports once, no rescans (screenshots)


class MainWindow(QMainWindow):
    shutDown = Signal()
    _recoveryEvent = Signal(object)  # updates.events.UpdateEvent, from the recovery's thread

    def __init__(
        self,
        settings: Settings,
        options: WindowOptions | None = None,
        *,
        dialogs: Dialogs | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.options = options or WindowOptions()
        self.dialogs = dialogs or Dialogs(self)
        self._closed = False
        self.setWindowTitle("Bridge Lab")

        # -- controllers
        self.runner = TaskRunner(self)
        self.store = StoreHolder(self.runner, self)
        self.session = BridgeSession(self.runner, baud=settings.baud, parent=self)
        self.ports = PortList(self.runner, parent=self)
        policy = self.options.policy
        self.updates = UpdateController(
            self.runner, self.session, self.store, settings, policy=policy, parent=self
        )
        self.bench = BenchController(self.runner, self.store, policy=policy, parent=self)
        self.emulator = EmulatorServer(self.runner, self)

        # -- views
        self.connection = ConnectionBar()
        self.connection.set_baud(settings.baud)
        self.device_view = DeviceView()
        self.update_view = UpdateView(self.updates)
        self.triage_view = TriageView(self.runner, self.dialogs)
        self.bench_view = BenchView(self.bench, self.dialogs)
        self.emulator_panel: EmulatorPanel | None = None
        self.power_cycle_action: QAction | None = None  # Bridge menu (menus.py)
        self.views: dict[str, QWidget] = {
            "device": self.device_view,
            "update": self.update_view,
            "triage": self.triage_view,
            "bench": self.bench_view,
        }
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for name in VIEWS:
            self.tabs.addTab(scrollable(self.views[name]), VIEW_TITLES[name].replace("&", ""))
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.connection)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.log_label = QLabel("Triage log: opening\u2026")
        self.statusBar().addPermanentWidget(self.log_label)

        build_menus(self)
        self._wire()
        self._restore_geometry()

    # -- start and stop ---------------------------------------------------------------------

    def start(self) -> None:
        """Open the triage log, list the ports and connect (all asynchronously)."""
        self.store.open(self.options.db)
        self.ports.start(self._first_ports, watch=self.options.watch_ports)

    def _first_ports(self, ports: list[PortInfo]) -> None:
        url = choose_start_port(
            ports, self.settings.last_port, self.options.port, self.ports.claimed
        )
        self.connection.set_url(url)
        self.connect_to(url)

    def shutdown(self) -> None:
        """Stop every job and thread this window started; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.ports.stop()
        self.updates.cancel()
        self.bench.cancel()
        self.emulator.stop()
        self.runner.shutdown()
        self.session.close()
        self.store.close()
        self.settings.sync()
        self.shutDown.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if (self.updates.running or self.bench.running) and not self._closed:
            question = (
                "An update is running. Cancel it and quit? The bridge keeps what it "
                "received; updating again later resumes from there."
            )
            if not self.dialogs.confirm("Quit Bridge Lab", question):
                event.ignore()
                return
        self.settings.geometry = self.saveGeometry()
        self.settings.last_view = VIEWS[self.tabs.currentIndex()]
        self.shutdown()
        event.accept()

    def _restore_geometry(self) -> None:
        geometry = self.settings.geometry
        if geometry is not None and self.restoreGeometry(geometry):
            return
        screen = QGuiApplication.primaryScreen()
        width, height = DEFAULT_SIZE
        if screen is not None:
            available = screen.availableGeometry()
            width, height = min(width, available.width()), min(height, available.height())
        self.resize(width, height)

    # -- views ------------------------------------------------------------------------------

    def show_view(self, name: str) -> None:
        self.tabs.setCurrentIndex(VIEWS.index(name))

    def current_view(self) -> str:
        return VIEWS[self.tabs.currentIndex()]

    def connect_to(self, url: str) -> None:
        self.settings.last_port = url
        baud = self.connection.current_baud()
        self.settings.baud = baud
        self.session.baud = baud
        self.session.connect_to(url)

    # -- wiring -----------------------------------------------------------------------------

    def _wire(self) -> None:
        session, bar = self.session, self.connection
        bar.connectRequested.connect(self.connect_to)
        bar.disconnectRequested.connect(session.disconnect_bridge)
        session.stateChanged.connect(self._on_session_state)
        session.snapshotChanged.connect(self._on_snapshot)
        session.problem.connect(self._on_problem)
        session.logEntry.connect(self.device_view.add_log_entry)
        session.eventLog.connect(self.device_view.show_log)
        self.device_view.tryUpdateRequested.connect(self._try_demo_update)
        self.device_view.retryRequested.connect(lambda: session.connect_to(session.url))
        self.device_view.hintDismissed.connect(self._dismiss_hint)
        self.device_view.recoverRequested.connect(self.recover_through_bootloader)
        self._recoveryEvent.connect(self.device_view.show_recovery_event)  # queued
        self.device_view.powerCycleRequested.connect(self.power_cycle_bridge)
        self.ports.portsChanged.connect(bar.set_ports)
        self.ports.plugged.connect(self._on_plugged)
        self.store.opened.connect(self._on_store_opened)
        self.store.failed.connect(self._on_store_failed)
        self.store.changed.connect(self.triage_view.model.reload)
        self.update_view.openImageRequested.connect(self.open_image)
        self.update_view.downgradeRequested.connect(self._ask_downgrade)
        self.update_view.showSessionRequested.connect(self.show_session)
        self.bench_view.showSessionRequested.connect(self.show_session)
        self.updates.finished.connect(self._on_update_finished)
        self.triage_view.message.connect(self.statusBar().showMessage)
        self.runner.unhandledError.connect(self._on_unhandled)

    def _on_session_state(self, state: str) -> None:
        connection_state = ConnectionState(state)
        self.connection.set_state(connection_state, self.session.url)
        problem = self.session.last_problem
        failed = connection_state is ConnectionState.FAILED
        if failed and problem is not None and problem.code == "bootloader-only":
            self.connection.show_bootloader_only(self.session.url)
        self.device_view.set_state(connection_state, self.session.url)
        self.setWindowTitle(
            f"Bridge Lab \u2013 {self.session.url}" if self.session.url else "Bridge Lab"
        )

    def _on_snapshot(self, snapshot: BridgeSnapshot) -> None:
        self.device_view.show_snapshot(snapshot, show_hint=not self.settings.demo_hint_dismissed)

    def _on_problem(self, error: BridgeLabError) -> None:
        self.device_view.show_problem(error, self.session.url)
        self.statusBar().showMessage(error.message, 10_000)

    def _on_plugged(self, port: PortInfo) -> None:
        self.statusBar().showMessage(
            f"{port.url} plugged in ({port.description}): pick it above to connect.", 15_000
        )

    def _on_store_opened(self, store: object) -> None:
        path = self.store.path
        self.log_label.setText(f"Triage log: {path}")
        self.triage_view.set_store(self.store.store)
        for warning in getattr(store, "warnings", []):
            self.statusBar().showMessage(str(getattr(warning, "message", warning)), 15_000)

    def _on_store_failed(self, error: BridgeLabError) -> None:
        self.log_label.setText("Triage log: NOT AVAILABLE (updates are not logged)")
        self.triage_view.show_store_problem(error)

    def _on_update_finished(self, result: object) -> None:
        session_id = getattr(result, "session_id", None)
        if session_id:
            self.statusBar().showMessage(f"Update logged as session {session_id}.", 15_000)

    def _on_unhandled(self, error: BridgeLabError) -> None:
        self.statusBar().showMessage(error.message, 15_000)
        self.dialogs.warn("Bridge Lab", f"{error.message}\n\n{error.action}".strip())

    def _dismiss_hint(self) -> None:
        self.settings.demo_hint_dismissed = True

    def _try_demo_update(self) -> None:
        self.show_view("update")
        if self.updates.image_path is None:
            self.updates.set_image(DEMO_IMAGES[0].path)

    def show_session(self, session_id: str) -> None:
        self.show_view("triage")
        self.triage_view.open_session(session_id)

    # -- actions ----------------------------------------------------------------------------

    def open_image(self) -> None:
        start = self.settings.last_image_dir
        if not start and self.session.snapshot is not None and self.session.snapshot.emulated:
            start = str(DEMO_DIR)
        path = self.dialogs.open_file("Open a firmware image", start, IMAGE_FILTER)
        if path is not None:
            self.settings.last_image_dir = str(path.parent)
            self.show_view("update")
            self.updates.set_image(path)

    def recover_through_bootloader(self) -> None:
        """Pick a .gbl and run the recovery on a worker; the session reconnects after."""
        from bridgelab.updates.recovery import RecoveryEngine, RecoveryRequest

        path = self.dialogs.open_file(
            "Recover through the bootloader: the bridge's .gbl file",
            self.settings.last_image_dir,
            "Gecko Bootloader images (*.gbl);;All files (*)",
        )
        if path is None:
            return
        url = self.session.url
        request = RecoveryRequest(url, path, baudrate=self.session.baud)
        store = self.store.store

        def start() -> None:  # once the session has let go of the port
            self.device_view.show_recovering(url, path.name)
            self.statusBar().showMessage(f"Recovering {url} through the bootloader\u2026")
            self.runner.submit(
                lambda: RecoveryEngine(
                    request, store=store, subscribers=[self._recoveryEvent.emit]
                ).run(),
                self._on_recovered,
                self._on_problem,
                long=True,
            )

        self.session.release(start)

    def _on_recovered(self, result: ev.UpdateResult) -> None:
        if result.ok:
            text = f"Recovered: the bridge runs {display_version(result.version_after)} again."
        else:
            message = (result.error or {}).get("message", "")
            text = f"Recovery failed at {result.failure_stage}: {message}"
        self.statusBar().showMessage(text, 30_000)
        self.session.connect_to(self.session.url)  # shows what the bridge is now

    def _ask_downgrade(self) -> None:

        assessment = self.updates.assessment
        if assessment is None or assessment.device is None:
            return
        dialog = DowngradeDialog(assessment.device.file_version, assessment.file_version, self)
        if dialog.exec() == DowngradeDialog.DialogCode.Accepted:
            self.updates.allow_downgrade(dialog.reason_text())

    def merge_log(self) -> None:
        store = self.store.store
        if store is None:
            return
        path = self.dialogs.open_file(
            "Merge another laptop's triage log", "", "Triage logs (*.db *.sqlite);;All files (*)"
        )
        if path is None:
            return
        self.statusBar().showMessage(f"Merging {path}\u2026")

        def merged(report: object) -> None:
            self.statusBar().showMessage(merge_words(report), 15_000)  # type: ignore[arg-type]
            self.store.changed.emit()

        self.runner.submit(lambda: merge_log(store, path), merged, self._on_unhandled)

    def choose_trust_store(self) -> None:
        folder = self.dialogs.choose_folder(
            "Folder of trusted manufacturer keys", self.settings.trust_dir
        )
        if folder is not None:
            self.settings.trust_dir = str(folder)
            self.updates.reassess()

    def set_operator(self) -> None:
        name = self.dialogs.ask_text(
            "Operator", "Your name, for the triage log:", self.settings.operator
        )
        if name is not None:
            self.settings.operator = name.strip()

    def power_cycle_bridge(self) -> None:
        """Switch the connected emulated bridge off and on, then read it again: the way
        out of a hang (a stall fault), as pulling the plug is for a real one."""
        from bridgelab.updates.emulated import power_cycle

        url = self.session.url
        if not is_emulated(url) or self.updates.running:
            return
        if not power_cycle(url):
            self.statusBar().showMessage(f"{url} is not running here: nothing to power-cycle.")
            return
        self.statusBar().showMessage(f"Power-cycled {url}; reading it again\u2026", 10_000)
        self.session.connect_to(url)
        self.show_view("device")

    def show_emulator(self) -> None:
        if self.emulator_panel is None:
            panel = EmulatorPanel(self.emulator, self)
            panel.connectRequested.connect(self._connect_emulated)
            panel.powerCycleRequested.connect(self.power_cycle_bridge)
            self.emulator_panel = panel
        self.emulator_panel.show()
        self.emulator_panel.raise_()

    def _connect_emulated(self, url: str) -> None:
        self.connection.set_url(url)
        self.connect_to(url)
        self.show_view("device")

    def show_hint_again(self) -> None:
        self.settings.demo_hint_dismissed = False
        if self.session.snapshot is not None:
            self._on_snapshot(self.session.snapshot)
        self.show_view("device")
