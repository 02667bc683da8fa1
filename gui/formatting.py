"""Words and numbers as the GUI shows them: versions, sizes, rates, times, verdicts.

Plain functions with no Qt, so the wording is tested without widgets and the views stay
free of string building. Everything here is for people; machine formats (the triage log,
`--json`) live with the library.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridgelab.data.failures import FailureClass
from bridgelab.drivers.versions import NO_VERSION, format_version
from bridgelab.updates.events import UpdateResult

ARROW = "\u2192"


def display_version(version: int | None) -> str:
    """A file version as engineers say it: `0x01020000` -> "1.2.0"; a build byte shows
    only when it is set (`0x01020007` -> "1.2.0.7"); an empty slot is "none"."""
    if version is None or version == NO_VERSION:
        return "none"
    if version & 0xFF == 0:
        return ".".join(str(b) for b in (version >> 8).to_bytes(3, "big"))
    return format_version(version)


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


def format_duration(seconds: float | None) -> str:
    """A duration for a sentence: "0.8 s", "42 s", "7 min 17 s", "1 h 05 min"."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


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


@dataclass(frozen=True)
class Verdict:
    """The last word on an update: `tone` is good, bad or neutral; `headline` is one line
    for a glance; `details` are the supporting facts; `next_step` says what to do."""

    tone: str
    headline: str
    details: tuple[str, ...] = ()
    next_step: str = ""


def _failure_class(result: UpdateResult) -> FailureClass | None:
    try:
        return FailureClass(result.result)
    except ValueError:
        return None


def update_verdict(result: UpdateResult) -> Verdict:
    """ "Updated 1.2.0 → 1.3.0, rejoined HAN, healthy", or what failed, where, and what next."""
    if result.ok:
        headline = (
            f"Updated {display_version(result.version_before)} {ARROW} "
            f"{display_version(result.version_after)}"
            + (", rejoined HAN" if result.rejoined else "")
            + ", healthy"
        )
        facts = [f"{result.bytes:,} bytes in {format_duration(result.duration_s)}"]
        if result.line_efficiency is not None:
            facts.append(f"{100 * result.line_efficiency:.0f} % of the line rate")
        if result.resumed_from:
            facts.append(f"resumed from byte {result.resumed_from:,}")
        if result.retries:
            facts.append(f"{result.retries} retr{'y' if result.retries == 1 else 'ies'}")
        if result.simulated_duration_s is not None:
            facts.append(
                f"the real OTA would take {format_duration(result.simulated_duration_s)} "
                f"(predicted {format_duration(result.predicted_ota_duration_s)})"
            )
        return Verdict("good", headline, tuple(facts))
    cls = _failure_class(result)
    message = (result.error or {}).get("message", "")
    stage = result.failure_stage or "start"
    if cls is FailureClass.CANCELLED:
        done = f" after {result.bytes:,} bytes" if result.bytes else ""
        return Verdict(
            "neutral",
            f"Cancelled during {stage}{done}",
            (),
            "Start again to resume: the bridge keeps what it received and continues from there.",
        )
    title = cls.title if cls is not None else result.result
    details = (cls.explanation,) if cls is not None else ()
    if cls is not None and cls.action and message.endswith(cls.action):
        message = message[: -len(cls.action)].strip()  # the next step says it once
    if message:
        details = (*details, message)
    return Verdict(
        "bad",
        f"Update failed at {stage}: {title}",
        details,
        cls.action if cls is not None else "",
    )
