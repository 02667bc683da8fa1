"""The update engine: identify, validate, transfer, verify, activate, confirm.

`UpdateEngine.run()` is blocking (run it on a worker thread) and never raises: every
session ends in an `UpdateResult` with a final state and, on failure, the stage and the
failure class of `bridgelab.data.failures`. Nothing is written to the bridge before the
image has been validated against it (format, trusted signature, compatibility, version
policy, OTA eligibility). An update is "success" only when the bridge runs the new version,
is back on the HAN (if it was on it before) and stays healthy for `policy.healthy_s`.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from bridgelab.data.errors import StoreError
from bridgelab.data.failures import FailureClass, FinalState, Stage
from bridgelab.data.records import DeviceInfo, ImageInfo, SessionStart
from bridgelab.data.store import TriageStore
from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient
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
from bridgelab.updates.errors import UpdateFailed
from bridgelab.updates.link import BridgeLink
from bridgelab.updates.progress import ProgressMeter
from bridgelab.updates.recorder import SessionLog
from bridgelab.updates.request import UpdateRequest
from bridgelab.updates.selective_repeat import SelectiveRepeatTransfer
from bridgelab.updates.transfer import Cancelled, WindowedTransfer

HEALTH_POLL_S = 0.25
REBOOT_POLL_S = 0.5
HEALTH_ANSWER_S = 2.0  # a bridge silent this long in the health check is unhealthy
R = TypeVar("R", bound=p.Message)


class UpdateEngine:
    """One update session. `cancel()` may be called from any thread."""

    def __init__(
        self,
        request: UpdateRequest,
        *,
        store: TriageStore | None = None,
        subscribers: Sequence[ev.Subscriber] = (),
        trace: bool = False,
    ) -> None:
        self.request = request
        self.policy = request.policy
        self.log = SessionLog(store)
        self.subscribers: list[ev.Subscriber] = list(subscribers)
        self._cancel = threading.Event()
        self._rig_lost: str | None = None  # set by rig_lost(): why the rig vanished
        self._trace = trace
        self.link = BridgeLink(
            request.port_url,
            baudrate=request.baudrate,
            connect=functools.partial(connect_bridge, driver=request.driver),
            trace=self._on_frame if trace else None,
        )
        self.identity: p.IdentityResponse | None = None
        self.join_before: JoinState | None = None
        # The bridge's own update state at connect (None: an old bridge that cannot say).
        self.update_before: p.UpdateStatusResponse | None = None
        self.resume_at_confirm = False  # the image already runs on trial: only confirm it
        self.join_after: JoinState | None = None  # last seen in the health check
        self.image: OtaImage | None = None
        self.report: VerificationReport | None = None
        self.file_sha256 = b""
        self.retries = 0
        self.resumed_from: int | None = None
        self.transfer_seconds = 0.0
        self.transferred = 0
        self.version_after: int | None = None
        self.rejoined: bool | None = None
        self.predicted_ota_s: float | None = None
        self.simulated_s: float | None = None
        self.stage_seconds: dict[str, float] = {}  # the cost of each stage, made visible
        self.notices: list[str] = []
        self.current_stage = Stage.IDENTIFY  # set by stage(); names the stage a failure is in

    # ----------------------------------------------------------------- plumbing

    def cancel(self) -> None:
        self._cancel.set()

    def rig_lost(self, reason: str) -> None:
        """The remote rig carrying the link vanished (a labgrid exporter died): stop, and
        end the session as `rig-lost`, not as a fault of the bridge. Any thread."""
        self._rig_lost = reason
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def emit(self, event: ev.UpdateEvent) -> None:
        for subscriber in self.subscribers:
            subscriber(event)

    def _on_frame(self, direction: str, raw: bytes, t: float) -> None:
        self.log.frame(direction, raw, t)

    def notice(self, level: str, code: str, message: str) -> None:
        self.notices.append(message)
        self.log.event("notice", {"level": level, "code": code, "message": message})
        self.emit(ev.Notice(time.monotonic(), level, code, message))

    def retry(self, stage: Stage, reason: str, offset: int | None = None) -> None:
        self.retries += 1
        self.log.event("retry", {"stage": stage.value, "reason": reason, "offset": offset})
        self.log.update(retries=self.retries)
        self.emit(ev.Retry(time.monotonic(), stage, self.retries, reason, offset))

    @contextlib.contextmanager
    def stage(self, stage: Stage, detail: str = "") -> Iterator[None]:
        started = time.monotonic()
        self.current_stage = stage
        self.log.stage(stage, {"detail": detail} if detail else None)
        self.emit(ev.StageStarted(started, stage, detail))
        ok = False
        try:
            yield
            ok = True
        finally:
            seconds = time.monotonic() - started
            self.stage_seconds[stage.value] = self.stage_seconds.get(stage.value, 0.0) + seconds
            self.emit(ev.StageFinished(time.monotonic(), stage, ok, "", seconds))

    def check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    # ----------------------------------------------------------------- the session

    def run(self) -> UpdateResult:
        started = time.monotonic()
        request = self.request
        failure: UpdateFailed | None = None
        state = FinalState.SUCCESS
        image_size = request.image_path.stat().st_size if request.image_path.is_file() else 0
        try:
            self.log.begin(
                SessionStart(
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
            )
        except StoreError as error:
            failure = UpdateFailed(
                Stage.IDENTIFY,
                FailureClass.INTERNAL_ERROR,
                f"The triage log cannot record this update: {error.message}",
                code=error.code,
                action=f"{error.action} Nothing was sent to the bridge.",
            )
            return self._finish(started, FinalState.FAILED, failure)
        self.emit(
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
                self.current_stage,
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
        if failure is not None and self._rig_lost is not None:
            # Whatever the link did once its rig was gone (dropped, refused, cancelled by
            # the campaign), the bridge is not the one at fault.
            failure, state = self._rig_lost_failure(self._rig_lost), FinalState.FAILED
        if failure is None:
            failure = self._unverified_success()
            state = FinalState.FAILED if failure is not None else state
        return self._finish(started, state, failure)

    def _rig_lost_failure(self, reason: str) -> UpdateFailed:
        return UpdateFailed(
            self.current_stage,
            FailureClass.RIG_LOST,
            f"The remote rig went away: {reason}.",
            code="rig-lost",
            action="Bring the rig's exporter back, then run the job again; the bridge was "
            "not at fault.",
        )

    def _unverified_success(self) -> UpdateFailed | None:
        """The last guard against a false success: "success" needs the version read back
        from the bridge to be a real version and the image's."""
        expected = self.image.header.file_version if self.image is not None else None
        after = self.version_after
        if after is not None and after != NO_VERSION and after == expected:
            return None
        return UpdateFailed(
            Stage.CONFIRM,
            FailureClass.VERSION_UNCHANGED,
            f"The bridge reports {display_version(after)}, not {display_version(expected)}: "
            "the update cannot be reported as done.",
            code="result-unverified",
        )

    def _run_stages(self) -> None:
        with self.stage(Stage.IDENTIFY, self.request.port_url):
            self._identify()
        with self.stage(Stage.VALIDATE, str(self.request.image_path)):
            self._validate()
        self.check_cancel()
        if self.resume_at_confirm:
            pass  # transfer, verify and activate happened in an earlier session
        elif self.request.mode == "ota":
            from bridgelab.updates.ota_server import run_simulated_ota

            run_simulated_ota(self)
        else:
            self._local_update()
        with self.stage(Stage.CONFIRM):
            self._confirm()

    def call_retrying(self, request: p.Request[R], total_s: float, stage: Stage) -> R:
        """Send an idempotent request until it is answered: a lost frame costs a retry,
        not the session. Waits 1, 2, 4, ... request timeouts, `total_s` in all."""
        deadline = time.monotonic() + total_s
        wait_s = self.policy.request_timeout_s
        while True:
            self.check_cancel()
            remaining = deadline - time.monotonic()
            try:
                return self.link.current.call(request, min(wait_s, max(remaining, 0.05)))
            except NoAnswer:
                if time.monotonic() >= deadline:
                    raise
                self.retry(stage, f"no answer to {type(request).__name__}")
                wait_s *= 2

    # ----------------------------------------------------------------- identify

    def _identify(self) -> None:
        timeout_s = self.policy.timeouts.identify_s
        deadline = time.monotonic() + timeout_s
        while True:
            self.check_cancel()
            try:
                self.link.open()
                break
            except (PortNotFound, PortBusy, PortPermissionDenied, UnknownUrlScheme) as error:
                raise UpdateFailed.from_error(
                    Stage.IDENTIFY, FailureClass.PORT_UNAVAILABLE, error
                ) from error
            except BootloaderOnly as error:  # waiting will not bring the application back
                raise UpdateFailed.from_error(
                    Stage.IDENTIFY, FailureClass.NO_RESPONSE, error
                ) from error
            except DriverError as error:
                if time.monotonic() > deadline:
                    raise UpdateFailed.from_error(
                        Stage.IDENTIFY, FailureClass.NO_RESPONSE, error
                    ) from error
                time.sleep(0.2)
        remaining = max(deadline - time.monotonic(), 2 * self.policy.request_timeout_s)
        try:
            identity = self.call_retrying(p.GetIdentity(), remaining, Stage.IDENTIFY)
            join = self.call_retrying(p.GetJoinStatus(), remaining, Stage.IDENTIFY)
            self.update_before = self._read_update_state(remaining)
        except NoAnswer as error:
            raise UpdateFailed.from_error(
                Stage.IDENTIFY, FailureClass.NO_RESPONSE, error
            ) from error
        self.identity = identity
        self.join_before = join.state
        self.link.eui64 = identity.eui64
        update = self.update_before
        info = {
            **identity.to_dict(),
            "join_state": join.state.label,
            "update_state": update.state.name.lower() if update else None,
        }
        self.log.device(
            DeviceInfo(
                eui64=identity.eui64,
                manufacturer_code=identity.manufacturer_code,
                model=identity.model,
                hardware_version=identity.hardware_version,
                serial_number=identity.serial_number,
                identity=info,
            )
        )
        self.log.update(version_before=identity.firmware_version, port_url=self.link.url)
        self.emit(ev.DeviceIdentified(time.monotonic(), identity.eui64, info, join.state.label))

    def _read_update_state(self, total_s: float) -> p.UpdateStatusResponse | None:
        """UPDATE_STATUS with the same bounded retry as every request; None for a bridge
        that does not know it (an old one answers UNKNOWN_COMMAND)."""
        try:
            return self.call_retrying(p.GetUpdateStatus(), total_s, Stage.IDENTIFY)
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
        self.notice("info", "trust-source", f"Signature checked against {preflight.trust_source}.")
        for warning in verdict.warnings:
            self.notice("warning", warning.code, f"{warning.message} {warning.action}".strip())
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
            self.notice(
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

    # ----------------------------------------------------------------- local update

    def _local_update(self) -> None:
        assert self.image is not None
        image_bytes = bytes(self.image.raw)
        meter = ProgressMeter(len(image_bytes), self.request.known_line_rate_bps)

        # The offset the bridge last acknowledged, kept even when a report is throttled:
        # the failure message, the log record's last offset and the progress bar all come
        # from the transfer's own count, so they name the same byte.
        last = {"done": 0, "resumed_from": 0, "reported": -1}

        def report(done: int, total: int, resumed_from: int) -> None:
            last["reported"] = done
            self.log.progress(done, total, rate_bps=round(meter.rate_bps, 1))
            self.emit(
                ev.Progress(
                    time.monotonic(),
                    done,
                    total,
                    meter.rate_bps,
                    meter.eta_s,
                    meter.efficiency,
                    resumed_from,
                )
            )

        def on_progress(done: int, total: int, resumed_from: int) -> None:
            last["done"], last["resumed_from"] = done, resumed_from
            if meter.update(done):
                report(done, total, resumed_from)

        def on_retry(reason: str, offset: int | None) -> None:
            self.retry(Stage.TRANSFER, reason, offset)

        with self.stage(Stage.TRANSFER):
            session = self.link.current.session
            selective = (
                self.policy.selective_repeat
                and session is not None
                and session.protocol_version >= p.SELECTIVE_REPEAT_VERSION
            )
            strategy = SelectiveRepeatTransfer if selective else WindowedTransfer
            transfer = strategy(
                self.link,
                image_bytes,
                self.policy,
                line_rate_bps=self.request.line_rate_bps,
                should_stop=self.cancelled,
                on_progress=on_progress,
                on_retry=on_retry,
                file_sha256=self.file_sha256,
            )
            try:
                result = transfer.run()
            except (UpdateFailed, Cancelled):
                if last["done"] != last["reported"]:  # a throttled report: make it now
                    report(last["done"], len(image_bytes), last["resumed_from"])
                raise
            self.resumed_from = result.resumed_from
            self.transferred = result.payload_bytes
            self.transfer_seconds = result.seconds
            self.log.update(resumed_from=result.resumed_from)
            self.log.event(
                "transfer",
                {
                    "window": result.window,
                    "block_size": result.block_size,
                    "sent_bytes": result.sent_bytes,
                    "resent_segments": result.resent_segments,
                    "protocol_version": session.protocol_version if session else None,
                    "seconds": round(result.seconds, 3),
                },
            )
        with self.stage(Stage.VERIFY):
            mfr_sha = self._device_verify()
        with self.stage(Stage.ACTIVATE):
            self._activate(mfr_sha)

    def _device_verify(self) -> bytes:
        assert self.report is not None
        expected_file = self.file_sha256
        expected_mfr = self.report.manufacturer_image_sha256
        try:
            answer = self.call_retrying(
                p.UpdateFinish(),
                self.policy.timeouts.verify_s,
                Stage.VERIFY,
            )
        except p.DeviceStatusError as error:
            classes = {
                int(p.Status.HASH_MISMATCH): FailureClass.HASH_MISMATCH,
                int(p.Status.IMAGE_REJECTED): FailureClass.DEVICE_REFUSED,
            }
            cls = classes.get(error.status, FailureClass.DEVICE_ERROR)
            raise UpdateFailed(Stage.VERIFY, cls, error.message, code=error.code) from error
        except NoAnswer as error:
            raise UpdateFailed(
                Stage.VERIFY,
                FailureClass.STALLED,
                f"The bridge did not finish verifying: {error.message}",
                code="verify-stalled",
            ) from error
        if answer.file_sha256 != expected_file or answer.manufacturer_image_sha256 != expected_mfr:
            raise UpdateFailed(
                Stage.VERIFY,
                FailureClass.HASH_MISMATCH,
                "The image on the bridge does not hash to the file sent "
                f"(bridge {answer.file_sha256.hex()[:16]}..., file {expected_file.hex()[:16]}...).",
                code="device-hash-differs",
            )
        self.log.event("verified", {"manufacturer_image_sha256": expected_mfr.hex()})
        return expected_mfr

    def _activate(self, mfr_sha: bytes) -> None:
        self.link.drain_events()
        request = p.UpdateActivate(mfr_sha, self.policy.activate_delay_s)
        retries_before = self.retries
        try:
            self.call_retrying(request, self.policy.request_timeout_s * 3, Stage.ACTIVATE)
        except p.DeviceStatusError as error:
            if self.retries == retries_before or error.status != p.Status.NO_IMAGE:
                raise self._activation_refused(error) from error
            # A repeated request found the image already taken: the first one got through.
        except NoAnswer:
            # Its answer may have been lost as the bridge began restarting: the restart
            # (or its absence) below tells.
            self.notice("info", "activate-unanswered", "No answer to the activation request.")
        self.log.event("activate", {"delay_s": self.policy.activate_delay_s})
        self.await_reboot(self.policy.activate_delay_s + self.policy.timeouts.activate_s)

    def _activation_refused(self, error: p.DeviceStatusError) -> UpdateFailed:
        activation = (p.Status.ACTIVATION_FAILED, p.Status.NO_IMAGE, p.Status.HASH_MISMATCH)
        cls = (
            FailureClass.ACTIVATION_FAILED
            if error.status in activation
            else FailureClass.DEVICE_ERROR
        )
        return UpdateFailed(Stage.ACTIVATE, cls, error.message, code=error.code)

    def await_reboot(self, timeout_s: float) -> None:
        """Wait for the bridge to restart into the new image.

        The REBOOTED event says so at once; but an event can be lost on a noisy line, so
        the engine also asks: a bridge that answers again with its update state back to
        idle or trial has restarted. A restart that dropped the link is followed by a
        reconnect by EUI-64.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
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

    def reconnect(self, stage: Stage) -> BridgeClient:
        deadline = time.monotonic() + self.policy.timeouts.reconnect_s
        self.retry(stage, "reconnecting")
        try:
            return self.link.reconnect(deadline, self.cancelled)
        except DriverError as error:
            cls = (
                FailureClass.WRONG_DEVICE
                if error.code == "wrong-device"
                else FailureClass.LINK_LOST
            )
            raise UpdateFailed.from_error(stage, cls, error) from error

    # ----------------------------------------------------------------- confirm

    def _call_with_recovery(self, stage: Stage, deadline: float, what: str) -> p.IdentityResponse:
        while True:
            self.check_cancel()
            try:
                client = self.link.current if self.link.healthy() else self.reconnect(stage)
                return client.identity()
            except (NoAnswer, LinkLost) as error:
                if time.monotonic() > deadline:
                    raise UpdateFailed(
                        stage,
                        FailureClass.NO_RESPONSE,
                        f"No answer while {what}: {error.message}",
                        code=error.code,
                    ) from error
                time.sleep(0.1)

    def _confirm(self) -> None:
        assert self.image is not None
        timeouts = self.policy.timeouts
        expected = self.image.header.file_version
        identity = self._call_with_recovery(
            Stage.CONFIRM, time.monotonic() + timeouts.activate_s, "reading the version back"
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
            self._await_rejoin(time.monotonic() + timeouts.rejoin_s)
        self._stay_healthy()
        if self.request.mode == "local" or self._on_trial():
            self._confirm_trial(expected)

    def _on_trial(self) -> bool:
        try:
            status = self._read_update_state(5 * self.policy.request_timeout_s)
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
        reported only for an image that survives the next reboot."""
        self._send_confirm(expected)
        if self._on_trial():
            raise UpdateFailed(
                Stage.CONFIRM,
                FailureClass.DEVICE_ERROR,
                "The bridge accepted the confirmation but still runs the image on trial.",
                code="not-confirmed",
                action="Run the same update again to confirm; do not reboot the bridge first.",
            )

    def _send_confirm(self, expected: int) -> None:
        retries_before = self.retries
        try:
            self.call_retrying(p.UpdateConfirm(), 5 * self.policy.request_timeout_s, Stage.CONFIRM)
        except p.DeviceStatusError as error:
            # A repeated confirm finds no trial image left: the first one got through (the
            # caller reads the state back either way).
            repeated = self.retries > retries_before and error.status == p.Status.NOT_ALLOWED
            if not repeated:
                raise UpdateFailed(
                    Stage.CONFIRM, FailureClass.DEVICE_ERROR, error.message, code=error.code
                ) from error
        self.log.event("confirmed", {"firmware_version": expected})

    def _await_rejoin(self, deadline: float) -> None:
        state = JoinState.LEFT
        while time.monotonic() < deadline:
            self.check_cancel()
            try:
                state = self.link.current.join_status().state
            except NoAnswer:
                state = JoinState.LEFT
            if state == JoinState.JOINED:
                self.rejoined = True
                self.log.event("rejoined", {})
                return
            # The bridge reports a join change at once (JOIN_CHANGED): ask again then,
            # or after the poll period if that event was lost.
            self.link.wait_event(p.JoinChanged, HEALTH_POLL_S, keep_others=True)
        self.rejoined = False
        raise UpdateFailed(
            Stage.CONFIRM,
            FailureClass.DID_NOT_REJOIN,
            f"The bridge runs the new firmware but is not back on the HAN ({state.label}) "
            f"after {self.policy.timeouts.rejoin_s:g} s.",
            code="did-not-rejoin",
        )

    def _stay_healthy(self) -> None:
        until = time.monotonic() + self.policy.healthy_s
        must_be_joined = self.join_before == JoinState.JOINED
        while time.monotonic() < until:
            self.check_cancel()
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
                join = self.call_retrying(
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
            time.sleep(HEALTH_POLL_S)

    # ----------------------------------------------------------------- endings

    def _classify_driver_error(self, error: DriverError) -> UpdateFailed:
        stage = self.current_stage
        cls = FailureClass.LINK_LOST if isinstance(error, LinkLost) else FailureClass.NO_RESPONSE
        if isinstance(error, p.DeviceStatusError):
            cls = FailureClass.DEVICE_ERROR
        return UpdateFailed.from_error(stage, cls, error)

    def _internal_error(self, error: Exception) -> UpdateFailed:
        with tempfile.NamedTemporaryFile(
            "w", prefix="bridgelab-crash-", suffix=".txt", delete=False
        ) as crash:
            traceback.print_exc(file=crash)
        return UpdateFailed(
            self.current_stage,
            FailureClass.INTERNAL_ERROR,
            f"Internal error ({type(error).__name__}: {error}).",
            code="internal-error",
            action=f"This is a Bridge Lab bug: report it with {Path(crash.name)} and the "
            "defect bundle.",
        )

    def _finish(
        self, started: float, state: FinalState, failure: UpdateFailed | None
    ) -> UpdateResult:
        duration = time.monotonic() - started
        throughput = self.transferred / self.transfer_seconds if self.transfer_seconds else None
        line = self.request.known_line_rate_bps  # efficiency only against a known rate
        efficiency = throughput / line if throughput is not None and line else None
        image_version = self.image.header.file_version if self.image is not None else None
        last_join = self.join_after or self.join_before
        result = UpdateResult(
            result="success" if failure is None else failure.failure.cls.value,
            session_id=self.log.session_id,
            mode=self.request.mode,
            version_before=self.identity.firmware_version if self.identity else None,
            version_after=self.version_after,
            image_version=image_version,
            bytes=self.transferred,
            duration_s=duration,
            throughput_bps=throughput,
            line_efficiency=efficiency,
            retries=self.retries,
            resumed_from=self.resumed_from,
            predicted_ota_duration_s=self.predicted_ota_s,
            simulated_duration_s=self.simulated_s,
            failure_stage=failure.failure.stage.value if failure else None,
            error={
                "code": failure.code,
                "message": failure.message,
                "action": failure.action or None,
            }
            if failure
            else None,
            line_rate_bps=line,
            rejoined=self.rejoined,
            notices=tuple(self.notices),
            join_state=last_join.label if last_join is not None else None,
            stage_s=dict(self.stage_seconds),
        )
        if self.log.problem is not None:
            problem = self.log.problem
            result = replace(result, notices=(*result.notices, f"Triage log: {problem}"))
        self.log.finish(
            state,
            failure.failure if failure else None,
            version_after=self.version_after,
            throughput_bps=throughput,
            retries=self.retries,
        )
        self.emit(ev.SessionFinished(time.monotonic(), result))
        return result


UpdateResult = ev.UpdateResult
