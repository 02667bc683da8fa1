"""The durable writes: what the writer thread runs, each inside one committed transaction.

Every function here takes the `WriterState` (the writer thread's connection) and is only
ever called through `Writer.call`, so it may assume it is inside a transaction.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlite_utils.db import NotFoundError

from bridgelab.data.clock import iso_utc
from bridgelab.data.errors import SessionAlreadyEnded, SessionNotFound
from bridgelab.data.failures import Failure, FailureClass, FinalState
from bridgelab.data.owners import owner_is_alive
from bridgelab.data.records import DeviceInfo, ImageInfo, JsonDict, SessionStart, eui64_text
from bridgelab.data.writer import WriterState

# Columns `update_session(**fields)` may set; the rest belong to begin/end or the store.
UPDATABLE_FIELDS = frozenset(
    {"device_eui64", "image_sha256", "campaign_id", "port_url", "driver", "baud", "host",
     "operator", "site_ref", "version_before", "version_after", "retries", "resumed_from",
     "image_size", "throughput_bps", "last_stage", "details"}
)  # fmt: skip
# Columns `end_session(**fields)` may also set.
ENDING_FIELDS = UPDATABLE_FIELDS | {"last_offset"}
# Merge `details` into the stored JSON rather than replacing it.
_DETAILS_PATCH = {"details": "json_patch(coalesce(details, '{}'), ?)"}


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def record_device(state: WriterState, info: DeviceInfo, at: str) -> str:
    """Insert or refresh a device (known fields kept when the new report lacks them)."""
    eui64 = eui64_text(info.eui64)
    table = state.db.table("devices")
    fields = _without_none(asdict(info))
    fields["eui64"] = eui64
    table.insert({**fields, "first_seen": at, "last_seen": at}, pk="eui64", ignore=True)
    fields.pop("eui64")
    table.update(eui64, {**fields, "last_seen": at})
    return eui64


def record_image(state: WriterState, info: ImageInfo, at: str) -> str:
    """Insert an image, or fill in what an earlier record of the same bytes lacked."""
    fields = _without_none(asdict(info))
    if info.destination_eui64 is not None:
        fields["destination_eui64"] = eui64_text(info.destination_eui64)
    table = state.db.table("images")
    table.insert({**fields, "first_seen": at}, pk="sha256", ignore=True)
    table.update(info.sha256, {k: v for k, v in fields.items() if k != "sha256"})
    return info.sha256


def begin_session(
    state: WriterState,
    session_id: str,
    info: SessionStart,
    defaults: dict[str, str],
    owner_id: str,
    t: float,
) -> None:
    at = iso_utc(t)
    device = record_device(state, info.device, at) if info.device else None
    image = record_image(state, info.image, at) if info.image else None
    row = {
        "id": session_id,
        "mode": str(info.mode),
        "device_eui64": device,
        "image_sha256": image,
        "campaign_id": info.campaign_id,
        "port_url": info.port_url,
        "driver": info.driver,
        "baud": info.baud,
        "host": info.host or defaults["host"],
        "operator": info.operator or defaults["operator"],
        "site_ref": info.site_ref,
        "version_before": info.version_before,
        "started_at": at,
        "final_state": FinalState.RUNNING.value,
        "retries": info.retries,
        "resumed_from": info.resumed_from,
        "image_size": info.image_size or (info.image.size if info.image else None),
        "tool_version": defaults["tool_version"],
        "platform": defaults["platform"],
        "owner_id": owner_id,
        "details": info.details,
    }
    state.db.table("sessions").insert(row, pk="id")
    story = {"mode": row["mode"], "port_url": info.port_url, "resumed_from": info.resumed_from}
    state.insert_event(session_id, "session-started", _without_none(story), t)


def update_session(state: WriterState, session_id: str, fields: dict[str, Any]) -> None:
    """Set session columns; `details` is merged into the stored JSON object."""
    values = dict(fields)
    if values.get("device_eui64") is not None:
        values["device_eui64"] = eui64_text(values["device_eui64"])
    try:
        state.db.table("sessions").update(session_id, values, conversions=_DETAILS_PATCH)
    except NotFoundError:
        raise SessionNotFound(f"No session {session_id} in the triage log.") from None


def end_session(
    state: WriterState,
    session_id: str,
    final_state: FinalState,
    failure: Failure | None,
    fields: dict[str, Any],
    t: float,
) -> None:
    row = state.db.execute("SELECT final_state FROM sessions WHERE id = ?", [session_id]).fetchone()
    if row is None:
        raise SessionNotFound(f"No session {session_id} in the triage log.")
    if row[0] != FinalState.RUNNING.value:
        raise SessionAlreadyEnded(f"Session {session_id} has already ended ({row[0]}).")
    values = dict(fields)
    transfer = state.transfers.get(session_id)
    if transfer is not None:
        values.setdefault("last_offset", transfer.last_offset)
        values.setdefault("throughput_bps", transfer.bytes_per_second())
    values["ended_at"] = iso_utc(t)
    values["final_state"] = final_state.value
    if failure is not None:
        values.update(
            failure_stage=failure.stage.value,
            failure_class=failure.cls.value,
            failure_code=failure.code or None,
            failure_message=failure.message or None,
        )
    update_session(state, session_id, values)
    story: JsonDict = {"final_state": final_state.value}
    if failure is not None:
        story.update(stage=failure.stage.value, failure_class=failure.cls.value)
        story.update(_without_none({"code": failure.code or None}))
    state.insert_event(session_id, "session-ended", story, t)
    state.forget(session_id)


def add_note(
    state: WriterState, note_id: str, session_id: str, text: str, author: str | None
) -> None:
    if state.db.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone() is None:
        raise SessionNotFound(f"No session {session_id} in the triage log.")
    state.db.table("notes").insert(
        {"id": note_id, "session_id": session_id, "at": iso_utc(), "author": author, "text": text},
        pk="id",
    )


def _interruption_message(stage: str | None, offset: int | None, size: int | None) -> str:
    where = f" in the {stage} stage" if stage else ""
    if offset is not None and size:
        where += f" at byte {offset:,} of {size:,}"
    elif offset is not None:
        where += f" at byte {offset:,}"
    return f"Bridge Lab stopped{where} before the session ended."


_RUNNING_SQL = (
    "SELECT id, owner_id, last_stage, last_offset, image_size, started_at "
    "FROM sessions WHERE final_state = 'running'"
)


def _mark_interrupted(state: WriterState, row: dict[str, Any], code: str, why: str) -> None:
    # The end time is the last sign of life: the session's last event.
    last_at = state.db.execute(
        "SELECT max(at) FROM events WHERE session_id = ?", [row["id"]]
    ).fetchone()[0]
    message = _interruption_message(row["last_stage"], row["last_offset"], row["image_size"])
    state.db.table("sessions").update(
        row["id"],
        {
            "final_state": FinalState.INTERRUPTED.value,
            "ended_at": last_at or row["started_at"],
            "failure_stage": row["last_stage"],
            "failure_class": FailureClass.INTERRUPTED.value,
            "failure_code": code,
            "failure_message": f"{message} {why}",
        },
    )
    state.forget(row["id"])


def recover_interrupted(state: WriterState, db_path: Path) -> list[str]:
    """Mark `interrupted` the running sessions whose writer is gone; returns their ids.

    What is known is kept: the stage last entered becomes the failure stage, the last
    progress offset stays, and the end time is the last event's time. No event is added,
    so that a later merge of the same session from its own laptop cannot collide with it.
    """
    alive: dict[str | None, bool] = {}
    recovered: list[str] = []
    for row in list(state.db.query(_RUNNING_SQL)):
        owner = row["owner_id"]
        if owner not in alive:
            alive[owner] = owner_is_alive(db_path, owner)
        if not alive[owner]:
            why = "The record was closed when the log was next opened."
            _mark_interrupted(state, row, "writer-stopped", why)
            recovered.append(row["id"])
    return recovered


def interrupt_own_sessions(state: WriterState, owner_id: str) -> list[str]:
    """At close: this store's sessions nobody ended can no longer end; mark them."""
    closed: list[str] = []
    for row in list(state.db.query(_RUNNING_SQL + " AND owner_id = ?", [owner_id])):
        why = "The triage log was closed while the session was still running."
        _mark_interrupted(state, row, "store-closed", why)
        closed.append(row["id"])
    return closed
