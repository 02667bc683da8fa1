"""The local update strategy: windowed writes over the service protocol, the bridge's own
verify (UPDATE_FINISH: both hashes compared with the file's), then activation (UPDATE_ACTIVATE
with the Manufacturer Image hash) and the wait for the restart. See `updates.strategy`.
"""

from __future__ import annotations

from bridgelab.data.failures import FailureClass, Stage
from bridgelab.drivers import protocol as p
from bridgelab.drivers.errors import NoAnswer
from bridgelab.updates.errors import UpdateFailed
from bridgelab.updates.progress import ProgressMeter
from bridgelab.updates.selective_repeat import SelectiveRepeatTransfer
from bridgelab.updates.session import SessionContext
from bridgelab.updates.strategy import PreparedImage, TransferOutcome
from bridgelab.updates.transfer import Cancelled, WindowedTransfer


class LocalTransfer:
    """`TransferStrategy` for `Mode.LOCAL`."""

    def run(self, context: SessionContext, image: PreparedImage) -> TransferOutcome:
        image_bytes = bytes(image.image.raw)
        meter = ProgressMeter(len(image_bytes), context.request.known_line_rate_bps)

        # The offset the bridge last acknowledged, kept even when a report is throttled:
        # the failure message, the log record's last offset and the progress bar all come
        # from the transfer's own count, so they name the same byte.
        last = {"done": 0, "resumed_from": 0, "reported": -1}

        def report(done: int, total: int, resumed_from: int) -> None:
            last["reported"] = done
            context.progress(meter, done, total, resumed_from)

        def on_progress(done: int, total: int, resumed_from: int) -> None:
            last["done"], last["resumed_from"] = done, resumed_from
            if meter.update(done):
                report(done, total, resumed_from)

        def on_retry(reason: str, offset: int | None) -> None:
            context.retry(Stage.TRANSFER, reason, offset)

        with context.stage(Stage.TRANSFER):
            session = context.link.current.session
            selective = (
                context.policy.selective_repeat
                and session is not None
                and session.protocol_version >= p.SELECTIVE_REPEAT_VERSION
            )
            kind = SelectiveRepeatTransfer if selective else WindowedTransfer
            transfer = kind(
                context.link,
                image_bytes,
                context.policy,
                line_rate_bps=context.request.line_rate_bps,
                should_stop=context.cancel.cancelled,
                on_progress=on_progress,
                on_retry=on_retry,
                file_sha256=image.file_sha256,
                clock=context.clock,
            )
            if isinstance(transfer, SelectiveRepeatTransfer):
                transfer.send_ahead = _fresh_download(context.update_state, image.file_sha256)
            try:
                result = transfer.run()
            except (UpdateFailed, Cancelled):
                if last["done"] != last["reported"]:  # a throttled report: make it now
                    report(last["done"], len(image_bytes), last["resumed_from"])
                raise
            context.log.update(resumed_from=result.resumed_from)
            context.log.event(
                "transfer",
                {
                    "window": result.window,
                    "block_size": result.block_size,
                    "sent_bytes": result.sent_bytes,
                    "resent_segments": result.resent_segments,
                    "sent_ahead": result.sent_ahead,
                    "protocol_version": session.protocol_version if session else None,
                    "seconds": round(result.seconds, 3),
                },
            )
        with context.stage(Stage.VERIFY):
            mfr_sha = self._device_verify(context, image)
        with context.stage(Stage.ACTIVATE):
            self._activate(context, mfr_sha)
        return TransferOutcome(result.payload_bytes, result.seconds, result.resumed_from)

    def _device_verify(self, context: SessionContext, image: PreparedImage) -> bytes:
        expected_file = image.file_sha256
        expected_mfr = image.manufacturer_image_sha256
        try:
            answer = context.call_retrying(
                p.UpdateFinish(),
                context.policy.timeouts.verify_s,
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
        context.log.event("verified", {"manufacturer_image_sha256": expected_mfr.hex()})
        return expected_mfr

    def _activate(self, context: SessionContext, mfr_sha: bytes) -> None:
        context.link.drain_events()
        request = p.UpdateActivate(mfr_sha, context.policy.activate_delay_s)
        retries_before = context.retries
        try:
            context.call_retrying(request, context.policy.request_timeout_s * 3, Stage.ACTIVATE)
        except p.DeviceStatusError as error:
            if context.retries == retries_before or error.status != p.Status.NO_IMAGE:
                raise self._activation_refused(error) from error
            # A repeated request found the image already taken: the first one got through.
        except NoAnswer:
            # Its answer may have been lost as the bridge began restarting: the restart
            # (or its absence) below tells.
            context.notice("info", "activate-unanswered", "No answer to the activation request.")
        context.log.event("activate", {"delay_s": context.policy.activate_delay_s})
        context.await_reboot(context.policy.activate_delay_s + context.policy.timeouts.activate_s)

    @staticmethod
    def _activation_refused(error: p.DeviceStatusError) -> UpdateFailed:
        activation = (p.Status.ACTIVATION_FAILED, p.Status.NO_IMAGE, p.Status.HASH_MISMATCH)
        cls = (
            FailureClass.ACTIVATION_FAILED
            if error.status in activation
            else FailureClass.DEVICE_ERROR
        )
        return UpdateFailed(Stage.ACTIVATE, cls, error.message, code=error.code)


def _fresh_download(state: p.UpdateStatusResponse | None, file_sha256: bytes) -> bool:
    """Whether UPDATE_BEGIN will start this image from scratch (and erase first): the
    bridge holds no part of it. Unknown counts as not fresh (nothing is sent ahead)."""
    if state is None:
        return False
    holding = state.state in (p.UpdateState.RECEIVING, p.UpdateState.VERIFIED)
    return not (holding and state.file_sha256 == file_sha256)
