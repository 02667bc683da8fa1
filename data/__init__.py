"""The triage store: every update attempt as one structured record, on SQLite.

Import from here: `TriageStore` (open, write, read), the records (`SessionStart`,
`DeviceInfo`, `ImageInfo`, `SessionFilter`, ...), the taxonomy (`FailureClass`, `Stage`,
`FinalState`, `Failure`), `default_db_path()` and the error tree (`StoreError`, ...).

Names load on first use (PEP 562), so that `bridgelab --version` and the CLI's parser do
not pay for sqlite-utils; type checkers see the plain imports below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridgelab.data.errors import (
        BadFilter,
        DbCorrupt,
        DbNewerSchema,
        NotATriageDb,
        SessionAlreadyEnded,
        SessionAmbiguous,
        SessionNotFound,
        SessionNotOpen,
        StoreBusy,
        StoreClosed,
        StoreError,
        StoreNotFound,
        StoreWriteFailed,
    )
    from bridgelab.data.failures import Area, Failure, FailureClass, FinalState, Stage
    from bridgelab.data.location import StoreWarning, default_db_path
    from bridgelab.data.records import (
        DeviceInfo,
        EventRecord,
        FrameRecord,
        ImageInfo,
        Mode,
        NoteRecord,
        SessionFilter,
        SessionRecord,
        SessionStart,
    )
    from bridgelab.data.schema import SCHEMA_VERSION
    from bridgelab.data.stats import StatsReport, StatsRow
    from bridgelab.data.store import OpenReport, TriageStore

_LAZY: dict[str, str] = {
    "Area": "bridgelab.data.failures",
    "BadFilter": "bridgelab.data.errors",
    "DbCorrupt": "bridgelab.data.errors",
    "DbNewerSchema": "bridgelab.data.errors",
    "DeviceInfo": "bridgelab.data.records",
    "EventRecord": "bridgelab.data.records",
    "Failure": "bridgelab.data.failures",
    "FailureClass": "bridgelab.data.failures",
    "FinalState": "bridgelab.data.failures",
    "FrameRecord": "bridgelab.data.records",
    "ImageInfo": "bridgelab.data.records",
    "Mode": "bridgelab.data.records",
    "NotATriageDb": "bridgelab.data.errors",
    "NoteRecord": "bridgelab.data.records",
    "OpenReport": "bridgelab.data.store",
    "SCHEMA_VERSION": "bridgelab.data.schema",
    "SessionAlreadyEnded": "bridgelab.data.errors",
    "SessionAmbiguous": "bridgelab.data.errors",
    "SessionFilter": "bridgelab.data.records",
    "SessionNotFound": "bridgelab.data.errors",
    "SessionNotOpen": "bridgelab.data.errors",
    "SessionRecord": "bridgelab.data.records",
    "SessionStart": "bridgelab.data.records",
    "Stage": "bridgelab.data.failures",
    "StatsReport": "bridgelab.data.stats",
    "StatsRow": "bridgelab.data.stats",
    "StoreBusy": "bridgelab.data.errors",
    "StoreClosed": "bridgelab.data.errors",
    "StoreError": "bridgelab.data.errors",
    "StoreNotFound": "bridgelab.data.errors",
    "StoreWarning": "bridgelab.data.location",
    "StoreWriteFailed": "bridgelab.data.errors",
    "TriageStore": "bridgelab.data.store",
    "default_db_path": "bridgelab.data.location",
}

__all__ = [
    "SCHEMA_VERSION",
    "Area",
    "BadFilter",
    "DbCorrupt",
    "DbNewerSchema",
    "DeviceInfo",
    "EventRecord",
    "Failure",
    "FailureClass",
    "FinalState",
    "FrameRecord",
    "ImageInfo",
    "Mode",
    "NotATriageDb",
    "NoteRecord",
    "OpenReport",
    "SessionAlreadyEnded",
    "SessionAmbiguous",
    "SessionFilter",
    "SessionNotFound",
    "SessionNotOpen",
    "SessionRecord",
    "SessionStart",
    "Stage",
    "StatsReport",
    "StatsRow",
    "StoreBusy",
    "StoreClosed",
    "StoreError",
    "StoreNotFound",
    "StoreWarning",
    "StoreWriteFailed",
    "TriageStore",
    "default_db_path",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bridgelab.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
