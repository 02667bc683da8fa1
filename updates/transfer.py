"""The local transfer: a windowed, pipelined write of the image over the service protocol.

The line stays busy: up to `window` writes are in flight, the window sized from the
handshake and the measured round trip. The bridge writes only at the offset it expects and
answers any other write with that offset, so recovery is always "continue from where the
bridge says": after a lost frame (WRONG_OFFSET), a silence (timeout: ask again with
UPDATE_BEGIN, which reports the resume offset), a reboot or a pulled cable (reconnect by
EUI-64, then the same). Each recovery counts as a retry; too many, or no progress for
`stall_s`, ends the transfer with a classified failure and the old firmware running.
"""

from __future__ import annotations

import hashlib
import math
import queue
from collections.abc import Callable
from dataclasses import dataclass

from bridgelab.clock import SYSTEM_CLOCK, Clock
from bridgelab.data.failures import FailureClass, Stage
from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient, Pending
from bridgelab.drivers.errors import DriverError, LinkLost, NoAnswer
from bridgelab.drivers.framing import CRC_SIZE, HEADER_SIZE
from bridgelab.updates.errors import UpdateFailed
from bridgelab.updates.link import BridgeLink
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.retry import retry

WRITE_HEADER = 4  # offset u32 ahead of the data
FRAME_OVERHEAD = HEADER_SIZE + CRC_SIZE + 2  # plus COBS: one byte per 254, added below
BITS_PER_BYTE = 10  # 8N1


def wire_bytes(payload_size: int) -> int:
    """Bytes a frame with `payload_size` bytes of payload takes on the line."""
    content = HEADER_SIZE + payload_size + CRC_SIZE
    return content + math.ceil(content / 254) + 2


@dataclass
class TransferResult:
    resumed_from: int
    payload_bytes: int  # bytes acknowledged in this session (from the resume offset)
    sent_bytes: int  # data bytes written, resends included
    seconds: float  # first write to last acknowledgement
    retries: int
    window: int
    block_size: int
    resent_segments: int = 0  # selective repeat: segments sent again because one was lost
    sent_ahead: int = 0  # selective repeat: bytes sent right behind UPDATE_BEGIN


class Cancelled(Exception):
    """The user asked the engine to stop."""


class WindowedTransfer:
    def __init__(
        self,
        link: BridgeLink,
        image: bytes,
        policy: UpdatePolicy,
        *,
        line_rate_bps: float | None,
        should_stop: Callable[[], bool],
        on_progress: Callable[[int, int, int], None],
        on_retry: Callable[[str, int | None], None],
        file_sha256: bytes | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.link = link
        self.clock = clock
        self.image = image
        self.policy = policy
        self.size = len(image)
        self.digest = file_sha256 or hashlib.sha256(image).digest()
        header_length = int.from_bytes(image[6:8], "little")
        self.header = image[:header_length]
        self.line_rate_bps = line_rate_bps
        self.should_stop = should_stop
        self.on_progress = on_progress
        self.on_retry = on_retry
        self.retries = 0
        self.retries_in_a_row = 0
        self.last_begin: p.UpdateBeginResponse | None = None

    # ----------------------------------------------------------------- set-up

    def begin_request(self) -> p.UpdateBegin:
        return p.UpdateBegin(self.size, self.digest, self.header)

    def begin(
        self,
        client: BridgeClient,
        timeout_s: float | None = None,
        sent: tuple[p.UpdateBegin, Pending] | None = None,
    ) -> tuple[int, int]:
        """Open (or re-open) the transfer; the bridge answers where to resume.

        UPDATE_BEGIN is idempotent for the same image, so a lost request or answer is sent
        again, waiting 1, 2, 4, ... request timeouts: a slow erase is answered in the end,
        a lost frame costs a retry, not `begin_s`. `sent`: the request, already submitted
        (with segments behind it); its answer is the first try's.
        """
        request = sent[0] if sent is not None else self.begin_request()
        ahead = [sent[1]] if sent is not None else []

        def attempt(try_s: float) -> p.UpdateBeginResponse:
            if ahead:
                return client.answer_of(request, ahead.pop(), try_s)
            return client.call(request, try_s)

        answer = retry(
            attempt,
            total_s=self.policy.timeouts.begin_s if timeout_s is None else timeout_s,
            clock=self.clock,
            retry_on=(NoAnswer,),
            first_try_s=self.policy.request_timeout_s,
            backoff=2.0,
            on_retry=lambda _: self.on_retry("no answer to UPDATE_BEGIN", None),
        )
        self.last_begin = answer
        return answer.resume_offset, answer.max_write

    def _window_for(self, client: BridgeClient, block: int) -> int:
        session = client.session
        limit = session.window if session else 4
        if self.policy.max_window is not None:
            limit = min(limit, self.policy.max_window)
        if self.line_rate_bps is None:
            return max(1, limit)
        # Enough writes in flight to cover one round trip at line rate, plus slack for the
        # bridge's flash time: the bandwidth-delay product in frames.
        rtt = self._round_trip_s(client)
        if rtt is None:
            return max(1, limit)  # nothing measured: the handshake's window, no guess
        frame_s = wire_bytes(block + WRITE_HEADER) / self.line_rate_bps
        needed = math.ceil((rtt + frame_s) / frame_s) + 2
        return max(1, min(limit, max(2, needed)))

    def _round_trip_s(self, client: BridgeClient) -> float | None:
        """The slowest of three pings; a lost one costs a retry, never the transfer
        (issue 10: one lost reply at the very start used to fail the update)."""
        samples = []
        for _ in range(3):
            try:
                samples.append(client.ping(timeout_s=self.policy.request_timeout_s))
            except NoAnswer:
                self.on_retry("no answer to PING", None)
        return max(samples) if samples else None

    # ----------------------------------------------------------------- the loop

    def run(self) -> TransferResult:
        client = self.link.current
        resumed_from, max_write = self.begin(client)
        session = client.session
        block = max_write
        if session is not None:
            block = min(block, session.max_payload - WRITE_HEADER - 4)
        if self.policy.block_size:
            block = min(block, self.policy.block_size)
        window = self._window_for(client, block)
        max_block = block
        good_in_a_row = 0
        acked = next_offset = resumed_from
        epoch = 0
        sent = 0
        completions: queue.Queue[Pending] = queue.Queue()
        inflight: dict[Pending, int] = {}  # pending write -> the epoch it was sent in
        started = last_progress = self.clock.monotonic()
        self.on_progress(acked, self.size, resumed_from)
        while acked < self.size:
            if self.should_stop():
                self._forget(client, inflight)
                raise Cancelled()
            while len(inflight) < window and next_offset < self.size:
                data = self.image[next_offset : next_offset + block]
                try:
                    pending = client.submit(p.UpdateWrite(next_offset, data), completions.put)
                except LinkLost:
                    break  # handled below as a timeout: reconnect and resume
                inflight[pending] = epoch
                next_offset += len(data)
                sent += len(data)
            try:
                done = completions.get(timeout=self.policy.request_timeout_s)
            except queue.Empty:
                done = None
            now = self.clock.monotonic()
            if done is None or (done.error is not None and isinstance(done.error, LinkLost)):
                # Silence or a broken link: ask the bridge (found again if need be) where
                # it stands, and carry on from there.
                self._forget(client, inflight)
                client, acked = self._resync(acked, last_progress)
                next_offset = acked
                epoch += 1
                block = max(self.policy.min_block_size, block // 2)
                good_in_a_row = 0
                continue
            sent_in = inflight.pop(done, None)
            if sent_in is None:
                continue  # forgotten at a resync
            write = done.request
            assert isinstance(write, p.UpdateWrite)
            error = done.error
            if isinstance(error, p.DeviceStatusError) and error.expected_offset is not None:
                reported = error.expected_offset
            elif error is not None:
                if isinstance(error, p.DeviceStatusError):
                    raise self._device_failure(error)
                raise error
            else:
                assert isinstance(done.response, p.UpdateWriteResponse)
                reported = done.response.next_offset
            # The bridge's offset only moves forward, so any answer, even to a write from
            # before a rewind, says truthfully how far it is.
            if reported > acked:
                acked = reported
                last_progress = now
                self.retries_in_a_row = 0
                good_in_a_row += 1
                if good_in_a_row >= 2 * window and block < max_block:
                    block, good_in_a_row = min(max_block, block * 2), 0
                self.on_progress(acked, self.size, resumed_from)
            elif now - last_progress > self.policy.timeouts.stall_s:
                raise self._stalled(acked)
            if error is not None and reported < write.offset and sent_in == epoch:
                # A gap before this write: something went missing. Rewind to where the
                # bridge is; shorter writes lose less on a line that loses frames.
                next_offset = reported
                epoch += 1
                block = max(self.policy.min_block_size, block // 2)
                good_in_a_row = 0
                self._count_retry(f"rewind to {next_offset}", next_offset)
        seconds = self.clock.monotonic() - started
        return TransferResult(
            resumed_from, self.size - resumed_from, sent, seconds, self.retries, window, block
        )

    # ----------------------------------------------------------------- recovery

    def _count_retry(self, reason: str, offset: int | None) -> None:
        self.retries += 1
        self.retries_in_a_row += 1
        self.on_retry(reason, offset)
        if (
            self.retries_in_a_row > self.policy.max_retries
            or self.retries > self.policy.max_total_retries
        ):
            raise UpdateFailed(
                Stage.TRANSFER,
                FailureClass.STALLED,
                f"Gave up after {self.retries - 1} retries, {self.retries_in_a_row - 1} in a "
                f"row without progress ({reason}).",
                code="too-many-retries",
            )

    def _forget(self, client: BridgeClient, inflight: dict[Pending, int]) -> None:
        for pending in inflight:
            client.forget(pending)
        inflight.clear()

    def _resync(self, acked: int, last_progress: float) -> tuple[BridgeClient, int]:
        """Re-open the transfer, reconnecting if the link broke; returns the new offset."""
        timeouts = self.policy.timeouts
        # A silent bridge on a live link gets the stall time (enough for a reboot); a link
        # that broke gets the time a cable takes to come back.
        deadline = last_progress + timeouts.stall_s
        if not self.link.healthy():
            deadline = max(deadline, self.clock.monotonic() + timeouts.reconnect_s)
        self._count_retry(f"no answer at offset {acked}", acked)
        while True:
            if self.should_stop():
                raise Cancelled()
            try:
                client = (
                    self.link.current
                    if self.link.healthy()
                    else self.link.reconnect(deadline, self.should_stop)
                )
                # Re-opening the same image needs no erase: a short wait, asked again if lost.
                resume, _ = self.begin(client, 2 * self.policy.request_timeout_s)
                self.on_retry(f"resumed at {resume}", resume)
                return client, resume
            except NoAnswer:
                if self.clock.monotonic() > deadline:
                    raise self._stalled(acked) from None
                self.clock.sleep(0.1)  # rebooting: it answers again after its boot time
            except LinkLost:
                continue
            except p.DeviceStatusError as error:
                raise self._device_failure(error) from error
            except DriverError as error:
                raise UpdateFailed(
                    Stage.TRANSFER,
                    FailureClass.LINK_LOST,
                    f"Lost the bridge at {acked} of {self.size} bytes and could not find it "
                    f"again ({error.message})",
                    code=error.code,
                ) from error

    def _stalled(self, acked: int) -> UpdateFailed:
        percent = 100.0 * acked / self.size if self.size else 0.0
        return UpdateFailed(
            Stage.TRANSFER,
            FailureClass.STALLED,
            f"No progress for {self.policy.timeouts.stall_s:g} s at {acked} of {self.size} "
            f"bytes ({percent:.0f} %).",
            code="transfer-stalled",
        )

    def _device_failure(self, error: p.DeviceStatusError) -> UpdateFailed:
        return UpdateFailed(
            Stage.TRANSFER,
            FailureClass.DEVICE_ERROR,
            f"The bridge refused a write: {error.message}",
            code=error.code,
        )
