"""Defect bundles: one zip with everything a supplier needs about failed sessions.

A bundle holds, for each session, `session.json` (the record, the device, the image
metadata, the notes, and the failure class explained), `events.csv` and `events.json`
(its whole story), `trace.csv` (the raw frames, when recorded and not left out), plus
`manifest.json` (tool, platform and schema versions) and a plain-text `README.txt`
summary for the person who opens it. Files inside are dated with the session's start.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import platform
import sqlite3
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridgelab import __version__
from bridgelab.data import queries
from bridgelab.data.clock import iso_utc, parse_iso
from bridgelab.data.export import EVENT_CSV_COLUMNS
from bridgelab.data.failures import FailureClass
from bridgelab.data.merge_source import canonical_uuid
from bridgelab.data.records import SessionRecord
from bridgelab.data.schema import SCHEMA_VERSION
from bridgelab.safe_output import Guarded, safe_binary_output
from bridgelab.text_safety import csv_safe

if TYPE_CHECKING:  # sqlite_utils loads only when a store opens
    from sqlite_utils import Database


@dataclass(frozen=True)
class BundleReport:
    path: Path
    sessions: list[str]
    files: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "sessions": self.sessions, "files": self.files}


def platform_versions() -> dict[str, str]:
    """The versions a supplier asks for: tool, Python, OS, SQLite and key libraries."""
    versions = {
        "bridgelab": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
    }
    for package in ("sqlite-utils", "pyserial", "cryptography"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _failure_explained(record: SessionRecord) -> dict[str, str] | None:
    if not record.failure_class:
        return None
    try:
        cls = FailureClass(record.failure_class)
    except ValueError:  # a class from a newer Bridge Lab
        return {"class": record.failure_class}
    return {
        "class": cls.value,
        "title": cls.title,
        "explanation": cls.explanation,
        "next_step": cls.action,
        "area": cls.area.value,
    }


def _summary(record: SessionRecord, device: dict[str, Any] | None) -> str:
    def version(value: int | None) -> str:
        return "unknown" if value is None else f"0x{value:08X}"

    lines = [
        f"Session {record.id}",
        f"  mode {record.mode}, started {record.started_at}, ended {record.ended_at or '-'}",
        f"  result: {record.final_state}",
        f"  device: {record.device_eui64 or 'unknown'}"
        + (f" ({device.get('model')})" if device and device.get("model") else ""),
        f"  firmware: {version(record.version_before)} -> target "
        f"{version(record.image_version)}, after {version(record.version_after)}",
        f"  link: {record.port_url or '-'} ({record.driver or 'driver unknown'})",
        f"  host {record.host or '-'}, operator {record.operator or '-'}, "
        f"site {record.site_ref or '-'}",
    ]
    explained = _failure_explained(record)
    if explained:
        lines.append(
            f"  failure: {explained.get('title', explained['class'])} in the "
            f"{record.failure_stage or 'unknown'} stage"
            + (f", code {record.failure_code}" if record.failure_code else "")
        )
        if record.failure_message:
            lines.append(f"    {record.failure_message}")
        if "next_step" in explained:
            lines.append(f"    next step: {explained['next_step']}")
    return "\n".join(lines)


def entry_name(session_id: str) -> str:
    """The bundle folder for a session: its id when that is a canonical UUID, else a
    name derived from a hash of it (the true id stays inside session.json)."""
    if canonical_uuid(session_id):
        return session_id
    return "unsafe-id-" + hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()[:16]


_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _zip_time(stamp: str) -> tuple[int, int, int, int, int, int]:
    """A stored time as a zip entry's date (zip cannot say before 1980 or after 2107)."""
    try:
        moment = parse_iso(stamp).timetuple()[:6]
    except (TypeError, ValueError, OverflowError):
        return _ZIP_EPOCH
    if not 1980 <= moment[0] <= 2107:
        return _ZIP_EPOCH
    return (moment[0], moment[1], moment[2], moment[3], moment[4], moment[5])


def _csv_text(header: tuple[str, ...], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([csv_safe(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def write_bundle(
    db: Database,
    session_ids: list[str],
    zip_path: str | os.PathLike[str],
    *,
    trace: bool = True,
    force: bool = False,
    guards: Iterable[Guarded] = (),
) -> BundleReport:
    """Write the bundle of `session_ids` (full ids) to `zip_path`; returns what it holds.

    The zip is written as a safe output (`bridgelab.safe_output`): never over one of
    `guards` (pass the open log's), never over an existing file unless `force`, and
    complete or not at all.
    """
    files: list[str] = []
    summaries: list[str] = []
    newest = "1980-01-01T00:00:00.000Z"
    with (
        safe_binary_output(zip_path, guards, force=force, what="bundle") as stream,
        zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):

        def add(name: str, text: str, at: str) -> None:
            info = zipfile.ZipInfo(name, date_time=_zip_time(at))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
            files.append(name)

        for session_id in session_ids:
            record = queries.session_by_id(db, session_id)
            if isinstance(record.started_at, str):
                newest = max(newest, record.started_at)
            device = queries.get_device(db, record.device_eui64) if record.device_eui64 else None
            image = queries.get_image(db, record.image_sha256) if record.image_sha256 else None
            events = queries.session_events(db, record.id)
            notes = queries.session_notes(db, record.id)
            # Entry names come from validated ids only: a stored id such as `../../x` (an
            # older merge let those in) must not become a path outside the bundle.
            folder, at = f"{entry_name(record.id)}/", record.started_at
            story = {
                "session": record.to_dict(),
                "failure": _failure_explained(record),
                "device": device,
                "image": image,
                "notes": [note.to_dict() for note in notes],
            }
            add(folder + "session.json", json.dumps(story, indent=2, default=str), at)
            add(folder + "events.json", json.dumps([e.to_dict() for e in events], indent=1), at)
            event_rows = [
                [e.session_id, e.seq, e.at, e.kind, json.dumps(e.data, sort_keys=True)]
                for e in events
            ]
            add(folder + "events.csv", _csv_text(EVENT_CSV_COLUMNS, event_rows), at)
            frames = queries.session_frames(db, record.id) if trace else []
            if frames:
                rows = [
                    [f.seq, f"{f.t_s:.6f}", f.direction, len(f.data), f.data.hex()] for f in frames
                ]
                header = ("seq", "t_s", "direction", "length", "hex")
                add(folder + "trace.csv", _csv_text(header, rows), at)
            summaries.append(_summary(record, device))
        manifest = {
            "kind": "bridgelab-defect-bundle",
            "created_at": iso_utc(),
            "schema_version": SCHEMA_VERSION,
            "sessions": session_ids,
            "trace_included": trace,
            "versions": platform_versions(),
        }
        add("manifest.json", json.dumps(manifest, indent=2), newest)
        readme = (
            "Bridge Lab defect bundle\n\n"
            + "\n\n".join(summaries)
            + "\n\nEach folder holds session.json (record, device, image, notes), events.csv "
            "and events.json (the session's story), and trace.csv (raw frames) when "
            "recorded.\n"
        )
        add("README.txt", readme, newest)
    return BundleReport(Path(zip_path), list(session_ids), files)
