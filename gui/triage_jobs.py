"""The triage view's file jobs: export, defect bundle, merge (blocking: run on a worker).

Thin wrappers over `bridgelab.data.export`, `bridgelab.data.bundle` and
`TriageStore.merge`, each on a reader connection of its own. No Qt here.
"""

from __future__ import annotations

from pathlib import Path

from bridgelab.data.bundle import BundleReport, write_bundle
from bridgelab.data.export import write_json, write_sessions_csv
from bridgelab.data.merge import MergeReport
from bridgelab.data.records import SessionFilter
from bridgelab.data.store import TriageStore
from bridgelab.errors import BridgeLabError
from bridgelab.safe_output import safe_output, triage_log

EXPORT_FORMATS = {"csv": "CSV, one row per session (*.csv)", "json": "JSON with events (*.json)"}


class ExportFailed(BridgeLabError):
    code = "export-failed"
    default_action = "Choose a folder you can write to, with free space (not a read-only stick)."


def export_sessions(store: TriageStore, filters: SessionFilter, path: Path, fmt: str) -> int:
    """Write the sessions matching `filters` to `path`; returns how many.

    Raises ExportFailed when the file cannot be written, and the store's errors.
    """
    try:
        guards = triage_log(store.path)
        with store.reading() as db, safe_output(path, guards, force=True) as out:
            if fmt == "json":
                return write_json(db, out, filters)
            return write_sessions_csv(db, out, filters)
    except OSError as error:
        raise ExportFailed(f"Cannot write {path}: {error.strerror or error}.") from error


def bundle_sessions(store: TriageStore, session_ids: list[str], path: Path) -> BundleReport:
    """Zip the sessions' stories into `path`; raises ExportFailed when it cannot be written."""
    try:
        with store.reading() as db:
            # The save dialog has asked about replacing a file; the log is never replaced.
            return write_bundle(db, session_ids, path, force=True, guards=triage_log(store.path))
    except OSError as error:
        raise ExportFailed(f"Cannot write {path}: {error.strerror or error}.") from error


def merge_log(store: TriageStore, source: Path) -> MergeReport:
    return store.merge(source)


def merge_words(report: MergeReport) -> str:
    added = report.added.get("sessions", 0)
    updated = report.updated.get("sessions", 0)
    words = (
        f"Merged {Path(report.source).name}: {added:,} new session(s), {updated:,} updated, "
        f"{report.total_added:,} rows added in all."
    )
    refused = report.refused.get("session", 0)
    if refused:
        first = report.refusals[0] if report.refusals else None
        words += f" Refused {refused:,} damaged session(s)"
        words += f" (first: {first['reason']})." if first else "."
    return words
