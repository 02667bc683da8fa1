"""The update engine: identify, validate, transfer, verify, activate, confirm.

`UpdateEngine.run()` is blocking (run it on a worker thread) and never raises: every
session ends in an `UpdateResult` with a final state and, on failure, the stage and the
failure class of `bridgelab.data.failures`. Nothing is written to the bridge before the
image has been validated against it (format, trusted signature, compatibility, version
policy, OTA eligibility). An update is "success" only when the bridge runs the new version,
is back on the HAN (if it was on it before) and stays healthy for `policy.healthy_s`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import replace

from bridgelab.clock import Clock, clock_for_url
from bridgelab.data.errors import StoreError
from bridgelab.data.failures import FailureClass, FinalState, Stage
from bridgelab.data.records import ImageInfo, Mode, SessionStart
from bridgelab.data.store import TriageStore
from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient, Pending
from bridgelab.drivers.errors import (
    DriverError,
    LinkLost,
    NoAnswer,
    PortBusy,
    PortNotFound,
    PortPermissionDenied,
    UnknownUrlScheme,
)
from bridgelab.drivers.factory import BootloaderOnly, connect_bridge
from bridgelab.drivers.join_state import JoinState
from bridgelab.drivers.trial import UNKNOWN_STATUSES, confirmed_version, is_trial
from bridgelab.drivers.versions import NO_VERSION, display_version, format_version
from bridgelab.firmware.compat import DowngradeOverride
from bridgelab.firmware.errors import FirmwareError
from bridgelab.firmware.image import BodyForm, OtaImage, load_image
from bridgelab.firmware.verify import VerificationReport
from bridgelab.updates import events as ev
from bridgelab.updates.errors import UpdateFailed, internal_failure
from bridgelab.updates.link import BridgeLink
from bridgelab.updates.local import LocalTransfer
from bridgelab.updates.recorder import SessionLog
from bridgelab.updates.request import UpdateRequest
from bridgelab.updates.retry import retry
from bridgelab.updates.session import SessionContext
from bridgelab.updates.strategy import PreparedImage, TransferOutcome, TransferStrategy
from bridgelab.updates.transfer import Cancelled

HEALTH_POLL_S = 0.25
HEALTH_ANSWER_S = 2.0  # a bridge silent this long in the health check is unhealthy


# How the image reaches the bridge, by mode (the contract: `updates.strategy`).
def _simulated_ota() -> TransferStrategy[PreparedImage]:
    # Imported when an OTA session runs: a local update's start-up does not pay for the
    # ZCL OTA cluster (tests/updates/test_startup_imports.py).
    from bridgelab.updates.ota_server import SimulatedOta

    return SimulatedOta()


STRATEGIES: dict[Mode, Callable[[], TransferStrategy[PreparedImage]]] = {
    Mode.LOCAL: LocalTransfer,
    Mode.OTA: _simulated_ota,
}


class UpdateEngine:
    """One update session. `cancel()` may be called from any thread.

    The session's plumbing (its triage record, stage events, failure classes, crash
    file, result) is this class's alone; the steps are methods: `_identify`, `_validate`,
    `_transfer` (runs the transfer strategy), `_confirm`. A recovery through the radio's
    bootloader (`updates.recovery.RecoveryEngine`) is this engine with its own steps.
    """

    WHAT = "update"  # in the words of a failure to open the session
    WHERE = "update engine"  # in a crash file's "Where:"

    def __init__(
        self,
        request: UpdateRequest,
        *,
        store: TriageStore | None = None,
        subscribers: Sequence[ev.Subscriber] = (),
        trace: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self.request = request
        # Every wait and deadline of the session runs on this clock: by default the one
        # the bridge's URL implies (real time, or an emulated bridge's skipping clock).
        self.clock = clock if clock is not None else clock_for_url(request.port_url)
        self.policy = request.policy
        self.log = SessionLog(store)
        self._trace = trace
        link = BridgeLink(
            request.port_url,
            baudrate=request.baudrate,
            connect=functools.partial(connect_bridge, driver=request.driver),
            trace=self._on_frame if trace else None,
            clock=self.clock,
        )
        self.context = SessionContext(request, link, self.log, self.clock, subscribers)
        self.link = link
        self.subscribers = self.context.subscribers  # add listeners before run()
        # What the stages learn; the result is written from these in _finish().
        self.identity: p.IdentityResponse | None = None
        self.join_before: JoinState | None = None
        # The bridge's own update state at connect (None: an old bridge that cannot say).
        self.update_before: p.UpdateStatusResponse | None = None
        self.resume_at_confirm = False  # the image already runs on trial: only confirm it
        self.join_after: JoinState | None = None  # last seen in the health check
        self.image: OtaImage | None = None
        self.report: VerificationReport | None = None
        self.file_sha256 = b""
        self.outcome: TransferOutcome | None = None  # what the transfer strategy did
        self.version_after: int | None = None
        self.rejoined: bool | None = None

    # ----------------------------------------------------------------- control

    def cancel(self) -> None:
        self.context.cancel.cancel()

    def rig_lost(self, reason: str) -> None:
        """The remote rig carrying the link vanished (a labgrid exporter died): stop, and
        end the session as `rig-lost`, not as a fault of the bridge. Any thread."""
        self.context.cancel.rig_lost = reason
        self.context.cancel.cancel()

    def cancelled(self) -> bool:
        return self.context.cancel.cancelled()

    def _on_frame(self, direction: str, raw: bytes, t: float) -> None:
        self.log.frame(direction, raw, t)

    # ----------------------------------------------------------------- the session

    def run(self) -> UpdateResult:
        started = self.clock.monotonic()
        request = self.request
        failure: UpdateFailed | None = None
        state = FinalState.SUCCESS
        image_size = request.image_path.stat().st_size if request.image_path.is_file() else 0
        try:
            self.log.begin(self._session_start(image_size))
        except StoreError as error:
            failure = UpdateFailed(
                Stage.IDENTIFY,
                FailureClass.INTERNAL_ERROR,
                f"The triage log cannot record this {self.WHAT}: {error.message}",
                code=error.code,
                action=f"{error.action} Nothing was sent to the bridge.",
            )
            return self._finish(started, FinalState.FAILED, failure)
        self.context.emit(
            ev.SessionStarted(
                started, request.mode, request.port_url, str(request.image_path), image_size
            )
        )
        try:
            self._run_stages()
        except UpdateFailed as error:
            failure, state = error, FinalState.FAILED
        except Cancelled:
            state = FinalState.CANCELLED
            failure = UpdateFailed(
                self.context.current_stage,
                FailureClass.CANCELLED,
                "Cancelled by the user.",
                code="cancelled",
            )
        except DriverError as error:
            failure, state = self._classify_driver_error(error), FinalState.FAILED
        except Exception as error:  # the session must end in a record, whatever happened
            failure, state = self._internal_error(error), FinalState.FAILED
        finally:
            self.link.close()
        if failure is not None and self.context.cancel.rig_lost is not None:
            # Whatever the link did once its rig was gone (dropped, refused, cancelled by
            # the campaign), the bridge is not the one at fault.
            failure, state = self._rig_lost_failure(self.context.cancel.rig_lost), FinalState.FAILED
        if failure is None:
            failure = self._unverified_success()
            state = FinalState.FAILED if failure is not None else state
        return self._finish(started, state, failure)

    def _session_start(self, image_size: int) -> SessionStart:
        request = self.request
        return SessionStart(
            mode=request.mode,
            port_url=request.port_url,
            driver=BridgeClient.driver_name,
            baud=request.baudrate,
            campaign_id=request.campaign_id,
            site_ref=request.site_ref,
            operator=request.operator,
            image_size=image_size,
            details={"image_file": str(request.image_path), **request.session_details},
        )

    def _rig_lost_failure(self, reason: str) -> UpdateFailed:
        return UpdateFailed(
            self.context.current_stage,
            FailureClass.RIG_LOST,
            f"The remote rig went away: {reason}.",
            code="rig-lost",
            action="Bring the rig's exporter back, then run the job again; the bridge was "
            "not at fault.",
        )

    def _unverified_success(self) -> UpdateFailed | None:
        """The last guard against a false success: "success" needs the version read back
        from the bridge to be a real version and the image's (any real version for an image
        that does not say its own: an encrypted GBL)."""
        expected = self._image_version()
        after = self.version_after
        if after is not None and after != NO_VERSION and expected in (None, after):
            return None
        return UpdateFailed(
            Stage.CONFIRM,
            FailureClass.VERSION_UNCHANGED,
            f"The bridge reports {display_version(after)}, not {display_version(expected)}: "
            "the update cannot be reported as done.",
            code="result-unverified",
        )

    def _run_stages(self) -> None:
        with self.context.stage(Stage.IDENTIFY, self.request.port_url):
            self._identify()
        with self.context.stage(Stage.VALIDATE, str(self.request.image_path)):
            self._validate()
        self.context.check_cancel()
        if not self.resume_at_confirm:  # else transfer to activate happened in an earlier session
            self.outcome = self._transfer()
        with self.context.stage(Stage.CONFIRM):
            self._confirm()

    def _transfer(self) -> TransferOutcome:
        """The mode's transfer strategy, from transfer to the restart into the new image."""
        assert self.image is not None and self.report is not None
        prepared = PreparedImage(
            self.image, self.file_sha256, self.report.manufacturer_image_sha256
        )
        return STRATEGIES[self.request.mode]().run(self.context, prepared)

    def _image_version(self) -> int | None:
        """The version the image says the bridge will run (None: not known yet)."""
        return self.image.header.file_version if self.image is not None else None

    # ----------------------------------------------------------------- identify

    def _identify(self) -> None:
        timeout_s = self.policy.timeouts.identify_s
        deadline = self.clock.monotonic() + timeout_s

        def open_link(_: float) -> BridgeClient:
            try:
                return self.link.open()
            except (PortNotFound, PortBusy, PortPermissionDenied, UnknownUrlScheme) as error:
                # Final: waiting does not create a port or free it.
                raise UpdateFailed.from_error(
                    Stage.IDENTIFY, FailureClass.PORT_UNAVAILABLE, error
                ) from error
            except BootloaderOnly as error:  # waiting will not bring the application back
                raise UpdateFailed.from_error(
                    Stage.IDENTIFY, FailureClass.NO_RESPONSE, error
                ) from error

        try:
            retry(
                open_link,
                total_s=timeout_s,
                clock=self.clock,
                retry_on=(DriverError,),
                pause_s=0.2,
                check_cancel=self.context.check_cancel,
            )
        except DriverError as error:
            raise UpdateFailed.from_error(
                Stage.IDENTIFY, FailureClass.NO_RESPONSE, error
            ) from error
        remaining = max(deadline - self.clock.monotonic(), 2 * self.policy.request_timeout_s)
        try:
            # The three questions go out together: one round trip of the line, not three
            # (16 ms each behind a USB adapter's latency timer). Each is still retried
            # on its own if its answer is lost.
            asks = (p.GetIdentity(), p.GetJoinStatus(), p.GetUpdateStatus())
            client = self.link.current
            sent = [client.submit(ask) for ask in asks]
            identity = self.context.call_retrying(asks[0], remaining, Stage.IDENTIFY, sent[0])
            join = self.context.call_retrying(asks[1], remaining, Stage.IDENTIFY, sent[1])
            self.update_before = self._read_update_state(remaining, asks[2], sent[2])
        except NoAnswer as error:
            raise UpdateFailed.from_error(
                Stage.IDENTIFY, FailureClass.NO_RESPONSE, error
            ) from error
        self.identity = identity
        self.join_before = join.state
        self.context.update_state = self.update_before
        self.link.eui64 = identity.eui64
        update = self.update_before
        info = {
            **identity.to_dict(),
            "join_state": join.state.label,
            "update_state": update.state.name.lower() if update else None,
        }
        self.log.update(version_before=identity.firmware_version, port_url=self.link.url)
        self.context.identified(identity, info, join.state.label)

    def _read_update_state(
        self,
        total_s: float,
        ask: p.GetUpdateStatus | None = None,
        sent: Pending | None = None,
    ) -> p.UpdateStatusResponse | None:
        """UPDATE_STATUS with the same bounded retry as every request; None for a bridge
        that does not know it (an old one answers UNKNOWN_COMMAND). `ask` and `sent`: the
        request, already submitted behind others."""
        try:
            return self.context.call_retrying(
                ask or p.GetUpdateStatus(), total_s, Stage.IDENTIFY, sent
            )
        except p.DeviceStatusError as error:
            if error.status in UNKNOWN_STATUSES:
                return None
            raise

    # ----------------------------------------------------------------- validate

    def _validate(self) -> None:
        """The pre-flight (`updates.preflight`), as the GUI and `image verify` run it."""
        from bridgelab.updates.preflight import BridgeFacts, assess

        assert self.identity is not None and self.join_before is not None
        request = self.request
        try:
            image = load_image(
                request.image_path,
                form=BodyForm(request.image_form) if request.image_form else None,
                strict=request.strict_image,
            )
        except FirmwareError as error:
            raise UpdateFailed.from_error(
                Stage.VALIDATE, FailureClass.IMAGE_REJECTED, error
            ) from error
        override = (
            DowngradeOverride(request.downgrade_reason or "") if request.allow_downgrade else None
        )
        # On trial, the bridge holds for good only the version it would roll back to: the
        # image is judged against that one (so the same image again is a confirming re-run).
        held = replace(
            self.identity, firmware_version=confirmed_version(self.identity, self.update_before)
        )
        preflight = assess(
            request.image_path,
            BridgeFacts.read(held, self.join_before),
            trust_dir=request.trust_dir,
            override=override,
            policy=self.policy,
            image=image,
        )
        self.image = image
        self.file_sha256 = preflight.file_sha256  # hashed once, used to the end
        report = self.report = preflight.report
        header = image.header
        self.log.image(
            ImageInfo(
                sha256=self.file_sha256.hex(),
                size=len(image.raw),
                file_name=request.image_path.name,
                body_form=str(image.body_form),
                manufacturer_code=header.manufacturer_code,
                image_type=header.image_type,
                file_version=header.file_version,
                stack_version=header.stack_version,
                header_string=header.header_text,
                hardware_min=header.min_hw_version,
                hardware_max=header.max_hw_version,
                destination_eui64=header.destination_eui64,
                manufacturer_image_sha256=report.manufacturer_image_sha256.hex(),
                signer=report.signer.key_id if report.signer else None,
                signature_status=report.signature_status,
            )
        )
        verdict = preflight.verdict(request.mode)
        refusal = verdict.refusal
        if refusal is not None:
            raise UpdateFailed(
                Stage.VALIDATE,
                refusal.failure or FailureClass.IMAGE_REJECTED,
                refusal.message,
                code=refusal.code,
                action=refusal.action or None,
            )
        self.context.notice(
            "info", "trust-source", f"Signature checked against {preflight.trust_source}."
        )
        for warning in verdict.warnings:
            self.context.notice(
                "warning", warning.code, f"{warning.message} {warning.action}".strip()
            )
        if is_trial(self.update_before):
            self._resume_trial(header.file_version)

    def _resume_trial(self, image_version: int) -> None:
        """The bridge runs an unconfirmed image: this image is it (resume at the health
        check, then confirm) or it is not (refuse: installing over a trial would drop the
        confirmed image the bridge falls back to)."""
        assert self.identity is not None
        running = self.identity.firmware_version
        fallback = self.identity.inactive_firmware_version
        if image_version == running:
            self.resume_at_confirm = True
            self.log.event("resumed", {"stage": Stage.CONFIRM.value, "trial": True})
            self.context.notice(
                "info",
                "trial-resumed",
                f"The bridge already runs {display_version(running)} on trial (not yet "
                "confirmed): resuming at the health check, then confirming it.",
            )
            return
        raise UpdateFailed(
            Stage.VALIDATE,
            FailureClass.DEVICE_REFUSED,
            f"The bridge runs {display_version(running)} on trial (not yet confirmed); this "
            f"image is {display_version(image_version)}.",
            code="trial-pending",
            action=f"First confirm {display_version(running)} (run its update again), or "
            f"reboot the bridge to roll back to {display_version(fallback)}; then update.",
        )

    # ----------------------------------------------------------------- confirm

    def _call_with_recovery(self, stage: Stage, total_s: float, what: str) -> p.IdentityResponse:
        def read_identity(_: float) -> p.IdentityResponse:
            client = self.link.current if self.link.healthy() else self.context.reconnect(stage)
            return client.identity()

        try:
            return retry(
                read_identity,
                total_s=total_s,
                clock=self.clock,
                retry_on=(NoAnswer, LinkLost),
                pause_s=0.1,
                check_cancel=self.context.check_cancel,
            )
        except (NoAnswer, LinkLost) as error:
            raise UpdateFailed(
                stage,
                FailureClass.NO_RESPONSE,
                f"No answer while {what}: {error.message}",
                code=error.code,
            ) from error

    def _confirm(self) -> None:
        assert self.image is not None
        timeouts = self.policy.timeouts
        expected = self.image.header.file_version
        identity = self._call_with_recovery(
            Stage.CONFIRM, timeouts.activate_s, "reading the version back"
        )
        self.version_after = identity.firmware_version
        self.log.update(version_after=identity.firmware_version)
        if identity.firmware_version == NO_VERSION:
            raise UpdateFailed(
                Stage.CONFIRM,
                FailureClass.VERSION_UNCHANGED,
                "The bridge restarted but reports no firmware version, so the update cannot "
                "be confirmed.",
                code="version-unreadable",
                action="Read the bridge with `bridgelab info`; if it runs no image, recover it "
                "locally with a known-good release.",
            )
        if identity.firmware_version != expected:
            raise UpdateFailed(
                Stage.CONFIRM,
                FailureClass.VERSION_UNCHANGED,
                f"The bridge restarted but runs {format_version(identity.firmware_version)}, "
                f"not {format_version(expected)}.",
                code="version-unchanged"
                if identity.firmware_version
                == (self.identity.firmware_version if self.identity else None)
                else "version-unexpected",
            )
        if self.join_before == JoinState.JOINED:
            self._await_rejoin(self.clock.monotonic() + timeouts.rejoin_s)
        self._stay_healthy()
        if self.request.mode == "local" or self._on_trial():
            self._confirm_trial(expected)

    def _on_trial(self, ask: p.GetUpdateStatus | None = None, sent: Pending | None = None) -> bool:
        try:
            status = self._read_update_state(5 * self.policy.request_timeout_s, ask, sent)
        except NoAnswer as error:
            raise UpdateFailed(
                Stage.CONFIRM,
                FailureClass.UNHEALTHY,
                f"The bridge stopped answering before its image was confirmed: {error.message}",
                code="health-no-answer",
            ) from error
        return is_trial(status)

    def _confirm_trial(self, expected: int) -> None:
        """UPDATE_CONFIRM, then read back that the bridge no longer runs a trial: success is
        reported only for an image that survives the next reboot.

        The read-back goes out right behind the confirm: one round trip for both. Its
        answer is taken only when it shows the trial over, which no read from before the
        confirm can show; else (the confirm sent again, or a link that reordered the two)
        the state is read again now."""
        client = self.link.current
        confirm, status = p.UpdateConfirm(), p.GetUpdateStatus()
        confirm_sent = client.submit(confirm)
        status_sent = client.submit(status)
        retries_before = self.context.retries
        self._send_confirm(expected, confirm, confirm_sent)
        early: Pending | None = status_sent
        if self.context.retries != retries_before:
            client.forget(status_sent)
            early = None
        if self._on_trial(status, early) and (early is None or self._on_trial()):
            raise UpdateFailed(
                Stage.CONFIRM,
                FailureClass.DEVICE_ERROR,
                "The bridge accepted the confirmation but still runs the image on trial.",
                code="not-confirmed",
                action="Run the same update again to confirm; do not reboot the bridge first.",
            )

    def _send_confirm(self, expected: int, confirm: p.UpdateConfirm, sent: Pending) -> None:
        retries_before = self.context.retries
        try:
            self.context.call_retrying(
                confirm, 5 * self.policy.request_timeout_s, Stage.CONFIRM, sent
            )
        except p.DeviceStatusError as error:
            # A repeated confirm finds no trial image left: the first one got through (the
            # caller reads the state back either way).
            repeated = (
                self.context.retries > retries_before and error.status == p.Status.NOT_ALLOWED
            )
            if not repeated:
                raise UpdateFailed(
                    Stage.CONFIRM, FailureClass.DEVICE_ERROR, error.message, code=error.code
                ) from error
        self.log.event("confirmed", {"firmware_version": expected})

    def _await_rejoin(self, deadline: float) -> None:
        state = JoinState.LEFT
        while self.clock.monotonic() < deadline:
            self.context.check_cancel()
            try:
                state = self.link.current.join_status().state
            except NoAnswer:
                state = JoinState.LEFT
            if state == JoinState.JOINED:
                self.rejoined = True
                self.log.event("rejoined", {})
                return
            # The bridge reports a join change at once (JOIN_CHANGED): its report of
            # JOINED is the bridge's own answer, taken as is (a round trip saved); any
            # other change, or no event within the poll period (lost), asks again.
            event = self.link.wait_event(p.JoinChanged, HEALTH_POLL_S, keep_others=True)
            if isinstance(event, p.JoinChanged) and event.status.state == JoinState.JOINED:
                self.rejoined = True
                self.log.event("rejoined", {"reported": True})
                return
        self.rejoined = False
        raise UpdateFailed(
            Stage.CONFIRM,
            FailureClass.DID_NOT_REJOIN,
            f"The bridge runs the new firmware but is not back on the HAN ({state.label}) "
            f"after {self.policy.timeouts.rejoin_s:g} s.",
            code="did-not-rejoin",
        )

    def _stay_healthy(self) -> None:
        until = self.clock.monotonic() + self.policy.healthy_s
        must_be_joined = self.join_before == JoinState.JOINED
        while self.clock.monotonic() < until:
            self.context.check_cancel()
            for event in self.link.drain_events():
                if isinstance(event, p.Rebooted):
                    raise UpdateFailed(
                        Stage.CONFIRM,
                        FailureClass.UNHEALTHY,
                        f"The bridge restarted again ({event.reason.name.lower()}) during the "
                        "health check.",
                        code="rebooted-after-update",
                    )
            try:
                join = self.context.call_retrying(
                    p.GetJoinStatus(),
                    max(HEALTH_ANSWER_S, 5 * self.policy.request_timeout_s),
                    Stage.CONFIRM,
                )
            except DriverError as error:
                raise UpdateFailed(
                    Stage.CONFIRM,
                    FailureClass.UNHEALTHY,
                    f"The bridge stopped answering during the health check: {error.message}",
                    code="health-no-answer",
                ) from error
            self.join_after = join.state
            if must_be_joined and join.state != JoinState.JOINED:
                raise UpdateFailed(
                    Stage.CONFIRM,
                    FailureClass.UNHEALTHY,
                    f"The bridge left the HAN ({join.state.label}) during the health check.",
                    code="left-han-after-update",
                )
            self.clock.sleep(HEALTH_POLL_S)

    # ----------------------------------------------------------------- endings

    def _classify_driver_error(self, error: DriverError) -> UpdateFailed:
        stage = self.context.current_stage
        cls = FailureClass.LINK_LOST if isinstance(error, LinkLost) else FailureClass.NO_RESPONSE
        if isinstance(error, p.DeviceStatusError):
            cls = FailureClass.DEVICE_ERROR
        return UpdateFailed.from_error(stage, cls, error)

    def _internal_error(self, error: Exception) -> UpdateFailed:
        return internal_failure(self.context.current_stage, error, where=self.WHERE)

    def _finish(
        self, started: float, state: FinalState, failure: UpdateFailed | None
    ) -> UpdateResult:
        duration = self.clock.monotonic() - started
        outcome = self.outcome
        throughput = (
            outcome.payload_bytes / outcome.seconds if outcome and outcome.seconds else None
        )
        line = self.request.known_line_rate_bps  # efficiency only against a known rate
        efficiency = throughput / line if throughput is not None and line else None
        image_version = self._image_version()
        last_join = self.join_after or self.join_before
        result = UpdateResult(
            result="success" if failure is None else failure.failure.cls.value,
            session_id=self.log.session_id,
            mode=self.request.mode,
            version_before=self.identity.firmware_version if self.identity else None,
            version_after=self.version_after,
            image_version=image_version,
            bytes=outcome.payload_bytes if outcome else 0,
            duration_s=duration,
            throughput_bps=throughput,
            line_efficiency=efficiency,
            retries=self.context.retries,
            resumed_from=outcome.resumed_from if outcome else None,
            predicted_ota_duration_s=outcome.predicted_s if outcome else None,
            simulated_duration_s=outcome.simulated_s if outcome else None,
            failure_stage=failure.failure.stage.value if failure else None,
            error=failure.result_error() if failure else None,
            line_rate_bps=line,
            rejoined=self.rejoined,
            notices=tuple(self.context.notices),
            join_state=last_join.label if last_join is not None else None,
            stage_s=dict(self.context.stage_seconds),
        )
        if self.log.problem is not None:
            problem = self.log.problem
            result = replace(result, notices=(*result.notices, f"Triage log: {problem}"))
        self.log.finish(
            state,
            failure.failure if failure else None,
            version_after=self.version_after,
            throughput_bps=throughput,
            retries=self.context.retries,
        )
        self.context.emit(ev.SessionFinished(self.clock.monotonic(), result))
        return result


UpdateResult = ev.UpdateResult
