"""The emulated bridge served as RFC 2217 (telnet COM-PORT-OPTION) on a TCP connection.

pyserial's own server half, `serial.rfc2217.PortManager`, does the telnet negotiation and
the RFC 2217 commands; it is given `EmulatedUart` as its "serial port", so what a client's
`rfc2217://` port sets reaches the emulated board: DTR and RTS go to its reset circuit
(`ResetCircuit`), the line settings are recorded and confirmed. Data bytes pass through
with telnet's IAC doubling undone on the way in and done on the way out.

Everything runs on the endpoint's thread: `receive()` feeds the manager, which calls back
into `EmulatedUart`, which calls `on_lines` (the device) at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from serial import rfc2217

from bridgelab.emulator.channel import SocketChannel

IAC = b"\xff"

LinesChanged = Callable[[bool, bool], None]  # (dtr, rts), True: asserted


class EmulatedUart:
    """The attributes `PortManager` reads and sets on its serial port."""

    def __init__(self, on_lines: LinesChanged) -> None:
        self.on_lines = on_lines
        self.baudrate = 115200  # recorded and confirmed; the endpoint keeps its own pacing
        self.bytesize = 8
        self.parity = "N"
        self.stopbits = 1
        self.xonxoff = False
        self.rtscts = False
        self.break_condition = False
        # The adapter's inputs, as a board without flow control leaves them.
        self.cts = True
        self.dsr = True
        self.ri = False
        self.cd = False
        self._dtr = False
        self._rts = False
        self.line_changes = 0

    @property
    def dtr(self) -> bool:
        return self._dtr

    @dtr.setter
    def dtr(self, value: bool) -> None:
        self._dtr = bool(value)
        self._changed()

    @property
    def rts(self) -> bool:
        return self._rts

    @rts.setter
    def rts(self, value: bool) -> None:
        self._rts = bool(value)
        self._changed()

    def _changed(self) -> None:
        self.line_changes += 1
        self.on_lines(self._dtr, self._rts)

    def reset_input_buffer(self) -> None:
        """Nothing to drop: the endpoint holds no bytes for the host."""

    def reset_output_buffer(self) -> None:
        """Nothing to drop: bytes go to the board as they arrive."""


class Rfc2217Channel:
    """A `Channel` over a TCP connection that speaks RFC 2217 to its client."""

    def __init__(self, channel: SocketChannel, on_lines: LinesChanged) -> None:
        self.channel = channel
        self.uart = EmulatedUart(on_lines)
        # PortManager writes its telnet answers through `write` (below) from within
        # `filter`, on the same thread; its first requests go out here.
        # The stubs ask for Serial; PortManager touches only what EmulatedUart has, and of
        # its connection only `write`.
        self.manager = rfc2217.PortManager(cast(Any, self.uart), cast(Any, self))

    def write(self, data: bytes) -> None:
        self.channel.send(data)

    def fileno(self) -> int:
        return self.channel.fileno()

    def receive(self) -> bytes | None:
        raw = self.channel.receive()
        if not raw:
            return raw
        if self.manager.mode == rfc2217.M_NORMAL and IAC not in raw:
            return raw  # the common case, a data chunk: no per-byte generator
        return b"".join(self.manager.filter(raw))

    def send(self, data: bytes) -> None:
        self.channel.send(data.replace(IAC, IAC + IAC))

    def close(self) -> None:
        self.channel.close()
