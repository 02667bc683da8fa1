"""One session's story for the triage detail: summary, failure explained, timeline, trace.

`load_story` is blocking (several queries: run it on a worker) and returns display-ready
rows, so the detail panel only fills tables. No Qt here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bridgelab.data.clock import parse_iso
from bridgelab.data.failures import FailureClass
from bridgelab.data.records import NoteRecord, SessionRecord
from bridgelab.data.store import TriageStore
from bridgelab.drivers.versions import display_version
from bridgelab.gui.formatting import format_local_time, format_rate
from bridgelab.updates.durations import format_duration

TIMELINE_HEADERS = ("+ time", "Event", "Details")
TRACE_HEADERS = ("#", "t (s)", "Dir", "Bytes", "Frame (hex)")
HEX_SHOWN = 48  # bytes of a frame shown in the table; the tooltip has all of it


@dataclass(frozen=True)
class SessionStory:
    record: SessionRecord
    facts: list[tuple[str, str]]
    failure: tuple[str, str, str] | None  # (title, explanation, action)
    timeline: list[tuple[str, str, str]]
    timeline_tips: list[str]
    trace: list[tuple[str, str, str, str, str]]
    trace_tips: list[str]
    notes: list[NoteRecord]


def event_details(data: dict[str, Any]) -> str:
    """An event's data as `key=value` pairs; a message is shown as it is."""
    if "message" in data and len(data) <= 3:
        return str(data["message"])
    parts = []
    for key, value in data.items():
        if isinstance(value, dict | list):
            value = json.dumps(value, separators=(",", ":"))
        elif key.endswith("version") and isinstance(value, int) and not isinstance(value, bool):
            value = display_version(value)  # firmware_version=1.3.0, as the verdict says it
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def _offset(start: str, at: str) -> str:
    try:
        return f"{(parse_iso(at) - parse_iso(start)).total_seconds():8.3f}"
    except ValueError:
        return at


def session_facts(record: SessionRecord) -> list[tuple[str, str]]:
    duration = None
    if record.ended_at:
        duration = (parse_iso(record.ended_at) - parse_iso(record.started_at)).total_seconds()
    before = display_version(record.version_before) if record.version_before is not None else "?"
    after = display_version(record.version_after) if record.version_after is not None else "-"
    target = display_version(record.image_version) if record.image_version is not None else "-"
    return [
        ("Session", record.id),
        ("Result", record.final_state),
        ("Started", format_local_time(record.started_at)),
        ("Duration", format_duration(duration) if duration is not None else "-"),
        ("Mode", record.mode),
        ("Device", f"{record.device_eui64 or '-'}  {record.device_model or ''}".strip()),
        ("Versions", f"{before} \u2192 {after} (image {target})"),
        ("Port", f"{record.port_url or '-'}  ({record.baud or '-'} baud)"),
        ("Throughput", format_rate(record.throughput_bps)),
        ("Retries", str(record.retries)),
        ("Site / operator", f"{record.site_ref or '-'} / {record.operator or '-'}"),
        ("Tool", f"{record.tool_version or '-'} on {record.platform or '-'}"),
    ]


def failure_explained(record: SessionRecord) -> tuple[str, str, str] | None:
    if not record.failure_class:
        return None
    try:
        cls = FailureClass(record.failure_class)
    except ValueError:
        return (record.failure_class, record.failure_message or "", "")
    where = f" at {record.failure_stage}" if record.failure_stage else ""
    title = f"{cls.title}{where} ({record.failure_code or cls.value})"
    message = (record.failure_message or "").strip()
    if not message:
        return title, cls.explanation, cls.action
    # Each thing once: the stored message says what happened and, where the failure had
    # its own, what to do ("Update it locally ..."); the class's general words only fill in.
    if message.endswith(cls.action):
        return title, message[: -len(cls.action)].strip(), cls.action
    return title, message, ""


def load_story(store: TriageStore, session_id: str) -> SessionStory:
    record = store.get_session(session_id)
    events = store.session_events(record.id)
    frames = store.session_frames(record.id)
    timeline = [
        (_offset(record.started_at, event.at), event.kind, event_details(event.data))
        for event in events
    ]
    timeline_tips = [format_local_time(event.at) for event in events]
    trace = []
    trace_tips = []
    for frame in frames:
        shown = frame.data[:HEX_SHOWN].hex(" ")
        if len(frame.data) > HEX_SHOWN:
            shown += " \u2026"
        trace.append(
            (str(frame.seq), f"{frame.t_s:.4f}", frame.direction, str(len(frame.data)), shown)
        )
        trace_tips.append(frame.data.hex(" ") if len(frame.data) <= 512 else "")
    return SessionStory(
        record=record,
        facts=session_facts(record),
        failure=failure_explained(record),
        timeline=timeline,
        timeline_tips=timeline_tips,
        trace=trace,
        trace_tips=trace_tips,
        notes=store.session_notes(record.id),
    )
