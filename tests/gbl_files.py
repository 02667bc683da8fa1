"""Tiny GBL files for tests (header, application info, program data, end tag with CRC-32).

Tag ids and layouts from UG266 / AN1086. Used until the firmware toolkit's own GBL builder
exists; the independent checks (pygbl inside universal-silabs-flasher) read these files
too, so a builder mistake would show there.
"""

from __future__ import annotations

import random
import struct
import zlib

TAG_HEADER = 0x03A617EB
TAG_APPLICATION = 0xF40A0AF4
TAG_PROG = 0xFE0101FE
TAG_END = 0xFC0404FC
APP_TYPE_ZIGBEE = 1 << 4


def tag(tag_id: int, body: bytes) -> bytes:
    return struct.pack("<II", tag_id, len(body)) + body


def build_gbl(
    application: bytes,
    *,
    version: int = 0x01030000,
    address: int = 0x4000,
    chunk: int = 4096,
) -> bytes:
    """A plain (unsigned, unencrypted) GBL3 file that programs `application` at `address`."""
    out = tag(TAG_HEADER, struct.pack("<II", 0x03000000, 0))
    product_id = bytes(range(16))
    out += tag(TAG_APPLICATION, struct.pack("<III", APP_TYPE_ZIGBEE, version, 0) + product_id)
    for start in range(0, len(application), chunk):
        piece = application[start : start + chunk]
        out += tag(TAG_PROG, struct.pack("<I", address + start) + piece)
    out += struct.pack("<II", TAG_END, 4)
    return out + struct.pack("<I", zlib.crc32(out))


def application_bytes(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)
