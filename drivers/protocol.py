"""The bridge service protocol, versions 1 and 2: commands, responses and events as records.

Each record encodes to, and decodes from, a frame payload (see `framing` for the frame
itself); its fields are declared once, with their wire forms, for `bridgelab.codec`,
which derives the encoder, the decoder and the range checks. A response payload starts
with a status byte; the body follows only for OK. A non-OK response carries a UTF-8
explanation, except WRONG_OFFSET, which carries the offset the device expects.
`docs/protocol.md` lists every message with hex examples.

Version 2 adds selective repeat for the local update (UPDATE_SEGMENT: writes at any offset
inside the bridge's reassembly window, each answered with what the bridge holds) and the
reassembly window in UPDATE_BEGIN's answer. HELLO agrees the version (the lower of both
offers), and a host speaks version 1 to a bridge that answers 1.
"""

from __future__ import annotations

import enum
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar

from bridgelab import codec
from bridgelab.codec import BOOL, I8, REST, TEXT, U8, U16, U32, U64
from bridgelab.drivers.errors import DeviceRefused, ProtocolError
from bridgelab.drivers.framing import Frame, FrameKind
from bridgelab.drivers.join_state import JoinState
from bridgelab.eui64 import format_eui64

PROTOCOL_VERSION = 2  # the newest this host speaks; HELLO agrees the lower of both
SELECTIVE_REPEAT_VERSION = 2  # UPDATE_SEGMENT and the reassembly window
NO_VERSION = 0xFFFFFFFF  # an empty firmware slot
NO_FAILURE = 0xFF


class Command(enum.IntEnum):
    HELLO = 0x01
    PING = 0x02
    SET_BAUD = 0x03
    IDENTITY = 0x10
    JOIN_STATUS = 0x11
    P2P_LINK = 0x12
    EVENT_LOG = 0x13
    REBOOT = 0x14
    ENTER_BOOTLOADER = 0x15
    UPDATE_BEGIN = 0x20
    UPDATE_WRITE = 0x21
    UPDATE_FINISH = 0x22
    UPDATE_ACTIVATE = 0x23
    UPDATE_CONFIRM = 0x24
    UPDATE_ROLLBACK = 0x25
    UPDATE_STATUS = 0x26
    UPDATE_SEGMENT = 0x27
    OTA_TUNNEL = 0x30
    OTA_STATUS = 0x31
    OTA_TUNNEL_BATCH = 0x32


class EventCode(enum.IntEnum):
    JOIN_CHANGED = 0x80
    REBOOTED = 0x81
    OTA_PROGRESS = 0x82
    LOG_ENTRY = 0x83


class Status(enum.IntEnum):
    OK = 0x00
    UNKNOWN_COMMAND = 0x01
    BAD_REQUEST = 0x02
    BUSY = 0x03
    WRONG_OFFSET = 0x04
    NOT_ALLOWED = 0x05
    IMAGE_REJECTED = 0x06
    HASH_MISMATCH = 0x07
    FLASH_ERROR = 0x08
    NO_IMAGE = 0x09
    ACTIVATION_FAILED = 0x0A
    TOO_LARGE = 0x0B
    NOT_SUPPORTED = 0x0C


class RebootReason(enum.IntEnum):
    POWER_ON = 0
    REQUESTED = 1
    ACTIVATION = 2
    WATCHDOG = 3
    ROLLBACK = 4


class UpdateState(enum.IntEnum):
    IDLE = 0
    RECEIVING = 1
    VERIFIED = 2
    ACTIVATION_PENDING = 3
    TRIAL = 4  # running the new image, not yet confirmed: a reboot rolls back


class LinkState(enum.IntEnum):
    DOWN = 0
    UP = 1


# ---------------------------------------------------------------------------------------
# Base classes

SHA256 = Annotated[bytes, codec.Fixed(32)]
EUI64 = U64  # little-endian on the wire, an int here (bridgelab.eui64 spells it)


class Message(codec.Record):
    """A record that is one frame payload. Subclasses name their command in the class
    statement (`class Ping(Request[PingResponse], command=Command.PING)`) and declare
    their fields."""

    COMMAND: ClassVar[int]

    def __init_subclass__(cls, *, command: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if command is not None:
            cls.COMMAND = command

    def encode(self) -> bytes:
        """The payload; raises `codec.FieldValueError` (a ValueError) for a bad value."""
        return self.pack()

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        """The record that is exactly `payload`; raises ProtocolError (bad-payload)."""
        return cls.unpack(payload)

    @classmethod
    def _codec_error(cls, error: codec.DecodeError) -> Exception:
        return ProtocolError(error.message, code="bad-payload", details=error.details)


R = TypeVar("R", bound=Message)


class Request(Message, Generic[R]):
    """A command; `RESPONSE` is the type of its OK answer (`BridgeClient.call` returns it),
    taken from the class statement: `class GetIdentity(Request[IdentityResponse], ...)`."""

    RESPONSE: ClassVar[type[Message]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if typing.get_origin(base) is Request:
                (cls.RESPONSE,) = typing.get_args(base)


AnyRequest = Request[Any]


class Event(Message):
    pass


@dataclass(frozen=True)
class Empty(Message, command=0):
    pass


# ---------------------------------------------------------------------------------------
# Handshake


@dataclass(frozen=True)
class HelloResponse(Message, command=Command.HELLO):
    protocol_version: U8
    max_payload: U16
    window: U8
    baud_rates: Annotated[tuple[int, ...], codec.Array(codec.u32, count=codec.u8)]
    model: TEXT


@dataclass(frozen=True)
class Hello(Request[HelloResponse], command=Command.HELLO):
    """Host's offer; the device answers with what it supports (the minimum of both wins)."""

    protocol_version: U8 = PROTOCOL_VERSION
    max_payload: U16 = 4096
    window: U8 = 16


@dataclass(frozen=True)
class PingResponse(Message, command=Command.PING):
    data: REST = b""


@dataclass(frozen=True)
class Ping(Request[PingResponse], command=Command.PING):
    data: REST = b""


@dataclass(frozen=True)
class SetBaud(Request[Empty], command=Command.SET_BAUD):
    """The device answers at the old rate, then switches; it falls back to the old rate
    unless a valid frame arrives at the new one within a second."""

    baud: U32


# ---------------------------------------------------------------------------------------
# Identity, join status, P2P link, event log


@dataclass(frozen=True)
class IdentityResponse(Message, command=Command.IDENTITY):
    manufacturer_code: U16
    image_type: U16
    hardware_version: U16
    firmware_version: U32
    inactive_firmware_version: U32
    bootloader_version: U32
    eui64: EUI64
    ota_capable: BOOL
    serial_number: TEXT
    model: TEXT

    def to_dict(self) -> dict[str, Any]:
        """For JSON: integers as integers, the EUI-64 spelled as people write it."""
        return {
            "manufacturer_code": self.manufacturer_code,
            "image_type": self.image_type,
            "hardware_version": self.hardware_version,
            "firmware_version": self.firmware_version,
            "inactive_firmware_version": self.inactive_firmware_version,
            "bootloader_version": self.bootloader_version,
            "eui64": format_eui64(self.eui64),
            "serial_number": self.serial_number,
            "ota_capable": self.ota_capable,
        }


@dataclass(frozen=True)
class GetIdentity(Request[IdentityResponse], command=Command.IDENTITY):
    pass


@dataclass(frozen=True)
class JoinStatusResponse(Message, command=Command.JOIN_STATUS):
    state: Annotated[JoinState, codec.Enum(JoinState, label="join state")]
    ch_eui64: EUI64
    channel: U8
    pan_id: U16
    lqi: U8
    rssi: I8
    device_type: U8
    last_failure_code: U8  # NO_FAILURE when none

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.label,
            "ch_eui64": format_eui64(self.ch_eui64),
            "channel": self.channel,
            "pan_id": self.pan_id,
            "lqi": self.lqi,
            "rssi": self.rssi,
            "device_type": self.device_type,
            "last_failure_code": None
            if self.last_failure_code == NO_FAILURE
            else self.last_failure_code,
        }


@dataclass(frozen=True)
class GetJoinStatus(Request[JoinStatusResponse], command=Command.JOIN_STATUS):
    pass


@dataclass(frozen=True)
class P2PLinkResponse(Message, command=Command.P2P_LINK):
    state: Annotated[LinkState, codec.Enum(LinkState, label="P2P link state")]
    partner_eui64: EUI64
    lqi: U8
    rssi: I8

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.name.lower(),
            "partner_eui64": format_eui64(self.partner_eui64),
            "lqi": self.lqi,
            "rssi": self.rssi,
        }


@dataclass(frozen=True)
class GetP2PLink(Request[P2PLinkResponse], command=Command.P2P_LINK):
    pass


@dataclass(frozen=True)
class LogEntry(codec.Record):
    uptime_s: U32
    code: U16
    text: TEXT

    @classmethod
    def _codec_error(cls, error: codec.DecodeError) -> Exception:
        return ProtocolError(error.message, code="bad-payload", details=error.details)


@dataclass(frozen=True)
class EventLogResponse(Message, command=Command.EVENT_LOG):
    total: U16
    start: U16
    entries: Annotated[tuple[LogEntry, ...], codec.Array(LogEntry, count=codec.u8)]


@dataclass(frozen=True)
class ReadEventLog(Request[EventLogResponse], command=Command.EVENT_LOG):
    start: U16 = 0
    max_entries: U8 = 32


@dataclass(frozen=True)
class Reboot(Request[Empty], command=Command.REBOOT):
    pass


@dataclass(frozen=True)
class EnterBootloader(Request[Empty], command=Command.ENTER_BOOTLOADER):
    """Restart into the radio's bootloader (Gecko: its UART XMODEM menu) on this port."""


# ---------------------------------------------------------------------------------------
# Local update primitives


@dataclass(frozen=True)
class UpdateBeginResponse(Message, command=Command.UPDATE_BEGIN):
    """Where to resume and the largest write. In a version-2 session the bridge adds how
    many bytes past the resume offset it accepts out of order (its reassembly window);
    a version-1 bridge sends no such field."""

    resume_offset: U32
    max_write: U16
    reassembly_bytes: Annotated[int | None, codec.u32, codec.IfRemaining()] = None


@dataclass(frozen=True)
class UpdateBegin(Request[UpdateBeginResponse], command=Command.UPDATE_BEGIN):
    """Open (or re-open) a transfer. The device answers with the offset to resume from:
    0 for a new image, or how far it got with this same image (matched by size and hash)."""

    image_size: U32
    file_sha256: SHA256
    header: Annotated[bytes, codec.Prefixed(codec.u16)]


@dataclass(frozen=True)
class UpdateWriteResponse(Message, command=Command.UPDATE_WRITE):
    next_offset: U32


@dataclass(frozen=True)
class UpdateWrite(Request[UpdateWriteResponse], command=Command.UPDATE_WRITE):
    """Write a block at `offset`. A write at any other offset than the one expected is
    answered WRONG_OFFSET with the expected offset, and nothing is written."""

    offset: U32
    data: REST


@dataclass(frozen=True)
class UpdateFinishResponse(Message, command=Command.UPDATE_FINISH):
    file_sha256: SHA256
    manufacturer_image_sha256: SHA256
    file_version: U32


@dataclass(frozen=True)
class UpdateFinish(Request[UpdateFinishResponse], command=Command.UPDATE_FINISH):
    """The device hashes what it holds, checks the signature and its own compatibility
    rules, and answers with its hashes (OK) or why it refuses the image."""


ACTIVATE_NOW = 0
ACTIVATE_ON_NEXT_REBOOT = 0xFFFFFFFF


@dataclass(frozen=True)
class UpdateActivate(Request[Empty], command=Command.UPDATE_ACTIVATE):
    """Switch to the verified image after `delay_s` seconds (0 now; ACTIVATE_ON_NEXT_REBOOT
    to wait for the next reboot). The expected activation hash (GBCS CS06 style: SHA-256 of
    the Manufacturer Image) must match what the device holds."""

    manufacturer_image_sha256: SHA256
    delay_s: U32 = ACTIVATE_NOW


@dataclass(frozen=True)
class UpdateConfirm(Request[Empty], command=Command.UPDATE_CONFIRM):
    """Make the running (trial) image permanent; without it the next reboot rolls back."""


@dataclass(frozen=True)
class UpdateRollback(Request[Empty], command=Command.UPDATE_ROLLBACK):
    pass


@dataclass(frozen=True)
class UpdateStatusResponse(Message, command=Command.UPDATE_STATUS):
    state: Annotated[UpdateState, codec.Enum(UpdateState, label="update state")]
    offset: U32
    image_size: U32
    file_sha256: SHA256


@dataclass(frozen=True)
class GetUpdateStatus(Request[UpdateStatusResponse], command=Command.UPDATE_STATUS):
    pass


@dataclass(frozen=True)
class HeldRange(codec.Record):
    """Bytes the bridge holds beyond its contiguous offset (received out of order)."""

    offset: U32
    length: U32

    @property
    def end(self) -> int:
        return self.offset + self.length

    @classmethod
    def _codec_error(cls, error: codec.DecodeError) -> Exception:
        return ProtocolError(error.message, code="bad-payload", details=error.details)


MAX_HELD_RANGES = 8  # a report lists at most this many ranges, lowest first


@dataclass(frozen=True)
class UpdateSegmentResponse(Message):
    """What the bridge holds after this segment: every byte below `next_offset` (written
    to flash), the ranges above it held out of order (lowest first, at most
    MAX_HELD_RANGES), and `window_end`, the offset it accepts segments below."""

    COMMAND: ClassVar[int] = Command.UPDATE_SEGMENT
    next_offset: U32
    window_end: U32
    held: Annotated[tuple[HeldRange, ...], codec.Array(HeldRange, count=codec.u8)] = field(
        default_factory=tuple
    )


@dataclass(frozen=True)
class UpdateSegment(Request[UpdateSegmentResponse]):
    """Version 2: `data` at `offset`, anywhere from the bridge's contiguous offset up to its
    window end. Segments may arrive in any order and more than once; the bridge keeps
    each byte once and answers every segment with what it holds, so a host sees a gap (a
    lost segment) in the answer to the next segment and resends only that."""

    COMMAND: ClassVar[int] = Command.UPDATE_SEGMENT
    RESPONSE: ClassVar[type[Message]] = UpdateSegmentResponse
    offset: U32
    data: REST


# ---------------------------------------------------------------------------------------
# OTA tunnel


@dataclass(frozen=True)
class OtaTunnelResponse(Message, command=Command.OTA_TUNNEL):
    """The ZCL frames the device's OTA client sent in reply, and the device's virtual
    clock (milliseconds of simulated radio time; real hardware reports its uptime)."""

    clock_ms: U64
    frames: Annotated[tuple[bytes, ...], codec.Array(codec.Prefixed(codec.u8), count=codec.u8)] = (
        field(default_factory=tuple)
    )


@dataclass(frozen=True)
class OtaTunnel(Request[OtaTunnelResponse], command=Command.OTA_TUNNEL):
    """One ZCL OTA cluster frame from the OTA server (the workstation) to the client;
    an empty frame asks the client for anything it wants to send unprompted."""

    zcl_frame: REST = b""


@dataclass(frozen=True)
class OtaTunnelBatchResponse(Message, command=Command.OTA_TUNNEL_BATCH):
    """The device's virtual clock, how many of the request's `ahead` frames its OTA client
    was handed, and every ZCL frame the client sent meanwhile, in the order sent."""

    clock_ms: U64
    delivered: U8
    frames: Annotated[tuple[bytes, ...], codec.Array(codec.Prefixed(codec.u8), count=codec.u8)] = (
        field(default_factory=tuple)
    )


@dataclass(frozen=True)
class OtaTunnelBatch(Request[OtaTunnelBatchResponse], command=Command.OTA_TUNNEL_BATCH):
    """OTA_TUNNEL with the server's next answers ready: `zcl_frame` is handed to the
    client as OTA_TUNNEL would; then each of `ahead` (Image Block Responses for the
    requests the server expects next) is handed over only if it answers the Image Block
    Request the client has out (same image, same offset, a size it accepts). The device
    stops at the first that does not, so a stop-and-wait client gets its blocks with one
    service-protocol round trip per batch, and each block still costs its radio round trip
    on the device's clock. A device without this command answers UNKNOWN_COMMAND and the
    host falls back to OTA_TUNNEL."""

    zcl_frame: Annotated[bytes, codec.Prefixed(codec.u8)] = b""
    ahead: Annotated[tuple[bytes, ...], codec.Array(codec.Prefixed(codec.u8), count=codec.u8)] = (
        field(default_factory=tuple)
    )


@dataclass(frozen=True)
class OtaStatusResponse(Message, command=Command.OTA_STATUS):
    upgrade_status: U8  # ZCL ImageUpgradeStatus
    file_offset: U32
    current_file_version: U32
    downloaded_file_version: U32
    clock_ms: U64


@dataclass(frozen=True)
class GetOtaStatus(Request[OtaStatusResponse], command=Command.OTA_STATUS):
    pass


# ---------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class JoinChanged(Event, command=EventCode.JOIN_CHANGED):
    status: JoinStatusResponse


@dataclass(frozen=True)
class Rebooted(Event, command=EventCode.REBOOTED):
    reason: Annotated[RebootReason, codec.Enum(RebootReason, label="reboot reason")]
    firmware_version: U32


@dataclass(frozen=True)
class OtaProgress(Event, command=EventCode.OTA_PROGRESS):
    upgrade_status: U8
    file_offset: U32
    image_size: U32


@dataclass(frozen=True)
class LogEntryEvent(Event, command=EventCode.LOG_ENTRY):
    entry: LogEntry


@dataclass(frozen=True)
class _WrongOffset(Message, command=0):
    """The body of a WRONG_OFFSET refusal: the offset the device expects."""

    expected_offset: U32


# ---------------------------------------------------------------------------------------
# Dispatch

REQUESTS: dict[int, type[Request[Any]]] = {
    cls.COMMAND: cls
    for cls in (
        Hello,
        Ping,
        SetBaud,
        GetIdentity,
        GetJoinStatus,
        GetP2PLink,
        ReadEventLog,
        Reboot,
        EnterBootloader,
        UpdateBegin,
        UpdateWrite,
        UpdateFinish,
        UpdateActivate,
        UpdateConfirm,
        UpdateRollback,
        GetUpdateStatus,
        UpdateSegment,
        OtaTunnel,
        OtaTunnelBatch,
        GetOtaStatus,
    )
}
EVENTS: dict[int, type[Event]] = {
    cls.COMMAND: cls for cls in (JoinChanged, Rebooted, OtaProgress, LogEntryEvent)
}


class DeviceStatusError(DeviceRefused):
    """A non-OK response. `status` is the device's code; `expected_offset` is set for
    WRONG_OFFSET."""

    def __init__(self, command: int, status: int, text: str, expected_offset: int | None) -> None:
        try:
            status_name = Status(status).name.lower().replace("_", "-")
        except ValueError:
            status_name = f"status-{status:#04x}"
        try:
            command_name = Command(command).name
        except ValueError:
            command_name = f"{command:#04x}"
        detail = f": {text}" if text else ""
        super().__init__(
            f"The bridge refused {command_name} ({status_name}){detail}.",
            code=f"device-{status_name}",
        )
        self.command = command
        self.status = status
        self.text = text
        self.expected_offset = expected_offset


def encode_request(request: Request[Any], seq: int) -> Frame:
    return Frame(FrameKind.REQUEST, seq, request.COMMAND, request.encode())


def encode_response(
    command: int, seq: int, body: Message | None = None, status: int = Status.OK, text: str = ""
) -> Frame:
    if status == Status.OK:
        payload = bytes([status]) + (body.encode() if body is not None else b"")
    else:
        payload = bytes([status]) + text.encode("utf-8")[:512]
    return Frame(FrameKind.RESPONSE, seq, command, payload)


def encode_wrong_offset(command: int, seq: int, expected: int) -> Frame:
    payload = bytes([Status.WRONG_OFFSET]) + _WrongOffset(expected).encode()
    return Frame(FrameKind.RESPONSE, seq, command, payload)


def decode_request(frame: Frame) -> Request[Message]:
    cls = REQUESTS.get(frame.command)
    if cls is None:
        raise ProtocolError(f"Unknown command {frame.command:#04x}.", code="unknown-command")
    return cls.decode(frame.payload)


def decode_response(request_type: type[Request[R]], frame: Frame) -> R:
    """The response body, or DeviceStatusError for a non-OK status."""
    if not frame.payload:
        raise ProtocolError("Response without a status byte.", code="bad-payload")
    status, body = frame.payload[0], frame.payload[1:]
    if status != Status.OK:
        if status == Status.WRONG_OFFSET:
            # Bytes after the offset are tolerated: a later version may explain itself.
            expected, _ = _WrongOffset.split(body)
            raise DeviceStatusError(frame.command, status, "", expected.expected_offset)
        raise DeviceStatusError(frame.command, status, body.decode("utf-8", "replace"), None)
    return request_type.RESPONSE.decode(body)  # type: ignore[return-value]  # R of Request[R]


def decode_event(frame: Frame) -> Event:
    cls = EVENTS.get(frame.command)
    if cls is None:
        raise ProtocolError(f"Unknown event {frame.command:#04x}.", code="unknown-event")
    return cls.decode(frame.payload)
