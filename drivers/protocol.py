"""The bridge service protocol, version 1: commands, responses and events as typed records.

Each record encodes to, and decodes from, a frame payload (see `framing` for the frame
itself). A response payload starts with a status byte; the body follows only for OK.
A non-OK response carries a UTF-8 explanation, except WRONG_OFFSET, which carries the
offset the device expects. `docs/protocol.md` lists every message with hex examples.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bridgelab.drivers import wire
from bridgelab.drivers.errors import DeviceRefused, ProtocolError
from bridgelab.drivers.framing import Frame, FrameKind
from bridgelab.drivers.join_state import JoinState
from bridgelab.eui64 import eui64_from_wire, eui64_to_wire, format_eui64

PROTOCOL_VERSION = 1
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
    OTA_TUNNEL = 0x30
    OTA_STATUS = 0x31


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


class Message:
    """A record that is one frame payload. Subclasses set COMMAND and implement the codec."""

    COMMAND: ClassVar[int]

    def encode(self) -> bytes:
        return b""

    @classmethod
    def decode(cls, payload: bytes) -> Message:
        wire.Reader(payload, cls.__name__).done()
        return cls()


class Request(Message):
    RESPONSE: ClassVar[type[Message]]


class Event(Message):
    pass


@dataclass(frozen=True)
class Empty(Message):
    COMMAND: ClassVar[int] = 0


# ---------------------------------------------------------------------------------------
# Handshake


@dataclass(frozen=True)
class HelloResponse(Message):
    COMMAND: ClassVar[int] = Command.HELLO
    protocol_version: int
    max_payload: int
    window: int
    baud_rates: tuple[int, ...]
    model: str

    def encode(self) -> bytes:
        out = wire.u8(self.protocol_version) + wire.u16(self.max_payload) + wire.u8(self.window)
        out += wire.u8(len(self.baud_rates)) + b"".join(wire.u32(b) for b in self.baud_rates)
        return out + wire.text(self.model)

    @classmethod
    def decode(cls, payload: bytes) -> HelloResponse:
        r = wire.Reader(payload, cls.__name__)
        version, max_payload, window = r.u8(), r.u16(), r.u8()
        bauds = tuple(r.u32() for _ in range(r.u8()))
        model = r.text()
        r.done()
        return cls(version, max_payload, window, bauds, model)


@dataclass(frozen=True)
class Hello(Request):
    """Host's offer; the device answers with what it supports (the minimum of both wins)."""

    COMMAND: ClassVar[int] = Command.HELLO
    RESPONSE: ClassVar[type[Message]] = HelloResponse
    protocol_version: int = PROTOCOL_VERSION
    max_payload: int = 4096
    window: int = 16

    def encode(self) -> bytes:
        return wire.u8(self.protocol_version) + wire.u16(self.max_payload) + wire.u8(self.window)

    @classmethod
    def decode(cls, payload: bytes) -> Hello:
        r = wire.Reader(payload, cls.__name__)
        out = cls(r.u8(), r.u16(), r.u8())
        r.done()
        return out


@dataclass(frozen=True)
class PingResponse(Message):
    COMMAND: ClassVar[int] = Command.PING
    data: bytes = b""

    def encode(self) -> bytes:
        return self.data

    @classmethod
    def decode(cls, payload: bytes) -> PingResponse:
        return cls(payload)


@dataclass(frozen=True)
class Ping(Request):
    COMMAND: ClassVar[int] = Command.PING
    RESPONSE: ClassVar[type[Message]] = PingResponse
    data: bytes = b""

    def encode(self) -> bytes:
        return self.data

    @classmethod
    def decode(cls, payload: bytes) -> Ping:
        return cls(payload)


@dataclass(frozen=True)
class SetBaud(Request):
    """The device answers at the old rate, then switches; it falls back to the old rate
    unless a valid frame arrives at the new one within a second."""

    COMMAND: ClassVar[int] = Command.SET_BAUD
    RESPONSE: ClassVar[type[Message]] = Empty
    baud: int

    def encode(self) -> bytes:
        return wire.u32(self.baud)

    @classmethod
    def decode(cls, payload: bytes) -> SetBaud:
        r = wire.Reader(payload, cls.__name__)
        out = cls(r.u32())
        r.done()
        return out


# ---------------------------------------------------------------------------------------
# Identity, join status, P2P link, event log


@dataclass(frozen=True)
class IdentityResponse(Message):
    COMMAND: ClassVar[int] = Command.IDENTITY
    manufacturer_code: int
    image_type: int
    hardware_version: int
    firmware_version: int
    inactive_firmware_version: int
    bootloader_version: int
    eui64: int
    ota_capable: bool
    serial_number: str
    model: str

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

    def encode(self) -> bytes:
        return (
            wire.u16(self.manufacturer_code)
            + wire.u16(self.image_type)
            + wire.u16(self.hardware_version)
            + wire.u32(self.firmware_version)
            + wire.u32(self.inactive_firmware_version)
            + wire.u32(self.bootloader_version)
            + eui64_to_wire(self.eui64)
            + wire.u8(1 if self.ota_capable else 0)
            + wire.text(self.serial_number)
            + wire.text(self.model)
        )

    @classmethod
    def decode(cls, payload: bytes) -> IdentityResponse:
        r = wire.Reader(payload, cls.__name__)
        out = cls(
            manufacturer_code=r.u16(),
            image_type=r.u16(),
            hardware_version=r.u16(),
            firmware_version=r.u32(),
            inactive_firmware_version=r.u32(),
            bootloader_version=r.u32(),
            eui64=eui64_from_wire(r.raw(8)),
            ota_capable=bool(r.u8() & 0x01),
            serial_number=r.text(),
            model=r.text(),
        )
        r.done()
        return out


@dataclass(frozen=True)
class GetIdentity(Request):
    COMMAND: ClassVar[int] = Command.IDENTITY
    RESPONSE: ClassVar[type[Message]] = IdentityResponse


@dataclass(frozen=True)
class JoinStatusResponse(Message):
    COMMAND: ClassVar[int] = Command.JOIN_STATUS
    state: JoinState
    ch_eui64: int
    channel: int
    pan_id: int
    lqi: int
    rssi: int
    device_type: int
    last_failure_code: int  # NO_FAILURE when none

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

    def encode(self) -> bytes:
        return (
            wire.u8(self.state)
            + eui64_to_wire(self.ch_eui64)
            + wire.u8(self.channel)
            + wire.u16(self.pan_id)
            + wire.u8(self.lqi)
            + wire.i8(self.rssi)
            + wire.u8(self.device_type)
            + wire.u8(self.last_failure_code)
        )

    @classmethod
    def decode(cls, payload: bytes) -> JoinStatusResponse:
        r = wire.Reader(payload, cls.__name__)
        raw_state = r.u8()
        try:
            state = JoinState(raw_state)
        except ValueError:
            raise ProtocolError(f"Unknown join state {raw_state}.", code="bad-payload") from None
        out = cls(
            state,
            eui64_from_wire(r.raw(8)),
            r.u8(),
            r.u16(),
            r.u8(),
            r.i8(),
            r.u8(),
            r.u8(),
        )
        r.done()
        return out


@dataclass(frozen=True)
class GetJoinStatus(Request):
    COMMAND: ClassVar[int] = Command.JOIN_STATUS
    RESPONSE: ClassVar[type[Message]] = JoinStatusResponse


@dataclass(frozen=True)
class P2PLinkResponse(Message):
    COMMAND: ClassVar[int] = Command.P2P_LINK
    state: LinkState
    partner_eui64: int
    lqi: int
    rssi: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.name.lower(),
            "partner_eui64": format_eui64(self.partner_eui64),
            "lqi": self.lqi,
            "rssi": self.rssi,
        }

    def encode(self) -> bytes:
        return (
            wire.u8(self.state)
            + eui64_to_wire(self.partner_eui64)
            + wire.u8(self.lqi)
            + wire.i8(self.rssi)
        )

    @classmethod
    def decode(cls, payload: bytes) -> P2PLinkResponse:
        r = wire.Reader(payload, cls.__name__)
        state = r.u8()
        if state not in (0, 1):
            raise ProtocolError(f"Unknown P2P link state {state}.", code="bad-payload")
        out = cls(LinkState(state), eui64_from_wire(r.raw(8)), r.u8(), r.i8())
        r.done()
        return out


@dataclass(frozen=True)
class GetP2PLink(Request):
    COMMAND: ClassVar[int] = Command.P2P_LINK
    RESPONSE: ClassVar[type[Message]] = P2PLinkResponse


@dataclass(frozen=True)
class LogEntry:
    uptime_s: int
    code: int
    text: str

    def encode(self) -> bytes:
        return wire.u32(self.uptime_s) + wire.u16(self.code) + wire.text(self.text)

    @classmethod
    def read(cls, r: wire.Reader) -> LogEntry:
        return cls(r.u32(), r.u16(), r.text())


@dataclass(frozen=True)
class EventLogResponse(Message):
    COMMAND: ClassVar[int] = Command.EVENT_LOG
    total: int
    start: int
    entries: tuple[LogEntry, ...]

    def encode(self) -> bytes:
        head = wire.u16(self.total) + wire.u16(self.start) + wire.u8(len(self.entries))
        return head + b"".join(e.encode() for e in self.entries)

    @classmethod
    def decode(cls, payload: bytes) -> EventLogResponse:
        r = wire.Reader(payload, cls.__name__)
        total, start = r.u16(), r.u16()
        entries = tuple(LogEntry.read(r) for _ in range(r.u8()))
        r.done()
        return cls(total, start, entries)


@dataclass(frozen=True)
class ReadEventLog(Request):
    COMMAND: ClassVar[int] = Command.EVENT_LOG
    RESPONSE: ClassVar[type[Message]] = EventLogResponse
    start: int = 0
    max_entries: int = 32

    def encode(self) -> bytes:
        return wire.u16(self.start) + wire.u8(self.max_entries)

    @classmethod
    def decode(cls, payload: bytes) -> ReadEventLog:
        r = wire.Reader(payload, cls.__name__)
        out = cls(r.u16(), r.u8())
        r.done()
        return out


@dataclass(frozen=True)
class Reboot(Request):
    COMMAND: ClassVar[int] = Command.REBOOT
    RESPONSE: ClassVar[type[Message]] = Empty


@dataclass(frozen=True)
class EnterBootloader(Request):
    """Restart into the radio's bootloader (Gecko: its UART XMODEM menu) on this port."""

    COMMAND: ClassVar[int] = Command.ENTER_BOOTLOADER
    RESPONSE: ClassVar[type[Message]] = Empty


# ---------------------------------------------------------------------------------------
# Local update primitives


@dataclass(frozen=True)
class UpdateBeginResponse(Message):
    COMMAND: ClassVar[int] = Command.UPDATE_BEGIN
    resume_offset: int
    max_write: int

    def encode(self) -> bytes:
        return wire.u32(self.resume_offset) + wire.u16(self.max_write)

    @classmethod
    def decode(cls, payload: bytes) -> UpdateBeginResponse:
        r = wire.Reader(payload, cls.__name__)
        out = cls(r.u32(), r.u16())
        r.done()
        return out


@dataclass(frozen=True)
class UpdateBegin(Request):
    """Open (or re-open) a transfer. The device answers with the offset to resume from:
    0 for a new image, or how far it got with this same image (matched by size and hash)."""

    COMMAND: ClassVar[int] = Command.UPDATE_BEGIN
    RESPONSE: ClassVar[type[Message]] = UpdateBeginResponse
    image_size: int
    file_sha256: bytes
    header: bytes

    def encode(self) -> bytes:
        if len(self.file_sha256) != 32:
            raise ValueError("file_sha256 must be 32 bytes")
        return (
            wire.u32(self.image_size) + self.file_sha256 + wire.u16(len(self.header)) + self.header
        )

    @classmethod
    def decode(cls, payload: bytes) -> UpdateBegin:
        r = wire.Reader(payload, cls.__name__)
        size, digest = r.u32(), r.raw(32)
        header = r.raw(r.u16())
        r.done()
        return cls(size, digest, header)


@dataclass(frozen=True)
class UpdateWriteResponse(Message):
    COMMAND: ClassVar[int] = Command.UPDATE_WRITE
    next_offset: int

    def encode(self) -> bytes:
        return wire.u32(self.next_offset)

    @classmethod
    def decode(cls, payload: bytes) -> UpdateWriteResponse:
        r = wire.Reader(payload, cls.__name__)
        out = cls(r.u32())
        r.done()
        return out


@dataclass(frozen=True)
class UpdateWrite(Request):
    """Write a block at `offset`. A write at any other offset than the one expected is
    answered WRONG_OFFSET with the expected offset, and nothing is written."""

    COMMAND: ClassVar[int] = Command.UPDATE_WRITE
    RESPONSE: ClassVar[type[Message]] = UpdateWriteResponse
    offset: int
    data: bytes

    def encode(self) -> bytes:
        return wire.u32(self.offset) + self.data

    @classmethod
    def decode(cls, payload: bytes) -> UpdateWrite:
        r = wire.Reader(payload, cls.__name__)
        offset = r.u32()
        return cls(offset, r.rest())


@dataclass(frozen=True)
class UpdateFinishResponse(Message):
    COMMAND: ClassVar[int] = Command.UPDATE_FINISH
    file_sha256: bytes
    manufacturer_image_sha256: bytes
    file_version: int

    def encode(self) -> bytes:
        return self.file_sha256 + self.manufacturer_image_sha256 + wire.u32(self.file_version)

    @classmethod
    def decode(cls, payload: bytes) -> UpdateFinishResponse:
        r = wire.Reader(payload, cls.__name__)
        out = cls(r.raw(32), r.raw(32), r.u32())
        r.done()
        return out


@dataclass(frozen=True)
class UpdateFinish(Request):
    """The device hashes what it holds, checks the signature and its own compatibility
    rules, and answers with its hashes (OK) or why it refuses the image."""

    COMMAND: ClassVar[int] = Command.UPDATE_FINISH
    RESPONSE: ClassVar[type[Message]] = UpdateFinishResponse


ACTIVATE_NOW = 0
ACTIVATE_ON_NEXT_REBOOT = 0xFFFFFFFF


@dataclass(frozen=True)
class UpdateActivate(Request):
    """Switch to the verified image after `delay_s` seconds (0 now; ACTIVATE_ON_NEXT_REBOOT
    to wait for the next reboot). The expected activation hash (GBCS CS06 style: SHA-256 of
    the Manufacturer Image) must match what the device holds."""

    COMMAND: ClassVar[int] = Command.UPDATE_ACTIVATE
    RESPONSE: ClassVar[type[Message]] = Empty
    manufacturer_image_sha256: bytes
    delay_s: int = ACTIVATE_NOW

    def encode(self) -> bytes:
        return self.manufacturer_image_sha256 + wire.u32(self.delay_s)

    @classmethod
    def decode(cls, payload: bytes) -> UpdateActivate:
        r = wire.Reader(payload, cls.__name__)
        out = cls(r.raw(32), r.u32())
        r.done()
        return out


@dataclass(frozen=True)
class UpdateConfirm(Request):
    """Make the running (trial) image permanent; without it the next reboot rolls back."""

    COMMAND: ClassVar[int] = Command.UPDATE_CONFIRM
    RESPONSE: ClassVar[type[Message]] = Empty


@dataclass(frozen=True)
class UpdateRollback(Request):
    COMMAND: ClassVar[int] = Command.UPDATE_ROLLBACK
    RESPONSE: ClassVar[type[Message]] = Empty


@dataclass(frozen=True)
class UpdateStatusResponse(Message):
    COMMAND: ClassVar[int] = Command.UPDATE_STATUS
    state: UpdateState
    offset: int
    image_size: int
    file_sha256: bytes

    def encode(self) -> bytes:
        return (
            wire.u8(self.state) + wire.u32(self.offset) + wire.u32(self.image_size)
        ) + self.file_sha256

    @classmethod
    def decode(cls, payload: bytes) -> UpdateStatusResponse:
        r = wire.Reader(payload, cls.__name__)
        raw_state = r.u8()
        if raw_state > max(UpdateState):
            raise ProtocolError(f"Unknown update state {raw_state}.", code="bad-payload")
        out = cls(UpdateState(raw_state), r.u32(), r.u32(), r.raw(32))
        r.done()
        return out


@dataclass(frozen=True)
class GetUpdateStatus(Request):
    COMMAND: ClassVar[int] = Command.UPDATE_STATUS
    RESPONSE: ClassVar[type[Message]] = UpdateStatusResponse


# ---------------------------------------------------------------------------------------
# OTA tunnel


@dataclass(frozen=True)
class OtaTunnelResponse(Message):
    """The ZCL frames the device's OTA client sent in reply, and the device's virtual
    clock (milliseconds of simulated radio time; real hardware reports its uptime)."""

    COMMAND: ClassVar[int] = Command.OTA_TUNNEL
    clock_ms: int
    frames: tuple[bytes, ...] = field(default_factory=tuple)

    def encode(self) -> bytes:
        out = wire.u64(self.clock_ms) + wire.u8(len(self.frames))
        return out + b"".join(wire.short_bytes(f) for f in self.frames)

    @classmethod
    def decode(cls, payload: bytes) -> OtaTunnelResponse:
        r = wire.Reader(payload, cls.__name__)
        clock = r.u64()
        frames = tuple(r.short_bytes() for _ in range(r.u8()))
        r.done()
        return cls(clock, frames)


@dataclass(frozen=True)
class OtaTunnel(Request):
    """One ZCL OTA cluster frame from the OTA server (the workstation) to the client;
    an empty frame asks the client for anything it wants to send unprompted."""

    COMMAND: ClassVar[int] = Command.OTA_TUNNEL
    RESPONSE: ClassVar[type[Message]] = OtaTunnelResponse
    zcl_frame: bytes = b""

    def encode(self) -> bytes:
        return self.zcl_frame

    @classmethod
    def decode(cls, payload: bytes) -> OtaTunnel:
        return cls(payload)


@dataclass(frozen=True)
class OtaStatusResponse(Message):
    COMMAND: ClassVar[int] = Command.OTA_STATUS
    upgrade_status: int  # ZCL ImageUpgradeStatus
    file_offset: int
    current_file_version: int
    downloaded_file_version: int
    clock_ms: int

    def encode(self) -> bytes:
        return (
            wire.u8(self.upgrade_status)
            + wire.u32(self.file_offset)
            + wire.u32(self.current_file_version)
            + wire.u32(self.downloaded_file_version)
            + wire.u64(self.clock_ms)
        )

    @classmethod
    def decode(cls, payload: bytes) -> OtaStatusResponse:
        r = wire.Reader(payload, cls.__name__)
        out = cls(r.u8(), r.u32(), r.u32(), r.u32(), r.u64())
        r.done()
        return out


@dataclass(frozen=True)
class GetOtaStatus(Request):
    COMMAND: ClassVar[int] = Command.OTA_STATUS
    RESPONSE: ClassVar[type[Message]] = OtaStatusResponse


# ---------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class JoinChanged(Event):
    COMMAND: ClassVar[int] = EventCode.JOIN_CHANGED
    status: JoinStatusResponse

    def encode(self) -> bytes:
        return self.status.encode()

    @classmethod
    def decode(cls, payload: bytes) -> JoinChanged:
        return cls(JoinStatusResponse.decode(payload))


@dataclass(frozen=True)
class Rebooted(Event):
    COMMAND: ClassVar[int] = EventCode.REBOOTED
    reason: RebootReason
    firmware_version: int

    def encode(self) -> bytes:
        return wire.u8(self.reason) + wire.u32(self.firmware_version)

    @classmethod
    def decode(cls, payload: bytes) -> Rebooted:
        r = wire.Reader(payload, cls.__name__)
        raw = r.u8()
        if raw > max(RebootReason):
            raise ProtocolError(f"Unknown reboot reason {raw}.", code="bad-payload")
        out = cls(RebootReason(raw), r.u32())
        r.done()
        return out


@dataclass(frozen=True)
class OtaProgress(Event):
    COMMAND: ClassVar[int] = EventCode.OTA_PROGRESS
    upgrade_status: int
    file_offset: int
    image_size: int

    def encode(self) -> bytes:
        return wire.u8(self.upgrade_status) + wire.u32(self.file_offset) + wire.u32(self.image_size)

    @classmethod
    def decode(cls, payload: bytes) -> OtaProgress:
        r = wire.Reader(payload, cls.__name__)
        out = cls(r.u8(), r.u32(), r.u32())
        r.done()
        return out


@dataclass(frozen=True)
class LogEntryEvent(Event):
    COMMAND: ClassVar[int] = EventCode.LOG_ENTRY
    entry: LogEntry

    def encode(self) -> bytes:
        return self.entry.encode()

    @classmethod
    def decode(cls, payload: bytes) -> LogEntryEvent:
        r = wire.Reader(payload, cls.__name__)
        out = cls(LogEntry.read(r))
        r.done()
        return out


# ---------------------------------------------------------------------------------------
# Dispatch

REQUESTS: dict[int, type[Request]] = {
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
        OtaTunnel,
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


def encode_request(request: Request, seq: int) -> Frame:
    return Frame(FrameKind.REQUEST, seq, request.COMMAND, request.encode())


def encode_response(
    command: int, seq: int, body: Message | None = None, status: int = Status.OK, text: str = ""
) -> Frame:
    if status == Status.OK:
        payload = wire.u8(status) + (body.encode() if body is not None else b"")
    else:
        payload = wire.u8(status) + text.encode("utf-8")[:512]
    return Frame(FrameKind.RESPONSE, seq, command, payload)


def encode_wrong_offset(command: int, seq: int, expected: int) -> Frame:
    payload = wire.u8(Status.WRONG_OFFSET) + wire.u32(expected)
    return Frame(FrameKind.RESPONSE, seq, command, payload)


def decode_request(frame: Frame) -> Request:
    cls = REQUESTS.get(frame.command)
    if cls is None:
        raise ProtocolError(f"Unknown command {frame.command:#04x}.", code="unknown-command")
    return cls.decode(frame.payload)  # type: ignore[return-value]


def decode_response(request_type: type[Request], frame: Frame) -> Message:
    """The response body, or DeviceStatusError for a non-OK status."""
    if not frame.payload:
        raise ProtocolError("Response without a status byte.", code="bad-payload")
    status, body = frame.payload[0], frame.payload[1:]
    if status != Status.OK:
        if status == Status.WRONG_OFFSET:
            r = wire.Reader(body, "WRONG_OFFSET")
            raise DeviceStatusError(frame.command, status, "", r.u32())
        raise DeviceStatusError(frame.command, status, body.decode("utf-8", "replace"), None)
    return request_type.RESPONSE.decode(body)


def decode_event(frame: Frame) -> Event:
    cls = EVENTS.get(frame.command)
    if cls is None:
        raise ProtocolError(f"Unknown event {frame.command:#04x}.", code="unknown-event")
    return cls.decode(frame.payload)  # type: ignore[return-value]
