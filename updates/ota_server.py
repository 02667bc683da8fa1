"""Simulated OTA: the workstation is the OTA server and drives the bridge's own OTA client.

Every frame is a real ZigBee OTA Upgrade cluster frame, carried by OTA_TUNNEL: Image
Notify, Query Next Image (NO_IMAGE_AVAILABLE when the client is not due this image),
Image Block Responses at the offsets the client asks for, WAIT_FOR_DATA to enforce a
minimum block period, ABORT on cancel, and Upgrade End Response with the upgrade time
(now, after a count-down, or "wait", followed later by the command to go). Against an
emulated bridge the radio runs on its virtual clock: the session takes seconds, and the
virtual clock tells how long the real OTA would take. Before it starts, the engine
predicts that duration from the image size, block size, round trip and block period.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from bridgelab.data.failures import FailureClass, Stage
from bridgelab.drivers import protocol as p
from bridgelab.drivers.errors import LinkLost, NoAnswer
from bridgelab.updates import events as ev
from bridgelab.updates.durations import format_duration
from bridgelab.updates.errors import UpdateFailed
from bridgelab.updates.ota_line_rate import LineRate, restore, switch_to_fastest
from bridgelab.updates.progress import ProgressMeter
from bridgelab.updates.retry import retry
from bridgelab.updates.strategy import PreparedImage, TransferOutcome
from bridgelab.updates.transfer import Cancelled
from bridgelab.zigbee.ota_timing import DEFAULT_VERIFY_TIME_S, predict_ota_duration
from bridgelab.zigbee.zcl_ota import (
    ImageBlockAbort,
    ImageBlockRequest,
    ImageBlockResponse,
    ImageBlockWaitForData,
    ImageNotify,
    OtaCommand,
    QueryNextImageRequest,
    QueryNextImageResponse,
    UpgradeEndRequest,
    UpgradeEndResponse,
    ZclDecodeError,
    ZclStatus,
    decode_frame,
    encode_frame,
)

if TYPE_CHECKING:
    from bridgelab.firmware.image import OtaImage
    from bridgelab.updates.policy import UpdatePolicy
    from bridgelab.updates.session import SessionContext

WAIT_FOR_COMMAND = 0xFFFFFFFF
MAX_EXCHANGES = 2_000_000
# Bytes around one carried-ahead Image Block Response's data (its length prefix, the ZCL
# header, status, image id, offset, size) and of one Image Block Request coming back.
ZCL_BLOCK_OVERHEAD = 18
ZCL_REQUEST_BYTES = 19
BITS_PER_BYTE = 10  # 8N1
_Answer = TypeVar("_Answer", p.OtaTunnelResponse, p.OtaTunnelBatchResponse)


class _BatchUnsupported(Exception):
    """The bridge answered OTA_TUNNEL_BATCH with UNKNOWN_COMMAND (it never read it)."""


class OtaServerSession:
    """The server side of one simulated OTA, over a BridgeLink's tunnel."""

    def __init__(self, context: SessionContext, image: OtaImage) -> None:
        self.context = context
        self.policy = context.policy
        self.raw = bytes(image.raw)
        header = image.header
        self.image_id = (header.manufacturer_code, header.image_type, header.file_version)
        self.block_size = min(self.policy.ota_block_size, 255)
        self.min_period_ms = self.policy.ota_min_block_period_ms
        self._seq = 0
        self.clock_start_ms: int | None = None
        self.clock_ms = 0
        self.best_offset = 0
        self.progress_clock_ms = 0
        self._last_block_clock_ms: int | None = None
        self.blocks_served = 0
        self.repeats = 0
        self.upgrade_end: UpgradeEndRequest | None = None
        # Blocks carried ahead (OTA_TUNNEL_BATCH) only where the server's answer cannot
        # depend on the clock: with a minimum block period it answers one at a time.
        self.ahead_limit = (
            0 if self.min_period_ms else max(0, min(self.policy.ota_tunnel_ahead, 255))
        )
        self.batch_supported = self.ahead_limit > 0
        self.exchanges = 0
        self.blocks_ahead = 0  # block answers the bridge handed over from a batch
        self.highest_request = 0
        self._ahead_from: tuple[int, int] | None = None  # (next offset, block size)

    # ----------------------------------------------------------------- tunnel

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def tunnel(self, zcl_frame: bytes) -> list[bytes]:
        """One exchange with the bridge's OTA client; recovers from a lost frame.

        When `zcl_frame` answers an Image Block Request, the exchange also carries the
        answers to the block requests the client will send next (OTA_TUNNEL_BATCH); the
        requests those answered are checked and counted here, and only the frames still
        to answer are returned. A bridge without the command gets OTA_TUNNEL from then on.
        """
        start = self._ahead_from
        self._ahead_from = None
        ahead = self._blocks_ahead(start)
        if start is not None and ahead:
            try:
                answer = self._tunnel_call(p.OtaTunnelBatch(zcl_frame, ahead))
            except _BatchUnsupported:
                # Firmware from before the command: it refused it unread, so the same
                # frame goes again on its own.
                self.batch_supported = False
                self.context.log.event("ota-tunnel-batch-unsupported", {})
            else:
                return self._account_ahead(answer, len(ahead), *start)
        plain = self._tunnel_call(p.OtaTunnel(zcl_frame))
        return list(plain.frames)

    def _blocks_ahead(self, start: tuple[int, int] | None) -> tuple[bytes, ...]:
        """Encoded answers to the block requests the client is expected to send next:
        the blocks from `start` (offset, size) on, as `answer` would give them."""
        if start is None or not self.batch_supported or self.context.cancel.cancelled():
            return ()
        offset, size = start
        mfr, image_type, version = self.image_id
        raw = self.raw
        end = min(len(raw), offset + size * self._ahead_room(size))
        return tuple(
            encode_frame(
                ImageBlockResponse(mfr, image_type, version, at, raw[at : at + size]),
                self._next_seq(),
            )
            for at in range(offset, end, size)
        )

    def _ahead_room(self, size: int) -> int:
        """How many blocks one exchange may carry ahead: the policy's limit, what the
        bridge's payload takes, and what the line moves both ways within a quarter of the
        request timeout (at 115200 baud and 1 s, about 28 blocks; at 921600, all 32)."""
        client = self.context.link.current
        block_bytes = size + ZCL_BLOCK_OVERHEAD
        room = self.ahead_limit
        if client.session is not None:
            room = min(room, client.session.max_payload // block_bytes - 2)
        baud = getattr(client.port, "baudrate", None)
        if isinstance(baud, int) and baud > 0:
            line_bytes = self.policy.request_timeout_s / 4 * baud / BITS_PER_BYTE
            room = min(room, int(line_bytes // (block_bytes + ZCL_REQUEST_BYTES)) - 1)
        return max(room, 0)

    def _account_ahead(
        self, answer: p.OtaTunnelBatchResponse, sent: int, first: int, size: int
    ) -> list[bytes]:
        """Check what the bridge says it handed over; return the frames still to answer.

        The first `delivered` frames the client sent were answered by the first
        `delivered` frames carried ahead: each must be the Image Block Request for that
        block's offset, or the bridge is not relaying what it was given."""
        frames = list(answer.frames)
        delivered = answer.delivered
        if delivered > sent or delivered > len(frames):
            raise self._relay_error(
                f"it reports {delivered} blocks handed over of {sent} sent, "
                f"with {len(frames)} frames back"
            )
        expected = first
        for frame in frames[:delivered]:
            try:
                _, request = decode_frame(frame)
            except ZclDecodeError as error:
                raise self._relay_error(f"a handed-over block's request: {error.message}") from None
            if not isinstance(request, ImageBlockRequest) or request.file_offset != expected:
                raise self._relay_error(
                    f"the request answered by the block at {expected} is {request!r}"
                )
            if request.file_offset < self.best_offset:
                self.repeats += 1
            self.blocks_served += 1
            self.blocks_ahead += 1
            self.highest_request = max(self.highest_request, expected)
            expected += size
        return frames[delivered:]

    def _relay_error(self, detail: str) -> UpdateFailed:
        return UpdateFailed(
            self.context.current_stage,
            FailureClass.DEVICE_ERROR,
            f"The bridge's OTA tunnel did not relay the blocks it was given: {detail}.",
            code="ota-tunnel-relay",
        )

    def _tunnel_call(self, request: p.Request[_Answer]) -> _Answer:
        context = self.context

        def exchange(_: float) -> _Answer:
            client = (
                context.link.current
                if context.link.healthy()
                else context.reconnect(Stage.TRANSFER)
            )
            return client.call(request, self.policy.request_timeout_s)

        try:
            answer = retry(
                exchange,
                total_s=self.policy.timeouts.reconnect_s,
                clock=context.clock,
                retry_on=(NoAnswer, LinkLost),
                on_retry=lambda error: context.retry(
                    context.current_stage, f"tunnel: {getattr(error, 'code', 'lost')}"
                ),
                check_cancel=context.check_cancel,
            )
        except p.DeviceStatusError as error:
            if isinstance(request, p.OtaTunnelBatch) and error.status == p.Status.UNKNOWN_COMMAND:
                raise _BatchUnsupported() from error
            cls = (
                FailureClass.NOT_OTA_CAPABLE
                if error.status == p.Status.NOT_SUPPORTED
                else FailureClass.NOT_JOINED
            )
            raise UpdateFailed(
                context.current_stage, cls, error.message, code=error.code
            ) from error
        except (NoAnswer, LinkLost) as error:
            raise UpdateFailed(
                context.current_stage, FailureClass.LINK_LOST, error.message, code=error.code
            ) from error
        self.exchanges += 1
        if self.clock_start_ms is None:
            self.clock_start_ms = answer.clock_ms
            self.progress_clock_ms = answer.clock_ms
        self.clock_ms = answer.clock_ms
        return answer

    @property
    def simulated_s(self) -> float:
        return (self.clock_ms - (self.clock_start_ms or 0)) / 1000.0

    # ----------------------------------------------------------------- answers

    def answer(self, request: OtaCommand) -> list[OtaCommand]:
        mfr, image_type, version = self.image_id
        if isinstance(request, QueryNextImageRequest):
            due = (request.manufacturer_code, request.image_type) == (mfr, image_type) and (
                request.current_file_version != version
            )
            if not due:
                return [QueryNextImageResponse(ZclStatus.NO_IMAGE_AVAILABLE)]
            return [
                QueryNextImageResponse(ZclStatus.SUCCESS, mfr, image_type, version, len(self.raw))
            ]
        if isinstance(request, ImageBlockRequest):
            if (
                request.manufacturer_code,
                request.image_type,
                request.file_version,
            ) != self.image_id:
                return [ImageBlockAbort()]
            if self.context.cancel.cancelled():
                return [ImageBlockAbort()]
            if self.min_period_ms and self._last_block_clock_ms is not None:
                since_ms = self.clock_ms - self._last_block_clock_ms
                if since_ms < self.min_period_ms:
                    now_s = self.clock_ms // 1000
                    wait_s = max(1, -(-(self.min_period_ms - since_ms) // 1000))
                    return [ImageBlockWaitForData(now_s, now_s + wait_s, self.min_period_ms)]
            if request.file_offset >= len(self.raw):
                return [ImageBlockAbort()]
            size = min(request.max_data_size, self.block_size)
            data = self.raw[request.file_offset : request.file_offset + size]
            self._last_block_clock_ms = self.clock_ms
            self.blocks_served += 1
            if request.file_offset < self.best_offset:
                self.repeats += 1
            self.highest_request = max(self.highest_request, request.file_offset)
            next_offset = request.file_offset + len(data)
            if next_offset < len(self.raw) and len(data) == size:
                self._ahead_from = (next_offset, size)
            return [ImageBlockResponse(mfr, image_type, version, request.file_offset, data)]
        if isinstance(request, UpgradeEndRequest):
            self.upgrade_end = request
            return []  # the session decides the answer (or failure) from the status
        return []

    def ended(self) -> bool:
        return self.upgrade_end is not None

    def upgrade_end_response(self, wait: bool) -> bytes:
        mfr, image_type, version = self.image_id
        delay = self.policy.ota_upgrade_delay_s
        now_s = self.clock_ms // 1000
        if wait:
            current, upgrade = now_s, WAIT_FOR_COMMAND
        elif delay > 0:
            current, upgrade = now_s, now_s + delay
        else:
            current, upgrade = 0, 0
        return encode_frame(
            UpgradeEndResponse(mfr, image_type, version, current, upgrade), self._next_seq()
        )


def predict_policy_ota_duration(image_size: int, policy: UpdatePolicy) -> float:
    """Seconds the real over-the-air update of `image_size` bytes would take under
    `policy` (what the engine announces before a simulated OTA, and the GUI before start)."""
    return predict_ota_duration(
        image_size,
        block_size=min(policy.ota_block_size, 63),
        round_trip_s=policy.ota_round_trip_s,
        block_period_s=policy.ota_min_block_period_ms / 1000.0,
        loss_rate=policy.ota_loss_rate,
        verify_time_s=DEFAULT_VERIFY_TIME_S,
        countdown_s=max(0, policy.ota_upgrade_delay_s),
    )


class SimulatedOta:
    """`TransferStrategy` for `Mode.OTA` (see `updates.strategy`)."""

    def run(self, context: SessionContext, image: PreparedImage) -> TransferOutcome:
        return run_simulated_ota(context, image)


def run_simulated_ota(context: SessionContext, image: PreparedImage) -> TransferOutcome:
    """TRANSFER (blocks), VERIFY (the client's own check) and ACTIVATE, over the tunnel."""
    policy = context.policy
    server = OtaServerSession(context, image.image)
    size = len(server.raw)
    predicted = predict_policy_ota_duration(size, policy)
    context.notice(
        "info",
        "ota-prediction",
        f"Predicted duration of the real OTA: {format_duration(predicted)} "
        f"({size} bytes in {-(-size // min(server.block_size, 63))} blocks).",
    )
    meter = ProgressMeter(size, None)
    line_rate = LineRate(None, None)
    try:
        with context.stage(Stage.TRANSFER, "simulated OTA over the tunnel"):
            line_rate = switch_to_fastest(context)
            mfr, image_type, version = server.image_id
            notify = ImageNotify(
                query_jitter=100, manufacturer_code=mfr, image_type=image_type, file_version=version
            )
            outgoing = server.tunnel(encode_frame(notify, server._next_seq()))
            if not outgoing:
                raise UpdateFailed(
                    Stage.TRANSFER,
                    FailureClass.DEVICE_REFUSED,
                    "The bridge's OTA client did not answer the Image Notify.",
                    code="ota-no-query",
                )
            seconds = _exchange(context, server, outgoing, meter, predicted)
        with context.stage(Stage.VERIFY, "the bridge's OTA client checks the image"):
            end = server.upgrade_end
            assert end is not None
            if end.status != ZclStatus.SUCCESS:
                cls = (
                    FailureClass.HASH_MISMATCH
                    if end.status == ZclStatus.INVALID_IMAGE
                    else FailureClass.DEVICE_REFUSED
                )
                raise UpdateFailed(
                    Stage.VERIFY,
                    cls,
                    f"The bridge's OTA client ended the download with {end.status.name} "
                    "(it found the image invalid, or gave up).",
                    code=f"ota-{end.status.name.lower().replace('_', '-')}",
                )
    finally:
        # Back to the session's rate, failed or not: the bridge restarts, and a later
        # session opens, at that rate.
        restore(context, line_rate)
    with context.stage(Stage.ACTIVATE, "Upgrade End Response"):
        context.link.drain_events()
        wait = policy.ota_upgrade_delay_s < 0
        server.tunnel(server.upgrade_end_response(wait))
        if wait:
            # "Wait for a later command": the client holds the image until told to go.
            context.log.event("ota-upgrade-waiting", {})
            server.tunnel(server.upgrade_end_response(False))
        context.log.update(
            details={
                "simulated_ota_s": server.simulated_s,
                "predicted_ota_s": predicted,
                "ota_line_baud": line_rate.running_at,
                "ota_tunnel_exchanges": server.exchanges,
                "ota_blocks_ahead": server.blocks_ahead,
            }
        )
        context.await_reboot(policy.timeouts.activate_s)
    return TransferOutcome(
        size, seconds, resumed_from=0, predicted_s=predicted, simulated_s=server.simulated_s
    )


def _exchange(
    context: SessionContext,
    server: OtaServerSession,
    outgoing: list[bytes],
    meter: ProgressMeter,
    predicted: float,
) -> float:
    """Answer the client's frames until it sends its Upgrade End Request; the seconds."""
    stall_ms = context.policy.timeouts.ota_stall_s * 1000
    size = len(server.raw)
    started = context.clock.monotonic()
    for _ in range(MAX_EXCHANGES):
        replies = _answer_all(context, server, outgoing)
        if server.ended():
            end = server.upgrade_end
            if end is not None and end.status in (ZclStatus.SUCCESS, ZclStatus.INVALID_IMAGE):
                # The client holds every byte: say so, whatever the wall-time throttle
                # let through before (a batched tunnel moves a small image between two).
                meter.update(size)
                _report_progress(context, server, size, predicted)
            return context.clock.monotonic() - started
        outgoing = []
        for reply in replies or [b""]:  # nothing to say: let the client's timer run
            outgoing += server.tunnel(reply)
        offset = _client_offset(outgoing, max(server.best_offset, server.highest_request))
        if offset > server.best_offset:
            server.best_offset = offset
            server.progress_clock_ms = server.clock_ms
            if meter.update(offset):
                _report_progress(context, server, offset, predicted)
        elif server.clock_ms - server.progress_clock_ms > stall_ms:
            raise UpdateFailed(
                Stage.TRANSFER,
                FailureClass.STALLED,
                f"No OTA progress for {context.policy.timeouts.ota_stall_s:g} simulated seconds at "
                f"{server.best_offset} of {size} bytes.",
                code="ota-stalled",
            )
    raise UpdateFailed(
        Stage.TRANSFER, FailureClass.STALLED, "The OTA exchange never ended.", code="ota-runaway"
    )


def _report_progress(
    context: SessionContext, server: OtaServerSession, offset: int, predicted: float
) -> None:
    size = len(server.raw)
    simulated = server.simulated_s
    rate = offset / simulated if simulated else 0.0
    eta = (size - offset) / rate if rate else None
    context.log.progress(offset, size, simulated_s=round(simulated, 1))
    context.emit(
        ev.Progress(
            context.clock.monotonic(), offset, size, rate, eta, None, 0, simulated, predicted
        )
    )


def _answer_all(
    context: SessionContext, server: OtaServerSession, frames: list[bytes]
) -> list[bytes]:
    replies: list[bytes] = []
    for frame in frames:
        try:
            header, request = decode_frame(frame)
        except ZclDecodeError as error:
            context.notice(
                "warning", error.code, f"Malformed frame from the OTA client: {error.message}"
            )
            continue
        if isinstance(request, ImageBlockRequest) and context.cancel.cancelled():
            server.tunnel(encode_frame(ImageBlockAbort(), header.seq))
            raise Cancelled()
        answers = server.answer(request)
        for answer in answers:
            if isinstance(answer, QueryNextImageResponse) and answer.status != ZclStatus.SUCCESS:
                raise UpdateFailed(
                    Stage.TRANSFER,
                    FailureClass.DEVICE_REFUSED,
                    "The bridge's OTA client is not due this image (same version, or another "
                    "manufacturer or image type).",
                    code="ota-no-image-available",
                )
        replies += [encode_frame(answer, header.seq) for answer in answers]
    return replies


def _client_offset(frames: list[bytes], current: int) -> int:
    """The highest offset the client has asked for (it asks for the next block it needs)."""
    best = current
    for frame in frames:
        try:
            _, request = decode_frame(frame)
        except ZclDecodeError:
            continue
        if isinstance(request, ImageBlockRequest):
            best = max(best, request.file_offset)
    return best
