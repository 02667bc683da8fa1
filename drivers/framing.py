"""Framing for the bridge service protocol: COBS frames delimited by 0x00, with CRC-16.

A frame on the wire is `00 | COBS(content) | 00`, where content is

    flags u8 | seq u8 | command u8 | payload ... | crc u16 (little-endian)

`flags` bits 0-1 give the kind (0 request, 1 response, 2 event); the other bits are zero in
protocol version 1. The CRC is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over
flags..payload. COBS guarantees that 0x00 appears only as a delimiter, so a receiver
resynchronises at the next 0x00 after any garbage, and the leading delimiter flushes
whatever noise preceded a frame. Overhead: 6 bytes plus one per 254 of content.
"""

from __future__ import annotations

import binascii
import enum
from dataclasses import dataclass, field

from bridgelab.drivers.errors import FrameError

DELIMITER = 0x00
HEADER_SIZE = 3
CRC_SIZE = 2
# Protocol version 1 promises at least this much payload; the handshake may agree more.
MIN_MAX_PAYLOAD = 1024
ABSOLUTE_MAX_PAYLOAD = 65535


class FrameKind(enum.IntEnum):
    REQUEST = 0
    RESPONSE = 1
    EVENT = 2


@dataclass(frozen=True, slots=True)
class Frame:
    kind: FrameKind
    seq: int
    command: int
    payload: bytes = b""


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/CCITT-FALSE; `binascii.crc_hqx` computes it in C, which matters at 921600 baud."""
    return binascii.crc_hqx(data, 0xFFFF)


def cobs_encode(data: bytes | bytearray | memoryview) -> bytes:
    """Consistent Overhead Byte Stuffing: the result holds no 0x00 byte.

    Each zero-free run becomes `len+1, run`; runs of 254 or more are cut with code 0xFF,
    which implies no zero after it.
    """
    out = bytearray()
    for chunk in bytes(data).split(b"\x00"):
        while len(chunk) >= 254:
            out.append(0xFF)
            out += chunk[:254]
            chunk = chunk[254:]
        out.append(len(chunk) + 1)
        out += chunk
    return bytes(out)


def cobs_decode(data: bytes | bytearray | memoryview) -> bytes:
    """Inverse of `cobs_encode`; raises FrameError on a zero byte or a truncated block."""
    out = bytearray()
    index = 0
    size = len(data)
    while index < size:
        code = data[index]
        if code == 0:
            raise FrameError("COBS block code 0 inside a frame.", code="frame-cobs")
        end = index + code
        if end > size:
            raise FrameError("COBS block runs past the end of the frame.", code="frame-cobs")
        block = data[index + 1 : end]
        if 0 in block:
            raise FrameError("Zero byte inside a COBS block.", code="frame-cobs")
        out += block
        index = end
        if code < 0xFF and index < size:
            out.append(0)
    return bytes(out)


def encode_frame(frame: Frame) -> bytes:
    content = bytes((frame.kind, frame.seq & 0xFF, frame.command)) + frame.payload
    content += crc16(content).to_bytes(2, "little")
    return b"\x00" + cobs_encode(content) + b"\x00"


def decode_content(content: bytes) -> Frame:
    """Decode one frame's COBS-decoded content (header, payload, CRC)."""
    if len(content) < HEADER_SIZE + CRC_SIZE:
        raise FrameError(f"Frame of {len(content)} bytes is too short.", code="frame-short")
    body, crc = content[:-CRC_SIZE], int.from_bytes(content[-CRC_SIZE:], "little")
    if crc16(body) != crc:
        raise FrameError("Frame CRC mismatch.", code="frame-crc")
    flags = body[0]
    if flags & ~0x03 or (flags & 0x03) > FrameKind.EVENT:
        raise FrameError(f"Unknown frame flags {flags:#04x}.", code="frame-flags")
    return Frame(FrameKind(flags & 0x03), body[1], body[2], bytes(body[HEADER_SIZE:]))


@dataclass
class DecoderStats:
    frames: int = 0
    crc_errors: int = 0
    malformed: int = 0
    oversize: int = 0
    garbage_bytes: int = 0


@dataclass
class FrameDecoder:
    """Turns a byte stream into frames, dropping anything damaged and resynchronising.

    `feed()` never raises for bad input: damaged frames are counted in `stats` and skipped,
    because on a noisy line the protocol's retries, not the decoder, recover the data.
    """

    max_payload: int = ABSOLUTE_MAX_PAYLOAD
    stats: DecoderStats = field(default_factory=DecoderStats)
    _buffer: bytearray = field(default_factory=bytearray)
    _discarding: bool = False

    @property
    def max_encoded(self) -> int:
        content = HEADER_SIZE + self.max_payload + CRC_SIZE
        return content + content // 254 + 2

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        frames: list[Frame] = []
        self._buffer += data
        start = 0
        buffer = self._buffer
        while True:
            end = buffer.find(DELIMITER, start)
            if end < 0:
                break
            if self._discarding:
                self._discarding = False
            elif end > start:
                self._decode_one(bytes(buffer[start:end]), frames)
            start = end + 1
        del buffer[:start]
        if len(buffer) > self.max_encoded:
            # No delimiter within the longest legal frame: drop it and wait for the next one.
            self.stats.oversize += 1
            self.stats.garbage_bytes += len(buffer)
            buffer.clear()
            self._discarding = True
        return frames

    def _decode_one(self, encoded: bytes, frames: list[Frame]) -> None:
        try:
            frame = decode_content(cobs_decode(encoded))
        except FrameError as error:
            if error.code == "frame-crc":
                self.stats.crc_errors += 1
            else:
                self.stats.malformed += 1
            self.stats.garbage_bytes += len(encoded) + 1
            return
        if len(frame.payload) > self.max_payload:
            self.stats.oversize += 1
            return
        self.stats.frames += 1
        frames.append(frame)

    def reset(self) -> None:
        self._buffer.clear()
        self._discarding = False
