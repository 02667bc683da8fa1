"""How firmware versions are shown: a u32 file version as four dotted bytes."""

from __future__ import annotations

NO_VERSION = 0xFFFFFFFF


def format_version(version: int | None) -> str:
    """`0x01020300` -> `"1.2.3.0"`; an empty slot (0xFFFFFFFF or None) -> `"none"`."""
    if version is None or version == NO_VERSION:
        return "none"
    return ".".join(str(b) for b in version.to_bytes(4, "big"))
