"""What every stage and every transfer strategy of one update session is given.

`SessionContext` holds the session's link, policy and clock, its cancel token, its event
subscribers and its triage log, and the services built on them that more than one stage
needs: retried requests, reconnecting by EUI-64, waiting for a restart, stage
bookkeeping and retry counting. It holds no result: a strategy reports what it did in
its `TransferOutcome` (`updates.strategy`) and the engine alone writes the session's
result from it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from bridgelab.clock import Clock
from bridgelab.data.failures import FailureClass, Stage
from bridgelab.data.records import DeviceInfo
from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient, Pending
from bridgelab.drivers.errors import DriverError, NoAnswer
from bridgelab.updates import events as ev
from bridgelab.updates.errors import UpdateFailed
from bridgelab.updates.link import BridgeLink
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.progress import ProgressMeter
from bridgelab.updates.recorder import SessionLog
from bridgelab.updates.request import UpdateRequest
from bridgelab.updates.retry import retry
from bridgelab.updates.transfer import Cancelled

REBOOT_POLL_S = 0.5
R = TypeVar("R", bound=p.Message)


class CancelToken:
    """Set from any thread; checked by the session between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.rig_lost: str | None = None  # why the remote rig vanished, when it did

    def cancel(self) -> None:
        self._event.set()

    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise `Cancelled` once cancelled."""
        if self._event.is_set():
            raise Cancelled()


class SessionContext:
    def __init__(
        self,
        request: UpdateRequest,
        link: BridgeLink,
        log: SessionLog,
        clock: Clock,
        subscribers: Sequence[ev.Subscriber] = (),
    ) -> None:
        self.request = request
        self.policy: UpdatePolicy = request.policy
        self.link = link
        self.log = log
        self.clock = clock
        self.cancel = CancelToken()
        self.subscribers: list[ev.Subscriber] = list(subscribers)
        self.retries = 0
        self.notices: list[str] = []
        self.current_stage = Stage.IDENTIFY  # set by stage(); names the stage a failure is in
        self.stage_seconds: dict[str, float] = {}  # the cost of each stage, made visible
        # The bridge's update state as identify read it (None: not read, or an old bridge).
        self.update_state: p.UpdateStatusResponse | None = None

    # ----------------------------------------------------------------- events

    def emit(self, event: ev.UpdateEvent) -> None:
        for subscriber in self.subscribers:
            subscriber(event)

    def notice(self, level: str, code: str, message: str) -> None:
        self.notices.append(message)
        self.log.event("notice", {"level": level, "code": code, "message": message})
        self.emit(ev.Notice(self.clock.monotonic(), level, code, message))

    def identified(
        self, identity: p.IdentityResponse, info: dict[str, Any] | None = None, join: str = ""
    ) -> None:
        """Record the bridge that answered (the session's device in the triage log), then
        tell the subscribers. `info`: what is shown of it (default: its identity)."""
        facts = info if info is not None else identity.to_dict()
        self.log.device(
            DeviceInfo(
                eui64=identity.eui64,
                manufacturer_code=identity.manufacturer_code,
                model=identity.model,
                hardware_version=identity.hardware_version,
                serial_number=identity.serial_number,
                identity=facts,
            )
        )
        self.emit(ev.DeviceIdentified(self.clock.monotonic(), identity.eui64, facts, join))

    def progress(self, meter: ProgressMeter, done: int, total: int, resumed_from: int = 0) -> None:
        """Log and tell a transfer's progress as `meter` measured it (the caller throttles)."""
        self.log.progress(done, total, rate_bps=round(meter.rate_bps, 1))
        self.emit(
            ev.Progress(
                self.clock.monotonic(),
                done,
                total,
                meter.rate_bps,
                meter.eta_s,
                meter.efficiency,
                resumed_from,
            )
        )

    def retry(self, stage: Stage, reason: str, offset: int | None = None) -> None:
        self.retries += 1
        self.log.event("retry", {"stage": stage.value, "reason": reason, "offset": offset})
        self.log.update(retries=self.retries)
        self.emit(ev.Retry(self.clock.monotonic(), stage, self.retries, reason, offset))

    @contextlib.contextmanager
    def stage(self, stage: Stage, detail: str = "") -> Iterator[None]:
        started = self.clock.monotonic()
        self.current_stage = stage
        self.log.stage(stage, {"detail": detail} if detail else None)
        self.emit(ev.StageStarted(started, stage, detail))
        ok = False
        try:
            yield
            ok = True
        finally:
            now = self.clock.monotonic()
            seconds = now - started
            self.stage_seconds[stage.value] = self.stage_seconds.get(stage.value, 0.0) + seconds
            self.emit(ev.StageFinished(now, stage, ok, "", seconds))

    def check_cancel(self) -> None:
        self.cancel.check()

    # ----------------------------------------------------------------- the bridge

    def call_retrying(
        self, request: p.Request[R], total_s: float, stage: Stage, sent: Pending | None = None
    ) -> R:
        """Send an idempotent request until it is answered: a lost frame costs a retry,
        not the session. Waits 1, 2, 4, ... request timeouts, `total_s` in all.

        `sent`: the request was already submitted (pipelined behind others, saving a round
        trip on a slow line); its answer is the first try's."""
        ahead = [sent] if sent is not None else []

        def attempt(try_s: float) -> R:
            client = self.link.current
            if ahead:
                return client.answer_of(request, ahead.pop(), try_s)
            return client.call(request, try_s)

        return retry(
            attempt,
            total_s=total_s,
            clock=self.clock,
            retry_on=(NoAnswer,),
            first_try_s=self.policy.request_timeout_s,
            backoff=2.0,
            on_retry=lambda _: self.retry(stage, f"no answer to {type(request).__name__}"),
            check_cancel=self.check_cancel,
        )

    def reconnect(self, stage: Stage) -> BridgeClient:
        """The same bridge again (by EUI-64) within the reconnect timeout; UpdateFailed."""
        deadline = self.clock.monotonic() + self.policy.timeouts.reconnect_s
        self.retry(stage, "reconnecting")
        try:
            return self.link.reconnect(deadline, self.cancel.cancelled)
        except DriverError as error:
            cls = (
                FailureClass.WRONG_DEVICE
                if error.code == "wrong-device"
                else FailureClass.LINK_LOST
            )
            raise UpdateFailed.from_error(stage, cls, error) from error

    def await_reboot(self, timeout_s: float) -> None:
        """Wait for the bridge to restart into the new image.

        The REBOOTED event says so at once; but an event can be lost on a noisy line, so
        the session also asks: a bridge that answers again with its update state back to
        idle or trial has restarted. A restart that dropped the link is followed by a
        reconnect by EUI-64.
        """
        deadline = self.clock.monotonic() + timeout_s
        while self.clock.monotonic() < deadline:
            self.check_cancel()
            event = self.link.wait_event(p.Rebooted, REBOOT_POLL_S)
            if isinstance(event, p.Rebooted):
                self.log.event(
                    "rebooted",
                    {
                        "reason": event.reason.name.lower(),
                        "firmware_version": event.firmware_version,
                    },
                )
                return
            if not self.link.healthy():
                self.reconnect(Stage.ACTIVATE)
                return
            try:
                status = self.link.current.update_status(self.policy.request_timeout_s)
            except NoAnswer:
                continue  # restarting, or a lost frame: ask again
            if status.state in (p.UpdateState.IDLE, p.UpdateState.TRIAL):
                self.log.event(
                    "rebooted", {"reason": "seen by polling", "state": status.state.name}
                )
                return
        raise UpdateFailed(
            Stage.ACTIVATE,
            FailureClass.STALLED,
            f"The bridge did not restart within {timeout_s:g} s of activation.",
            code="activation-stalled",
        )
