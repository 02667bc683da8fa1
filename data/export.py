"""Exports of the log: sessions or events as CSV, sessions with their story as JSON.

Exports stream (a row at a time), so a whole lab log of millions of events can be
written without holding it in memory. JSON columns are written as JSON text in CSV cells.
Every CSV text cell that a spreadsheet would run as a formula (`= + - @`, tab, CR first)
gets a leading `'` (`bridgelab.text_safety.csv_safe`); JSON exports stay raw.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TextIO

from bridgelab.data import queries
from bridgelab.data.clock import iso_utc
from bridgelab.data.records import SessionFilter, SessionRecord
from bridgelab.data.schema import SCHEMA_VERSION
from bridgelab.text_safety import csv_safe

if TYPE_CHECKING:  # sqlite_utils loads only when a store opens
    from sqlite_utils import Database

SESSION_CSV_COLUMNS = tuple(f.name for f in fields(SessionRecord) if f.name != "problems")
EVENT_CSV_COLUMNS = ("session_id", "seq", "at", "kind", "data")


def _cell(value: Any) -> Any:
    """A CSV cell: dicts as JSON text, None as empty, formulas neutralised (`csv_safe`)."""
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), sort_keys=True) if value else ""
    return "" if value is None else csv_safe(value)


def _noted(record: SessionRecord, problems: list[str] | None) -> SessionRecord:
    if problems is not None:
        problems.extend(f"session {record.id}: {problem}" for problem in record.problems)
    return record


def write_sessions_csv(
    db: Database,
    out: TextIO,
    filters: SessionFilter | None = None,
    limit: int | None = None,
    problems: list[str] | None = None,
) -> int:
    """One CSV row per session (newest first); returns the number of rows written.

    What a row holds that cannot be read (bad JSON from an older merge) is left out of
    its cell and described in `problems` when a list is given.
    """
    writer = csv.writer(out)
    writer.writerow(SESSION_CSV_COLUMNS)
    count = 0
    for found in queries.iter_sessions(db, filters, limit):
        record = _noted(found, problems)
        writer.writerow([_cell(getattr(record, name)) for name in SESSION_CSV_COLUMNS])
        count += 1
    return count


def _selected_ids(db: Database, filters: SessionFilter | None, limit: int | None) -> Iterable[str]:
    return [record.id for record in queries.iter_sessions(db, filters, limit)]


def write_events_csv(
    db: Database, out: TextIO, filters: SessionFilter | None = None, limit: int | None = None
) -> int:
    """The events of the selected sessions as CSV (by session, then sequence)."""
    writer = csv.writer(out)
    writer.writerow(EVENT_CSV_COLUMNS)
    count = 0
    for session_id in _selected_ids(db, filters, limit):
        rows = db.execute(
            "SELECT session_id, seq, at, kind, data FROM events WHERE session_id = ? ORDER BY seq",
            [session_id],
        )
        for row in rows:
            writer.writerow([_cell(value) for value in row])
            count += 1
    return count


def write_json(
    db: Database,
    out: TextIO,
    filters: SessionFilter | None = None,
    limit: int | None = None,
    *,
    events: bool = True,
    problems: list[str] | None = None,
) -> int:
    """`{"schema_version", "exported_at", "sessions": [...]}`; each session with its
    `events` (unless `events=False`) and `notes`. Returns the number of sessions."""
    head = json.dumps({"schema_version": SCHEMA_VERSION, "exported_at": iso_utc()})
    out.write(head[:-1] + ', "sessions": [')
    count = 0
    for found in queries.iter_sessions(db, filters, limit):
        record = _noted(found, problems)
        item = record.to_dict()
        if events:
            item["events"] = [e.to_dict() for e in queries.session_events(db, record.id)]
        item["notes"] = [n.to_dict() for n in queries.session_notes(db, record.id)]
        out.write(("\n  " if count == 0 else ",\n  ") + json.dumps(item, default=str))
        count += 1
    out.write("\n]}\n")
    return count
