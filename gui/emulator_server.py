"""Emulated bridges for the lab and for training, started from the app.

Two ways, both from one emu:// URL (`emu://PROFILE?faults=...&id=...`):
- connect the app to it in-process (the URL goes to the port picker as it is), or
- serve it on a pseudo-terminal (or TCP port) so that other tools, the CLI or another
  Bridge Lab, reach it by a path (`/dev/pts/5`) or `socket://`. `EmulatorServer` runs
  `serve_pty`/`serve_tcp` on a long-job worker until `stop()`.
`emulator_url` builds and checks the URL (profile, faults, baud, adapter latency, id).
"""

from __future__ import annotations

import io
import threading
from urllib.parse import urlencode

from PySide6.QtCore import QObject, Signal, Slot

from bridgelab.errors import BridgeLabError
from bridgelab.gui.tasks import TaskRunner
from bridgelab.updates.emulated import EmulatorOptions, parse_emu_url, serve_pty, serve_tcp


def emulator_url(
    profile: str,
    *,
    faults: str = "",
    baud: int | None = None,
    latency_ms: float = 0.0,
    instance_id: str = "",
) -> str:
    """The emu:// URL for these choices; raises the emulator's UsageError if one is wrong."""
    query: list[tuple[str, str]] = []
    if baud:
        query.append(("baud", str(baud)))
    if latency_ms:
        query.append(("latency_ms", f"{latency_ms:g}"))
    if faults.strip():
        query.append(("faults", faults.strip()))
    if instance_id.strip():
        query.append(("id", instance_id.strip()))
    url = f"emu://{profile}" + ("?" + urlencode(query, safe=",=.") if query else "")
    parse_emu_url(url)  # refuses an unknown fault or a bad value, with the valid ones
    return url


class EmulatorServer(QObject):
    listening = Signal(str)  # the pty path or socket:// URL other tools connect to
    stopped = Signal()
    failed = Signal(object)  # BridgeLabError
    _announced = Signal(str)  # from the serving worker

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.address: str | None = None
        self._stop: threading.Event | None = None
        self._announced.connect(self._on_announced)

    @property
    def serving(self) -> bool:
        return self._stop is not None

    def start(self, url: str, *, tcp: str | None = None) -> None:
        """Serve the bridge of emu:// `url` on a new pty (or on TCP `host:port`)."""
        if self._stop is not None:
            raise BridgeLabError("An emulated bridge is already being served.", code="serving")
        options: EmulatorOptions = parse_emu_url(url)
        stop = threading.Event()
        self._stop = stop
        out = io.StringIO()

        def serve() -> None:
            if tcp:
                host, _, port = tcp.rpartition(":")
                serve_tcp(options, host or "127.0.0.1", int(port), stop, out, self._announced.emit)
            else:
                serve_pty(options, stop, out, self._announced.emit)

        self.runner.submit(serve, self._ended, self._failed, long=True)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    @Slot(str)
    def _on_announced(self, address: str) -> None:
        self.address = address
        self.listening.emit(address)

    def _ended(self, _: object) -> None:
        self._stop = None
        self.address = None
        self.stopped.emit()

    def _failed(self, error: BridgeLabError) -> None:
        self._stop = None
        self.address = None
        self.failed.emit(error)
