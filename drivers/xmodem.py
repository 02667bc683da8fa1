"""XMODEM-CRC with 128-byte blocks: the codec and a blocking sender.

This is the transfer the Silicon Labs Gecko Bootloader takes a `.gbl` file with over its
UART (UG266/AN1086): the receiver starts it by sending `C`; each block is
`SOH n ~n data[128] crc16` (CRC-16/XMODEM, polynomial 0x1021, initial 0, big-endian on
the wire); the receiver answers ACK (take the next), NAK (send it again) or CAN (give up);
block numbers start at 1 and wrap from 255 to 0; EOT ends the transfer and is ACKed.

The sender is stop-and-wait by nature: it writes a block, then blocks on the one answer
byte. It never sleeps: the only waits are reads with a timeout, so its rate is bounded by
the line and the receiver alone (`benchmarks/bench_xmodem.py`).
"""

from __future__ import annotations

import binascii
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bridgelab.drivers.errors import DriverError, LinkLost, NoAnswer

SOH = 0x01
EOT = 0x04
ACK = 0x06
NAK = 0x15
CAN = 0x18
CRC_START = 0x43  # "C": the receiver asks for XMODEM-CRC
BLOCK_SIZE = 128
BLOCK_BYTES = 3 + BLOCK_SIZE + 2  # SOH, n, ~n, data, CRC-16
PAD = 0xFF  # erased flash; the Gecko Bootloader ignores what follows the GBL end tag
_PAD_BYTE = bytes([PAD])

ANSWER_TIMEOUT_S = 2.0  # per block; the receiver answers within one flash write
MAX_TRIES = 10  # per block (the classic XMODEM retry limit)
START_TIMEOUT_S = 10.0  # waiting for the receiver's first "C"
READ_SLICE_S = 0.05  # how often a waiting sender looks at `should_stop`


def crc16_xmodem(data: bytes, crc: int = 0) -> int:
    """CRC-16/XMODEM (CCITT polynomial 0x1021, initial 0, no reflection, no final XOR).

    >>> hex(crc16_xmodem(b"123456789"))
    '0x31c3'
    """
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def crc16(data: bytes) -> int:
    """The same CRC as `crc16_xmodem`, from the standard library's C code: binascii's
    CRC-CCITT (polynomial 0x1021, no reflection) with an initial value of 0 is exactly
    CRC-16/XMODEM. What the sender and the emulated receiver use: some 20x faster than a
    table in Python, per 128-byte block."""
    return binascii.crc_hqx(data, 0)


def encode_block(number: int, data: bytes) -> bytes:
    """One 133-byte block; `data` shorter than 128 bytes is padded with 0xFF."""
    if len(data) > BLOCK_SIZE:
        raise ValueError(f"an XMODEM block holds {BLOCK_SIZE} bytes, not {len(data)}")
    payload = data.ljust(BLOCK_SIZE, _PAD_BYTE)
    n = number & 0xFF
    return bytes((SOH, n, 0xFF - n)) + payload + binascii.crc_hqx(payload, 0).to_bytes(2, "big")


def block_count(size: int) -> int:
    return max(1, -(-size // BLOCK_SIZE))


_START_ANSWERS = frozenset((CRC_START, CAN))
_BLOCK_ANSWERS = frozenset((ACK, NAK, CAN))


def _what(index: int) -> str:
    return "the end of transfer (EOT)" if index < 0 else f"block {index + 1}"


class Line(Protocol):
    """The part of a serial port the sender needs (pyserial ports fit)."""

    timeout: float | None

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...


class XmodemError(DriverError):
    code = "xmodem-failed"
    default_action = (
        "Check the cable and try again; the bootloader keeps its menu after a failed upload."
    )


class ReceiverRestarted(XmodemError):
    """The receiver printed its menu again mid-transfer: it was reset, the upload is gone."""

    code = "receiver-restarted"
    default_action = (
        "The radio restarted during the upload (power, watchdog or reset line): check its "
        "supply and cable, then upload again from the start."
    )


class ReceiverCancelled(XmodemError):
    """The receiver sent CAN: the Gecko Bootloader does so when it rejects the image."""

    code = "xmodem-cancelled"
    default_action = (
        "The bootloader refused the image as it arrived: check that the .gbl file is meant "
        "for this radio (and signed with its key, if it checks signatures)."
    )


@dataclass(frozen=True)
class SendResult:
    blocks: int
    payload_bytes: int  # the file's bytes (padding not counted)
    sent_bytes: int  # every byte written, repeats included
    retries: int
    seconds: float  # from `send()` to the EOT's ACK, the wait for the receiver's `C` too
    # From the first block's write to the EOT's ACK: the transfer proper, which is what a
    # rate is measured over (the wait for `C` is the receiver's start-up, not the line).
    transfer_seconds: float = 0.0


Progress = Callable[[int, int], None]  # (bytes acknowledged, total bytes)
Retry = Callable[[int, str], None]  # (block number, reason)


class XmodemSender:
    """Sends one file to a receiver that is already waiting (or about to send `C`)."""

    def __init__(
        self,
        line: Line,
        *,
        answer_timeout_s: float = ANSWER_TIMEOUT_S,
        max_tries: int = MAX_TRIES,
        start_timeout_s: float = START_TIMEOUT_S,
        on_progress: Progress | None = None,
        on_retry: Retry | None = None,
        should_stop: Callable[[], bool] | None = None,
        restart_marker: bytes | None = None,
    ) -> None:
        self.line = line
        # Text the receiver prints only when it starts afresh (the Gecko Bootloader's prompt):
        # seen while waiting for an answer, it means the upload is gone.
        self.restart_marker = restart_marker
        self._skipped = bytearray()
        self.answer_timeout_s = answer_timeout_s
        self.max_tries = max_tries
        self.start_timeout_s = start_timeout_s
        self.on_progress = on_progress
        self.on_retry = on_retry
        self.should_stop = should_stop or (lambda: False)
        self.retries = 0
        self.sent_bytes = 0

    def _read_answer(self, deadline: float, accept: frozenset[int]) -> int | None:
        """The next byte of `accept` before `deadline`, or None; other bytes are skipped
        (the receiver's repeated `C`s while it waited, menu text, line noise)."""
        while True:
            if time.monotonic() >= deadline:
                return None
            try:
                got = self.line.read(1)
            except OSError as error:
                raise LinkLost(f"The line broke during the upload ({error}).") from error
            if not got:
                if self.should_stop():
                    self.cancel()
                    raise XmodemError("Upload cancelled.", code="cancelled", action="")
                continue
            if got[0] in accept:
                return got[0]
            if self.restart_marker is not None and accept is _BLOCK_ANSWERS:
                # Only once blocks flow: before the first, the menu may still be arriving.
                self._skipped += got
                del self._skipped[: -len(self.restart_marker)]
                if bytes(self._skipped) == self.restart_marker:
                    raise ReceiverRestarted("The receiver restarted during the upload.")

    def wait_for_start(self) -> None:
        """Block until the receiver sends `C` (XMODEM-CRC), or raise NoAnswer."""
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            answer = self._read_answer(deadline, _START_ANSWERS)
            if answer is None:
                raise NoAnswer(
                    f"The receiver did not ask for the file within {self.start_timeout_s:g} s.",
                    code="xmodem-no-start",
                )
            if answer == CRC_START:
                return
            if answer == CAN:
                raise ReceiverCancelled("The receiver cancelled before the first block.")

    def _exchange(self, packet: bytes, number: int, index: int) -> None:
        """Send `packet` until it is ACKed; NAK, a stray `C` or silence repeats it.
        `index` is the block's place in the file (0-based; -1 for EOT), named only when
        something goes wrong: the good path builds no text."""
        cancels = 0
        line = self.line
        for attempt in range(self.max_tries):
            if self.should_stop():
                self.cancel()
                raise XmodemError("Upload cancelled.", code="cancelled", action="")
            try:
                line.write(packet)
            except OSError as error:
                raise LinkLost(f"The line broke during the upload ({error}).") from error
            self.sent_bytes += len(packet)
            answer = self._read_answer(time.monotonic() + self.answer_timeout_s, _BLOCK_ANSWERS)
            if answer == ACK:
                return
            if answer == CAN:
                cancels += 1
                # One CAN may be line noise; the Gecko Bootloader sends several.
                peek = self._read_answer(time.monotonic() + 0.2, _BLOCK_ANSWERS)
                if peek == CAN or cancels > 1:
                    raise ReceiverCancelled(f"The receiver cancelled the upload at {_what(index)}.")
            reason = {NAK: "NAK", None: "no answer"}.get(answer, "a single CAN")
            if attempt + 1 < self.max_tries:
                self.retries += 1
                if self.on_retry is not None:
                    self.on_retry(number, f"{_what(index)}: {reason}")
        raise XmodemError(
            f"{_what(index)} was not acknowledged after {self.max_tries} tries.",
            code="xmodem-retries-exhausted",
        )

    def send(self, data: bytes, *, wait_for_start: bool = True) -> SendResult:
        """Send `data` in 128-byte blocks and end with EOT. Raises XmodemError,
        ReceiverCancelled, NoAnswer or LinkLost; on any of them the receiver may still be
        waiting (`cancel()` tells it to stop)."""
        started = time.monotonic()
        previous_timeout = self.line.timeout
        # One short read timeout for the whole transfer: a read returns as soon as a byte
        # is there, and setting the timeout per read costs a tcsetattr on a real port.
        self.line.timeout = READ_SLICE_S
        try:
            return self._send(data, started, wait_for_start)
        finally:
            self.line.timeout = previous_timeout

    def _send(self, data: bytes, started: float, wait_for_start: bool) -> SendResult:
        if wait_for_start:
            self.wait_for_start()
        total = len(data)
        # Every block is encoded before the first is sent: between an ACK and the next
        # block there is then only a write, which is what keeps the rate at the bound.
        packets = [
            encode_block(index + 1, data[index * BLOCK_SIZE : (index + 1) * BLOCK_SIZE])
            for index in range(block_count(total))
        ]
        blocks = len(packets)
        on_progress = self.on_progress
        first_block_at = time.monotonic()
        for index, packet in enumerate(packets):
            self._exchange(packet, (index + 1) & 0xFF, index)
            if on_progress is not None:
                on_progress(min((index + 1) * BLOCK_SIZE, total), total)
        self._exchange(bytes([EOT]), 0, -1)
        done = time.monotonic()
        return SendResult(
            blocks, total, self.sent_bytes, self.retries, done - started, done - first_block_at
        )

    def cancel(self) -> None:
        """Tell the receiver to give up (CAN CAN CAN), as sz and the Simplicity tools do."""
        with contextlib.suppress(OSError):
            self.line.write(bytes([CAN, CAN, CAN]))
