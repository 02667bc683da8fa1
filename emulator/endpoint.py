"""Serves one emulated bridge on a byte channel, with a realistic link model.

A pty has no baud rate and an in-process socket is instantaneous, so the endpoint paces
the line itself: each byte takes 10 bit times (8N1) in each direction, a frame is handled
when its last byte would have arrived plus the USB adapter's latency, the device stays busy
for its flash erase/write/verify time, and a response reaches the host when its last byte
would have, plus the latency again. With `baud=None` the link is unpaced (instant), which
is what most tests want. Byte corruption and frame drops are applied here, on the line.

While the radio's bootloader owns the port (`device.in_bootloader`), bytes are not frames:
they go to the emulated Gecko Bootloader as they arrive, paced the same way, and what it
sends goes out byte-paced too; it applies block losses itself.
"""

from __future__ import annotations

import heapq
import itertools
import random
import select
import threading
import time
from dataclasses import dataclass, field

from bridgelab.drivers import protocol as p
from bridgelab.drivers.errors import ProtocolError
from bridgelab.drivers.framing import Frame, FrameDecoder, FrameKind, encode_frame
from bridgelab.emulator.channel import Channel
from bridgelab.emulator.device import EmulatedBridge
from bridgelab.emulator.gecko_bootloader import Output

BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit
BAUD_FALLBACK_S = 1.0
MAX_SELECT_S = 0.05
# select() wakes late by up to a few hundred microseconds (more on a loaded machine): bytes
# due sooner than this are waited for by spinning, so they reach the host when the line
# model says, not when the scheduler gets round to it.
SPIN_S = 0.0003
HOLD_S = 0.05  # how long a reordered frame waits for a successor to overtake it


@dataclass
class LinkModel:
    baud: int | None = None  # None: unpaced
    latency_s: float = 0.0
    # Flash erase/write/verify times, which a paced line always applies; with an unpaced
    # link they apply only when asked (an external line model paces the bytes instead).
    flash_timing: bool = False

    @property
    def device_timed(self) -> bool:
        return self.baud is not None or self.flash_timing

    def byte_time(self, count: int) -> float:
        return 0.0 if self.baud is None else count * BITS_PER_BYTE / self.baud


@dataclass
class LineStats:
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_frames: int = 0
    tx_frames: int = 0
    corrupted_bytes: int = 0
    dropped_frames: int = 0
    dropped_requests: dict[int, int] = field(default_factory=dict)  # command -> frames lost
    bad_frames: int = 0


@dataclass(order=True)
class _Timed:
    at: float
    order: int
    action: str = field(compare=False)
    frame: Frame | None = field(compare=False, default=None)
    raw: bytes = field(compare=False, default=b"")


class Endpoint:
    """Runs the device on a channel in a thread of its own until `stop()`."""

    def __init__(
        self,
        device: EmulatedBridge,
        channel: Channel,
        link: LinkModel | None = None,
        *,
        seed: int = 0,
    ) -> None:
        self.device = device
        self.channel = channel
        self.link = link or LinkModel()
        self.stats = LineStats()
        self._rng = random.Random(seed ^ 0x5EED)
        self._decoder = FrameDecoder(max_payload=device.profile.max_payload + 16)
        self._queue: list[_Timed] = []
        self._order = itertools.count()
        self._rx_cursor = 0.0
        self._tx_cursor = 0.0
        self._busy_until = 0.0
        self._event_seq = 0
        self._baud_before: int | None = None
        self._baud_probation_until: float | None = None
        self._held_in: Frame | None = None
        self._held_out: bytes | None = None
        self.unplugged = False
        self._stop = threading.Event()
        self._power_cycle = threading.Event()
        self._thread: threading.Thread | None = None
        self.peer_gone = threading.Event()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Endpoint:
        self._thread = threading.Thread(target=self.run, name="emulated-bridge", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    def request_power_cycle(self) -> None:
        """Switch the bridge off and on, from any thread: done on the device's own thread
        while the endpoint runs, at once when nothing else drives the device."""
        if self._thread is not None and self._thread.is_alive():
            self._power_cycle.set()
        else:
            self.device.power_cycle()

    def run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            if self._power_cycle.is_set():
                self._power_cycle.clear()
                self._queue.clear()  # what was on the wire when the power went is lost
                self.device.power_cycle()
            if self._queue and 0.0 < self._queue[0].at - now <= SPIN_S:
                due = self._queue[0].at
                while now < due:
                    now = time.monotonic()
            self._run_due(now)
            if self.unplugged:
                self.channel.close()  # the host sees its port vanish
                self.peer_gone.set()
                break
            timeout = self._timeout(now)
            try:
                readable, _, _ = select.select([self.channel], [], [], timeout)
            except (OSError, ValueError):
                break
            if readable:
                data = self.channel.receive()
                if data is None:
                    self.peer_gone.set()
                    break
                if data:
                    self._on_bytes(data)

    def _timeout(self, now: float) -> float:
        deadlines = [MAX_SELECT_S]
        if self._queue:
            deadlines.append(self._queue[0].at - now - SPIN_S)
        device_deadline = self.device.next_deadline()
        if device_deadline is not None:
            deadlines.append(device_deadline - now)
        return max(0.0, min(deadlines))

    # ----------------------------------------------------------------- receive path

    def _on_bytes(self, data: bytes) -> None:
        now = time.monotonic()
        faults = self.device.faults
        if faults.corrupt_rate:
            data = self._corrupt(data, faults.corrupt_rate)
        self.stats.rx_bytes += len(data)
        self._rx_cursor = max(self._rx_cursor, now)
        if self.device.in_bootloader:
            # The bootloader's answer depends on nothing but these bytes and its state, so
            # it is worked out now, for the moment the bytes are modelled to arrive, and
            # only the sending waits: one timer per block instead of two.
            self._rx_cursor += self.link.byte_time(len(data))
            self._bootloader_rx(data, self._rx_cursor + self.link.latency_s)
            return
        # Feed frame by frame so each frame is ready when its own last byte has arrived.
        start = 0
        while start < len(data):
            end = data.find(b"\x00", start)
            end = len(data) if end < 0 else end + 1
            segment = data[start:end]
            start = end
            self._rx_cursor += self.link.byte_time(len(segment))
            ready_at = self._rx_cursor + self.link.latency_s
            for frame in self._decoder.feed(segment):
                self._receive(frame, ready_at)
        self.stats.bad_frames = self._decoder.stats.crc_errors + self._decoder.stats.malformed

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def _receive(self, frame: Frame, ready_at: float) -> None:
        """Line faults on the way in: a frame lost, duplicated or overtaken by the next."""
        faults = self.device.faults
        self._check_baud_probation(time.monotonic())
        if faults.deaf_after_baud and self._baud_probation_until is not None:
            self.stats.dropped_frames += 1  # at the new rate nothing reads as a frame
            return
        if self._chance(faults.drop_rate) or self._chance(faults.drop_in_rate):
            self.stats.dropped_frames += 1
            dropped = self.stats.dropped_requests
            dropped[frame.command] = dropped.get(frame.command, 0) + 1
            return
        copies = 2 if self._chance(faults.dup_rate) else 1
        if self._held_in is not None:
            held, self._held_in = self._held_in, None
            for _ in range(copies):
                self._schedule(ready_at, "handle", frame=frame)
            self._schedule(ready_at, "handle", frame=held)
            return
        if self._chance(faults.reorder_rate):
            self._held_in = frame
            self._schedule(ready_at + HOLD_S, "release-in")
            return
        for _ in range(copies):
            self._schedule(ready_at, "handle", frame=frame)

    def _corrupt(self, data: bytes, rate: float) -> bytes:
        out = bytearray(data)
        for index in range(len(out)):
            if self._rng.random() < rate:
                out[index] ^= 1 << self._rng.randrange(8)
                self.stats.corrupted_bytes += 1
        return bytes(out)

    # ----------------------------------------------------------------- scheduling

    def _schedule(
        self, at: float, action: str, *, frame: Frame | None = None, raw: bytes = b""
    ) -> None:
        heapq.heappush(self._queue, _Timed(at, next(self._order), action, frame, raw))

    def _run_due(self, now: float) -> None:
        self.device.poll()
        self._flush_events(now)
        self._check_baud_probation(now)
        self._bootloader_out(self.device.bootloader.poll(now))
        while self._queue and self._queue[0].at <= now:
            item = heapq.heappop(self._queue)
            if item.action == "handle" and item.frame is not None:
                self._handle(item.frame, max(item.at, now))
            elif item.action == "send":
                self.channel.send(item.raw)
            elif item.action == "release-in" and self._held_in is not None:
                held, self._held_in = self._held_in, None
                self._handle(held, now)
            elif item.action == "release-out" and self._held_out is not None:
                held_raw, self._held_out = self._held_out, None
                self.channel.send(held_raw)
        self._flush_events(now)

    def _handle(self, frame: Frame, now: float) -> None:
        if frame.kind != FrameKind.REQUEST or self.unplugged:
            return
        self.stats.rx_frames += 1
        self._baud_probation_until = None  # a valid frame at the new rate: keep it
        try:
            request = p.decode_request(frame)
        except ProtocolError as error:
            status = (
                p.Status.UNKNOWN_COMMAND
                if error.code == "unknown-command"
                else p.Status.BAD_REQUEST
            )
            self._transmit(
                p.encode_response(frame.command, frame.seq, status=status, text=error.message), now
            )
            return
        start = max(now, self._busy_until)
        reply = self.device.handle(request, frame.seq)
        if self.device.unplug_pending:
            self.device.unplug()
            self.unplugged = True  # the run loop closes the channel
            return
        if self.link.device_timed:
            self._busy_until = start + reply.busy_s
        faults, boundary = self.device.faults, self.device.requests_handled
        if reply.frame is not None and faults.lose_reply != boundary:
            self._transmit(reply.frame, max(start, self._busy_until))
            if faults.dup_reply == boundary:
                self._transmit(reply.frame, max(start, self._busy_until))
        if faults.power_cycle_after == boundary and reply.frame is not None:
            self.device.power_cycle()
        if isinstance(request, p.EnterBootloader):
            self.device.take_bootloader_request(max(start, self._tx_cursor))
        if (
            isinstance(request, p.SetBaud)
            and reply.frame is not None
            and reply.frame.payload[:1] == b"\x00"
        ):
            self._switch_baud(request.baud)

    def _bootloader_rx(self, data: bytes, ready_at: float) -> None:
        self._bootloader_out(self.device.bootloader.feed(data, ready_at))
        if not self.device.in_bootloader:  # it started the application: frames again
            self._decoder = FrameDecoder(max_payload=self.device.profile.max_payload + 16)

    def _bootloader_out(self, outputs: list[Output]) -> None:
        """Bytes from the bootloader, each piece on the line when it is ready."""
        faults = self.device.faults
        for output in outputs:
            raw = output.data
            if faults.corrupt_rate:
                raw = self._corrupt(raw, faults.corrupt_rate)
            self._tx_cursor = max(self._tx_cursor, output.at) + self.link.byte_time(len(raw))
            self.stats.tx_bytes += len(raw)
            deliver_at = self._tx_cursor + self.link.latency_s
            if deliver_at <= time.monotonic():
                self.channel.send(raw)
            else:
                self._schedule(deliver_at, "send", raw=raw)

    def _flush_events(self, now: float) -> None:
        events = self.device.drain_events()
        if self.device.in_bootloader:
            return  # the application is not running: nothing sends frames
        for event in events:
            self._event_seq = (self._event_seq + 1) & 0xFF
            frame = Frame(FrameKind.EVENT, self._event_seq, event.COMMAND, event.encode())
            self._transmit(frame, now)

    def _transmit(self, frame: Frame, ready_at: float) -> None:
        faults = self.device.faults
        if self._chance(faults.drop_rate):
            self.stats.dropped_frames += 1
            return
        raw = encode_frame(frame)
        if faults.corrupt_rate:
            raw = self._corrupt(raw, faults.corrupt_rate)
        if self._chance(faults.dup_rate):
            raw += raw
        if self._held_out is not None:
            raw, self._held_out = raw + self._held_out, None
        elif self._chance(faults.reorder_rate):
            self._held_out = raw  # goes out after the next frame, or after HOLD_S
            self._schedule(time.monotonic() + HOLD_S, "release-out")
            return
        self._tx_cursor = max(self._tx_cursor, ready_at) + self.link.byte_time(len(raw))
        self.stats.tx_bytes += len(raw)
        self.stats.tx_frames += 1
        deliver_at = self._tx_cursor + self.link.latency_s
        if deliver_at <= time.monotonic():
            self.channel.send(raw)
        else:
            self._schedule(deliver_at, "send", raw=raw)

    # ----------------------------------------------------------------- baud switching

    def _switch_baud(self, baud: int) -> None:
        # The probation runs on an unpaced link too (where the rate itself means nothing),
        # so that a switch that goes wrong (`deaf-after-baud`) falls back the same way.
        self._baud_probation_until = max(self._tx_cursor, time.monotonic()) + BAUD_FALLBACK_S
        if self.link.baud is None:
            return
        self._baud_before = self.link.baud
        # The response goes out at the old rate; the new rate applies after it.
        self.link = LinkModel(baud, self.link.latency_s, self.link.flash_timing)

    def _check_baud_probation(self, now: float) -> None:
        if self._baud_probation_until is not None and now > self._baud_probation_until:
            self._baud_probation_until = None
            if self._baud_before is not None:
                self.link = LinkModel(
                    self._baud_before, self.link.latency_s, self.link.flash_timing
                )
            self._baud_before = None
