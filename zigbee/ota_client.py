"""A device's ZigBee OTA Upgrade client, sans-I/O, on a virtual clock.

The emulated bridge runs this as its OTA client, so a lab engineer can push an image
through the same flow a real device follows and learn how long the real over-the-air
upgrade (1-2 hours) would take, simulated in well under a second per hour.

The model never touches a port. The caller hands it ZCL frames from the OTA server and
sends on whatever it returns:

    frames = client.start()                      # Query Next Image Request
    while frames:
        replies = [r for f in frames for r in server(f)]
        frames = [out for r in replies for out in client.handle_server_frame(r)]
        if not frames and client.awaiting_response:
            frames = client.handle_timeout()     # the server said nothing useful

Flow (ZCL OTA cluster, domain notes section 3): Image Notify (optional) -> Query Next
Image -> Image Block Requests from the offset the client chooses (it resumes a partial
download of the same image) -> verify (`verify_time_s`, then the `verify` callback) ->
Upgrade End Request (SUCCESS or INVALID_IMAGE) -> Upgrade End Response (now / count down /
wait for a later response) -> `activate` callback -> new current file version.

Radio model, all on the virtual clock (`clock.now_s` is the headline figure):

- each exchange that gets through costs a round trip drawn uniformly from
  `round_trip_s` (seeded RNG: the same seed gives the same run);
- a lost request costs `request_timeout_s` and is sent again: the server never saw it;
- a lost response also costs the timeout, and the request is sent again: the server sees
  it twice;
- a response the client cannot use (wrong offset, another image, a malformed frame) is
  dropped; the caller then calls `handle_timeout()` and the request goes again after the
  rest of the timeout;
- after `max_retries` consecutive failures the client gives up (outcome GAVE_UP) and
  keeps what it downloaded, so its next query resumes;
- the client waits the minimum block period after each block before its next request
  (a documented choice: counted from the response, the conservative reading);
- frames the client did not ask for (Image Notify, a later Upgrade End Response) are not
  subject to loss: the radio model covers the exchanges the client starts.

`bridgelab.zigbee.ota_timing.predict_ota_duration` is the closed form of this model.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Annotated, Any

from bridgelab import codec
from bridgelab.errors import BridgeLabError
from bridgelab.virtual_clock import VirtualClock
from bridgelab.zigbee.ota_timing import (
    DEFAULT_MAX_DATA_SIZE,
    DEFAULT_MAX_REQUERY_WAIT_S,
    DEFAULT_MAX_RETRIES,
    DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_ROUND_TRIP_S,
    DEFAULT_VERIFY_TIME_S,
    MAX_DATA_SIZE_LIMIT,
    OtaModelSettingError,
    exchange_loss_rate,
    predict_ota_duration,
)
from bridgelab.zigbee.zcl_ota import (
    FILE_VERSION_WILDCARD,
    IMAGE_TYPE_WILDCARD,
    MANUFACTURER_WILDCARD,
    ImageBlockAbort,
    ImageBlockRequest,
    ImageBlockResponse,
    ImageBlockWaitForData,
    ImageNotify,
    ImageUpgradeStatus,
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


class OtaClientError(BridgeLabError):
    """A request the OTA client model cannot act on in its current state."""

    code = "ota-client-error"


class OtaClientStateError(OtaClientError):
    """A saved download state that cannot be restored."""

    code = "ota-client-bad-state"
    default_action = "Discard the saved state; the client will download the image again."


class OtaOutcome(Enum):
    """How the client's last exchange with the server ended."""

    UPGRADED = "upgraded"
    NO_IMAGE = "no-image"
    INVALID_IMAGE = "invalid-image"
    ABORTED = "aborted"
    GAVE_UP = "gave-up"


@dataclass(frozen=True)
class OtaDeviceIdentity(codec.Record):
    """What the client tells the server about itself, in the widths the OTA cluster
    carries it (declared once: the range checks follow from the declaration)."""

    manufacturer_code: codec.U16
    image_type: codec.U16
    current_file_version: codec.U32
    eui64: codec.U64
    hardware_version: Annotated[int | None, codec.u16, codec.IfRemaining()] = None

    def __post_init__(self) -> None:
        try:
            codec.check(self)
        except codec.FieldValueError as error:
            raise OtaModelSettingError(f"Device identity: {error.message}") from None


@dataclass(frozen=True)
class OtaClientConfig:
    """The client's limits and its radio model; every default is a documented choice.

    `minimum_block_period` is the raw MinimumBlockPeriod attribute the client starts with
    (a server may change it with WAIT_FOR_DATA); `block_period_unit_s` converts it to
    seconds: 0.001 (milliseconds) or 1.0 for cluster revision 2 servers, which meant
    seconds. `request_eui64` and `send_block_period` add the optional fields to each
    Image Block Request.
    """

    max_data_size: int = DEFAULT_MAX_DATA_SIZE
    round_trip_s: tuple[float, float] = DEFAULT_ROUND_TRIP_S
    request_loss_rate: float = 0.0
    response_loss_rate: float = 0.0
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES
    verify_time_s: float = DEFAULT_VERIFY_TIME_S
    max_requery_wait_s: float = DEFAULT_MAX_REQUERY_WAIT_S
    minimum_block_period: int = 0
    block_period_unit_s: float = 0.001
    request_eui64: bool = False
    send_block_period: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        low, high = self.round_trip_s
        problems = [
            (1 <= self.max_data_size <= MAX_DATA_SIZE_LIMIT, "max_data_size is 1..63"),
            (0 <= low <= high, "round_trip_s is (low, high) with 0 <= low <= high"),
            (0 <= self.request_loss_rate < 1, "request_loss_rate is in [0, 1)"),
            (0 <= self.response_loss_rate < 1, "response_loss_rate is in [0, 1)"),
            (
                high <= self.request_timeout_s,
                "request_timeout_s is at least the longest round trip",
            ),
            (self.max_retries >= 0, "max_retries is >= 0"),
            (self.verify_time_s >= 0, "verify_time_s is >= 0"),
            (self.max_requery_wait_s >= 0, "max_requery_wait_s is >= 0"),
            (0 <= self.minimum_block_period <= 0xFFFF, "minimum_block_period is a u16"),
            (self.block_period_unit_s > 0, "block_period_unit_s is > 0"),
        ]
        broken = [text for ok, text in problems if not ok]
        if broken:
            raise OtaModelSettingError(f"OTA client setting out of range: {'; '.join(broken)}.")

    @property
    def mean_round_trip_s(self) -> float:
        return (self.round_trip_s[0] + self.round_trip_s[1]) / 2

    @property
    def exchange_loss_rate(self) -> float:
        return exchange_loss_rate(self.request_loss_rate, self.response_loss_rate)

    def predict_duration_s(
        self, image_size: int, *, server_block_size: int | None = None, countdown_s: float = 0.0
    ) -> float:
        """Expected seconds to upgrade with this client (see `predict_ota_duration`).

        `server_block_size` is the server's own cap on block data, when it has one.
        """
        block = self.max_data_size
        if server_block_size is not None:
            block = min(block, server_block_size)
        return predict_ota_duration(
            image_size,
            block_size=block,
            round_trip_s=self.mean_round_trip_s,
            block_period_s=self.minimum_block_period * self.block_period_unit_s,
            loss_rate=self.exchange_loss_rate,
            request_timeout_s=self.request_timeout_s,
            verify_time_s=self.verify_time_s,
            countdown_s=countdown_s,
        )


@dataclass(frozen=True, repr=False)
class DownloadState:
    """What a client persists to resume after a power cycle: the image and its bytes so far."""

    manufacturer_code: int
    image_type: int
    file_version: int
    image_size: int
    data: bytes = b""

    @property
    def file_offset(self) -> int:
        return len(self.data)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the data as hex)."""
        return {
            "manufacturer_code": self.manufacturer_code,
            "image_type": self.image_type,
            "file_version": self.file_version,
            "image_size": self.image_size,
            "data_hex": self.data.hex(),
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> DownloadState:
        """Rebuild a state from `to_dict()`; raises `OtaClientStateError` when it is unusable."""
        limits = {
            "manufacturer_code": 0xFFFF,
            "image_type": 0xFFFF,
            "file_version": 0xFFFFFFFF,
            "image_size": 0xFFFFFFFF,
        }
        for name, top in limits.items():
            value = saved.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
                raise OtaClientStateError(f"Saved OTA download state: bad {name} ({value!r}).")
        try:
            data = bytes.fromhex(str(saved.get("data_hex", "")))
        except ValueError:
            raise OtaClientStateError("Saved OTA download state: data_hex is not hex.") from None
        if len(data) > saved["image_size"]:
            raise OtaClientStateError(
                f"Saved OTA download state holds {len(data)} bytes of a "
                f"{saved['image_size']}-byte image."
            )
        return cls(
            saved["manufacturer_code"],
            saved["image_type"],
            saved["file_version"],
            saved["image_size"],
            data,
        )

    def same_image(self, other: DownloadState) -> bool:
        return (self.manufacturer_code, self.image_type, self.file_version, self.image_size) == (
            other.manufacturer_code,
            other.image_type,
            other.file_version,
            other.image_size,
        )

    def __repr__(self) -> str:
        return (
            f"DownloadState(0x{self.manufacturer_code:04X}/0x{self.image_type:04X} "
            f"v0x{self.file_version:08X}, {self.file_offset}/{self.image_size} bytes)"
        )


@dataclass
class OtaClientStats:
    """Counters of one client since it was created; `simulated_s` is on its virtual clock."""

    queries: int = 0
    blocks: int = 0
    bytes_received: int = 0
    requests_sent: int = 0
    retries: int = 0
    requests_lost: int = 0
    responses_lost: int = 0
    responses_dropped: int = 0
    wait_for_data: int = 0
    malformed_frames: int = 0
    simulated_s: float = 0.0


@dataclass
class _Pending:
    """The request the client is waiting on an answer for."""

    request: QueryNextImageRequest | ImageBlockRequest | UpgradeEndRequest
    sent_at_s: float = 0.0
    failures: int = 0


_BlockAnswer = ImageBlockResponse | ImageBlockWaitForData | ImageBlockAbort


@dataclass
class _Session:
    """Mutable download progress (kept apart so export/import stay trivial)."""

    target: DownloadState | None = None
    data: bytearray = field(default_factory=bytearray)

    def snapshot(self) -> DownloadState | None:
        return None if self.target is None else replace(self.target, data=bytes(self.data))


class OtaClient:
    """The OTA client of one device; see the module documentation for the model.

    `verify(image)` is the device's own signature and compatibility check (True: good);
    `activate(image)` switches to the new image. Both are called with the whole OTA file.
    Exceptions they raise propagate to the caller of the method that triggered them.
    """

    def __init__(
        self,
        identity: OtaDeviceIdentity,
        *,
        verify: Callable[[bytes], bool],
        activate: Callable[[bytes], None],
        config: OtaClientConfig | None = None,
        clock: VirtualClock | None = None,
    ) -> None:
        self.identity = identity
        self.config = config if config is not None else OtaClientConfig()
        self.clock = clock if clock is not None else VirtualClock()
        self._verify = verify
        self._activate = activate
        self._random = random.Random(self.config.seed)
        self._created_at_s = self.clock.now_s
        self._stats = OtaClientStats()
        self._session = _Session()
        self._pending: _Pending | None = None
        self._seq = 0
        self.status = ImageUpgradeStatus.NORMAL
        self.current_file_version = identity.current_file_version
        self.minimum_block_period = self.config.minimum_block_period
        self.outcome: OtaOutcome | None = None
        self.last_decode_error: ZclDecodeError | None = None

    # ------------------------------------------------------------------ read-outs

    @property
    def file_offset(self) -> int:
        """The FileOffset attribute: bytes of the current image held so far."""
        return len(self._session.data)

    @property
    def downloaded(self) -> bytes:
        return bytes(self._session.data)

    @property
    def awaiting_response(self) -> bool:
        """True while a request is out and the client waits for its answer."""
        return self._pending is not None

    @property
    def block_period_s(self) -> float:
        return self.minimum_block_period * self.config.block_period_unit_s

    @property
    def stats(self) -> OtaClientStats:
        """A snapshot of the counters, with the simulated seconds so far."""
        return replace(self._stats, simulated_s=self.clock.now_s - self._created_at_s)

    def export_state(self) -> DownloadState | None:
        """The partial (or complete, unactivated) download to persist; None when idle."""
        return self._session.snapshot()

    def import_state(self, state: DownloadState) -> None:
        """Restore a persisted download, as after a power cycle; the next query resumes it.

        Raises `OtaClientError` while the client is in the middle of an exchange.
        """
        if self._pending is not None:
            raise OtaClientError(
                "The OTA client is in the middle of an exchange; restore its saved state "
                "before starting it.",
                code="ota-client-busy",
            )
        self._session = _Session(replace(state, data=b""), bytearray(state.data))
        self.status = ImageUpgradeStatus.NORMAL

    # ------------------------------------------------------------------ inputs

    def start(self) -> list[bytes]:
        """Query the server now: a Query Next Image Request (or, while waiting to upgrade,
        the Upgrade End Request again). Does nothing during an exchange."""
        if self._pending is not None or self.status not in (
            ImageUpgradeStatus.NORMAL,
            ImageUpgradeStatus.WAITING_TO_UPGRADE,
        ):
            return []
        if self.status is ImageUpgradeStatus.WAITING_TO_UPGRADE:
            return self._send_upgrade_end()
        self.outcome = None
        self._stats.queries += 1
        identity = self.identity
        return self._send(
            QueryNextImageRequest(
                identity.manufacturer_code,
                identity.image_type,
                self.current_file_version,
                identity.hardware_version,
            )
        )

    def wait_for_next_query(self) -> list[bytes]:
        """Let the client's own query timer run out (`max_requery_wait_s`), then `start()`."""
        if self._pending is not None:
            return []
        self.clock.advance(self.config.max_requery_wait_s)
        return self.start()

    def handle_timeout(self) -> list[bytes]:
        """No usable answer came: wait out the request timeout, then send it again (or give
        up after `max_retries`). Does nothing when no request is out."""
        if self._pending is None:
            return []
        return self._retry()

    def handle_server_frame(self, frame: bytes) -> list[bytes]:
        """Take one ZCL frame from the server; return the frames the client sends next.

        Never raises for bad input: a malformed frame is counted (`stats.malformed_frames`,
        `last_decode_error`) and dropped like any other unusable answer.
        """
        try:
            _, command = decode_frame(frame)
        except ZclDecodeError as error:
            self._stats.malformed_frames += 1
            self.last_decode_error = error
            return []
        return self.handle_server_command(command)

    def takes_block(self, command: OtaCommand) -> bool:
        """True when `command` is an Image Block Response that answers the Image Block
        Request out now and that the client would keep (same image, its offset, a size it
        accepts). A bridge relaying server frames it was given ahead of time hands over
        only these, so a block meant for a later request never costs this one a timeout."""
        pending = self._pending
        return (
            pending is not None
            and isinstance(pending.request, ImageBlockRequest)
            and isinstance(command, ImageBlockResponse)
            and self._is_answer(pending.request, command)
        )

    def handle_server_command(self, command: OtaCommand) -> list[bytes]:
        """`handle_server_frame` for a frame already decoded (by a relay that looked at it)."""
        if isinstance(command, ImageNotify):
            return self._on_image_notify(command)
        pending = self._pending
        if pending is None:
            if isinstance(command, UpgradeEndResponse) and self._answers_upgrade_end(command):
                return self._on_upgrade_end_response(command)  # the later, unsolicited one
            self._stats.responses_dropped += 1
            return []
        if not self._is_answer(pending.request, command):
            self._stats.responses_dropped += 1
            return []
        if self._lost(self.config.response_loss_rate):
            self._stats.responses_lost += 1
            return self._retry()
        round_trip_s = self._random.uniform(*self.config.round_trip_s)
        self.clock.advance_to(pending.sent_at_s + round_trip_s)
        self._pending = None
        return self._on_answer(command)

    # ------------------------------------------------------------------ sending

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _lost(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    def _send(
        self, request: QueryNextImageRequest | ImageBlockRequest | UpgradeEndRequest
    ) -> list[bytes]:
        self._pending = _Pending(request)
        return self._transmit()

    def _transmit(self) -> list[bytes]:
        """Send the pending request; a lost copy costs a timeout and goes again."""
        pending = self._pending
        assert pending is not None
        while True:
            pending.sent_at_s = self.clock.now_s
            self._stats.requests_sent += 1
            if not self._lost(self.config.request_loss_rate):
                return [encode_frame(pending.request, self._next_seq())]
            self._stats.requests_lost += 1
            if not self._wait_out_timeout(pending):
                return self._give_up()

    def _send_once(self, request: UpgradeEndRequest) -> list[bytes]:
        """A request no answer is expected to; if the radio loses it, nobody retries."""
        self._stats.requests_sent += 1
        if self._lost(self.config.request_loss_rate):
            self._stats.requests_lost += 1
            return []
        return [encode_frame(request, self._next_seq())]

    def _wait_out_timeout(self, pending: _Pending) -> bool:
        """Let the timeout of the last copy expire; False once retries are used up."""
        self.clock.advance_to(pending.sent_at_s + self.config.request_timeout_s)
        pending.failures += 1
        if pending.failures > self.config.max_retries:
            return False
        self._stats.retries += 1
        return True

    def _retry(self) -> list[bytes]:
        pending = self._pending
        assert pending is not None
        if not self._wait_out_timeout(pending):
            return self._give_up()
        return self._transmit()

    def _give_up(self) -> list[bytes]:
        """Too many failures: back to normal, keep the bytes so the next query resumes."""
        pending = self._pending
        self._pending = None
        self.status = ImageUpgradeStatus.NORMAL
        self.outcome = OtaOutcome.GAVE_UP
        target = self._session.target
        if (
            pending is not None
            and isinstance(pending.request, ImageBlockRequest)
            and target is not None
        ):
            # Tell the server the download stopped; the bytes stay for a later resume.
            return self._send_once(self._upgrade_end_request(ZclStatus.ABORT, target))
        return []

    # ------------------------------------------------------------------ answers

    def _is_answer(self, request: object, command: OtaCommand) -> bool:
        if isinstance(request, QueryNextImageRequest):
            return isinstance(command, QueryNextImageResponse)
        if isinstance(request, UpgradeEndRequest):
            return isinstance(command, UpgradeEndResponse) and self._answers_upgrade_end(command)
        if isinstance(command, ImageBlockWaitForData | ImageBlockAbort):
            return True
        if not isinstance(command, ImageBlockResponse):
            return False
        target = self._session.target
        return (
            target is not None
            and (command.manufacturer_code, command.image_type, command.file_version)
            == (target.manufacturer_code, target.image_type, target.file_version)
            and command.file_offset == self.file_offset
            and 0 < len(command.data) <= self.config.max_data_size
            and command.file_offset + len(command.data) <= target.image_size
        )

    def _answers_upgrade_end(self, response: UpgradeEndResponse) -> bool:
        target = self._session.target
        if target is None or self.status not in (
            ImageUpgradeStatus.DOWNLOAD_COMPLETE,
            ImageUpgradeStatus.WAITING_TO_UPGRADE,
        ):
            return False
        pairs = (
            (response.manufacturer_code, target.manufacturer_code, MANUFACTURER_WILDCARD),
            (response.image_type, target.image_type, IMAGE_TYPE_WILDCARD),
            (response.file_version, target.file_version, FILE_VERSION_WILDCARD),
        )
        return all(got in (want, wildcard) for got, want, wildcard in pairs)

    def _on_answer(self, command: OtaCommand) -> list[bytes]:
        if isinstance(command, QueryNextImageResponse):
            return self._on_query_response(command)
        if isinstance(command, UpgradeEndResponse):
            return self._on_upgrade_end_response(command)
        assert isinstance(command, ImageBlockResponse | ImageBlockWaitForData | ImageBlockAbort)
        return self._on_block_answer(command)

    def _on_image_notify(self, notify: ImageNotify) -> list[bytes]:
        if self._pending is not None or self.status is not ImageUpgradeStatus.NORMAL:
            return []  # busy: a notify changes nothing mid-download
        identity = self.identity
        if notify.manufacturer_code not in (
            None,
            MANUFACTURER_WILDCARD,
            identity.manufacturer_code,
        ):
            return []
        if notify.image_type not in (None, IMAGE_TYPE_WILDCARD, identity.image_type):
            return []
        if notify.file_version == self.current_file_version:
            return []
        # The query jitter (1..100) spreads a broadcast's answers: answer if a draw <= it.
        if self._random.randint(1, 100) > notify.query_jitter:
            return []
        return self.start()

    def _on_query_response(self, response: QueryNextImageResponse) -> list[bytes]:
        identity = self.identity
        if (
            response.status is not ZclStatus.SUCCESS
            or response.manufacturer_code != identity.manufacturer_code
            or response.image_type != identity.image_type
            or not response.image_size
        ):
            self.status = ImageUpgradeStatus.NORMAL
            self.outcome = OtaOutcome.NO_IMAGE
            return []
        assert response.file_version is not None and response.image_size is not None
        offer = DownloadState(
            response.manufacturer_code,
            response.image_type,
            response.file_version,
            response.image_size,
        )
        if self._session.target is None or not self._session.target.same_image(offer):
            self._session = _Session(offer)  # a different image: start from byte 0
        self.status = ImageUpgradeStatus.DOWNLOAD_IN_PROGRESS
        return self._request_next_block()

    def _request_next_block(self) -> list[bytes]:
        target = self._session.target
        assert target is not None
        if self.file_offset >= target.image_size:
            return self._finish_download(target)
        return self._send(
            ImageBlockRequest(
                target.manufacturer_code,
                target.image_type,
                target.file_version,
                self.file_offset,
                self.config.max_data_size,
                self.identity.eui64 if self.config.request_eui64 else None,
                self.minimum_block_period if self.config.send_block_period else None,
            )
        )

    def _on_block_answer(self, answer: _BlockAnswer) -> list[bytes]:
        if isinstance(answer, ImageBlockAbort):
            self._session = _Session()
            self.status = ImageUpgradeStatus.NORMAL
            self.outcome = OtaOutcome.ABORTED
            return []
        if isinstance(answer, ImageBlockWaitForData):
            self._stats.wait_for_data += 1
            if answer.minimum_block_period is not None:
                self.minimum_block_period = answer.minimum_block_period
            self.clock.advance(min(answer.wait_s, self.config.max_requery_wait_s))
        else:
            self._session.data += answer.data
            self._stats.blocks += 1
            self._stats.bytes_received += len(answer.data)
        target = self._session.target
        if target is not None and self.file_offset < target.image_size:
            self.clock.advance(self.block_period_s)
        return self._request_next_block()

    def _finish_download(self, target: DownloadState) -> list[bytes]:
        self.status = ImageUpgradeStatus.DOWNLOAD_COMPLETE
        self.clock.advance(self.config.verify_time_s)
        if self._verify(bytes(self._session.data)):
            return self._send_upgrade_end()
        self._session = _Session()
        self.status = ImageUpgradeStatus.NORMAL
        self.outcome = OtaOutcome.INVALID_IMAGE
        return self._send_once(self._upgrade_end_request(ZclStatus.INVALID_IMAGE, target))

    def _upgrade_end_request(self, status: ZclStatus, target: DownloadState) -> UpgradeEndRequest:
        return UpgradeEndRequest(
            status, target.manufacturer_code, target.image_type, target.file_version
        )

    def _send_upgrade_end(self) -> list[bytes]:
        target = self._session.target
        assert target is not None
        return self._send(self._upgrade_end_request(ZclStatus.SUCCESS, target))

    def _on_upgrade_end_response(self, response: UpgradeEndResponse) -> list[bytes]:
        if response.waits_for_command:
            self.status = ImageUpgradeStatus.WAITING_TO_UPGRADE
            return []
        if response.countdown_s:
            self.status = ImageUpgradeStatus.COUNT_DOWN
            self.clock.advance(response.countdown_s)
        target = self._session.target
        assert target is not None
        self._activate(bytes(self._session.data))
        self.current_file_version = target.file_version
        self._session = _Session()
        self.status = ImageUpgradeStatus.NORMAL
        self.outcome = OtaOutcome.UPGRADED
        return []
