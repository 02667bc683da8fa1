"""The triage store: every update attempt as one structured record, on SQLite.

Import from here: `TriageStore` (open, write, read), the records (`SessionStart`,
`DeviceInfo`, `ImageInfo`, `SessionFilter`, ...), the taxonomy (`FailureClass`, `Stage`,
`FinalState`, `Failure`), `default_db_path()` and the error tree (`StoreError`, ...).
"""

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
