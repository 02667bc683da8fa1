"""Time as the triage log stores it: ISO 8601 UTC text with milliseconds.

`2025-06-01T10:00:03.250Z` sorts as text in time order, reads well in any SQLite tool,
and needs no time-zone guessing when logs from many laptops are merged.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from bridgelab.data.errors import BadFilter

_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


# The last whole second formatted: the writer stamps thousands of events per second, and
# strftime is most of the cost. One tuple, so threads swap it atomically.
_last_second: tuple[int, str] = (-1, "")


def iso_utc(unix_s: float | None = None) -> str:
    """Unix seconds (default: now) as `YYYY-MM-DDTHH:MM:SS.mmmZ`."""
    global _last_second
    t = time.time() if unix_s is None else unix_s
    whole = int(t)
    millis = int((t - whole) * 1000)
    second, text = _last_second
    if second != whole:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _last_second = (whole, text)
    return f"{text}.{millis:03d}Z"


def parse_iso(text: str) -> datetime:
    """Parse a stored timestamp back into an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


def parse_when(text: str, *, now: datetime | None = None) -> str:
    """A filter time from the command line, as the stored text form.

    Accepts a duration back from now (`30m`, `12h`, `7d`, `2w`) or an ISO date or time
    (`2025-06-01`, `2025-06-01T10:00`, `2025-06-01 10:00+01:00`); a time without a zone
    is UTC, as the log shows. Raises `BadFilter` for anything else.
    """
    cleaned = text.strip()
    match = _RELATIVE.fullmatch(cleaned)
    if match:
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        moment = (now or datetime.now(UTC)) - timedelta(seconds=seconds)
        return iso_utc(moment.timestamp())
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        raise BadFilter(
            f"{text!r} is not a time.",
            action="Give a date (2025-06-01), a time (2025-06-01T10:00) or an age (7d, 12h).",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return iso_utc(parsed.timestamp())
