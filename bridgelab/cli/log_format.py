"""Human renderings of triage-log records for `bridgelab log` (tables and detail views).

Stored text may come from a merged field log or a device: every line these functions make
goes through `terminal_safe` (tables through `format_table`, which applies it per cell).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bridgelab.cli.output import format_table
from bridgelab.data import EventRecord, FailureClass, NoteRecord, SessionRecord, StatsReport
from bridgelab.data.clock import parse_iso
from bridgelab.data.stats import FAILURE_GROUPS, StatsRow
from bridgelab.drivers.versions import display_version
from bridgelab.text_safety import terminal_safe

LIST_HEADERS = ("ID", "STARTED (UTC)", "MODE", "DEVICE", "MODEL", "FROM", "TARGET", "RESULT",
                "FAILURE", "SITE")  # fmt: skip


def version_text(value: int | None) -> str | None:
    """A version as engineers write it ("1.3.0"), as `update` and the GUI show it."""
    return None if value is None else display_version(value)


def time_text(stamp: str | None) -> str | None:
    """`2025-06-01T10:00:03.250Z` -> `2025-06-01 10:00:03` (the list is in UTC)."""
    return None if stamp is None else stamp[:19].replace("T", " ")


def failure_text(record: SessionRecord) -> str | None:
    if not record.failure_class:
        return None
    stage = f"@{record.failure_stage}" if record.failure_stage else ""
    return f"{record.failure_class}{stage}"


def sessions_table(records: Sequence[SessionRecord], short: dict[str, str]) -> str:
    rows = [
        (
            short.get(r.id, r.id),
            time_text(r.started_at),
            r.mode,
            r.device_eui64,
            r.device_model,
            version_text(r.version_before),
            version_text(r.image_version),
            r.final_state,
            failure_text(r),
            r.site_ref,
        )
        for r in records
    ]
    return format_table(LIST_HEADERS, rows)


def _seconds_between(start: str, end: str) -> float | None:
    """Seconds from `start` to `end`; None when either is not a readable time."""
    try:
        return (parse_iso(end) - parse_iso(start)).total_seconds()
    except (TypeError, ValueError, OverflowError):
        return None


def _offset_text(start: str, at: str) -> str:
    seconds = _seconds_between(start, at)
    return "?" if seconds is None else f"+{seconds:.3f}s"


def _hex(value: object, digits: int) -> str:
    return f"0x{value:0{digits}X}" if type(value) is int else repr(value)


def _rate_text(bytes_per_second: float | None) -> str | None:
    if bytes_per_second is None:
        return None
    if bytes_per_second >= 1000:
        return f"{bytes_per_second / 1000:.1f} kB/s"
    return f"{bytes_per_second:.0f} B/s"


def session_detail(
    record: SessionRecord, device: dict[str, Any] | None, image: dict[str, Any] | None
) -> list[tuple[str, str]]:
    """(label, text) lines describing one session, failure explained first."""
    lines: list[tuple[str, str]] = []
    result = record.final_state
    if record.failure_class:
        try:
            cls: FailureClass | None = FailureClass(record.failure_class)
        except ValueError:
            cls = None
        title = cls.title if cls else record.failure_class
        result += f": {title} ({record.failure_class})"
        if record.failure_stage:
            result += f" in the {record.failure_stage} stage"
        if record.failure_code:
            result += f", code {record.failure_code}"
        lines.append(("Result", result))
        if record.failure_message:
            lines.append(("", record.failure_message))
        if cls:
            lines.append(("What happened", cls.explanation))
            lines.append(("Next step", cls.action))
    else:
        lines.append(("Result", result))
    lines.append(
        ("Mode", record.mode + (f", campaign {record.campaign_id}" if record.campaign_id else ""))
    )
    lines.append(("Started", record.started_at))
    if record.ended_at:
        duration = _seconds_between(record.started_at, record.ended_at)
        took = f" ({duration:.1f} s)" if duration is not None else ""
        lines.append(("Ended", f"{record.ended_at}{took}"))
    device_text = record.device_eui64 or "not identified"
    if device:
        extras = [
            f"model {device['model']}" if device.get("model") else "",
            f"hardware {_hex(device['hardware_version'], 4)}"
            if device.get("hardware_version") is not None
            else "",
            f"serial {device['serial_number']}" if device.get("serial_number") else "",
        ]
        device_text += "".join(f", {e}" for e in extras if e)
    lines.append(("Device", device_text))
    lines.append(
        (
            "Firmware",
            f"{version_text(record.version_before) or '?'} -> "
            f"{version_text(record.version_after) or '?'}"
            f" (target {version_text(record.image_version) or '?'})",
        )
    )
    if image:
        size = image.get("size")
        size_text = f"{size:,}" if type(size) is int else repr(size)
        image_text = f"sha256 {str(image['sha256'])[:16]}..., {size_text} bytes"
        if image.get("file_name"):
            image_text += f", {image['file_name']}"
        if image.get("signature_status"):
            image_text += f", signature {image['signature_status']}"
        if image.get("signer"):
            image_text += f" by {image['signer']}"
        lines.append(("Image", image_text))
    link = record.port_url or "-"
    if record.driver:
        link += f", driver {record.driver}"
    if record.baud:
        link += f", {record.baud} baud"
    lines.append(("Link", link))
    transfer = []
    if record.last_offset is not None:
        size = f" of {record.image_size:,}" if record.image_size else ""
        transfer.append(f"{record.last_offset:,}{size} bytes")
    if record.resumed_from:
        transfer.append(f"resumed from {record.resumed_from:,}")
    rate = _rate_text(record.throughput_bps)
    if rate:
        transfer.append(rate)
    transfer.append(f"{record.retries} retries")
    lines.append(("Transfer", ", ".join(transfer)))
    lines.append(
        (
            "Where",
            f"host {record.host or '-'}, operator {record.operator or '-'}, "
            f"site {record.site_ref or '-'}",
        )
    )
    lines.append(("Tool", f"Bridge Lab {record.tool_version or '?'} on {record.platform or '?'}"))
    for problem in (
        *record.problems,
        *(device or {}).get("problems", []),
        *(image or {}).get("problems", []),
    ):
        lines.append(("Unreadable", f"{problem} (shown without it)"))
    return lines


def _data_text(data: dict[str, Any]) -> str:
    return " ".join(f"{key}={_value_text(key, value)}" for key, value in data.items())


def _value_text(key: str, value: Any) -> str:
    if key.endswith("version") and isinstance(value, int) and not isinstance(value, bool):
        return display_version(value)  # firmware_version=1.3.0, as `update` says it
    return str(value) if isinstance(value, (int, float, str)) else json.dumps(value)


def events_table(events: Sequence[EventRecord], started_at: str, *, all_events: bool) -> str:
    """The story, one line per event; runs of progress events fold into one line."""
    rows: list[tuple[str, str, str, str]] = []
    index = 0
    while index < len(events):
        event = events[index]
        offset = _offset_text(started_at, event.at)
        if event.kind == "progress" and not all_events:
            end = index
            while end + 1 < len(events) and events[end + 1].kind == "progress":
                end += 1
            last = events[end]
            count = end - index + 1
            text = f"{event.data.get('offset', '?')} -> {last.data.get('offset', '?')} of "
            text += f"{last.data.get('total', '?')} bytes"
            kind = "progress" + (f" x{count}" if count > 1 else "")
            rows.append((str(event.seq), offset, kind, text))
            index = end + 1
            continue
        text = _data_text(event.data) if event.problem is None else f"({event.problem})"
        rows.append((str(event.seq), offset, event.kind, text))
        index += 1
    return format_table(("SEQ", "TIME", "KIND", "DATA"), rows, right=(0, 1))


def notes_lines(notes: Sequence[NoteRecord]) -> list[str]:
    return [terminal_safe(f"{time_text(n.at)} {n.author or '-'}: {n.text}") for n in notes]


def _key_text(group: str, key: str | int | None) -> str:
    if key is None:
        return "(not recorded)"
    if isinstance(key, int) and group in ("firmware", "from-version"):
        return f"{display_version(key)} (0x{key:08X})"
    if isinstance(key, int) and group == "hardware":
        return f"0x{key:04X}"
    return str(key)


def _rate(row: StatsRow) -> str:
    return "-" if row.failure_rate is None else f"{row.failure_rate * 100:.1f}%"


def stats_text(report: StatsReport) -> str:
    total = report.total
    parts = [
        f"{total.sessions:,} sessions: {total.success:,} success, {total.failed:,} failed, "
        f"{total.interrupted:,} interrupted, {total.cancelled:,} cancelled, "
        f"{total.running:,} running; failure rate {_rate(total)}"
    ]
    for group, rows in report.groups.items():
        parts.append("")
        if group in FAILURE_GROUPS:
            failures = sum(r.sessions for r in rows) or 1
            table = [
                (_key_text(group, r.key), f"{r.sessions:,}", f"{r.sessions / failures * 100:.1f}%")
                for r in rows
            ]
            parts.append(format_table((group.upper(), "FAILURES", "SHARE"), table, right=(1, 2)))
            continue
        table2 = [
            (
                _key_text(group, r.key),
                f"{r.sessions:,}",
                f"{r.success:,}",
                f"{r.failed:,}",
                f"{r.interrupted:,}",
                f"{r.cancelled:,}",
                _rate(r),
            )
            for r in rows
        ]
        headers = (group.upper(), "SESSIONS", "SUCCESS", "FAILED", "INTERRUPTED", "CANCELLED",
                   "FAILURE RATE")  # fmt: skip
        parts.append(format_table(headers, table2, right=(1, 2, 3, 4, 5, 6)))
    return "\n".join(parts)
