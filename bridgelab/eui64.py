"""EUI-64 (IEEE) addresses: one integer in the library, two spellings outside it.

On the wire (ZigBee, OTA headers, the bridge protocol) an EUI-64 is 8 bytes little-endian;
for people it is written most significant byte first, colon-separated:
the bytes `04 03 02 01 00 4B 12 00` are the address `00:12:4B:00:01:02:03:04`.
"""

from __future__ import annotations

import re

from bridgelab.errors import BridgeLabError

EUI64_WIRE_SIZE = 8
_HEX_DIGITS = re.compile(r"[0-9A-Fa-f]{16}")


class Eui64Error(BridgeLabError):
    code = "bad-eui64"
    default_action = "Write it as 16 hex digits, e.g. 00:12:4B:00:01:02:03:04."


def format_eui64(value: int) -> str:
    """`0x00124B0001020304` -> `"00:12:4B:00:01:02:03:04"`."""
    if not 0 <= value < 1 << 64:
        raise Eui64Error(f"{value:#x} is not a 64-bit address.")
    text = f"{value:016X}"
    return ":".join(text[i : i + 2] for i in range(0, 16, 2))


def parse_eui64(text: str) -> int:
    """Accept `00:12:4B:00:01:02:03:04`, `00-12-...`, `00124B0001020304` or `0x00124B...`."""
    cleaned = text.strip()
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    cleaned = re.sub(r"[\s:\-.]", "", cleaned)
    if not _HEX_DIGITS.fullmatch(cleaned):
        raise Eui64Error(f"{text!r} is not an EUI-64 address.")
    return int(cleaned, 16)


def eui64_to_wire(value: int) -> bytes:
    return value.to_bytes(EUI64_WIRE_SIZE, "little")


def eui64_from_wire(data: bytes) -> int:
    if len(data) != EUI64_WIRE_SIZE:
        raise Eui64Error(f"An EUI-64 takes 8 bytes on the wire, not {len(data)}.")
    return int.from_bytes(data, "little")
