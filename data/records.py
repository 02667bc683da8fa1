"""The records the store takes in and hands out: small frozen dataclasses.

Writers describe a session with `SessionStart`, a device with `DeviceInfo` and an image
with `ImageInfo`; readers get `SessionRecord`, `EventRecord`, `FrameRecord` and
`NoteRecord` back, each with `to_dict()` for JSON output. `SessionFilter` selects sessions
for listing, export, bundles and stats.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from bridgelab.data.json_columns import readable_object
from bridgelab.eui64 import format_eui64, parse_eui64

JsonDict = dict[str, Any]


class Mode(StrEnum):
    """How the update reached the device."""

    LOCAL = "local"
    OTA = "ota"
    CAMPAIGN = "campaign"


def eui64_text(value: int | str) -> str:
    """Any accepted EUI-64 spelling as the stored form `00:12:4B:00:01:02:03:04`."""
    return format_eui64(value if isinstance(value, int) else parse_eui64(value))


def json_text(value: JsonDict | None) -> str | None:
    """A dict as compact JSON text for a JSON column (None stays NULL)."""
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class DeviceInfo:
    """A bridge as identified on its link; `identity` holds anything else it reported."""

    eui64: int | str
    manufacturer_code: int | None = None
    model: str | None = None
    hardware_version: int | None = None
    serial_number: str | None = None
    identity: JsonDict | None = None


@dataclass(frozen=True)
class ImageInfo:
    """An OTA/GBCS image as the firmware layer parsed and checked it."""

    sha256: str
    size: int
    file_name: str | None = None
    body_form: str | None = None
    manufacturer_code: int | None = None
    image_type: int | None = None
    file_version: int | None = None
    stack_version: int | None = None
    header_string: str | None = None
    hardware_min: int | None = None
    hardware_max: int | None = None
    destination_eui64: int | str | None = None
    manufacturer_image_sha256: str | None = None
    signer: str | None = None
    signature_status: str | None = None
    details: JsonDict | None = None


@dataclass(frozen=True)
class SessionStart:
    """What is known when an update attempt begins (the rest arrives by update_session).

    `host`, `operator`, `tool_version` and `platform` are filled in by the store when left
    None. `device` and `image` are recorded (and linked) with the session when given.
    """

    mode: Mode | str
    port_url: str | None = None
    driver: str | None = None
    baud: int | None = None
    device: DeviceInfo | None = None
    image: ImageInfo | None = None
    campaign_id: str | None = None
    site_ref: str | None = None
    operator: str | None = None
    host: str | None = None
    version_before: int | None = None
    image_size: int | None = None
    resumed_from: int | None = None
    retries: int = 0
    details: JsonDict | None = None


@dataclass(frozen=True)
class SessionRecord:
    """One session row, plus the device model and target version joined in for display."""

    id: str
    mode: str
    device_eui64: str | None
    image_sha256: str | None
    campaign_id: str | None
    port_url: str | None
    driver: str | None
    baud: int | None
    host: str | None
    operator: str | None
    site_ref: str | None
    version_before: int | None
    version_after: int | None
    started_at: str
    ended_at: str | None
    final_state: str
    failure_stage: str | None
    failure_class: str | None
    failure_code: str | None
    failure_message: str | None
    last_stage: str | None
    retries: int
    resumed_from: int | None
    last_offset: int | None
    image_size: int | None
    throughput_bps: float | None
    tool_version: str | None
    platform: str | None
    owner_id: str | None
    details: JsonDict = field(default_factory=dict)
    device_model: str | None = None
    hardware_version: int | None = None
    image_version: int | None = None
    # What could not be read as stored (a log merged by an older Bridge Lab may hold bad
    # JSON or wrong types): the record shows the rest, and renderers report these.
    problems: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SessionRecord:
        """A record from a `sessions` row; never raises for what the row holds."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in row.items() if k in known}
        problems: list[str] = []
        details, problem = readable_object(row.get("details"))
        if problem:
            problems.append(f"details {problem}")
        values["details"] = details
        for name, value in list(values.items()):
            if name in _INT_FIELDS and value is not None and type(value) is not int:
                problems.append(f"{name} {value!r:.40} is not an integer")
                values[name] = 0 if name == "retries" else None
            elif name in _REAL_FIELDS and value is not None and type(value) not in (int, float):
                problems.append(f"{name} {value!r:.40} is not a number")
                values[name] = None
            elif name in _TEXT_FIELDS and value is not None and not isinstance(value, str):
                problems.append(f"{name} holds {type(value).__name__}, not text")
                values[name] = repr(value)[:200]
        values.setdefault("retries", 0)
        if values.get("retries") is None:
            values["retries"] = 0
        for name in ("id", "mode", "started_at", "final_state"):
            if values.get(name) is None:
                values[name] = ""
        return cls(**values, problems=tuple(problems))

    def to_dict(self) -> JsonDict:
        """As JSON output shows it; `problems` only when there are some."""
        out = asdict(self)
        if not self.problems:
            del out["problems"]
        else:
            out["problems"] = list(self.problems)
        return out


_INT_FIELDS = frozenset(
    {"baud", "version_before", "version_after", "retries", "resumed_from", "last_offset",
     "image_size", "hardware_version", "image_version"}
)  # fmt: skip
_REAL_FIELDS = frozenset({"throughput_bps"})
_TEXT_FIELDS = frozenset(
    {"id", "mode", "device_eui64", "image_sha256", "campaign_id", "port_url", "driver",
     "host", "operator", "site_ref", "started_at", "ended_at", "final_state",
     "failure_stage", "failure_class", "failure_code", "failure_message", "last_stage",
     "tool_version", "platform", "owner_id", "device_model"}
)  # fmt: skip


@dataclass(frozen=True)
class EventRecord:
    session_id: str
    seq: int
    at: str
    kind: str
    data: JsonDict
    problem: str | None = None  # why `data` could not be read (then it is {})

    @classmethod
    def from_columns(cls, session_id: str, seq: Any, at: Any, kind: Any, data: Any) -> EventRecord:
        """An event from its stored columns; never raises for what they hold."""
        value, problem = readable_object(data)
        return cls(
            session_id,
            seq if type(seq) is int else -1,
            at if isinstance(at, str) else str(at),
            kind if isinstance(kind, str) else str(kind),
            value,
            f"data {problem}" if problem else None,
        )

    def to_dict(self) -> JsonDict:
        out = asdict(self)
        if self.problem is None:
            del out["problem"]
        return out


@dataclass(frozen=True)
class FrameRecord:
    """One frame of the raw traffic trace; `t_s` is seconds since the session began."""

    session_id: str
    seq: int
    t_s: float
    direction: str
    data: bytes

    def to_dict(self) -> JsonDict:
        out = asdict(self)
        out["data"] = self.data.hex()
        return out


@dataclass(frozen=True)
class NoteRecord:
    id: str
    session_id: str
    at: str
    author: str | None
    text: str

    def to_dict(self) -> JsonDict:
        return asdict(self)


@dataclass(frozen=True)
class SessionFilter:
    """Which sessions to select; every field left None selects all.

    `device` takes any EUI-64 spelling; `since`/`until` are stored-form times (see
    `clock.parse_when`), `since` inclusive and `until` exclusive, on `started_at`.
    `text` is a case-insensitive search in the session id, device EUI-64, port, site,
    operator, failure code and failure message (a scan: combine it with other filters on
    large logs).
    """

    device: str | None = None
    result: str | None = None
    failure_class: str | None = None
    since: str | None = None
    until: str | None = None
    mode: str | None = None
    site: str | None = None
    campaign: str | None = None
    image_version: int | None = None
    model: str | None = None
    text: str | None = None
