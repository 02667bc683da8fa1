"""Reading another laptop's triage log as hostile input, before any of it reaches ours.

A merge source is a file someone handed over: it may be damaged, hand-edited or built to
attack. So it is never attached to the lab log. It is opened read-only (`immutable`, or
a private copy when it has a pending write-ahead log), with `trusted_schema` off, a cap
on the size of any value and a deadline on every statement; its schema is checked in
`sqlite_master` (each table we read must be a plain table: not a view, not a virtual
table, no computed columns), and only those base tables are read, by name. Its views and
triggers never run.

Every row is then checked (`checks`): ids are canonical UUIDs, EUI-64s and SHA-256s in
their stored form, times ISO 8601, integers integers within range, text text without NUL
and within a size, every JSON column a JSON object of bounded size and depth with finite
numbers. What passes goes into a *staging* file of our own making, which the merge then
copies from. A session with anything wrong (its row, one of its events, frames or notes,
the device or image it names) is refused whole, with its id and the reason; the rest
merge. Past `MergeLimits` (rows, time) the whole source is refused with a coded error.
"""

from __future__ import annotations

import math
import re
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bridgelab.data.errors import DbCorrupt, StoreError
from bridgelab.data.fileguard import _wal_pending, translate_sqlite_error
from bridgelab.data.json_columns import JsonProblem, checked_object
from bridgelab.data.schema import V1_SQL, run_script

MERGE_TABLES = ("devices", "images", "sessions", "events", "frames", "notes")


class MergeSourceRefused(StoreError):
    """The source as a whole cannot be merged (its schema is not a triage log's)."""

    code = "merge-source-refused"
    default_action = (
        "Ask for the laptop's own triage.db (not an edited copy); nothing was merged and "
        "the lab log was left as it was."
    )


class MergeTooLarge(StoreError):
    code = "merge-too-large"
    default_action = (
        "Split the source (merge it from the laptop in parts, or export fewer sessions); "
        "nothing was merged."
    )


class MergeTimedOut(StoreError):
    code = "merge-timed-out"
    default_action = (
        "The source is too slow to read (damaged, or built to stall the merge); nothing was "
        "merged. Check the file, or raise the limit if it is genuine."
    )


@dataclass(frozen=True)
class MergeLimits:
    """What one merge source may hold (docs/triage.md, "Merging")."""

    max_rows: int = 20_000_000  # all tables together
    time_limit_s: float = 900.0
    max_value_bytes: int = 4 * 1024 * 1024  # any one cell, as SQLite reads it
    max_text: int = 64 * 1024  # messages, notes
    max_short_text: int = 1024  # names, ports, codes
    max_json_bytes: int = 256 * 1024
    max_json_depth: int = 32
    max_frame_bytes: int = 64 * 1024


@dataclass
class Refusals:
    """What was left out, and why: per row kind a count, and the first reasons in full."""

    counts: dict[str, int] = field(default_factory=dict)
    reasons: list[dict[str, str]] = field(default_factory=list)
    max_listed: int = 200

    def add(self, what: str, key: str, reason: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1
        if len(self.reasons) < self.max_listed:
            self.reasons.append({"what": what, "id": key, "reason": reason})


# -- the checks of single values ---------------------------------------------------------

_EUI64 = re.compile(r"[0-9A-F]{2}(?::[0-9A-F]{2}){7}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ISO_START = re.compile(r"\d{4}-\d{2}-\d{2}")
U16, U32, BIG = (0, 0xFFFF), (0, 0xFFFF_FFFF), (0, 1 << 48)


class Bad(Exception):
    """One value failed its check; the message says which and why."""


def shown(value: object, limit: int = 60) -> str:
    """A value for a refusal reason: quoted, escaped, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def canonical_uuid(value: object) -> bool:
    """True for a UUID in the canonical lower-case 8-4-4-4-12 form (what we store)."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _uuid(name: str, value: object) -> str:
    if not canonical_uuid(value):
        raise Bad(f"{name} {shown(value)} is not a UUID")
    return str(value)


def _text(name: str, value: object, limit: int, *, required: bool = False) -> None:
    if value is None:
        if required:
            raise Bad(f"{name} is missing")
        return
    if not isinstance(value, str):
        raise Bad(f"{name} is {type(value).__name__}, not text")
    if "\x00" in value:
        raise Bad(f"{name} holds a NUL character")
    if len(value) > limit:
        raise Bad(f"{name} is {len(value):,} characters (limit {limit:,})")


def _integer(name: str, value: object, bounds: tuple[int, int], *, required: bool = False) -> None:
    if value is None:
        if required:
            raise Bad(f"{name} is missing")
        return
    if type(value) is not int:
        raise Bad(f"{name} {shown(value)} is not an integer")
    if not bounds[0] <= value <= bounds[1]:
        raise Bad(f"{name} {value} is out of range")


def _real(name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise Bad(f"{name} {shown(value)} is not a number")
    if not math.isfinite(value) or value < 0:
        raise Bad(f"{name} {shown(value)} is not a finite number of 0 or more")


def _time(name: str, value: object, *, required: bool = False) -> None:
    if value is None:
        if required:
            raise Bad(f"{name} is missing")
        return
    if not isinstance(value, str) or len(value) > 40 or not _ISO_START.match(value):
        raise Bad(f"{name} {shown(value)} is not an ISO 8601 time")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise Bad(f"{name} {shown(value)} is not an ISO 8601 time") from None


def _pattern(name: str, value: object, pattern: re.Pattern[str], what: str) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise Bad(f"{name} {shown(value)} is not {what}")


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise Bad(f"{name} {shown(value)} is not one of {', '.join(allowed)}")


def _json(name: str, value: object, limits: MergeLimits) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise Bad(f"{name} is {type(value).__name__}, not JSON text")
    try:
        checked_object(value, max_bytes=limits.max_json_bytes, max_depth=limits.max_json_depth)
    except JsonProblem as problem:
        raise Bad(f"{name}: {problem}") from None


# -- the checks of rows -------------------------------------------------------------------

Row = dict[str, Any]


def check_device(row: Row, limits: MergeLimits) -> None:
    _pattern("eui64", row["eui64"], _EUI64, "an EUI-64 (00:12:4B:...)")
    if row["eui64"] is None:
        raise Bad("eui64 is missing")
    _integer("manufacturer_code", row["manufacturer_code"], U16)
    _text("model", row["model"], limits.max_short_text)
    _integer("hardware_version", row["hardware_version"], U16)
    _text("serial_number", row["serial_number"], limits.max_short_text)
    _json("identity", row["identity"], limits)
    _time("first_seen", row["first_seen"], required=True)
    _time("last_seen", row["last_seen"], required=True)


def check_image(row: Row, limits: MergeLimits) -> None:
    if row["sha256"] is None:
        raise Bad("sha256 is missing")
    _pattern("sha256", row["sha256"], _SHA256, "a SHA-256 in hex")
    _integer("size", row["size"], BIG, required=True)
    short = limits.max_short_text
    for name in ("file_name", "body_form", "header_string", "signer", "signature_status"):
        _text(name, row[name], short)
    for name in ("manufacturer_code", "image_type", "stack_version", "hardware_min",
                 "hardware_max"):  # fmt: skip
        _integer(name, row[name], U16)
    _integer("file_version", row["file_version"], U32)
    _pattern("destination_eui64", row["destination_eui64"], _EUI64, "an EUI-64")
    _pattern("manufacturer_image_sha256", row["manufacturer_image_sha256"], _SHA256, "a SHA-256")
    _json("details", row["details"], limits)
    _time("first_seen", row["first_seen"], required=True)


MODES = ("local", "ota", "campaign")
FINAL_STATES = ("running", "success", "failed", "cancelled", "interrupted")
_SESSION_SHORT = ("campaign_id", "port_url", "driver", "host", "operator", "site_ref",
                  "failure_stage", "failure_class", "failure_code", "last_stage",
                  "tool_version", "platform", "owner_id")  # fmt: skip


def check_session(row: Row, limits: MergeLimits) -> None:
    _uuid("id", row["id"])
    _choice("mode", row["mode"], MODES)
    _choice("final_state", row["final_state"], FINAL_STATES)
    _pattern("device_eui64", row["device_eui64"], _EUI64, "an EUI-64")
    _pattern("image_sha256", row["image_sha256"], _SHA256, "a SHA-256")
    for name in _SESSION_SHORT:
        _text(name, row[name], limits.max_short_text)
    _text("failure_message", row["failure_message"], limits.max_text)
    _integer("baud", row["baud"], (1, 100_000_000))
    _integer("version_before", row["version_before"], U32)
    _integer("version_after", row["version_after"], U32)
    _integer("retries", row["retries"], (0, 1 << 31), required=True)
    for name in ("resumed_from", "last_offset", "image_size"):
        _integer(name, row[name], BIG)
    _real("throughput_bps", row["throughput_bps"])
    _time("started_at", row["started_at"], required=True)
    _time("ended_at", row["ended_at"])
    _json("details", row["details"], limits)


def check_event(row: Row, limits: MergeLimits) -> None:
    _integer("seq", row["seq"], (0, 1 << 40), required=True)
    _time("at", row["at"], required=True)
    _text("kind", row["kind"], 64, required=True)
    if not row["kind"]:
        raise Bad("kind is empty")
    _json("data", row["data"], limits)


def check_frame(row: Row, limits: MergeLimits) -> None:
    _integer("seq", row["seq"], (0, 1 << 40), required=True)
    _real("t_s", row["t_s"])
    if row["t_s"] is None:
        raise Bad("t_s is missing")
    _choice("direction", row["direction"], ("tx", "rx"))
    data = row["data"]
    if not isinstance(data, bytes):
        raise Bad(f"data is {type(data).__name__}, not bytes")
    if len(data) > limits.max_frame_bytes:
        raise Bad(f"data is {len(data):,} bytes (limit {limits.max_frame_bytes:,})")


def check_note(row: Row, limits: MergeLimits) -> None:
    _uuid("id", row["id"])
    _time("at", row["at"], required=True)
    _text("author", row["author"], limits.max_short_text)
    _text("text", row["text"], limits.max_text, required=True)


# -- reading the source ---------------------------------------------------------------------


def _columns_of(conn: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in conn.execute(f'PRAGMA main.table_info("{table}")')]


def _check_schema(conn: sqlite3.Connection, wanted: dict[str, list[str]], label: str) -> None:
    """Each table we read is a plain table holding every column we copy."""
    kinds = {
        str(name): (str(kind), str(sql or ""))
        for name, kind, sql in conn.execute("SELECT name, type, sql FROM main.sqlite_master")
    }
    for table, columns in wanted.items():
        kind, sql = kinds.get(table, ("", ""))
        if kind != "table":
            what = f"a {kind}" if kind else "missing"
            raise MergeSourceRefused(
                f"{label} is not a triage log Bridge Lab can merge: its `{table}` is {what}.",
                details={"table": table, "type": kind},
            )
        if sql.lstrip().upper().startswith("CREATE VIRTUAL"):
            raise MergeSourceRefused(
                f"{label} is not a triage log Bridge Lab can merge: its `{table}` is a "
                "virtual table.",
                details={"table": table},
            )
        info = {
            str(row[1]): int(row[6]) for row in conn.execute(f'PRAGMA main.table_xinfo("{table}")')
        }
        missing = [c for c in columns if c not in info]
        computed = [c for c in columns if info.get(c, 0) in (2, 3)]
        if missing or computed:
            problem = "lacks" if missing else "computes"
            raise MergeSourceRefused(
                f"{label} is not a triage log Bridge Lab can merge: its `{table}` {problem} "
                f"the column(s) {', '.join(missing or computed)}.",
                details={"table": table, "missing": missing, "computed": computed},
            )


@contextmanager
def _source_connection(
    path: Path, deadline: float, limits: MergeLimits
) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the source that cannot run long or read huge values."""
    with tempfile.TemporaryDirectory(prefix="bridgelab-merge-") as folder:
        if _wal_pending(path):
            # Reading through a WAL needs a writable -shm beside it: read a private copy,
            # so that nothing is ever created or changed beside the source.
            copy = Path(folder) / "source.db"
            shutil.copyfile(path, copy)
            shutil.copyfile(path.with_name(path.name + "-wal"), copy.with_name("source.db-wal"))
            uri = copy.absolute().as_uri() + "?mode=ro"
        else:
            uri = path.absolute().as_uri() + "?mode=ro&immutable=1"
        conn = sqlite3.connect(uri, uri=True, timeout=0, check_same_thread=False)
        # Text that is not UTF-8 must reach the checks (and be refused there), not stop
        # the whole read with a decoding error.
        conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
        try:
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.max_value_bytes)
            conn.execute("PRAGMA trusted_schema = OFF")
            conn.execute("PRAGMA query_only = ON")
            conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
            yield conn
        finally:
            conn.close()


CHECKS: dict[str, Callable[[Row, MergeLimits], None]] = {
    "devices": check_device,
    "images": check_image,
    "sessions": check_session,
    "events": check_event,
    "frames": check_frame,
    "notes": check_note,
}


@dataclass
class Staged:
    """The staging file (our schema, checked rows only) and what was refused."""

    path: Path
    refusals: Refusals


class _Stager:
    def __init__(
        self,
        source: sqlite3.Connection,
        staging: sqlite3.Connection,
        columns: dict[str, list[str]],
        limits: MergeLimits,
        deadline: float,
        label: str,
    ) -> None:
        self.source = source
        self.staging = staging
        self.columns = columns
        self.limits = limits
        self.deadline = deadline
        self.label = label
        self.refusals = Refusals()
        self.bad_sessions: dict[str, str] = {}
        self.devices: set[str] = set()
        self.images: set[str] = set()
        self.sessions: set[str] = set()
        self.bad_devices: dict[str, str] = {}
        self.bad_images: dict[str, str] = {}
        self._inserts: dict[str, str] = {}

    def _check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise MergeTimedOut(
                f"Reading {self.label} took longer than {self.limits.time_limit_s:.0f} s."
            )

    def rows(self, table: str) -> Iterator[Row]:
        names = self.columns[table]
        select = ", ".join(f'"{c}"' for c in names)
        cursor = self.source.execute(f'SELECT {select} FROM main."{table}"')
        for count, values in enumerate(cursor):
            if count % 2000 == 0:
                self._check_time()
            yield dict(zip(names, values, strict=True))

    def check(self, table: str, row: Row) -> None:
        """The row's checks, after making sure all its text is UTF-8."""
        for name, value in row.items():
            if isinstance(value, str) and not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise Bad(f"{name} holds bytes that are not UTF-8 text") from None
        CHECKS[table](row, self.limits)

    def insert(self, table: str, row: Row) -> bool:
        sql = self._inserts.get(table)
        if sql is None:
            names = self.columns[table]
            marks = ", ".join("?" * len(names))
            sql = self._inserts[table] = (
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
            )
        try:
            self.staging.execute(sql, tuple(row.values()))
        except sqlite3.IntegrityError:
            return False
        return True

    def described(self, table: str, key: str, good: set[str], bad: dict[str, str]) -> None:
        for row in self.rows(table):
            ident = row[key]
            try:
                self.check(table, row)
            except Bad as reason:
                name = ident if isinstance(ident, str) and len(ident) <= 80 else shown(ident)
                bad[str(ident)] = str(reason)
                self.refusals.add(table[:-1], name, str(reason))
                continue
            if not self.insert(table, row):
                bad[ident] = "it appears twice"
                good.discard(ident)
                self.refusals.add(table[:-1], ident, "it appears twice")
                continue
            good.add(ident)

    def sessions_pass(self) -> None:
        for row in self.rows("sessions"):
            ident = row["id"]
            try:
                self.check("sessions", row)
                device, image = row["device_eui64"], row["image_sha256"]
                if device is not None and device not in self.devices:
                    why = self.bad_devices.get(device)
                    raise Bad(
                        f"its device {device} was refused ({why})"
                        if why
                        else f"it names device {device}, which the source does not hold"
                    )
                if image is not None and image not in self.images:
                    why = self.bad_images.get(image)
                    raise Bad(
                        f"its image {image[:12]}... was refused ({why})"
                        if why
                        else f"it names image {image[:12]}..., which the source does not hold"
                    )
            except Bad as reason:
                self._refuse_session(ident, str(reason))
                continue
            if ident in self.bad_sessions:
                continue
            if not self.insert("sessions", row):
                self._refuse_session(ident, "its id appears twice")
                continue
            self.sessions.add(ident)

    def _refuse_session(self, ident: object, reason: str) -> None:
        key = ident if canonical_uuid(ident) else shown(ident)
        assert isinstance(key, str)
        if key in self.bad_sessions:
            return
        self.bad_sessions[key] = reason
        self.sessions.discard(key)
        self.refusals.add("session", key, reason)

    def story(self, table: str) -> None:
        """Events, frames and notes: a bad one refuses its whole session."""
        orphans = 0
        what = table[:-1]
        for row in self.rows(table):
            owner = row["session_id"]
            if owner in self.bad_sessions:
                continue
            if owner not in self.sessions:
                orphans += 1
                continue
            label = f"note {row['id']}" if table == "notes" else f"{what} {shown(row['seq'])}"
            try:
                self.check(table, row)
            except Bad as reason:
                self._refuse_session(owner, f"{label}: {reason}")
                continue
            if not self.insert(table, row):
                self._refuse_session(owner, f"{label} appears twice")
        if orphans:
            self.refusals.counts[f"{what} without a session"] = orphans

    def drop_refused(self) -> None:
        bad = [key for key in self.bad_sessions if canonical_uuid(key)]
        for start in range(0, len(bad), 500):
            chunk = bad[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for table in ("events", "frames", "notes"):
                self.staging.execute(f"DELETE FROM {table} WHERE session_id IN ({marks})", chunk)
            self.staging.execute(f"DELETE FROM sessions WHERE id IN ({marks})", chunk)


def _count_rows(conn: sqlite3.Connection, limits: MergeLimits, label: str) -> int:
    total = 0
    for table in MERGE_TABLES:
        total += int(conn.execute(f'SELECT count(*) FROM main."{table}"').fetchone()[0])
        if total > limits.max_rows:
            raise MergeTooLarge(
                f"{label} holds more than {limits.max_rows:,} rows, the most one merge takes.",
                details={"max_rows": limits.max_rows},
            )
    return total


@contextmanager
def staged_source(path: Path, limits: MergeLimits, label: str) -> Iterator[Staged]:
    """Check `path` row by row into a staging file of our own; yield it with the refusals.

    The columns read are those of our schema (the staging file's). Raises
    `MergeSourceRefused`, `MergeTooLarge`, `MergeTimedOut`, `DbCorrupt` (the file cannot
    be read); the staging file is removed afterwards.
    """
    deadline = time.monotonic() + limits.time_limit_s
    with tempfile.TemporaryDirectory(prefix="bridgelab-staging-") as folder:
        staging_path = Path(folder) / "staging.db"
        try:
            with (
                _source_connection(path, deadline, limits) as source,
                closing(sqlite3.connect(staging_path, isolation_level=None)) as staging,
            ):
                staging.execute("PRAGMA journal_mode = OFF")
                staging.execute("PRAGMA synchronous = OFF")
                staging.execute("BEGIN")
                run_script_plain(staging)
                columns = {table: _columns_of(staging, table) for table in MERGE_TABLES}
                _check_schema(source, columns, label)
                _count_rows(source, limits, label)
                problems = [row[0] for row in source.execute("PRAGMA quick_check(5)")]
                if problems != ["ok"]:
                    raise translate_sqlite_error(
                        path, sqlite3.DatabaseError(f"malformed: {'; '.join(problems)}")
                    )
                stager = _Stager(source, staging, columns, limits, deadline, label)
                stager.described("devices", "eui64", stager.devices, stager.bad_devices)
                stager.described("images", "sha256", stager.images, stager.bad_images)
                stager.sessions_pass()
                for table in ("events", "frames", "notes"):
                    stager.story(table)
                stager.drop_refused()
                staging.execute("COMMIT")
        except sqlite3.DatabaseError as error:  # OperationalError, DataError, ...
            if "interrupted" in str(error).lower():
                raise MergeTimedOut(
                    f"Reading {label} took longer than {limits.time_limit_s:.0f} s."
                ) from error
            if "too big" in str(error).lower():
                raise MergeSourceRefused(
                    f"{label} holds a value over {limits.max_value_bytes:,} bytes.",
                ) from error
            raise translate_sqlite_error(path, error) from error
        except UnicodeDecodeError as error:  # SQLite's complaint quoting damaged bytes
            raise DbCorrupt(f"{label} is damaged (garbled schema or pages).") from error
        except RecursionError as error:  # a schema nested beyond what SQLite parses
            raise MergeSourceRefused(f"{label} has a schema too deeply nested to read.") from error
        yield Staged(staging_path, stager.refusals)


def run_script_plain(conn: sqlite3.Connection) -> None:
    """Our schema's tables in the staging file (foreign keys are off there)."""
    from sqlite_utils import Database

    run_script(Database(conn), V1_SQL)
