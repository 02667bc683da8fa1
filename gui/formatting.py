"""Words and numbers as the GUI shows them: versions, sizes, rates, times, verdicts.

Plain functions with no Qt, so the wording is tested without widgets and the views stay
free of string building. Everything here is for people; machine formats (the triage log,
`--json`) live with the library.
"""

from __future__ import annotations

from datetime import datetime

ARROW = "\u2192"
# Versions, durations and update verdicts are worded once, for the CLI and the GUI alike:
# `drivers.versions.display_version`, `updates.ota_server.format_duration`,
# `updates.verdict.update_verdict`.


def hex_code(value: int | None, digits: int = 4) -> str:
    return "-" if value is None else f"0x{value:0{digits}X}"


def hardware_version(value: int | None) -> str:
    """u16 hardware version: high byte version, low byte revision ("1.2 (0x0102)")."""
    if value is None:
        return "-"
    return f"{value >> 8}.{value & 0xFF} ({hex_code(value)})"


def format_bytes(count: int) -> str:
    return f"{count:,} B"


def format_size(count: int) -> str:
    """A file size for a label: bytes under 10 KiB, else KiB or MiB with one decimal."""
    if count < 10 * 1024:
        return f"{count:,} B"
    if count < 10 * 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"


def format_rate(bytes_per_s: float | None) -> str:
    if bytes_per_s is None:
        return "-"
    if bytes_per_s < 1024:
        return f"{bytes_per_s:.0f} B/s"
    return f"{bytes_per_s / 1024:.1f} KiB/s"


def format_eta(seconds: float | None) -> str:
    """Seconds left as "m:ss" or "h:mm:ss"; unknown is "-"."""
    if seconds is None or seconds < 0:
        return "-"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_local_time(stored: str | None, *, seconds: bool = True) -> str:
    """A stored UTC timestamp (`2025-06-01T10:00:03.123Z`) in the computer's local time."""
    if not stored:
        return "-"
    try:
        moment = datetime.fromisoformat(stored)
    except ValueError:
        return stored
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{100 * fraction:.0f} %"
