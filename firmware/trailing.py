"""Bytes after an OTA file's total image size: how many, and what they are when known.

The ZigBee OTA format ends a file at its header's total image size, and a device receives
exactly that many bytes; some makers append more. What is recognised, checked against
the image itself (never assumed from the length alone):

- `crc32`: 4 bytes, the CRC-32 (zlib) of the whole image, little- or big-endian;
- `crc32-jamcrc`: 4 bytes, the same CRC without its final inversion (CRC-32/JAMCRC);
- `padding`: every byte 0xFF (erased flash) or every byte 0x00;
- `unknown`: anything else, reported with its length and first bytes.

The caller decides what to do (a warning by default, a refusal under a strict policy).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

SHOWN_BYTES = 16


class TrailingKind(StrEnum):
    CRC32 = "crc32"
    CRC32_JAMCRC = "crc32-jamcrc"
    PADDING = "padding"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class TrailingBytes:
    """`length` bytes at `offset` (the total image size) of the OTA file."""

    offset: int
    length: int
    kind: TrailingKind
    description: str
    head: bytes  # the first SHOWN_BYTES of them, for the report

    def to_dict(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "length": self.length,
            "kind": str(self.kind),
            "description": self.description,
            "first_bytes": self.head.hex(),
        }


def classify_trailing(data: bytes, image_size: int) -> TrailingBytes | None:
    """What follows the first `image_size` bytes of `data`; None when nothing does."""
    extra = memoryview(data)[image_size:]
    count = len(extra)
    if count == 0:
        return None
    head = bytes(extra[:SHOWN_BYTES])
    plural = "byte" if count == 1 else "bytes"
    if count == 4:
        stored_le = int.from_bytes(extra, "little")
        stored_be = int.from_bytes(extra, "big")
        crc = zlib.crc32(memoryview(data)[:image_size])
        for value, kind, what in (
            (crc, TrailingKind.CRC32, "the CRC-32 of the image"),
            (crc ^ 0xFFFFFFFF, TrailingKind.CRC32_JAMCRC, "the CRC-32/JAMCRC of the image"),
        ):
            for stored, order in ((stored_le, "little-endian"), (stored_be, "big-endian")):
                if stored == value:
                    return TrailingBytes(
                        image_size,
                        count,
                        kind,
                        f"4 bytes after the image: {what} (0x{value:08X}, {order}), checked: "
                        "it matches the image",
                        head,
                    )
    if not extra.tobytes().strip(b"\xff"):
        return TrailingBytes(
            image_size, count, TrailingKind.PADDING, f"{count:,} {plural} of 0xFF padding", head
        )
    if not any(extra):
        return TrailingBytes(
            image_size, count, TrailingKind.PADDING, f"{count:,} {plural} of 0x00 padding", head
        )
    return TrailingBytes(
        image_size,
        count,
        TrailingKind.UNKNOWN,
        f"{count:,} {plural} after the image, not recognised (not a CRC-32 of the image, "
        f"not padding); they start {head[:8].hex(' ').upper()}",
        head,
    )
