"""Merging other laptops' triage logs into this one, idempotently.

Every row has a global key (session and note ids are UUIDv7; events and frames are keyed
by session id and sequence number; devices by EUI-64, images by SHA-256), so a merge
inserts what is missing and re-merging the same file adds nothing. A session present on
both sides is replaced only by a copy that knows more about how it ended (`running` <
`interrupted` < the final states), which lets a copy taken mid-update be completed by a
later one. Devices keep the earliest first-seen and latest last-seen.

The source is never written: it is checked like any log (see `fileguard`), attached
read-only, and, if its schema is older, first copied to a temporary file and migrated.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridgelab.data.errors import MergeSameFile, StoreNotFound
from bridgelab.data.fileguard import check_integrity, inspect_db_file, read_only_uri
from bridgelab.data.schema import SCHEMA_VERSION
from bridgelab.data.writer import WriterState

MERGE_TABLES = ("devices", "images", "sessions", "events", "frames", "notes")
_ALIAS = "merge_source"
_STATE_RANK = "CASE {0} WHEN 'running' THEN 0 WHEN 'interrupted' THEN 1 ELSE 2 END"


@dataclass(frozen=True)
class MergeReport:
    """Rows added and rows updated per table, for one source file."""

    source: str
    added: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    @property
    def total_added(self) -> int:
        return sum(self.added.values())

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "added": self.added, "updated": self.updated}


@contextmanager
def prepared_source(path: Path, target: Path) -> Iterator[Path]:
    """A checked, current-schema file to attach for `path` (a migrated temp copy if older).

    Raises `StoreNotFound`, `MergeSameFile` or the `fileguard` errors.
    """
    if not path.is_file():
        raise StoreNotFound(f"There is no triage log at {path} to merge.")
    if target.exists() and os.path.samefile(path, target):
        raise MergeSameFile(f"{path} is the log being merged into.")
    state = inspect_db_file(path)
    check_integrity(path)
    if state.version == SCHEMA_VERSION:
        yield path
        return
    from bridgelab.data.store import TriageStore  # the store migrates; merge sits below it

    with tempfile.TemporaryDirectory(prefix="bridgelab-merge-") as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        TriageStore.open(copy, create=False).close()
        yield copy


def _columns(state: WriterState, table: str) -> list[str]:
    return [row[1] for row in state.db.execute(f"PRAGMA main.table_info({table})")]


def _count(state: WriterState, table: str) -> int:
    return int(state.db.execute(f"SELECT count(*) FROM main.{table}").fetchone()[0])


def _merge_described(
    table: str, key: str, *, last_seen: bool
) -> Callable[[WriterState, list[str]], None]:
    """Upsert for a table of facts about a thing seen over time (devices, images).

    Our gaps are filled from theirs, first_seen becomes the earlier of the two, and with
    `last_seen` the later one; when their record is the more recent, their facts win.
    The update runs only when it changes something, so a re-merge counts no updates.
    """

    def merge(state: WriterState, cols: list[str]) -> None:
        facts = [c for c in cols if c not in (key, "first_seen", "last_seen")]
        newer = f"excluded.last_seen > {table}.last_seen" if last_seen else "false"
        sets = [
            f"{c} = CASE WHEN {newer} THEN coalesce(excluded.{c}, {table}.{c}) "
            f"ELSE coalesce({table}.{c}, excluded.{c}) END"
            for c in facts
        ]
        sets.append(f"first_seen = min({table}.first_seen, excluded.first_seen)")
        changes = [f"excluded.first_seen < {table}.first_seen"]
        if last_seen:
            sets.append(f"last_seen = max({table}.last_seen, excluded.last_seen)")
            changes.append(newer)
        changes += [f"({table}.{c} IS NULL AND excluded.{c} IS NOT NULL)" for c in facts]
        names = ", ".join(cols)
        state.db.execute(
            f"INSERT INTO main.{table} ({names}) SELECT {names} FROM {_ALIAS}.{table} "
            f"WHERE true ON CONFLICT ({key}) DO UPDATE SET {', '.join(sets)} "
            f"WHERE {' OR '.join(changes)}"
        )

    return merge


def _merge_sessions(state: WriterState, cols: list[str]) -> None:
    names = ", ".join(cols)
    theirs = ", ".join(f"src.{c}" for c in cols)
    state.db.execute(
        f"UPDATE main.sessions SET ({names}) = ({theirs}) FROM {_ALIAS}.sessions AS src "
        f"WHERE src.id = sessions.id AND "
        f"{_STATE_RANK.format('src.final_state')} > {_STATE_RANK.format('sessions.final_state')}"
    )
    state.db.execute(
        f"INSERT OR IGNORE INTO main.sessions ({names}) SELECT {names} FROM {_ALIAS}.sessions"
    )


def _merge_plain(table: str) -> Callable[[WriterState, list[str]], None]:
    def merge(state: WriterState, cols: list[str]) -> None:
        names = ", ".join(cols)
        state.db.execute(
            f"INSERT OR IGNORE INTO main.{table} ({names}) SELECT {names} FROM {_ALIAS}.{table}"
        )

    return merge


_MERGERS: dict[str, Callable[[WriterState, list[str]], None]] = {
    "devices": _merge_described("devices", "eui64", last_seen=True),
    "images": _merge_described("images", "sha256", last_seen=False),
    "sessions": _merge_sessions,
    "events": _merge_plain("events"),
    "frames": _merge_plain("frames"),
    "notes": _merge_plain("notes"),
}


def merge_attached(state: WriterState, source: Path, label: str) -> MergeReport:
    """On the writer thread: attach `source` read-only and copy in what is missing.

    All tables are merged in one transaction: a failure leaves the target as it was.
    """
    state.db.execute(f"ATTACH DATABASE ? AS {_ALIAS}", [read_only_uri(source)])
    try:
        added: dict[str, int] = {}
        updated: dict[str, int] = {}

        def merge_all() -> None:
            for table in MERGE_TABLES:
                before = _count(state, table)
                changes_before = state.db.conn.total_changes
                _MERGERS[table](state, _columns(state, table))
                added[table] = _count(state, table) - before
                updated[table] = state.db.conn.total_changes - changes_before - added[table]

        state.write(merge_all)
    finally:
        state.db.execute(f"DETACH DATABASE {_ALIAS}")
    return MergeReport(label, added, updated)
