"""`emu://PROFILE[?options]`: an emulated bridge inside this process.

URL format::

    emu://demo
    emu://legacy?baud=115200&latency_ms=1
    emu://demo?faults=drop-rate=0.01,reboot-at=8192&seed=7
    emu://demo?drop-rate=0.01&state=/tmp/bridge.json&trust=/path/to/keys&id=rack-3

PROFILE is a shipped profile name (demo, legacy, orphaned, not-in-log). Options:
`baud` paces the line at that rate (8N1; default unpaced), `latency_ms` adds USB adapter
latency each way, `faults` takes the same spec as `bridgelab emulate --faults` and each
fault may also be its own option, `seed` fixes the randomness, `state` keeps the flash in
a file across runs, `trust` adds a folder of trusted manufacturer keys, and `id` names an
instance so that re-opening the same URL reaches the same bridge (a cable pulled and
plugged back in) instead of a fresh one. `clock=NAME` runs the bridge's boot, rejoin and
fault timers on the process's shared skipping clock NAME (`bridgelab.clock`): an update
engine given the same clock then skips its waits and the bridge's timers skip with it.
"""

from __future__ import annotations

import errno
import select
import socket
import threading
import time
from typing import Any

from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from bridgelab.emulator.endpoint import Endpoint
from bridgelab.emulator.factory import EmulatorOptions, build_endpoint, parse_emu_url
from bridgelab.errors import BridgeLabError

_instances: dict[str, Endpoint] = {}
_instances_lock = threading.Lock()


def power_cycle(url: str) -> bool:
    """Switch the in-process emulated bridge that `url` names off and on (its `id` picks
    the instance). False when no such bridge is running (or the URL has no id)."""
    try:
        options = parse_emu_url(url)
    except BridgeLabError:
        return False
    key = options.instance_id
    with _instances_lock:
        endpoint = _instances.get(key) if key else None
    if endpoint is None:
        return False
    endpoint.request_power_cycle()
    return True


def instance(url: str) -> Endpoint | None:
    """The in-process emulated bridge that `url` names by its `id` (its device model and
    line statistics), for tests that count what reached the bridge; None if none runs."""
    try:
        options = parse_emu_url(url)
    except BridgeLabError:
        return None
    with _instances_lock:
        return _instances.get(options.instance_id) if options.instance_id else None


class Serial(SerialBase):
    """The host side of an in-process emulated bridge, with pyserial's semantics."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._sock: socket.socket | None = None
        self._endpoint: Endpoint | None = None
        self._buffer = bytearray()
        self.options: EmulatorOptions | None = None
        super().__init__(*args, **kwargs)

    def open(self) -> None:
        if self.is_open:
            raise SerialException("Port is already open.")
        if self.port is None:
            raise SerialException("Port must be configured before it can be used.")
        try:
            self.options = parse_emu_url(str(self.port))
        except BridgeLabError as error:
            raise SerialException(str(error)) from error
        with _instances_lock:
            key = self.options.instance_id
            previous = _instances.get(key) if key else None
            if previous is not None and not previous.device.is_plugged(self.options.port_index):
                raise SerialException(
                    errno.ENOENT, f"could not open port {self.port}: [Errno 2] No such port"
                )
            host, device_side = socket.socketpair()
            endpoint = build_endpoint(
                self.options,
                device_side,
                device=previous.device if previous is not None else None,
            )
            if previous is not None:
                previous.stop()
            if key:
                _instances[key] = endpoint
        self._endpoint = endpoint.start()
        self._sock = host
        self._buffer.clear()
        self.is_open = True

    def close(self) -> None:
        if self._endpoint is not None:
            self._endpoint.stop()
            self._endpoint.channel.close()
            self._endpoint = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self.is_open = False

    @property
    def endpoint(self) -> Endpoint | None:
        return self._endpoint

    def _reconfigure_port(self, force_update: bool = False) -> None:
        """Baud rate and framing mean nothing in-process; the endpoint paces the line."""

    def _fill(self, wait_s: float | None) -> None:
        if self._sock is None:
            raise PortNotOpenError()
        readable, _, _ = select.select([self._sock], [], [], wait_s)
        if not readable:
            return
        try:
            data = self._sock.recv(65536)
        except OSError as error:
            raise SerialException(f"emulated bridge link broke: {error}") from error
        if not data:
            raise SerialException("emulated bridge link closed")
        self._buffer += data

    @property
    def in_waiting(self) -> int:
        self._fill(0.0)
        return len(self._buffer)

    def read(self, size: int = 1) -> bytes:
        if not self.is_open:
            raise PortNotOpenError()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while len(self._buffer) < size:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            self._fill(remaining)
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        return chunk

    def write(self, data: Any) -> int:
        if self._sock is None:
            raise PortNotOpenError()
        try:
            self._sock.sendall(bytes(data))
        except OSError as error:
            raise SerialException(f"emulated bridge link broke: {error}") from error
        return len(data)

    def reset_input_buffer(self) -> None:
        while self.in_waiting:
            self._buffer.clear()

    def reset_output_buffer(self) -> None:
        """Writes go straight to the emulated line; there is nothing to discard."""

    @property
    def out_waiting(self) -> int:
        return 0
