"""The serial ports this computer sees, kept current as cables are plugged and pulled.

Listing ports touches the OS (sysfs, the registry), so every scan runs on a worker;
`PortList` rescans every two seconds and reports the new list and what changed.
`choose_start_port` is the first-run rule: the port asked for, else the last port if it
is still there, else a plugged-in USB serial adapter (one a registered driver claims
first), else the Demo bridge.

With a labgrid coordinator configured (LG_COORDINATOR), the list also shows the lab's
places (`updates.labgrid_places.PlaceScanner`): the ones this user holds as RFC 2217 URLs
to connect to, the others with who holds them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from bridgelab.drivers.ports import DEMO_URL, PortChanges, PortInfo, PortWatcher, scan_ports
from bridgelab.drivers.registry import available_drivers
from bridgelab.errors import BridgeLabError
from bridgelab.gui.tasks import TaskRunner
from bridgelab.updates.labgrid_places import PlaceScanner, is_place_entry

RESCAN_INTERVAL_MS = 2000


def claimed_usb_ids() -> set[tuple[int, int]]:
    """VID:PID pairs some registered driver says it speaks."""
    return {usb for info in available_drivers().values() for usb in info.usb_ids}


def choose_start_port(
    ports: Sequence[PortInfo],
    last_url: str,
    requested: str | None = None,
    claimed: set[tuple[int, int]] | None = None,
) -> str:
    """Where the app connects on start-up (see the module docstring for the order).

    A remote URL (socket://, rfc2217://) or an emulated one remembered from last time is
    used only when no USB adapter is plugged in: hardware on the bench wins.
    """
    if requested:
        return requested
    urls = {port.url for port in ports}
    if last_url and "://" not in last_url and last_url in urls:
        return last_url
    usb = [port for port in ports if port.vid is not None and not port.emulated]
    known = claimed if claimed is not None else set()
    usb.sort(key=lambda port: (port.vid, port.pid) not in known)
    if usb:
        return usb[0].url
    if last_url and "://" in last_url:
        return last_url
    return DEMO_URL


class PortList(QObject):
    portsChanged = Signal(object)  # list[PortInfo]
    plugged = Signal(object)  # PortInfo of a newly plugged-in port
    failed = Signal(object)  # BridgeLabError (listing ports failed)

    def __init__(
        self,
        runner: TaskRunner,
        *,
        scan: Callable[[], list[PortInfo]] = scan_ports,
        places: PlaceScanner | None = None,
        interval_ms: int = RESCAN_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.ports: list[PortInfo] = []
        self.claimed: set[tuple[int, int]] = set()  # VID:PIDs a driver speaks (worker-read)
        self._places = places if places is not None else PlaceScanner()
        self._scan = lambda: [*scan(), *self._places()]  # places: [] unless configured
        self._watcher: PortWatcher | None = None
        self._scanning = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.rescan)

    def start(
        self, on_first: Callable[[list[PortInfo]], None] | None = None, *, watch: bool = True
    ) -> None:
        """First scan now (then `on_first(ports)`), then (with `watch`) rescan on the timer."""
        scan = self._scan

        def scan_first() -> tuple[PortWatcher, set[tuple[int, int]]]:
            # Both read the disk (the OS's port list, installed drivers' metadata).
            return PortWatcher(scan), claimed_usb_ids()

        def first(found: tuple[PortWatcher, set[tuple[int, int]]]) -> None:
            watcher, self.claimed = found
            self._watcher = watcher
            self._publish(watcher.ports)
            if on_first is not None:
                on_first(list(watcher.ports))
            if watch:
                self._timer.start()

        self.runner.submit(scan_first, first, self._on_failed)

    def stop(self) -> None:
        self._timer.stop()
        if self._places.enabled:
            try:
                self.runner.submit(self._places.close)  # its session's thread, off the GUI
            except RuntimeError:
                self._places.close()  # the runner is already shut down

    @Slot()
    def rescan(self) -> None:
        watcher = self._watcher
        if watcher is None or self._scanning:
            return
        self._scanning = True
        self.runner.submit(watcher.rescan, self._on_rescan, self._on_failed)

    def _on_rescan(self, changes: PortChanges) -> None:
        self._scanning = False
        if not changes or self._watcher is None:
            return
        self._publish(self._watcher.ports)
        for port in changes.added:
            if not port.emulated and not is_place_entry(port):
                self.plugged.emit(port)

    def _on_failed(self, error: BridgeLabError) -> None:
        self._scanning = False
        self.failed.emit(error)

    def _publish(self, ports: list[PortInfo]) -> None:
        self.ports = list(ports)
        self.portsChanged.emit(self.ports)
