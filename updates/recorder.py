"""Writes an update session into the triage store, as the engine goes.

The engine calls this object directly (it needs the session id back) and only then tells
its other subscribers, so every stage change is committed before the next device command.
A store that fails mid-session (a full disk) must not leave a bridge half-updated: the
update carries on, and the failure becomes a warning the engineer sees.
"""

from __future__ import annotations

from typing import Any

from bridgelab.data.errors import StoreError
from bridgelab.data.failures import Failure, FinalState, Stage
from bridgelab.data.records import DeviceInfo, ImageInfo, SessionStart
from bridgelab.data.store import TriageStore


class SessionLog:
    def __init__(self, store: TriageStore | None) -> None:
        self.store = store
        self.session_id: str | None = None
        self.problem: StoreError | None = None

    @property
    def active(self) -> bool:
        return self.store is not None and self.session_id is not None and self.problem is None

    def begin(self, start: SessionStart) -> str | None:
        """Open the session; a store that cannot even do that stops the update (raises)."""
        if self.store is None:
            return None
        self.session_id = self.store.begin_session(start)
        return self.session_id

    def _guard(self, action: str, *args: Any, **kwargs: Any) -> None:
        if not self.active:
            return
        assert self.store is not None
        try:
            getattr(self.store, action)(*args, **kwargs)
        except StoreError as error:
            self.problem = error

    def device(self, info: DeviceInfo) -> None:
        self._guard("record_device", info, session_id=self.session_id)

    def image(self, info: ImageInfo) -> None:
        self._guard("record_image", info, session_id=self.session_id)

    def update(self, **fields: Any) -> None:
        self._guard("update_session", self.session_id, **fields)

    def stage(self, stage: Stage, data: dict[str, Any] | None = None) -> None:
        self._guard("enter_stage", self.session_id, stage, data)

    def event(self, kind: str, data: dict[str, Any], *, durable: bool = True) -> None:
        self._guard("log_event", self.session_id, kind, data, durable=durable)

    def progress(self, offset: int, total: int, **extra: Any) -> None:
        self._guard("log_progress", self.session_id, offset, total, **extra)

    def frame(self, direction: str, data: bytes, t: float) -> None:
        self._guard("log_frame", self.session_id, direction, data, t)

    def finish(self, state: FinalState, failure: Failure | None, **fields: Any) -> None:
        self._guard("end_session", self.session_id, state, failure, **fields)
