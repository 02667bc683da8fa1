"""Events the update engine emits; subscribers (CLI, GUI, triage log) receive them in order.

Subscribers are called synchronously on the engine's thread, before the engine's next
device command, so a recorder that commits each stage change makes the log exactly as
durable as the house rules ask. A GUI must hand events over to its own thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridgelab.data.failures import Stage


@dataclass(frozen=True)
class UpdateEvent:
    at: float  # time.monotonic()


@dataclass(frozen=True)
class SessionStarted(UpdateEvent):
    mode: str  # "local" or "ota"
    port_url: str
    image_path: str
    image_size: int


@dataclass(frozen=True)
class DeviceIdentified(UpdateEvent):
    eui64: int
    identity: dict[str, Any]
    join_state: str


@dataclass(frozen=True)
class StageStarted(UpdateEvent):
    stage: Stage
    detail: str = ""


@dataclass(frozen=True)
class StageFinished(UpdateEvent):
    stage: Stage
    ok: bool
    detail: str = ""
    duration_s: float = 0.0


@dataclass(frozen=True)
class Progress(UpdateEvent):
    """Transfer progress. Rates are payload bytes per second of wall time; for a
    simulated OTA, `simulated_s` and `predicted_s` are the radio's virtual seconds."""

    done: int
    total: int
    rate_bps: float
    eta_s: float | None
    line_efficiency: float | None  # payload rate over the line's 8N1 byte rate
    resumed_from: int = 0
    simulated_s: float | None = None
    predicted_s: float | None = None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


@dataclass(frozen=True)
class Retry(UpdateEvent):
    stage: Stage
    attempt: int
    reason: str
    resume_offset: int | None = None


@dataclass(frozen=True)
class Notice(UpdateEvent):
    level: str  # "info" or "warning"
    code: str
    message: str


@dataclass(frozen=True)
class SessionFinished(UpdateEvent):
    result: UpdateResult


@dataclass(frozen=True)
class UpdateResult:
    """What `bridgelab update --json` prints, and what the GUI's verdict shows."""

    result: str  # "success" or a FailureClass value
    session_id: str | None
    mode: str
    version_before: int | None
    version_after: int | None
    image_version: int | None
    bytes: int
    duration_s: float
    throughput_bps: float | None
    line_efficiency: float | None
    retries: int
    resumed_from: int | None
    predicted_ota_duration_s: float | None = None
    simulated_duration_s: float | None = None
    failure_stage: str | None = None
    error: dict[str, str | None] | None = None  # code, message (what happened), action
    rejoined: bool | None = None
    notices: tuple[str, ...] = field(default_factory=tuple)
    join_state: str | None = None  # the HAN join state last seen (JoinState label)
    line_rate_bps: float | None = None  # the line's payload rate, when known (8N1)
    # Seconds spent in each stage (identify, validate, transfer, verify, activate, confirm)
    stage_s: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result == "success"

    def to_dict(self) -> dict[str, Any]:
        """`bridgelab update --json` (schema `bridgelab.update/1`, docs/cli-json.md): the
        same keys whatever the outcome, null where a figure does not apply."""
        from bridgelab.drivers.versions import NO_VERSION, display_version

        def version(name: str, value: int | None) -> dict[str, Any]:
            known = value is not None and value != NO_VERSION
            return {
                name: value if known else None,
                f"{name}_text": display_version(value) if known else None,
            }

        return {
            "ok": self.ok,
            "result": self.result,
            "session_id": self.session_id,
            "mode": self.mode,
            **version("version_before", self.version_before),
            **version("version_after", self.version_after),
            **version("image_version", self.image_version),
            "bytes": self.bytes,
            "duration_s": round(self.duration_s, 3),
            "throughput_bps": None
            if self.throughput_bps is None
            else round(self.throughput_bps, 1),
            "line_rate_bps": self.line_rate_bps,
            "line_efficiency": None
            if self.line_efficiency is None
            else round(self.line_efficiency, 4),
            "retries": self.retries,
            "resumed_from": self.resumed_from,
            "rejoined": self.rejoined,
            "join_state": self.join_state,
            "predicted_ota_duration_s": self.predicted_ota_duration_s,
            "simulated_duration_s": self.simulated_duration_s,
            "failure_stage": self.failure_stage,
            "failure_class": None if self.ok else self.result,
            "notices": list(self.notices),
            "stage_s": {name: round(seconds, 3) for name, seconds in self.stage_s.items()},
            "error": self.error,
        }


Subscriber = Callable[[UpdateEvent], None]
