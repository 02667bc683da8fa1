"""The reader side's SQL: filters, session look-ups by id or prefix, events, frames, notes.

Every function takes a `Database` on a reader connection (see `readers.ReaderPool`) and
returns records; none writes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from bridgelab.data.errors import BadFilter, SessionAmbiguous, SessionNotFound
from bridgelab.data.failures import FailureClass, FinalState
from bridgelab.data.json_columns import readable_object
from bridgelab.data.records import (
    EventRecord,
    FrameRecord,
    Mode,
    NoteRecord,
    SessionFilter,
    SessionRecord,
    eui64_text,
)
from bridgelab.eui64 import Eui64Error

if TYPE_CHECKING:  # sqlite_utils loads only when a store opens
    from sqlite_utils import Database

SESSION_SELECT = (
    "SELECT s.*, d.model AS device_model, d.hardware_version AS hardware_version, "
    "i.file_version AS image_version FROM sessions AS s "
    "LEFT JOIN devices AS d ON d.eui64 = s.device_eui64 "
    "LEFT JOIN images AS i ON i.sha256 = s.image_sha256"
)
ORDERS = {
    "newest": "s.started_at DESC, s.id DESC",
    "oldest": "s.started_at ASC, s.id ASC",
}
SHORT_ID_MIN = 8
SEARCH_COLUMNS = (
    "s.id", "s.device_eui64", "s.port_url", "s.site_ref", "s.operator", "s.failure_code",
    "s.failure_message",
)  # fmt: skip
_UUID_HYPHENS = (8, 12, 16, 20)


def _chooser(
    allowed: type[FinalState] | type[FailureClass] | type[Mode], what: str
) -> Callable[[str], str]:
    """A converter that accepts only the enum's values; BadFilter lists them otherwise."""

    def choose(value: str) -> str:
        try:
            return allowed(value.strip().lower()).value
        except ValueError:
            names = ", ".join(member.value for member in allowed)
            raise BadFilter(f"{value!r} is not a {what}.", action=f"Use one of: {names}.") from None

    return choose


ANY_CAMPAIGN = "all"  # `--campaign all`: every session run by a campaign


def _escape_like(text: str) -> str:
    """`text` matched literally inside a LIKE pattern (backslash is the escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where_clause(filters: SessionFilter | None) -> tuple[str, list[Any]]:
    """SQL `WHERE ...` (or "") and its parameters for a filter; raises BadFilter."""
    if filters is None:
        return "", []
    terms: list[str] = []
    params: list[Any] = []
    if filters.device:
        try:
            params.append(eui64_text(filters.device))
        except Eui64Error as error:
            raise BadFilter(error.message, action=error.action) from None
        terms.append("s.device_eui64 = ?")
    chosen: list[tuple[object, str, Callable[[Any], object]]] = [
        (filters.result, "s.final_state = ?", _chooser(FinalState, "session result")),
        (filters.failure_class, "s.failure_class = ?", _chooser(FailureClass, "failure class")),
        (filters.since, "s.started_at >= ?", str),
        (filters.until, "s.started_at < ?", str),
        (filters.mode, "s.mode = ?", _chooser(Mode, "mode")),
        (filters.site, "s.site_ref = ?", str),
        (filters.image_version,
         "s.image_sha256 IN (SELECT sha256 FROM images WHERE file_version = ?)", int),
        (filters.model, "s.device_eui64 IN (SELECT eui64 FROM devices WHERE model = ?)", str),
    ]  # fmt: skip
    for value, term, convert in chosen:
        if value is not None and value != "":
            terms.append(term)
            params.append(convert(value))
    if filters.campaign:
        if filters.campaign == ANY_CAMPAIGN:
            terms.append("s.campaign_id IS NOT NULL")
        else:  # a campaign's id ("name@20261201T101500Z"), or its name for all its runs
            terms.append("(s.campaign_id = ? OR s.campaign_id LIKE ? ESCAPE '\\')")
            params += [filters.campaign, _escape_like(filters.campaign) + "@%"]
    if filters.text and filters.text.strip():
        pattern = "%" + _escape_like(filters.text.strip()) + "%"
        terms.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in SEARCH_COLUMNS) + ")")
        params.extend([pattern] * len(SEARCH_COLUMNS))
    return (" WHERE " + " AND ".join(terms)) if terms else "", params


def query_sessions(
    db: Database,
    filters: SessionFilter | None = None,
    limit: int | None = 100,
    offset: int = 0,
    order: str = "newest",
) -> list[SessionRecord]:
    """Sessions matching `filters`, newest first by default; `limit=None` for all."""
    return list(iter_sessions(db, filters, limit, offset, order))


def iter_sessions(
    db: Database,
    filters: SessionFilter | None = None,
    limit: int | None = None,
    offset: int = 0,
    order: str = "newest",
) -> Iterator[SessionRecord]:
    """Like `query_sessions`, streamed (for exports of the whole log)."""
    if order not in ORDERS:
        raise BadFilter(f"{order!r} is not an order.", action=f"Use {' or '.join(ORDERS)}.")
    where, params = where_clause(filters)
    sql = f"{SESSION_SELECT}{where} ORDER BY {ORDERS[order]}"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    for row in db.query(sql, params):
        yield SessionRecord.from_row(row)


def count_sessions(db: Database, filters: SessionFilter | None = None) -> int:
    where, params = where_clause(filters)
    return int(db.execute(f"SELECT count(*) FROM sessions AS s{where}", params).fetchone()[0])


def normalise_prefix(text: str) -> str:
    """Lower-case, and put back the hyphens of a UUID typed without them."""
    cleaned = text.strip().lower()
    if "-" not in cleaned and len(cleaned) > _UUID_HYPHENS[0]:
        pieces, start = [], 0
        for stop in _UUID_HYPHENS:
            if len(cleaned) <= stop:
                break
            pieces.append(cleaned[start:stop])
            start = stop
        pieces.append(cleaned[start:])
        cleaned = "-".join(pieces)
    return cleaned


def resolve_session_id(db: Database, id_or_prefix: str) -> str:
    """The full id of the one session whose id starts with `id_or_prefix`.

    Raises `SessionNotFound` (none, or an empty prefix) or `SessionAmbiguous` (several;
    the first few ids are in `details["matches"]`).
    """
    prefix = normalise_prefix(id_or_prefix)
    if not prefix:
        raise SessionNotFound("No session id given.")
    # '~' sorts after every hex digit and '-', so this range is "starts with prefix".
    rows = db.execute(
        "SELECT id FROM sessions WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
        [prefix, prefix + "~"],
    ).fetchall()
    if not rows:
        raise SessionNotFound(f"No session in the triage log has an id starting {prefix!r}.")
    if len(rows) > 1:
        matches = [row[0] for row in rows[:5]]
        count = str(len(rows)) if len(rows) < 6 else "Several"
        raise SessionAmbiguous(
            f"{count} sessions have ids starting {prefix!r}: {', '.join(matches)}"
            + (", ..." if len(rows) > 5 else "")
            + ".",
            details={"matches": matches},
        )
    return str(rows[0][0])


def get_session(db: Database, id_or_prefix: str) -> SessionRecord:
    session_id = resolve_session_id(db, id_or_prefix)
    return session_by_id(db, session_id)


def session_by_id(db: Database, session_id: str) -> SessionRecord:
    """The session whose id is exactly `session_id` (no prefix rules); SessionNotFound."""
    row = next(db.query(f"{SESSION_SELECT} WHERE s.id = ?", [session_id]), None)
    if row is None:
        raise SessionNotFound(f"No session {session_id!r} in the triage log.")
    return SessionRecord.from_row(row)


def _common_prefix(a: str, b: str) -> int:
    size = 0
    for left, right in zip(a, b, strict=False):
        if left != right:
            break
        size += 1
    return size


def short_ids(db: Database, ids: list[str], min_length: int = SHORT_ID_MIN) -> dict[str, str]:
    """For each id, its shortest prefix (at least `min_length`) that no other id shares."""
    out: dict[str, str] = {}
    for session_id in ids:
        before = db.execute(
            "SELECT id FROM sessions WHERE id < ? ORDER BY id DESC LIMIT 1", [session_id]
        ).fetchone()
        after = db.execute(
            "SELECT id FROM sessions WHERE id > ? ORDER BY id LIMIT 1", [session_id]
        ).fetchone()
        shared = (
            max(_common_prefix(session_id, row[0]) for row in (before, after) if row)
            if (before or after)
            else 0
        )
        length = max(min_length, shared + 1)
        if length < len(session_id) and session_id[length - 1] == "-":
            length += 1  # never end an abbreviation on a hyphen
        out[session_id] = session_id[:length]
    return out


def session_events(
    db: Database,
    session_id: str,
    *,
    after_seq: int | None = None,
    kinds: list[str] | None = None,
    limit: int | None = None,
) -> list[EventRecord]:
    """A session's events in order; `after_seq` gives only newer ones (for live views)."""
    sql = "SELECT session_id, seq, at, kind, data FROM events WHERE session_id = ?"
    params: list[Any] = [session_id]
    if after_seq is not None:
        sql += " AND seq > ?"
        params.append(after_seq)
    if kinds:
        sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
        params.extend(kinds)
    sql += " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [EventRecord.from_columns(*row) for row in db.execute(sql, params)]


def session_frames(db: Database, session_id: str) -> list[FrameRecord]:
    rows = db.execute(
        "SELECT session_id, seq, t_s, direction, data FROM frames WHERE session_id = ? "
        "ORDER BY seq",
        [session_id],
    )
    return [
        FrameRecord(r[0], r[1], r[2] if type(r[2]) in (int, float) else math.nan, r[3],
                    _frame_bytes(r[4]))
        for r in rows
    ]  # fmt: skip


def _frame_bytes(value: object) -> bytes:
    """A stored frame as bytes, whatever an older merge left in the column."""
    if isinstance(value, bytes):
        return value
    return b"" if value is None else str(value).encode("utf-8", "replace")


def session_notes(db: Database, session_id: str) -> list[NoteRecord]:
    rows = db.execute(
        "SELECT id, session_id, at, author, text FROM notes WHERE session_id = ? ORDER BY id",
        [session_id],
    )
    return [NoteRecord(*row) for row in rows]


def _row_by_key(
    db: Database, table: str, key: str, value: str, json_column: str
) -> dict[str, Any] | None:
    """One row as a dict, its JSON column decoded ({} when empty or unreadable, with a
    `problems` entry saying why); None when absent."""
    row = next(iter(db.table(table).rows_where(f"{key} = ?", [value], limit=1)), None)
    if row is not None:
        decoded, problem = readable_object(row[json_column])
        row[json_column] = decoded
        if problem:
            row["problems"] = [f"{json_column} {problem}"]
    return row


def get_device(db: Database, eui64: str) -> dict[str, Any] | None:
    return _row_by_key(db, "devices", "eui64", eui64, "identity")


def get_image(db: Database, sha256: str) -> dict[str, Any] | None:
    return _row_by_key(db, "images", "sha256", sha256, "details")
