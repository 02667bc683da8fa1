"""`BridgeClient`: the bridge service protocol over any link, with blocking calls.

A reader thread decodes frames and completes pending requests by sequence number;
unsolicited events go to listeners (called on the reader thread: a GUI must marshal them
to its own thread). Every call takes a timeout; requests may be pipelined with `submit()`
so that the update engine can keep a window of writes in flight.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from serial.serialutil import SerialException

from bridgelab.drivers import protocol as p
from bridgelab.drivers.capabilities import Capability
from bridgelab.drivers.errors import (
    DriverError,
    LineRateFixed,
    LinkLost,
    NoAnswer,
    ProtocolError,
)
from bridgelab.drivers.framing import DecoderStats, Frame, FrameDecoder, FrameKind, encode_frame
from bridgelab.drivers.link import DEFAULT_BAUD, SerialPort, fixed_rate_reason, open_link
from bridgelab.drivers.reset_lines import link_capabilities

DEFAULT_TIMEOUT_S = 1.0
HANDSHAKE_TRIES = 3
HANDSHAKE_TIMEOUT_S = 0.5
PROBE_TRIES = 3
PROBE_TIMEOUT_S = 0.3
BAUD_FALLBACK_S = 1.1  # the device's own fallback (1 s after SET_BAUD), and a margin

EventListener = Callable[[p.Event], None]
# (direction "tx"/"rx", frame bytes as sent or received, monotonic time)
TraceListener = Callable[[str, bytes, float], None]
R = TypeVar("R", bound=p.Message)


class Pending:
    """A request in flight. `wait()` returns the response body or raises."""

    __slots__ = ("_done", "callback", "error", "request", "response", "sent_at", "seq")

    def __init__(self, request: p.Request[Any], seq: int) -> None:
        self.request = request
        self.seq = seq
        self.sent_at = 0.0
        self.response: p.Message | None = None
        self.error: BaseException | None = None
        self.callback: Callable[[Pending], None] | None = None
        self._done = threading.Event()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def _finish(self) -> None:
        self._done.set()
        if self.callback is not None:
            self.callback(self)

    def wait(self, timeout_s: float | None = DEFAULT_TIMEOUT_S) -> p.Message:
        if not self._done.wait(timeout_s):
            name = type(self.request).__name__
            raise NoAnswer(f"No answer to {name} within {timeout_s:g} s.")
        if self.error is not None:
            raise self.error
        assert self.response is not None
        return self.response


@dataclass(frozen=True)
class Session:
    """What the handshake agreed."""

    protocol_version: int
    max_payload: int
    window: int
    baud_rates: tuple[int, ...]
    model: str


def probe_service(port: SerialPort, tries: int = PROBE_TRIES) -> bool:
    """A short probe on an open port: does anything answer HELLO in the service protocol?

    Reads no further than the answer; a reader thread is started only once it has.
    """
    raw = encode_frame(p.encode_request(p.Hello(), 0))
    decoder = FrameDecoder()
    for _ in range(tries):
        try:
            port.write(raw)
        except (SerialException, OSError) as error:
            raise LinkLost(f"Writing to the port failed ({error}).") from error
        deadline = time.monotonic() + PROBE_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                data = port.read(max(1, port.in_waiting))
            except (SerialException, OSError) as error:
                raise LinkLost(f"Reading the port failed ({error}).") from error
            for frame in decoder.feed(data):
                if frame.kind == FrameKind.RESPONSE and frame.command == p.Command.HELLO:
                    return True
    return False


class BridgeClient:
    """One connection to one bridge. Thread-safe: any thread may call it."""

    driver_name = "bridgelab-service"
    reached_through = "the Bridge Lab service protocol"
    capabilities = frozenset(
        {
            Capability.IDENTIFY,
            Capability.FIRMWARE_VERSIONS,
            Capability.JOIN_STATUS,
            Capability.EVENT_LOG,
            Capability.LOCAL_UPDATE,
            Capability.OTA_TUNNEL,
            Capability.REBOOT,
            Capability.ENTER_BOOTLOADER,
        }
    )

    def __init__(self, port: SerialPort, url: str = "") -> None:
        self.port = port
        self.url = url or str(port.port)
        self.capabilities = type(self).capabilities | link_capabilities(self.url, port)
        self.session: Session | None = None
        self._decoder = FrameDecoder()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pending: dict[int, Pending] = {}
        self._next_seq = 0
        self._event_listeners: list[EventListener] = []
        self._trace_listeners: list[TraceListener] = []
        self._closed = threading.Event()
        self._broken: DriverError | None = None
        self._last_event: Frame | None = None
        # The shortest request-to-answer time seen: the line's round trip with no queue
        # ahead, known without extra pings once the handshake and identify have run.
        self.min_round_trip_s: float | None = None
        self._reader = threading.Thread(target=self._read_loop, name="bridge-reader", daemon=True)
        self._reader.start()

    # ----------------------------------------------------------------- lifecycle

    @classmethod
    def connect(
        cls, url: str, *, baudrate: int = DEFAULT_BAUD, handshake: bool = True
    ) -> BridgeClient:
        """Open `url`, flush stale bytes, and agree the session (HELLO).

        Raises the link errors of `open_link`, or NoAnswer when nothing speaks the protocol.
        """
        port = open_link(url, baudrate=baudrate)
        with contextlib.suppress(SerialException, OSError):
            port.reset_input_buffer()
        client = cls(port, url)
        if handshake:
            try:
                client.handshake()
            except BaseException:
                client.close()
                raise
        return client

    def handshake(self, hello: p.Hello | None = None) -> Session:
        offer = hello or p.Hello()
        last_error: DriverError | None = None
        for _ in range(HANDSHAKE_TRIES):
            try:
                answer = self.call(offer, timeout_s=HANDSHAKE_TIMEOUT_S)
            except NoAnswer as error:
                last_error = error
                continue
            self.session = Session(
                answer.protocol_version,
                answer.max_payload,
                answer.window,
                answer.baud_rates,
                answer.model,
            )
            self._decoder.max_payload = answer.max_payload + 64
            return self.session
        raise NoAnswer(
            f"{self.url}: no answer in the Bridge Lab service protocol after "
            f"{HANDSHAKE_TRIES} tries."
        ) from last_error

    def close(self) -> None:
        self._stop_reader()
        with contextlib.suppress(SerialException, OSError):
            self.port.close()
        self._fail_all(LinkLost("The connection was closed."))

    def _stop_reader(self) -> None:
        self._closed.set()
        with contextlib.suppress(AttributeError, NotImplementedError, SerialException, OSError):
            self.port.cancel_read()
        self._reader.join(timeout=1.0)

    def release(self) -> SerialPort:
        """Stop using the port but leave it open, for another driver on the same line
        (the radio's bootloader after `enter_bootloader`)."""
        self._stop_reader()
        self._fail_all(LinkLost("The connection was handed to another driver."))
        return self.port

    def __enter__(self) -> BridgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return not self._closed.is_set() and self._broken is None

    # ----------------------------------------------------------------- listeners

    def add_event_listener(self, listener: EventListener) -> None:
        self._event_listeners.append(listener)

    def remove_event_listener(self, listener: EventListener) -> None:
        if listener in self._event_listeners:
            self._event_listeners.remove(listener)

    def add_trace_listener(self, listener: TraceListener) -> None:
        self._trace_listeners.append(listener)

    def remove_trace_listener(self, listener: TraceListener) -> None:
        if listener in self._trace_listeners:
            self._trace_listeners.remove(listener)

    # ----------------------------------------------------------------- requests

    def submit(
        self, request: p.Request[Any], callback: Callable[[Pending], None] | None = None
    ) -> Pending:
        """Send `request` without waiting; the Pending completes when its answer comes."""
        if self._broken is not None:
            raise self._broken
        if self._closed.is_set():
            raise LinkLost("The connection is closed.")
        with self._lock:
            seq = self._allocate_seq()
            pending = Pending(request, seq)
            pending.callback = callback
            self._pending[seq] = pending
        raw = encode_frame(p.encode_request(request, seq))
        pending.sent_at = time.monotonic()
        try:
            with self._write_lock:
                self.port.write(raw)
        except (SerialException, OSError) as error:
            broken = LinkLost(f"{self.url}: writing failed ({error}).")
            self._break(broken)
            raise broken from error
        for listener in self._trace_listeners:
            listener("tx", raw, pending.sent_at)
        return pending

    def _allocate_seq(self) -> int:
        for _ in range(256):
            seq = self._next_seq
            self._next_seq = (self._next_seq + 1) & 0xFF
            if seq not in self._pending:
                return seq
        raise ProtocolError("256 requests in flight: the window is far too large.")

    def forget(self, pending: Pending) -> None:
        """Stop waiting for `pending` (its late answer, if any, is dropped)."""
        with self._lock:
            if self._pending.get(pending.seq) is pending:
                del self._pending[pending.seq]

    def call(self, request: p.Request[R], timeout_s: float = DEFAULT_TIMEOUT_S) -> R:
        """Send and wait for the answer, typed by the request (`call(GetIdentity())` is an
        `IdentityResponse`); raises NoAnswer, DeviceStatusError, LinkLost, ProtocolError."""
        return self.answer_of(request, self.submit(request), timeout_s)

    def answer_of(
        self, request: p.Request[R], pending: Pending, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> R:
        """The typed answer to `pending`, what `submit(request)` returned: the end of a call
        that was sent ahead (pipelined behind others) and is waited for now."""
        try:
            answer = pending.wait(timeout_s)
        finally:
            self.forget(pending)
        expected = type(request).RESPONSE
        if not isinstance(answer, expected):
            raise ProtocolError(f"Expected {expected.__name__}, got {type(answer).__name__}.")
        return answer  # type: ignore[return-value]  # RESPONSE is the R of Request[R]

    def call_empty(self, request: p.Request[p.Empty], timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.call(request, timeout_s)

    # ----------------------------------------------------------------- reader thread

    def _read_loop(self) -> None:
        while not self._closed.is_set():
            try:
                waiting = self.port.in_waiting
                data = self.port.read(waiting or 1)
            except (SerialException, OSError, TypeError, AttributeError) as error:
                if not self._closed.is_set():
                    self._break(LinkLost(f"{self.url}: the link broke ({error})."))
                return
            if not data:
                continue
            now = time.monotonic()
            for frame in self._decoder.feed(data):
                if self._trace_listeners:
                    raw = encode_frame(frame)
                    for listener in self._trace_listeners:
                        listener("rx", raw, now)
                self._dispatch(frame)

    def _dispatch(self, frame: Frame) -> None:
        if frame.kind == FrameKind.EVENT:
            if frame == self._last_event:
                return  # the same event frame twice (a repeated send): deliver it once
            self._last_event = frame
            try:
                event = p.decode_event(frame)
            except ProtocolError:
                return
            for listener in list(self._event_listeners):
                listener(event)
            return
        if frame.kind != FrameKind.RESPONSE:
            return
        with self._lock:
            pending = self._pending.get(frame.seq)
            if pending is None or frame.command != pending.request.COMMAND:
                return  # a late answer to a request we gave up on
            del self._pending[frame.seq]
        round_trip = time.monotonic() - pending.sent_at
        if self.min_round_trip_s is None or round_trip < self.min_round_trip_s:
            self.min_round_trip_s = round_trip
        try:
            pending.response = p.decode_response(type(pending.request), frame)
        except DriverError as error:
            pending.error = error
        pending._finish()

    def _break(self, error: DriverError) -> None:
        self._broken = error
        self._fail_all(error)

    def _fail_all(self, error: DriverError) -> None:
        with self._lock:
            pendings = list(self._pending.values())
            self._pending.clear()
        for pending in pendings:
            pending.error = error
            pending._finish()

    @property
    def decoder_stats(self) -> DecoderStats:
        return self._decoder.stats

    # ----------------------------------------------------------------- the commands

    def ping(self, data: bytes = b"", timeout_s: float = DEFAULT_TIMEOUT_S) -> float:
        """Round trip in seconds."""
        started = time.monotonic()
        answer = self.call(p.Ping(data), timeout_s)
        if answer.data != data:
            raise ProtocolError("PING came back with different data.")
        return time.monotonic() - started

    def identity(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> p.IdentityResponse:
        return self.call(p.GetIdentity(), timeout_s)

    def join_status(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> p.JoinStatusResponse:
        return self.call(p.GetJoinStatus(), timeout_s)

    def p2p_link(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> p.P2PLinkResponse:
        return self.call(p.GetP2PLink(), timeout_s)

    def update_status(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> p.UpdateStatusResponse:
        return self.call(p.GetUpdateStatus(), timeout_s)

    def event_log(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[p.LogEntry]:
        """The device's whole event log, read page by page."""
        entries: list[p.LogEntry] = []
        while True:
            page = self.call(p.ReadEventLog(len(entries), 64), timeout_s)
            entries.extend(page.entries)
            if not page.entries or len(entries) >= page.total:
                return entries

    def reboot(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.call_empty(p.Reboot(), timeout_s)

    def enter_bootloader(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        """Ask the application to restart into the radio's bootloader on this port; after
        the answer the line carries the bootloader's menu, not frames (`release()`)."""
        self.call_empty(p.EnterBootloader(), timeout_s)

    def set_baud(self, baud: int) -> bool:
        """Switch both ends to `baud`; fall back to the old rate if the new one fails.

        Returns True when the new rate works, False when both ends are back at the old one
        (the new rate did not answer, the port would not take it, or the SET_BAUD answer
        was lost). The device reverts by itself unless a valid frame reaches it at the new
        rate within a second, so a failed switch costs that second. Raises
        DeviceStatusError when the device refuses the rate (nothing changed), NoAnswer
        when the old rate does not answer after the fallback either, and LineRateFixed
        (before anything is sent) when the link cannot carry a rate change.
        """
        reason = fixed_rate_reason(self.url)
        if reason is not None:
            raise LineRateFixed(f"Cannot switch to {baud} baud: {reason}.")
        old = self.port.baudrate
        try:
            self.call_empty(p.SetBaud(baud))
        except NoAnswer:
            self._await_baud_fallback(old)  # it may have switched: let it come back
            return False
        try:
            self.port.baudrate = baud
            self.ping(timeout_s=0.5)
            return True
        except (NoAnswer, ProtocolError, ValueError, SerialException, OSError):
            self._await_baud_fallback(old)
            return False

    def _await_baud_fallback(self, old: int) -> None:
        with contextlib.suppress(ValueError, SerialException, OSError):
            self.port.baudrate = old
        time.sleep(BAUD_FALLBACK_S)  # let the device's own fallback timer expire
        self.ping(timeout_s=1.0)
