"""Little-endian field readers and writers shared by the protocol codecs."""

from __future__ import annotations

import struct

from bridgelab.drivers.errors import ProtocolError


class Reader:
    """Reads fields from a payload; every read is checked against the remaining length."""

    __slots__ = ("_data", "_pos", "_what")

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0
        self._what = what

    def _take(self, size: int) -> bytes:
        end = self._pos + size
        if end > len(self._data):
            raise ProtocolError(
                f"{self._what}: payload ends after {len(self._data)} bytes, field needs {end}.",
                code="bad-payload",
            )
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def u8(self) -> int:
        return self._take(1)[0]

    def i8(self) -> int:
        return int(struct.unpack("<b", self._take(1))[0])

    def u16(self) -> int:
        return int.from_bytes(self._take(2), "little")

    def u32(self) -> int:
        return int.from_bytes(self._take(4), "little")

    def u64(self) -> int:
        return int.from_bytes(self._take(8), "little")

    def raw(self, size: int) -> bytes:
        return self._take(size)

    def short_bytes(self) -> bytes:
        """A u8 length then that many bytes."""
        return self._take(self.u8())

    def text(self) -> str:
        return self.short_bytes().decode("utf-8", errors="replace")

    def rest(self) -> bytes:
        chunk = self._data[self._pos :]
        self._pos = len(self._data)
        return chunk

    def done(self) -> None:
        if self._pos != len(self._data):
            raise ProtocolError(
                f"{self._what}: {len(self._data) - self._pos} unexpected trailing bytes.",
                code="bad-payload",
            )


def u8(value: int) -> bytes:
    return value.to_bytes(1, "little")


def i8(value: int) -> bytes:
    return struct.pack("<b", value)


def u16(value: int) -> bytes:
    return value.to_bytes(2, "little")


def u32(value: int) -> bytes:
    return value.to_bytes(4, "little")


def u64(value: int) -> bytes:
    return value.to_bytes(8, "little")


def short_bytes(value: bytes) -> bytes:
    if len(value) > 255:
        raise ValueError("field longer than 255 bytes")
    return u8(len(value)) + value


def text(value: str) -> bytes:
    return short_bytes(value.encode("utf-8")[:255])
