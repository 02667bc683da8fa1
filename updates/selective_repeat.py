"""The local transfer in protocol version 2: selective repeat over segments sized for the line.

The bridge accepts UPDATE_SEGMENT anywhere inside its reassembly window and answers each
with what it holds (its contiguous offset and the ranges held beyond it). A serial line
delivers in order, so when the answer to a segment shows an earlier segment missing, that
one was lost: it is resent at once, alone, while the rest of the window keeps moving. A
lost answer costs nothing (the next answer covers it), and neither does a late one: only
the last segment sent has a deadline, since any later answer tells the fate of the ones
before it. So only the tail of the transfer, with nothing after it to reveal a gap, waits
for a deadline, and that deadline is the time the segment needs on the line plus the
measured round trip and its jitter, not a fixed second.
Resends of the same segment back off, bounded by `request_timeout_s`.

Segment sizes follow the measured error rate: every segment's fate (held, or lost) feeds a
short-memory estimate of the per-byte error rate, and new segments get the size that
maximises payload over wire bytes times the chance of arriving whole. A clean line keeps
the largest writes the bridge allows; a noisy one gets shorter ones, and longer again when
it clears.

Everything else is the windowed transfer's: UPDATE_BEGIN (resume offset), recovery from a
silence, a reboot or a pulled cable (`_resync`), the stall and retry bounds. A bridge that
does not offer a reassembly window gets the windowed transfer.
"""

from __future__ import annotations

import heapq
import math
import queue
import time
from dataclasses import dataclass

from bridgelab.data.failures import FailureClass, Stage
from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient, Pending
from bridgelab.drivers.errors import LinkLost, NoAnswer
from bridgelab.updates.errors import UpdateFailed
from bridgelab.updates.transfer import (
    WRITE_HEADER,
    Cancelled,
    TransferResult,
    WindowedTransfer,
    wire_bytes,
)

MEMORY = 0.97  # per segment: the error estimate forgets with a memory of ~30 segments
PRIOR_SEGMENTS = 4.0  # as if this many segments had arrived whole before the first one
MAX_LOSS_SHARE = 0.9
QUIET_BEFORE_RESYNC = 2  # request timeouts with no answer at all: ask where it stands
# Segments sent behind UPDATE_BEGIN: enough to keep the line busy through a typical erase
# (0.5 ms a KiB: 0.25 s for 512 KiB), never more than a reassembly window holds.
AHEAD_S = 0.3
AHEAD_BYTES = 32 * 1024


def segment_wire(length: int) -> int:
    """Bytes one UPDATE_SEGMENT carrying `length` image bytes takes on the line."""
    return wire_bytes(WRITE_HEADER + length)


def best_segment(error_rate: float, smallest: int, largest: int) -> int:
    """The segment length with the most payload per wire byte at `error_rate` per byte:
    length / wire(length) x (1 - error_rate) ** wire(length)."""
    if error_rate <= 0.0:
        return largest
    keep = math.log1p(-min(error_rate, 0.5))
    guess = math.sqrt(segment_wire(0) / error_rate)
    candidates = {smallest, largest, *(int(guess * f) for f in (0.5, 0.7, 1.0, 1.4, 2.0))}

    def value(length: int) -> float:
        wire = segment_wire(length)
        return length / wire * math.exp(keep * wire)

    return max((c for c in candidates if smallest <= c <= largest), key=value)


class LineQuality:
    """A short-memory estimate of the per-byte error rate from segments held or lost.

    From the share of segments lost and their mean wire size: a segment of n bytes
    arrives whole with probability (1 - rate) ** n. A prior of a few whole segments keeps
    the first loss from reading as a hopeless line.
    """

    def __init__(self) -> None:
        self.segments = PRIOR_SEGMENTS  # weighted count, the prior included
        self.recorded = 0.0  # weighted count of segments seen
        self.lost = 0.0
        self.wire = 0.0

    def record(self, wire: int, lost: bool) -> None:
        self.segments = self.segments * MEMORY + 1.0
        self.recorded = self.recorded * MEMORY + 1.0
        self.lost = self.lost * MEMORY + (1.0 if lost else 0.0)
        self.wire = self.wire * MEMORY + wire

    def error_rate(self) -> float:
        if self.lost <= 0.0 or self.recorded <= 0.0:
            return 0.0
        share = min(self.lost / self.segments, MAX_LOSS_SHARE)
        return -math.log1p(-share) / max(self.wire / self.recorded, 1.0)


@dataclass
class _Segment:
    offset: int
    length: int
    last_tx: int = -1
    sends: int = 0
    lost: bool = False  # waiting to be resent
    pending: Pending | None = None  # its transmission in flight, if any

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass
class _Flight:
    tx: int
    segment: _Segment
    due_at: float  # no answer by then: presumed lost
    expected_at: float  # when the answer should come with no loss and no jitter


class SelectiveRepeatTransfer(WindowedTransfer):
    """Protocol version 2's transfer; same contract as `WindowedTransfer.run()`."""

    # Set by the caller when the bridge holds no download of this image (a fresh begin
    # with an erase ahead): the first segments then go out right behind UPDATE_BEGIN.
    send_ahead = False

    def run(self) -> TransferResult:
        client = self.link.current
        self.completions: queue.Queue[Pending] = queue.Queue()
        self.segments: dict[int, _Segment] = {}
        self.inflight: dict[Pending, _Flight] = {}
        started = time.monotonic()
        request = self.begin_request()
        ahead: list[tuple[_Segment, Pending]] = []
        retries_before = self.retries
        if self.send_ahead and client.min_round_trip_s is not None:
            begin_sent = client.submit(request)
            ahead = self._submit_ahead(client)
            resumed_from, max_write = self.begin(client, sent=(request, begin_sent))
        else:
            resumed_from, max_write = self.begin(client)
        begun = self.last_begin
        if begun is None or begun.reassembly_bytes is None:
            self._forget_ahead(client, ahead)
            return super().run()  # the bridge offers no reassembly window: version 1 writes
        self.reassembly = begun.reassembly_bytes
        largest = max_write
        session = client.session
        if session is not None:
            largest = min(largest, session.max_payload - WRITE_HEADER - 4)
        if self.policy.block_size:
            largest = min(largest, self.policy.block_size)
        self.largest = largest
        self.smallest = min(self.policy.min_segment_size, largest)
        self.quality = LineQuality()
        self.base_rtt = self._base_rtt(client)
        self.lateness = 0.0
        self.lateness_dev = self.policy.retry_min_s / 4
        limit = session.window if session else 4
        if self.policy.max_window is not None:
            limit = min(limit, self.policy.max_window)
        self.max_frames = max(1, limit)
        self.resumed_from = resumed_from
        self.resent_segments = 0
        self.resend: list[int] = []  # offsets of lost segments, lowest first
        self.client = client
        self.next_new = resumed_from
        self.line_free = 0.0  # when what was sent has left the host, at line rate
        self.ahead_count = 0  # segments sent ahead of the begin's answer and adopted
        adopted = (
            resumed_from == 0
            and self.retries == retries_before  # else they reached the bridge before it began
            and ahead
            and ahead[-1][0].end <= self.reassembly
            and all(segment.length <= largest for segment, _ in ahead)
        )
        sent_ahead = 0
        if adopted:
            self._adopt(ahead)
            sent_ahead = self.next_new
        else:
            self._forget_ahead(client, ahead)
            started = time.monotonic()
        self.on_progress(resumed_from, self.size, resumed_from)
        sent = self._transfer(resumed_from)
        seconds = time.monotonic() - started
        return TransferResult(
            resumed_from,
            self.size - resumed_from,
            sent,
            seconds,
            self.retries,
            self.max_frames,
            self._target(),
            resent_segments=self.resent_segments,
            sent_ahead=sent_ahead,
        )

    # ----------------------------------------------------------------- ahead of the begin

    def _submit_ahead(self, client: BridgeClient) -> list[tuple[_Segment, Pending]]:
        """The first segments, sent right behind UPDATE_BEGIN: the bridge takes them as
        soon as its erase is done, so the line moves data while the bridge erases instead
        of idling for the begin's answer. As many as the line carries in two round trips
        plus AHEAD_S, within the handshake's window and AHEAD_BYTES (inside the reassembly
        window a version-2 bridge offers); none on a line too slow to carry one segment in
        that time."""
        session = client.session
        if session is None or self.line_rate_bps is None:
            return []
        length = session.max_payload - WRITE_HEADER - 4
        if self.policy.block_size:
            length = min(length, self.policy.block_size)
        rtt = client.min_round_trip_s or 0.0
        carried = self.line_rate_bps * (2 * rtt + AHEAD_S)
        if carried < length:
            # A slow line: the begin's wait is a small part of its transfer, and a segment
            # sent ahead is exposed to its noise before anything is known of it.
            return []
        budget = min(carried, AHEAD_BYTES, self.size)
        frames = session.window if self.policy.max_window is None else self.policy.max_window
        ahead: list[tuple[_Segment, Pending]] = []
        offset = 0
        while offset < budget and len(ahead) < frames and offset < self.size:
            segment = _Segment(offset, min(length, self.size - offset))
            data = self.image[segment.offset : segment.end]
            try:
                pending = client.submit(p.UpdateSegment(offset, data), self.completions.put)
            except LinkLost:
                break  # the begin finds it
            ahead.append((segment, pending))
            offset = segment.end
        return ahead

    def _adopt(self, ahead: list[tuple[_Segment, Pending]]) -> None:
        """The segments sent ahead are in flight as if sent now (the bridge took them after
        its erase, which the begin's answer ends): their deadlines start here."""
        line_free = time.monotonic()
        assert self.line_rate_bps is not None
        for tx, (segment, pending) in enumerate(ahead):
            line_free += segment_wire(segment.length) / self.line_rate_bps
            expected = line_free + self.base_rtt
            segment.sends, segment.last_tx, segment.pending = 1, tx, pending
            self.segments[segment.offset] = segment
            self.inflight[pending] = _Flight(tx, segment, expected + self._margin(1), expected)
            self.next_new = segment.end
        self.line_free = line_free
        self.ahead_count = len(ahead)

    @staticmethod
    def _forget_ahead(client: BridgeClient, ahead: list[tuple[_Segment, Pending]]) -> None:
        for _, pending in ahead:
            client.forget(pending)

    # ----------------------------------------------------------------- timing

    def _base_rtt(self, client: BridgeClient) -> float:
        """The line's round trip with no queue ahead (latency timers both ways): the
        shortest answer the client has seen so far (handshake, identify, UPDATE_BEGIN), so
        no pings are spent on it; one ping if nothing was measured, and a lost one costs
        a retry, not the transfer."""
        if self.line_rate_bps is None:
            return 0.0
        if client.min_round_trip_s is not None:
            return client.min_round_trip_s
        try:
            return client.ping(timeout_s=self.policy.request_timeout_s)
        except NoAnswer:
            self.on_retry("no answer to PING", None)
            return 0.0

    def _margin(self, sends: int) -> float:
        """How late an answer may be before its segment is presumed lost: the measured
        lateness and four deviations, doubling with each resend of the same segment,
        within [retry_min_s, request_timeout_s]."""
        margin = max(self.policy.retry_min_s, self.lateness + 4 * self.lateness_dev)
        margin *= 2.0 ** max(0, sends - 1)
        return min(margin, self.policy.request_timeout_s)

    def _observe(self, flight: _Flight, now: float) -> None:
        error = (now - flight.expected_at) - self.lateness
        self.lateness += error / 8
        self.lateness_dev += (abs(error) - self.lateness_dev) / 4

    def _target(self) -> int:
        return best_segment(self.quality.error_rate(), self.smallest, self.largest)

    def _byte_budget(self) -> int:
        """Bytes in flight: twice the line's bandwidth-delay product plus two segments of
        the current size, so the line never idles while the queue ahead stays short (a
        deadline can then be close to the real answer time)."""
        if self.line_rate_bps is None:
            return self.reassembly
        delay_bytes = int(self.line_rate_bps * (2 * self.base_rtt + 0.01))
        return min(self.reassembly, delay_bytes + 2 * segment_wire(self._target()))

    # ----------------------------------------------------------------- the loop

    def _transfer(self, resumed_from: int) -> int:
        acked = resumed_from
        self.window_end = resumed_from + self.reassembly
        completions = self.completions
        tx = len(self.inflight)  # segments sent ahead of the begin are in flight already
        sent = self.next_new - resumed_from
        line_free = self.line_free
        last_progress = last_answer = time.monotonic()
        while acked < self.size:
            if self.should_stop():
                self._drop_all()
                raise Cancelled()
            # Fill the window: lost segments first (lowest offset first), then new ones.
            budget = self._byte_budget()
            in_flight_bytes = sum(f.segment.length for f in self.inflight.values())
            while len(self.inflight) < self.max_frames and in_flight_bytes < budget:
                segment = self._next_segment()
                if segment is None:
                    break
                data = self.image[segment.offset : segment.end]
                try:
                    pending = self.client.submit(
                        p.UpdateSegment(segment.offset, data), completions.put
                    )
                except LinkLost:
                    segment.lost = True
                    heapq.heappush(self.resend, segment.offset)
                    break  # found at the next deadline: reconnect and resume
                now = time.monotonic()
                expected = now + self.base_rtt
                if self.line_rate_bps:
                    wire = segment_wire(segment.length)
                    line_free = max(line_free, now) + wire / self.line_rate_bps
                    expected = line_free + self.base_rtt
                segment.sends += 1
                segment.last_tx = tx
                segment.lost = False
                segment.pending = pending
                due = expected + self._margin(segment.sends)
                self.inflight[pending] = _Flight(tx, segment, due, expected)
                tx += 1
                sent += segment.length
                in_flight_bytes += segment.length
            if not self.inflight:
                # Nothing in flight and nothing left to send, yet the bridge is not done
                # (it lost what it held out of order: a reboot): ask where it stands.
                acked = self._restart(acked, last_progress)
                continue
            # The line delivers in order, so the answer to a later segment tells the fate of
            # every earlier one: only the last segment sent needs a deadline. An answer that
            # is late (a busy machine, a slow bridge) is then waited for, not resent.
            last_due = max(self.inflight.values(), key=lambda f: f.tx).due_at
            try:
                done = completions.get(timeout=max(0.0, last_due - time.monotonic()))
            except queue.Empty:
                done = None
            now = time.monotonic()
            if done is None or isinstance(done.error, LinkLost):
                quiet_s = now - last_answer
                if (
                    done is not None
                    or quiet_s > QUIET_BEFORE_RESYNC * self.policy.request_timeout_s
                    or not self.link.healthy()
                ):
                    # A broken link, or a bridge silent through resends (rebooting,
                    # stalled): ask it, found again if need be, where it stands.
                    acked = self._restart(acked, last_progress)
                    last_answer = time.monotonic()
                    continue
                # The tail: nothing sent after these showed the gap. A silence is a retry
                # (reported; the resync above is what the session's retry limits count).
                self.on_retry(f"no answer at offset {acked}", acked)
                for flight in [f for f in self.inflight.values() if f.due_at <= now]:
                    self._mark_lost(flight.segment, timed_out=True)
                if now - last_progress > self.policy.timeouts.stall_s:
                    raise self._stalled(acked)
                continue
            flight_done = self.inflight.pop(done, None)
            if flight_done is None:
                continue  # presumed lost already, answered after all: the report is old
            flight_done.segment.pending = None
            last_answer = now
            self._observe(flight_done, now)
            error = done.error
            if error is not None:
                if (
                    isinstance(error, p.DeviceStatusError)
                    and error.status == p.Status.NOT_ALLOWED
                    and flight_done.tx < self.ahead_count
                ):
                    # Sent ahead, it reached the bridge before its UPDATE_BEGIN (a link
                    # that reorders frames): not held, so as good as lost.
                    self._mark_lost(flight_done.segment)
                    continue
                if isinstance(error, p.DeviceStatusError):
                    raise self._device_failure(error)
                raise error
            report = done.response
            assert isinstance(report, p.UpdateSegmentResponse)
            if report.next_offset > acked:
                acked = report.next_offset
                last_progress = now
                self.retries_in_a_row = 0
                self.on_progress(acked, self.size, self.resumed_from)
            elif now - last_progress > self.policy.timeouts.stall_s:
                raise self._stalled(acked)
            self.window_end = max(self.window_end, report.window_end)
            self._settle(report, flight_done.tx)
        return sent

    def _restart(self, acked: int, last_progress: float) -> int:
        """Re-open the transfer (reconnecting if need be) and start over from where the
        bridge says it is; what it held out of order is dropped on both sides."""
        self._drop_all()
        self.client, acked = self._resync(acked, last_progress)
        self.segments.clear()
        self.resend.clear()
        self.next_new, self.window_end = acked, acked + self.reassembly
        return acked

    def _drop_all(self) -> None:
        for pending in self.inflight:
            self.client.forget(pending)
        self.inflight.clear()

    def _drop_flight(self, segment: _Segment) -> None:
        if segment.pending is not None:
            self.client.forget(segment.pending)
            self.inflight.pop(segment.pending, None)
            segment.pending = None

    def _next_segment(self) -> _Segment | None:
        target = self._target()
        while self.resend:
            offset = heapq.heappop(self.resend)
            segment = self.segments.get(offset)
            if segment is None or not segment.lost:
                continue
            if segment.length > 2 * target:
                # A long segment lost on a line now known to be noisy: resend it as
                # segments of the size the line supports; the rest goes back in the queue.
                tail = _Segment(segment.offset + target, segment.length - target, lost=True)
                tail.sends = segment.sends
                segment.length = target
                self.segments[tail.offset] = tail
                heapq.heappush(self.resend, tail.offset)
            return segment
        if self.next_new >= min(self.size, self.window_end):
            return None
        length = min(target, self.size - self.next_new, self.window_end - self.next_new)
        segment = _Segment(self.next_new, length)
        self.segments[self.next_new] = segment
        self.next_new = segment.end
        return segment

    def _mark_lost(self, segment: _Segment, *, timed_out: bool = False) -> None:
        self._drop_flight(segment)
        if segment.lost or segment.offset not in self.segments:
            return
        segment.lost = True
        self.quality.record(segment_wire(segment.length), lost=True)
        self.resent_segments += 1
        if not timed_out:
            # Reported as a retry, bounded per segment (below), not by the session's
            # recovery limits: a long image on a noisy line resends many segments.
            self.on_retry(f"resend {segment.length} bytes at {segment.offset}", segment.offset)
        if segment.sends > self.policy.max_retries:
            raise UpdateFailed(
                Stage.TRANSFER,
                FailureClass.STALLED,
                f"The segment at offset {segment.offset} was lost {segment.sends} times in a row.",
                code="too-many-retries",
            )
        heapq.heappush(self.resend, segment.offset)

    def _settle(self, report: p.UpdateSegmentResponse, answered_tx: int) -> None:
        """Drop what the bridge holds; mark lost what it should hold by now and does not.

        The line delivers in order, so every segment sent up to the one just answered has
        arrived or is lost. Past the last listed range (when the list is full) the report
        says nothing, so nothing there is judged.
        """
        held = report.held
        visible_end = held[-1].end if len(held) >= p.MAX_HELD_RANGES else math.inf
        for offset in sorted(self.segments):
            segment = self.segments[offset]
            if segment.end <= report.next_offset or any(
                r.offset <= segment.offset and segment.end <= r.end for r in held
            ):
                del self.segments[offset]
                self._drop_flight(segment)  # its own answer was lost, or is still to come
                if not segment.lost:
                    self.quality.record(segment_wire(segment.length), lost=False)
            elif (
                segment.last_tx <= answered_tx and not segment.lost and segment.offset < visible_end
            ):
                self._mark_lost(segment)
