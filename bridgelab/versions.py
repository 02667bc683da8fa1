"""How firmware versions are shown: a u32 file version as four dotted bytes (every layer)."""

from __future__ import annotations

NO_VERSION = 0xFFFFFFFF


def format_version(version: int | None) -> str:
    """`0x01020300` -> `"1.2.3.0"`; an empty slot (0xFFFFFFFF or None) -> `"none"`."""
    if version is None or version == NO_VERSION:
        return "none"
    return ".".join(str(b) for b in version.to_bytes(4, "big"))


def display_version(version: int | None) -> str:
    """A version as engineers say it: `0x01020000` -> "1.2.0"; the fourth (build) byte
    shows only when set (`0x01020007` -> "1.2.0.7"); an empty slot is "none"."""
    if version is None or version == NO_VERSION:
        return "none"
    if version & 0xFF == 0:
        return ".".join(str(b) for b in (version >> 8).to_bytes(3, "big"))
    return format_version(version)


def version_text(version: int) -> str:
    """ "1.3.0 (0x01030000)": as engineers say it, and as the header holds it."""
    return f"{display_version(version)} (0x{version:08X})"
