"""An independent serial line: a separate process that paces bytes between two ttys.

    python -m benchmarks.line --baud 115200 --latency-ms 1 --error-rate 1e-4 --seed 1 \
        [--far /dev/pts/N] [--follow-host-baud]

It creates a pty for the host (the tool, or `sz`) and either a second pty for the far end
(`rz`) or opens `--far`, a tty that already exists (an unpaced `bridgelab emulate --pty`).
It prints `host PATH` and `far PATH`, then relays until SIGTERM or SIGINT, when it prints
`stats {json}` and exits. The emulator's own pacing is off, so this process is the line:

* **8N1 byte timing** each way: a byte takes 10 bit times; bytes queue behind each other.
* **A USB adapter's latency timer** on the host's receive side (how an FTDI chip works):
  bytes from the line collect in the adapter's buffer and reach the host in one burst when
  the buffer holds `--usb-packet` bytes (62: a 64-byte USB packet less 2 status bytes) or
  when the latency timer, restarted at every burst, expires. The far end (the bridge's own
  UART) receives each byte as it completes.
* **Bit errors**: each byte, either way, has one random bit flipped with probability
  `--error-rate`, from a seeded generator per direction (so a run can be repeated).
* **Bounded buffering**: at most `--buffer` bytes wait for the line in each direction
  (the adapter's and driver's transmit buffers); past that it stops reading, so a sender
  blocks on a full tty as it would on a real port instead of queueing without limit.

With `--follow-host-baud` the line runs at the rate the host last set on its port (the
pty's termios), so a SET_BAUD handshake moves the line too. Nothing here imports Bridge
Lab: the line shares no code with the tool or the emulator it carries.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import select
import signal
import sys
import termios
import time
import tty
from collections import deque
from types import FrameType

BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit
READ_SIZE = 4096
MAX_WAIT_S = 0.05
MIN_TICK_S = 0.0002  # wake no more often than this: select() has ~0.1 ms resolution
BAUD_POLL_S = 0.01

SPEEDS = {
    getattr(termios, f"B{rate}"): rate
    for rate in (
        9600,
        19200,
        38400,
        57600,
        115200,
        230400,
        460800,
        500000,
        576000,
        921600,
        1000000,
        1152000,
        1500000,
        2000000,
        3000000,
    )
    if hasattr(termios, f"B{rate}")
}


class Noise:
    """Flips one random bit in a byte with probability `rate`, byte by byte."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.flipped = 0
        self._gap = self._next_gap()

    def _next_gap(self) -> int:
        """Bytes before the next corrupt one (geometric): no per-byte random draw."""
        if self.rate <= 0:
            return 1 << 62
        if self.rate >= 1:
            return 0
        return int(math.log(1.0 - self.rng.random()) / math.log(1.0 - self.rate))

    def apply(self, data: bytes) -> bytes:
        if self._gap >= len(data):
            self._gap -= len(data)
            return data
        out = bytearray(data)
        index = self._gap
        while index < len(out):
            out[index] ^= 1 << self.rng.randrange(8)
            self.flipped += 1
            index += 1 + self._next_gap()
        self._gap = index - len(out)
        return bytes(out)


class Wire:
    """One direction of the line: bytes serialised at 8N1, optionally through an adapter.

    Byte times are computed, not slept: a chunk fed at `now` starts when the line is free
    and byte k of it completes k+1 byte times later. `take(now)` returns what the receiver
    has by `now`; `deadline()` says when to call it next.
    """

    def __init__(
        self, baud: int, noise: Noise, adapter_latency_s: float | None, usb_packet: int
    ) -> None:
        self.byte_s = BITS_PER_BYTE / baud
        self.noise = noise
        self.latency_s = adapter_latency_s
        self.usb_packet = usb_packet
        self.chunks: deque[tuple[float, bytes]] = deque()  # (start time, bytes)
        self.head = 0  # bytes of chunks[0] already off the wire
        self.queued = 0
        self.free_at = 0.0
        self.adapter = bytearray()
        self.last_burst = 0.0  # the adapter's latency timer restarts here
        self.carried = 0

    def set_baud(self, baud: int) -> None:
        self.byte_s = BITS_PER_BYTE / baud  # applies to bytes fed from now on

    def feed(self, data: bytes, now: float) -> None:
        data = self.noise.apply(data)
        start = max(now, self.free_at)
        self.free_at = start + len(data) * self.byte_s
        self.chunks.append((start, data))
        self.queued += len(data)
        self.carried += len(data)

    # -------------------------------------------------------------- the line

    def _completed_by(self, t: float) -> int:
        """Bytes on the wire (not yet taken) that have fully arrived by `t`."""
        count = 0
        for index, (start, data) in enumerate(self.chunks):
            offset = self.head if index == 0 else 0
            done = min(len(data), int((t - start) / self.byte_s + 1e-9))
            if done <= offset:
                break
            count += done - offset
            if done < len(data):
                break
        return count

    def _pop(self, count: int) -> bytes:
        out = bytearray()
        while count and self.chunks:
            data = self.chunks[0][1]
            piece = data[self.head : self.head + count]
            out += piece
            count -= len(piece)
            self.head += len(piece)
            if self.head >= len(data):
                self.chunks.popleft()
                self.head = 0
        self.queued -= len(out)
        return bytes(out)

    def _completion_of(self, nth: int) -> float | None:
        """When the nth (1-based) byte still on the wire completes, if there is one."""
        for index, (start, data) in enumerate(self.chunks):
            offset = self.head if index == 0 else 0
            available = len(data) - offset
            if nth <= available:
                return start + (offset + nth) * self.byte_s
            nth -= available
        return None

    # -------------------------------------------------------------- the receiver

    def _next_tick(self, after: float) -> float:
        assert self.latency_s is not None
        if after <= self.last_burst:
            return self.last_burst + self.latency_s
        periods = math.ceil((after - self.last_burst) / self.latency_s - 1e-9)
        return self.last_burst + max(1, periods) * self.latency_s

    def _adapter_event(self) -> tuple[float, bool] | None:
        """The adapter's next burst: (time, because the buffer fills)."""
        room = self.usb_packet - len(self.adapter)
        full_at = self._completion_of(room) if room > 0 else self.last_burst
        if self.adapter:
            tick = self._next_tick(self.last_burst)
        else:
            first = self._completion_of(1)
            tick = self._next_tick(first) if first is not None else math.inf
        if full_at is not None and full_at <= tick:
            return full_at, True
        return (tick, False) if tick < math.inf else None

    def take(self, now: float) -> bytes:
        if self.latency_s is None:
            return self._pop(self._completed_by(now))
        out = bytearray()
        while True:
            event = self._adapter_event()
            if event is None or event[0] > now:
                break
            at, full = event
            if full:
                self.adapter += self._pop(self.usb_packet - len(self.adapter))
            else:
                self.adapter += self._pop(
                    min(self._completed_by(at), self.usb_packet - len(self.adapter))
                )
            out += self.adapter
            self.adapter.clear()
            self.last_burst = at
        return bytes(out)

    def deadline(self, now: float) -> float | None:
        if self.latency_s is None:
            nxt = self._completion_of(1)
        else:
            event = self._adapter_event()
            nxt = event[0] if event is not None else None
        if nxt is None:
            return None
        return max(nxt, now + MIN_TICK_S)


def _open_pty(baud: int) -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    attrs = termios.tcgetattr(slave)
    speed = getattr(termios, f"B{baud}", None)
    if speed is not None:
        attrs[4] = attrs[5] = speed
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


def _open_far(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    return fd


class Line:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.baud = args.baud
        latency = args.latency_ms / 1000.0
        self.host_master, self.host_slave, self.host_path = _open_pty(args.baud)
        if args.far:
            self.far_fd, self.far_keep, self.far_path = _open_far(args.far), -1, args.far
        else:
            self.far_fd, self.far_keep, self.far_path = _open_pty(args.baud)
        # Host -> far: the far end's UART sees each byte; far -> host: through the adapter.
        self.to_far = Wire(args.baud, Noise(args.error_rate, args.seed * 2 + 1), None, 0)
        self.to_host = Wire(
            args.baud, Noise(args.error_rate, args.seed * 2 + 2), latency, args.usb_packet
        )
        self.out: dict[int, bytearray] = {self.host_master: bytearray(), self.far_fd: bytearray()}
        self.stopping = False
        self._baud_checked = 0.0

    def _follow_baud(self, now: float) -> None:
        if now - self._baud_checked < BAUD_POLL_S:
            return
        self._baud_checked = now
        try:
            rate = SPEEDS.get(termios.tcgetattr(self.host_master)[5])
        except termios.error:
            return
        if rate and rate != self.baud:
            self.baud = rate
            self.to_far.set_baud(rate)
            self.to_host.set_baud(rate)

    def run(self) -> None:
        sources = ((self.host_master, self.to_far), (self.far_fd, self.to_host))
        targets = ((self.to_far, self.far_fd), (self.to_host, self.host_master))
        while not self.stopping:
            now = time.monotonic()
            if self.args.follow_host_baud:
                self._follow_baud(now)
            for wire, fd in targets:
                arrived = wire.take(now)
                if arrived:
                    self.out[fd] += arrived
            for fd, pending in self.out.items():
                if pending:
                    self._write(fd, pending)
            waits = [MAX_WAIT_S]
            for wire, _ in targets:
                due = wire.deadline(now)
                if due is not None:
                    waits.append(due - now)
            readers = [fd for fd, wire in sources if wire.queued < self.args.buffer]
            writers = [fd for fd, pending in self.out.items() if pending]
            try:
                readable, _, _ = select.select(readers, writers, [], max(0.0, min(waits)))
            except InterruptedError:
                continue
            now = time.monotonic()
            for fd, wire in sources:
                if fd in readable:
                    try:
                        data = os.read(fd, READ_SIZE)
                    except BlockingIOError:
                        continue
                    except OSError:
                        time.sleep(0.01)  # the other side closed its tty: wait for it
                        continue
                    if data:
                        wire.feed(data, now)

    def _write(self, fd: int, pending: bytearray) -> None:
        try:
            written = os.write(fd, pending)
        except (BlockingIOError, OSError):
            return
        del pending[:written]

    def stats(self) -> dict[str, int]:
        return {
            "to_far_bytes": self.to_far.carried,
            "to_host_bytes": self.to_host.carried,
            "to_far_corrupted": self.to_far.noise.flipped,
            "to_host_corrupted": self.to_host.noise.flipped,
            "final_baud": self.baud,
        }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.line", description=__doc__)
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--latency-ms", type=float, default=1.0, help="adapter latency timer")
    parser.add_argument("--error-rate", type=float, default=0.0, help="per byte, each way")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--usb-packet", type=int, default=62)
    parser.add_argument("--buffer", type=int, default=4096, help="bytes queued each way")
    parser.add_argument("--far", help="an existing tty for the far end (else a new pty)")
    parser.add_argument("--follow-host-baud", action="store_true")
    args = parser.parse_args(argv)
    if args.baud <= 0 or args.latency_ms <= 0 or not 0 <= args.error_rate < 1:
        parser.error("--baud and --latency-ms must be positive, --error-rate in [0, 1)")
    return args


def main(argv: list[str]) -> int:
    line = Line(parse_args(argv))

    def stop(_signum: int, _frame: FrameType | None) -> None:
        line.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"host {line.host_path}", flush=True)
    print(f"far {line.far_path}", flush=True)
    line.run()
    print(f"stats {json.dumps(line.stats())}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
