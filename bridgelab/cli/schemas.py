"""The `--json` shape of every command: one versioned schema each, written as data.

Every document a command prints with `--json` is an object whose first key is `schema`
(`"bridgelab.update/1"`: the command, then the version of its shape) and whose last is
`error` (null on success; `{"code", "message", "action"}` on failure). Between them come
the command's own keys, **the same keys on success and on failure**: a key whose value is
not known is null, never missing. Versions come as the integer and as the display string
(`version_after` and `version_after_text`); lists are JSON lists.

The schemas below are JSON Schema (the subset `tests/cli_schema.py` checks: type,
properties, required, additionalProperties, items, enum, const). `docs/cli-json.md`
describes them and says how to add a command. A change that removes or retypes a key
bumps the version; adding a key does not.
"""

from __future__ import annotations

from typing import Any

from bridgelab.drivers.versions import NO_VERSION, display_version
from bridgelab.errors import BridgeLabError

Schema = dict[str, Any]


def _t(*types: str) -> Schema:
    return {"type": list(types) if len(types) > 1 else types[0]}


STR, INT, NUM, BOOL, OBJ = _t("string"), _t("integer"), _t("number"), _t("boolean"), _t("object")
STR_N, INT_N, NUM_N = _t("string", "null"), _t("integer", "null"), _t("number", "null")
BOOL_N, OBJ_N = _t("boolean", "null"), _t("object", "null")


def list_of(items: Schema, *, nullable: bool = True) -> Schema:
    return {"type": ["array", "null"] if nullable else "array", "items": items}


def record(properties: dict[str, Schema], *, nullable: bool = False, strict: bool = True) -> Schema:
    """An object with exactly these keys (`strict`), all required."""
    return {
        "type": ["object", "null"] if nullable else "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": not strict,
    }


def version_keys(*names: str) -> dict[str, Schema]:
    """`name` (the u32, or null) and `name_text` ("1.3.0", or null) for each name."""
    out: dict[str, Schema] = {}
    for name in names:
        out[name] = INT_N
        out[f"{name}_text"] = STR_N
    return out


def version_values(**versions: int | None) -> dict[str, Any]:
    """The values for `version_keys`: an empty slot (0xFFFFFFFF) or None is null in both."""
    out: dict[str, Any] = {}
    for name, value in versions.items():
        known = value is not None and value != NO_VERSION
        out[name] = value if known else None
        out[f"{name}_text"] = display_version(value) if known else None
    return out


ERROR = {
    "type": ["object", "null"],
    "properties": {"code": STR, "message": STR, "action": STR_N, "details": OBJ_N},
    "required": ["code", "message", "action", "details"],
}
REASON = record(
    {"code": STR, "severity": STR, "message": STR, "action": STR_N, "failure_class": STR_N}
)
MODE_VERDICT = record(
    {"allowed": BOOL, "reason": {**REASON, "type": ["object", "null"]}, "warnings": list_of(REASON)}
)
FINDING = record({"code": STR, "severity": STR, "message": STR, "action": STR})
IMAGE_SUMMARY = {
    "type": ["object", "null"],
    "properties": {"file_version": INT, "file_version_text": STR, "file_size": INT},
    "required": ["file_version", "file_version_text", "file_size", "signature"],
}
JOB_ROW = record(
    {
        "job": INT,
        "label": STR,
        "port": STR,
        "image": STR,
        "mode": STR,
        "state": STR,
        "attempts": INT,
        "result": STR_N,
        "failure_stage": STR_N,
        "failure_code": STR_N,
        "retryable": BOOL_N,
        "next_step": STR_N,
        **version_keys("version_before", "version_after", "image_version"),
        "duration_s": NUM,
        "throughput_bps": NUM_N,
        "session_ids": list_of(STR, nullable=False),
    },
    strict=False,
)
SESSION = {
    "type": "object",
    "properties": {"id": STR, **version_keys("version_before", "version_after", "image_version")},
    "required": ["id", "version_before", "version_before_text", "version_after_text"],
}


def _command(properties: dict[str, Schema]) -> Schema:
    """A command's document: `schema`, its keys (each may be null), then `error`."""
    return record({"schema": STR, **properties, "error": ERROR})


# command name -> (version, schema). The name is what `json_command` is set to in the
# command's parser defaults and what `schema` says ("bridgelab.<name>/<version>").
SCHEMAS: dict[str, tuple[int, Schema]] = {
    "ports": (
        1,
        # `ports` lists serial ports; `ports --labgrid` the coordinator's places instead.
        _command({"ports": list_of(OBJ), "coordinator": STR_N, "places": list_of(OBJ)}),
    ),
    "info": (
        1,
        _command(
            {
                "port": STR_N,
                "driver": STR_N,
                "reached_through": STR_N,
                "capabilities": list_of(STR),
                "not_available": list_of(STR),
                "model": STR_N,
                "protocol_version": INT_N,
                "identity": OBJ_N,
                **version_keys("firmware_version", "inactive_firmware_version"),
                "on_han": BOOL_N,
                "join": OBJ_N,
                "radio": record(
                    {
                        "channel": INT,
                        "pan_id": INT,
                        "lqi": INT,
                        "rssi_dbm": INT,
                        "ch_eui64": STR,
                    },
                    nullable=True,
                ),
                "p2p": OBJ_N,
                "update": OBJ_N,  # the bridge's own update state (trial, rolls back to)
                "diagnosis": list_of(OBJ),
                "bootloader": OBJ_N,  # only a device where just the bootloader answers
                "next_step": STR_N,
            }
        ),
    ),
    "update": (
        1,
        _command(
            {
                "ok": BOOL_N,
                "result": STR_N,
                "session_id": STR_N,
                "mode": STR_N,
                **version_keys("version_before", "version_after", "image_version"),
                "bytes": INT_N,
                "duration_s": NUM_N,
                "throughput_bps": NUM_N,
                "line_rate_bps": NUM_N,
                "line_efficiency": NUM_N,
                "retries": INT_N,
                "resumed_from": INT_N,
                "rejoined": BOOL_N,
                "join_state": STR_N,
                "predicted_ota_duration_s": NUM_N,
                "simulated_duration_s": NUM_N,
                "failure_stage": STR_N,
                "failure_class": STR_N,
                "next_step": STR_N,
                "notices": list_of(STR),
                "stage_s": OBJ_N,  # seconds per stage: identify, validate, transfer, ...
            }
        ),
    ),
    "campaign": (
        1,
        _command(
            {
                "campaign": STR_N,
                "campaign_id": STR_N,
                "started": STR_N,
                "duration_s": NUM_N,
                "lanes": INT_N,
                "order": list_of(STR),
                "passed": INT_N,
                "failed": INT_N,
                "jobs": list_of(JOB_ROW),
                "reports": list_of(STR),
            }
        ),
    ),
    "image-inspect": (1, _command({"file": STR_N, "image": IMAGE_SUMMARY})),
    "image-verify": (
        1,
        _command(
            {
                "ok": BOOL_N,
                "file": STR_N,
                "image": IMAGE_SUMMARY,
                "compatibility": OBJ_N,
                "findings": list_of(FINDING),
                "modes": record({"local": MODE_VERDICT, "ota": MODE_VERDICT}, nullable=True),
            }
        ),
    ),
    "image-build": (
        1,
        _command(
            {
                "output": STR_N,
                "file_size": INT_N,
                "body_form": STR_N,
                "manufacturer_image_size": INT_N,
                "manufacturer_image_sha256": STR_N,
                "signer_key_id": STR_N,
            }
        ),
    ),
    "install-code": (
        1,
        _command(
            {
                "install_code": STR_N,
                "length": INT_N,
                "total_length": INT_N,
                "crc": STR_N,
                "crc_ok": BOOL_N,
                "link_key": STR_N,
            }
        ),
    ),
    "keys-generate": (
        1,
        _command(
            {
                "manufacturer_code": INT_N,
                "key_id": STR_N,
                "private_key_path": STR_N,
                "public_key_path": STR_N,
            }
        ),
    ),
    "keys-id": (1, _command({"file": STR_N, "key_id": STR_N})),
    "log-list": (1, _command({"total": INT_N, "sessions": list_of(SESSION)})),
    "log-show": (
        1,
        _command(
            {
                "session": {**SESSION, "type": ["object", "null"]},
                "device": OBJ_N,
                "image": OBJ_N,
                "events": list_of(OBJ),
                "notes": list_of(OBJ),
                "frames": list_of(OBJ),
            }
        ),
    ),
    "log-export": (
        1,
        _command({"file": STR_N, "format": STR_N, "sessions": INT_N, "events": INT_N}),
    ),
    "log-merge": (1, _command({"merged": list_of(OBJ)})),
    "log-bundle": (1, _command({"path": STR_N, "sessions": list_of(STR), "files": list_of(STR)})),
    "log-stats": (1, _command({"total": OBJ_N, "groups": OBJ_N})),
    "log-note": (1, _command({"note": STR_N, "session": STR_N})),
}


# `recover` ends as an update does (an UpdateResult): the same keys, its own schema id.
SCHEMAS["recover"] = (1, SCHEMAS["update"][1])


def schema_id(command: str) -> str:
    version, _ = SCHEMAS[command]
    return f"bridgelab.{command}/{version}"


def keys(command: str) -> list[str]:
    """The top-level keys of `command`'s document, in order."""
    return list(SCHEMAS[command][1]["properties"])


def error_object(error: BridgeLabError) -> dict[str, Any]:
    """What happened and what to do, each said once (the message without the action)."""
    return {
        "code": error.code,
        "message": error.message,
        "action": error.action or None,
        "details": dict(error.details) or None,  # e.g. how long a locked log was waited for
    }


def document(
    command: str, payload: dict[str, Any], error: BridgeLabError | dict[str, Any] | None = None
) -> dict[str, Any]:
    """`payload` as `command`'s document: every key of its schema, in order, null where
    the payload has none. A payload key the schema does not name is a bug: raises."""
    names = keys(command)
    unknown = set(payload) - set(names)
    if unknown:
        raise ValueError(f"{command}: keys not in its schema: {sorted(unknown)}")
    out = {name: payload.get(name) for name in names}
    out["schema"] = schema_id(command)
    if isinstance(error, BridgeLabError):
        out["error"] = error_object(error)
    elif error is not None:  # an engine's result: the same four keys as any error
        out["error"] = {"action": None, "details": None, **error}
    return out


def failure_document(command: str, error: BridgeLabError) -> dict[str, Any]:
    """The document of a command that failed before it had anything to report."""
    return document(command, {}, error)
