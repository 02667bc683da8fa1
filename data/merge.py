"""Merging other laptops' triage logs into this one, idempotently.

Every row has a global key (session and note ids are UUIDv7; events and frames are keyed
by session id and sequence number; devices by EUI-64, images by SHA-256), so a merge
inserts what is missing and re-merging the same file adds nothing. A session present on
both sides is replaced only by a copy that knows more about how it ended (`running` <
`interrupted` < the final states), which lets a copy taken mid-update be completed by a
later one. Devices keep the earliest first-seen and latest last-seen.

The source is hostile input (see `merge_source`): it is checked like any log (see
`fileguard`), then read table by table and row by row into a staging file of our own;
only that staging file is attached here. A session with anything wrong is refused with
its reason in the report; the rest merge.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridgelab.data.errors import MergeSameFile, NotATriageDb, StoreNotFound
from bridgelab.data.fileguard import inspect_db_file, read_only_uri
from bridgelab.data.merge_source import (
    MERGE_TABLES,
    MergeLimits,
    Refusals,
    Staged,
    staged_source,
)
from bridgelab.data.writer import WriterState
from bridgelab.safe_output import Guarded, OutputIsInput, refuse_inputs

__all__ = ["MERGE_TABLES", "MergeLimits", "MergeReport", "merge_attached", "prepared_source"]
_ALIAS = "merge_source"
_STATE_RANK = "CASE {0} WHEN 'running' THEN 0 WHEN 'interrupted' THEN 1 ELSE 2 END"


@dataclass(frozen=True)
class MergeReport:
    """Rows added and updated per table for one source file, and what was refused."""

    source: str
    added: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    refusals: list[dict[str, str]] = field(default_factory=list)

    @property
    def total_added(self) -> int:
        return sum(self.added.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "added": self.added,
            "updated": self.updated,
            "refused": self.refused,
            "refusals": self.refusals,
        }


@contextmanager
def prepared_source(
    path: Path, target: Path, limits: MergeLimits | None = None
) -> Iterator[Staged]:
    """The checked rows of `path` in a staging file of our own, and what was refused.

    Raises `StoreNotFound`, `NotATriageDb` (a folder, another program's file),
    `MergeSameFile` (the target, its -wal/-shm, by any path), the `fileguard` errors, and
    `merge_source`'s (`MergeSourceRefused`, `MergeTooLarge`, `MergeTimedOut`).
    """
    if not os.path.lexists(path):
        raise StoreNotFound(f"There is no triage log at {path} to merge.")
    if path.is_dir():
        raise NotATriageDb(f"{path} is a folder, not a triage log file.")
    try:
        guards = [Guarded(target, "the log being merged into", sqlite=True)]
        refuse_inputs(path, guards, "source", casefold=False)
    except OutputIsInput as error:
        raise MergeSameFile(
            f"{path} is the log being merged into (or one of its files).", details=error.details
        ) from None
    if not path.is_file():
        raise StoreNotFound(f"There is no triage log at {path} to merge.")
    inspect_db_file(path)
    with staged_source(path, limits or MergeLimits(), str(path)) as staged:
        yield staged


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


def merge_attached(
    state: WriterState, source: Path, label: str, refusals: Refusals | None = None
) -> MergeReport:
    """On the writer thread: attach the staging file `source` and copy in what is missing.

    `source` is always a staging file this Bridge Lab wrote from checked rows, never the
    file a user handed over. All tables are merged in one transaction: a failure leaves
    the target as it was.
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
    found = refusals or Refusals()
    return MergeReport(label, added, updated, dict(found.counts), list(found.reasons))
