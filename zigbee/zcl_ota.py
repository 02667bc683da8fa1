"""ZCL OTA Upgrade cluster (0x0019): the ZCL frame header and the eleven OTA commands.

Pure functions over bytes, no I/O. Every command is a small frozen record, its fields
declared once for `bridgelab.codec`, whose `to_bytes()` gives the payload after the ZCL
header and whose `from_bytes(payload)` checks every length and value and raises exactly
one `ZclDecodeError` (stable codes
`zcl-truncated`, `zcl-trailing-bytes`, `zcl-unknown-command`, `zcl-bad-field`). Building a
record with a value that cannot go on the wire raises `ZclValueError` (`zcl-bad-value`).

`encode_frame(command, seq)` puts a command in a whole ZCL frame; `decode_frame(data)`
returns `(ZclHeader, command)`. All integers are little-endian; an EUI-64 is an `int`
(see `bridgelab.eui64`). Layouts follow the ZigBee OTA Upgrade cluster specification as
summarised in the project's domain notes (section 3); the hex vectors live in
`docs/zcl-ota.md` and the tests read them from there.

The decoder is deliberately strict: reserved bits, unknown status values, a status a
command may not carry, an out-of-range query jitter or a block whose length disagrees
with its data-size byte are all refused. A frame that decodes re-encodes to the very same
bytes, so what a lab capture shows is what the record holds.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any, ClassVar, Self

from bridgelab import codec
from bridgelab.codec import U8, U16, U32
from bridgelab.errors import BridgeLabError
from bridgelab.eui64 import EUI64_WIRE_SIZE

OTA_CLUSTER_ID = 0x0019

# Wildcards the specification allows in image identities.
MANUFACTURER_WILDCARD = 0xFFFF
IMAGE_TYPE_WILDCARD = 0xFFFF
FILE_VERSION_WILDCARD = 0xFFFFFFFF
# Upgrade End Response upgrade time meaning "wait for a later Upgrade End Response".
UPGRADE_TIME_WAIT_FOR_COMMAND = 0xFFFFFFFF


# --------------------------------------------------------------------------- errors


class ZclError(BridgeLabError):
    """Root of the ZCL codec's errors."""

    code = "zcl-error"


class ZclDecodeError(ZclError):
    """Bytes that are not a well-formed OTA cluster frame; `code` says which way they fail."""

    code = "zcl-bad-field"
    default_action = (
        "The sender produced a malformed OTA cluster frame: capture the frame (hex) and "
        "report it with the sender's firmware version."
    )


class ZclValueError(ZclError):
    """A record built with a value that cannot be put on the wire (a caller's mistake)."""

    code = "zcl-bad-value"
    default_action = "Correct the value before encoding the command."


def _bad_field(what: str, field_name: str, reason: str) -> ZclDecodeError:
    return ZclDecodeError(
        f"{what} has a bad {field_name}: {reason}.",
        code="zcl-bad-field",
        details={"command": what, "field": field_name},
    )


# --------------------------------------------------------------------------- enums


class ZclDirection(IntEnum):
    """Frame control bit 3."""

    CLIENT_TO_SERVER = 0
    SERVER_TO_CLIENT = 1


class ZclStatus(IntEnum):
    """The ZCL status codes the OTA cluster uses."""

    SUCCESS = 0x00
    NOT_AUTHORIZED = 0x7E
    MALFORMED_COMMAND = 0x80
    TIMEOUT = 0x94
    ABORT = 0x95
    INVALID_IMAGE = 0x96
    WAIT_FOR_DATA = 0x97
    NO_IMAGE_AVAILABLE = 0x98
    REQUIRE_MORE_IMAGE = 0x99


class ImageUpgradeStatus(IntEnum):
    """The client's ImageUpgradeStatus attribute (0x0006)."""

    NORMAL = 0
    DOWNLOAD_IN_PROGRESS = 1
    DOWNLOAD_COMPLETE = 2
    WAITING_TO_UPGRADE = 3
    COUNT_DOWN = 4
    WAIT_FOR_MORE = 5
    WAITING_TO_UPGRADE_VIA_EXTERNAL_EVENT = 6


class OtaCommandId(IntEnum):
    IMAGE_NOTIFY = 0x00
    QUERY_NEXT_IMAGE_REQUEST = 0x01
    QUERY_NEXT_IMAGE_RESPONSE = 0x02
    IMAGE_BLOCK_REQUEST = 0x03
    IMAGE_PAGE_REQUEST = 0x04
    IMAGE_BLOCK_RESPONSE = 0x05
    UPGRADE_END_REQUEST = 0x06
    UPGRADE_END_RESPONSE = 0x07
    QUERY_DEVICE_SPECIFIC_FILE_REQUEST = 0x08
    QUERY_DEVICE_SPECIFIC_FILE_RESPONSE = 0x09

    @property
    def direction(self) -> ZclDirection:
        """Which way the command travels (each OTA command id has exactly one)."""
        if self in _SERVER_TO_CLIENT_COMMANDS:
            return ZclDirection.SERVER_TO_CLIENT
        return ZclDirection.CLIENT_TO_SERVER


_SERVER_TO_CLIENT_COMMANDS = frozenset(
    {
        OtaCommandId.IMAGE_NOTIFY,
        OtaCommandId.QUERY_NEXT_IMAGE_RESPONSE,
        OtaCommandId.IMAGE_BLOCK_RESPONSE,
        OtaCommandId.UPGRADE_END_RESPONSE,
        OtaCommandId.QUERY_DEVICE_SPECIFIC_FILE_RESPONSE,
    }
)


# --------------------------------------------------------------------------- wire forms

# Every field below is declared once, with its wire form, for `bridgelab.codec`; the
# encoder, the decoder and the width checks follow from the declarations.
Eui64 = Annotated[int, codec.Int(EUI64_WIRE_SIZE)]
_STATUS = codec.Enum(ZclStatus, label="ZCL status")
Status = Annotated[ZclStatus, _STATUS]


def _field_control() -> codec.Control:
    return codec.Control(codec.u8)


def _if_success(values: dict[str, Any]) -> bool:
    return bool(values["status"] is ZclStatus.SUCCESS)


# --------------------------------------------------------------------------- records


class _ZclRecord(codec.Record):
    """A record of the OTA cluster: named by `NAME` in messages, failing as ZclDecodeError."""

    __slots__ = ()
    NAME: ClassVar[str]

    @classmethod
    def codec_name(cls) -> str:
        return cls.NAME

    @classmethod
    def _codec_error(cls, error: codec.DecodeError) -> Exception:
        return _zcl_decode_error(error)


@dataclass(frozen=True, slots=True)
class OtaCommandBase(_ZclRecord):
    """Shared behaviour of every OTA command record.

    Subclasses give their command id and name in the class statement
    (`class ImageNotify(OtaCommandBase, command=..., name=...)`; the direction follows
    from the id) and declare their fields; `to_bytes()` is the payload after the ZCL
    header. Construction checks that every field fits its wire form, then runs the
    subclass's `_validate()`; both raise `ZclValueError`.
    """

    COMMAND_ID: ClassVar[OtaCommandId]
    DIRECTION: ClassVar[ZclDirection]
    NAME: ClassVar[str]

    def __init_subclass__(
        cls, *, command: OtaCommandId | None = None, name: str | None = None
    ) -> None:
        # dataclass(slots=True) re-creates each class without these keywords (so keep what
        # is set), and breaks zero-argument super() here (object's hook does nothing anyway).
        if command is not None:
            cls.COMMAND_ID = command
            cls.DIRECTION = command.direction
        if name is not None:
            cls.NAME = name

    def __post_init__(self) -> None:
        try:
            codec.check(self)
        except codec.FieldValueError as error:
            raise ZclValueError(
                error.message, details={"command": self.NAME, "field": error.field}
            ) from None
        self._validate()

    def _validate(self) -> None:
        """Cross-field rules of the command; raise `ZclValueError`."""

    def _invalid(self, field_name: str, reason: str) -> ZclValueError:
        return ZclValueError(
            f"{self.NAME}: bad {field_name}: {reason}.",
            details={"command": self.NAME, "field": field_name},
        )

    def to_bytes(self) -> bytes:
        return self.pack()

    @classmethod
    def from_bytes(cls, payload: bytes) -> Self:
        """Decode the payload after the ZCL header; raises `ZclDecodeError` only."""
        try:
            return cls.unpack(payload)
        except ZclValueError as error:
            raise ZclDecodeError(
                error.message, code="zcl-bad-field", details=error.details
            ) from error


_DECODE_CODES = {
    codec.Truncated: "zcl-truncated",
    codec.Trailing: "zcl-trailing-bytes",
    codec.BadField: "zcl-bad-field",
}


def _zcl_decode_error(error: codec.DecodeError) -> ZclDecodeError:
    return ZclDecodeError(
        error.message,
        code=_DECODE_CODES.get(type(error), "zcl-bad-field"),
        details={"command": error.record, "field": error.field, "offset": error.offset},
    )


def _check_status(record: OtaCommandBase, status: ZclStatus, allowed: frozenset[ZclStatus]) -> None:
    names = ", ".join(sorted(s.name for s in allowed))
    if not isinstance(status, ZclStatus):
        raise record._invalid("status", f"{status!r} is not a ZclStatus (one of {names})")
    if status not in allowed:
        raise record._invalid("status", f"{status.name} is not allowed here (only {names})")


@dataclass(frozen=True, slots=True)
class ImageNotify(OtaCommandBase, command=OtaCommandId.IMAGE_NOTIFY, name="Image Notify"):
    """Server tells clients an image is available (0x00).

    The payload type on the wire (0-3) follows from which optional fields are set; they
    must be set in order: manufacturer code, then image type, then file version.
    """

    _payload_type: ClassVar[codec.Control] = codec.Control(codec.u8)
    query_jitter: U8
    manufacturer_code: Annotated[int | None, codec.u16, codec.AtLeast("payload_type", 1)] = None
    image_type: Annotated[int | None, codec.u16, codec.AtLeast("payload_type", 2)] = None
    file_version: Annotated[int | None, codec.u32, codec.AtLeast("payload_type", 3)] = None

    @property
    def payload_type(self) -> int:
        optional = (self.manufacturer_code, self.image_type, self.file_version)
        return sum(1 for value in optional if value is not None)

    def _validate(self) -> None:
        if not 1 <= self.query_jitter <= 100:
            raise self._invalid("query_jitter", f"{self.query_jitter} is outside 1..100")
        optional = (self.manufacturer_code, self.image_type, self.file_version)
        if None in optional[: self.payload_type]:
            raise self._invalid(
                "payload_type", "set manufacturer code, image type, file version in that order"
            )


@dataclass(frozen=True, slots=True)
class QueryNextImageRequest(
    OtaCommandBase, command=OtaCommandId.QUERY_NEXT_IMAGE_REQUEST, name="Query Next Image Request"
):
    """Client asks whether a newer image exists (0x01)."""

    field_control: ClassVar[codec.Control] = _field_control()
    manufacturer_code: U16
    image_type: U16
    current_file_version: U32
    hardware_version: Annotated[int | None, codec.u16, codec.Bit("field_control", 0x01)] = None


@dataclass(frozen=True, slots=True)
class _ImageOfferResponse(OtaCommandBase):
    """Layout shared by the Query Next Image and Query Device Specific File responses.

    With status SUCCESS all four image fields are present; with any other allowed status
    none is.
    """

    _ALLOWED: ClassVar[frozenset[ZclStatus]] = frozenset(
        {ZclStatus.SUCCESS, ZclStatus.NO_IMAGE_AVAILABLE, ZclStatus.NOT_AUTHORIZED}
    )

    status: Status
    manufacturer_code: Annotated[int | None, codec.u16, codec.When(_if_success)] = None
    image_type: Annotated[int | None, codec.u16, codec.When(_if_success)] = None
    file_version: Annotated[int | None, codec.u32, codec.When(_if_success)] = None
    image_size: Annotated[int | None, codec.u32, codec.When(_if_success)] = None

    def _validate(self) -> None:
        _check_status(self, self.status, self._ALLOWED)
        fields = (self.manufacturer_code, self.image_type, self.file_version, self.image_size)
        if self.status is ZclStatus.SUCCESS and None in fields:
            raise self._invalid("image fields", "SUCCESS needs all four image fields")
        if self.status is not ZclStatus.SUCCESS and fields != (None,) * 4:
            raise self._invalid("image fields", f"{self.status.name} carries no image fields")


@dataclass(frozen=True, slots=True)
class QueryNextImageResponse(
    _ImageOfferResponse,
    command=OtaCommandId.QUERY_NEXT_IMAGE_RESPONSE,
    name="Query Next Image Response",
):
    """Server's answer to a Query Next Image Request (0x02); `image_size` is the whole file."""


@dataclass(frozen=True, slots=True)
class QueryDeviceSpecificFileResponse(
    _ImageOfferResponse,
    command=OtaCommandId.QUERY_DEVICE_SPECIFIC_FILE_RESPONSE,
    name="Query Device Specific File Response",
):
    """Server's answer to a Query Device Specific File Request (0x09)."""


@dataclass(frozen=True, slots=True)
class ImageBlockRequest(
    OtaCommandBase, command=OtaCommandId.IMAGE_BLOCK_REQUEST, name="Image Block Request"
):
    """Client asks for up to `max_data_size` bytes at `file_offset` (0x03).

    `minimum_block_period` is the raw u16 of the MinimumBlockPeriod attribute:
    milliseconds, or seconds in cluster revision 2.
    """

    field_control: ClassVar[codec.Control] = _field_control()
    manufacturer_code: U16
    image_type: U16
    file_version: U32
    file_offset: U32
    max_data_size: U8
    request_node_eui64: Annotated[int | None, codec.u64, codec.Bit("field_control", 0x01)] = None
    minimum_block_period: Annotated[int | None, codec.u16, codec.Bit("field_control", 0x02)] = None


@dataclass(frozen=True, slots=True)
class ImagePageRequest(
    OtaCommandBase, command=OtaCommandId.IMAGE_PAGE_REQUEST, name="Image Page Request"
):
    """Client asks for `page_size` bytes from `file_offset`, sent in blocks (0x04).

    `response_spacing_ms` is the pause the server leaves between the blocks of a page.
    """

    field_control: ClassVar[codec.Control] = _field_control()
    manufacturer_code: U16
    image_type: U16
    file_version: U32
    file_offset: U32
    max_data_size: U8
    page_size: U16
    response_spacing_ms: U16
    request_node_eui64: Annotated[int | None, codec.u64, codec.Bit("field_control", 0x01)] = None


@dataclass(frozen=True, slots=True)
class ImageBlockResponse(
    OtaCommandBase, command=OtaCommandId.IMAGE_BLOCK_RESPONSE, name="Image Block Response"
):
    """Server sends one block of the image (0x05 with status SUCCESS)."""

    status: ClassVar[codec.Const] = codec.Const(_STATUS, ZclStatus.SUCCESS)
    manufacturer_code: U16
    image_type: U16
    file_version: U32
    file_offset: U32
    data: Annotated[bytes, codec.Prefixed(codec.u8)]


@dataclass(frozen=True, slots=True)
class ImageBlockWaitForData(
    OtaCommandBase,
    command=OtaCommandId.IMAGE_BLOCK_RESPONSE,
    name="Image Block Response (WAIT_FOR_DATA)",
):
    """Server asks the client to retry later (0x05 with status WAIT_FOR_DATA).

    Wait `request_time - current_time` seconds (both UTC seconds, or `current_time` 0 and
    `request_time` an offset). `minimum_block_period`, when present, is the new raw
    MinimumBlockPeriod for later requests (milliseconds; seconds in cluster revision 2).
    """

    status: ClassVar[codec.Const] = codec.Const(_STATUS, ZclStatus.WAIT_FOR_DATA)
    current_time: U32
    request_time: U32
    minimum_block_period: Annotated[int | None, codec.u16, codec.IfRemaining()] = None

    @property
    def wait_s(self) -> int:
        """Seconds the client should wait before asking again (never negative)."""
        return max(0, self.request_time - self.current_time)


@dataclass(frozen=True, slots=True)
class ImageBlockAbort(
    OtaCommandBase, command=OtaCommandId.IMAGE_BLOCK_RESPONSE, name="Image Block Response (ABORT)"
):
    """Server stops the download (0x05 with status ABORT); no other field."""

    status: ClassVar[codec.Const] = codec.Const(_STATUS, ZclStatus.ABORT)


@dataclass(frozen=True, slots=True)
class UpgradeEndRequest(
    OtaCommandBase, command=OtaCommandId.UPGRADE_END_REQUEST, name="Upgrade End Request"
):
    """Client reports the end of a download (0x06): SUCCESS after it verified the image."""

    _ALLOWED: ClassVar[frozenset[ZclStatus]] = frozenset(
        {
            ZclStatus.SUCCESS,
            ZclStatus.INVALID_IMAGE,
            ZclStatus.REQUIRE_MORE_IMAGE,
            ZclStatus.ABORT,
        }
    )

    status: Status
    manufacturer_code: U16
    image_type: U16
    file_version: U32

    def _validate(self) -> None:
        _check_status(self, self.status, self._ALLOWED)


@dataclass(frozen=True, slots=True)
class UpgradeEndResponse(
    OtaCommandBase, command=OtaCommandId.UPGRADE_END_RESPONSE, name="Upgrade End Response"
):
    """Server says when to switch to the new image (0x07).

    `upgrade_time` 0xFFFFFFFF: wait for a later Upgrade End Response; otherwise count
    down `upgrade_time - current_time` seconds (0 or less: now). Identity fields may be
    wildcards (0xFFFF, 0xFFFFFFFF).
    """

    manufacturer_code: U16
    image_type: U16
    file_version: U32
    current_time: U32
    upgrade_time: U32

    @property
    def waits_for_command(self) -> bool:
        return self.upgrade_time == UPGRADE_TIME_WAIT_FOR_COMMAND

    @property
    def countdown_s(self) -> int:
        """Seconds until the upgrade (0: now); meaningless when `waits_for_command`."""
        return max(0, self.upgrade_time - self.current_time)


@dataclass(frozen=True, slots=True)
class QueryDeviceSpecificFileRequest(
    OtaCommandBase,
    command=OtaCommandId.QUERY_DEVICE_SPECIFIC_FILE_REQUEST,
    name="Query Device Specific File Request",
):
    """Client asks for a file meant for itself alone, e.g. a log or credentials (0x08)."""

    request_node_eui64: Eui64
    manufacturer_code: U16
    image_type: U16
    file_version: U32
    zigbee_stack_version: U16


OtaCommand = (
    ImageNotify
    | QueryNextImageRequest
    | QueryNextImageResponse
    | ImageBlockRequest
    | ImagePageRequest
    | ImageBlockResponse
    | ImageBlockWaitForData
    | ImageBlockAbort
    | UpgradeEndRequest
    | UpgradeEndResponse
    | QueryDeviceSpecificFileRequest
    | QueryDeviceSpecificFileResponse
)

# The three shapes of an Image Block Response, chosen by its status byte.
_BLOCK_RESPONSE_BY_STATUS: dict[
    int, type[ImageBlockResponse | ImageBlockWaitForData | ImageBlockAbort]
] = {
    ZclStatus.SUCCESS: ImageBlockResponse,
    ZclStatus.WAIT_FOR_DATA: ImageBlockWaitForData,
    ZclStatus.ABORT: ImageBlockAbort,
}


def decode_image_block_response(
    payload: bytes,
) -> ImageBlockResponse | ImageBlockWaitForData | ImageBlockAbort:
    """Decode a 0x05 payload into the record its status selects; raises `ZclDecodeError`."""
    name = "Image Block Response"
    status, _ = _BlockStatus.split(payload)
    record_type = _BLOCK_RESPONSE_BY_STATUS.get(status.status)
    if record_type is None:
        raise _bad_field(
            name, "status", f"{status.status.name} is not SUCCESS, WAIT_FOR_DATA or ABORT"
        )
    return record_type.from_bytes(payload)


@dataclass(frozen=True, slots=True)
class _BlockStatus(_ZclRecord):
    """The status byte that selects an Image Block Response's shape."""

    NAME: ClassVar[str] = "Image Block Response"
    status: Status


def command_types() -> tuple[type[OtaCommandBase], ...]:
    """Every command record type, in command-id order (for docs, tests and tools)."""
    return (
        ImageNotify,
        QueryNextImageRequest,
        QueryNextImageResponse,
        ImageBlockRequest,
        ImagePageRequest,
        ImageBlockResponse,
        ImageBlockWaitForData,
        ImageBlockAbort,
        UpgradeEndRequest,
        UpgradeEndResponse,
        QueryDeviceSpecificFileRequest,
        QueryDeviceSpecificFileResponse,
    )


_Decoder = Callable[[bytes], OtaCommand]


def _build_decoders() -> dict[tuple[ZclDirection, int], _Decoder]:
    decoders: dict[tuple[ZclDirection, int], _Decoder] = {}
    for record_type in command_types():
        key = (record_type.DIRECTION, int(record_type.COMMAND_ID))
        if record_type in _BLOCK_RESPONSE_BY_STATUS.values():
            decoders[key] = decode_image_block_response
        else:
            decoders[key] = typing.cast(_Decoder, record_type.from_bytes)
    return decoders


# --------------------------------------------------------------------------- ZCL header

FRAME_TYPE_GLOBAL = 0b00
FRAME_TYPE_CLUSTER_SPECIFIC = 0b01
_FRAME_TYPE_MASK = 0x03
_MANUFACTURER_SPECIFIC = 0x04
_DIRECTION_SERVER_TO_CLIENT = 0x08
_DISABLE_DEFAULT_RESPONSE = 0x10
_RESERVED_FRAME_CONTROL = 0xE0
_KNOWN_FRAME_CONTROL = 0xFF & ~_RESERVED_FRAME_CONTROL


@dataclass(frozen=True, slots=True)
class ZclHeader:
    """The ZCL frame header: frame control, [manufacturer code], sequence number, command.

    `manufacturer_code` is not None exactly when the manufacturer-specific bit is set.
    """

    frame_type: int
    direction: ZclDirection
    disable_default_response: bool
    seq: int
    command_id: int
    manufacturer_code: int | None = None

    def __post_init__(self) -> None:
        checks = (
            ("frame_type", self.frame_type, 0b11),
            ("seq", self.seq, 0xFF),
            ("command_id", self.command_id, 0xFF),
            ("manufacturer_code", self.manufacturer_code or 0, 0xFFFF),
        )
        for name, value, top in checks:
            if not 0 <= value <= top:
                raise ZclValueError(f"ZCL header: {name}={value!r} is out of range 0..{top}.")

    @property
    def frame_control(self) -> int:
        return (
            self.frame_type
            | (_MANUFACTURER_SPECIFIC if self.manufacturer_code is not None else 0)
            | (_DIRECTION_SERVER_TO_CLIENT if self.direction else 0)
            | (_DISABLE_DEFAULT_RESPONSE if self.disable_default_response else 0)
        )

    def to_bytes(self) -> bytes:
        return _HeaderWire(
            self.frame_control, self.manufacturer_code, self.seq, self.command_id
        ).pack()

    @classmethod
    def from_bytes(cls, data: bytes) -> tuple[ZclHeader, bytes]:
        """Split a frame into its header and payload; raises `ZclDecodeError`."""
        wire, end = _HeaderWire.unpack_from(data)
        control, manufacturer = wire.frame_control, wire.manufacturer_code
        if control & _RESERVED_FRAME_CONTROL:
            raise _bad_field(
                "ZCL header",
                "frame_control",
                f"reserved bits set (0x{control:02X}, known 0x{_KNOWN_FRAME_CONTROL:02X})",
            )
        header = cls(
            frame_type=control & _FRAME_TYPE_MASK,
            direction=ZclDirection(1 if control & _DIRECTION_SERVER_TO_CLIENT else 0),
            disable_default_response=bool(control & _DISABLE_DEFAULT_RESPONSE),
            seq=wire.seq,
            command_id=wire.command_id,
            manufacturer_code=manufacturer,
        )
        return header, data[end:]


def _is_manufacturer_specific(values: dict[str, Any]) -> bool:
    return bool(values["frame_control"] & _MANUFACTURER_SPECIFIC)


@dataclass(frozen=True, slots=True)
class _HeaderWire(_ZclRecord):
    """The ZCL header's bytes; `ZclHeader` gives the frame-control bits their meaning."""

    NAME: ClassVar[str] = "ZCL header"
    frame_control: U8
    manufacturer_code: Annotated[int | None, codec.u16, codec.When(_is_manufacturer_specific)]
    seq: U8
    command_id: U8


def encode_frame(
    command: OtaCommand,
    seq: int,
    *,
    direction: ZclDirection | None = None,
    disable_default_response: bool = False,
) -> bytes:
    """A whole cluster-specific ZCL frame carrying `command` with sequence number `seq`.

    `direction` defaults to the command's own; overriding it builds a deliberately wrong
    frame (for testing a peer's rejection), which `decode_frame` refuses.
    Raises `ZclValueError` when `seq` is outside 0..255.
    """
    header = ZclHeader(
        frame_type=FRAME_TYPE_CLUSTER_SPECIFIC,
        direction=command.DIRECTION if direction is None else direction,
        disable_default_response=disable_default_response,
        seq=seq,
        command_id=command.COMMAND_ID,
    )
    return header.to_bytes() + command.to_bytes()


def decode_frame(data: bytes) -> tuple[ZclHeader, OtaCommand]:
    """Decode one OTA cluster frame; raises `ZclDecodeError` and nothing else.

    Refused: global (profile-wide) frames, manufacturer-specific commands (their ids are
    the vendor's, not the OTA cluster's), reserved frame-control bits, a command id not
    defined for the frame's direction, and any payload its command's layout rejects.
    """
    header, payload = ZclHeader.from_bytes(data)
    if header.frame_type != FRAME_TYPE_CLUSTER_SPECIFIC:
        raise _bad_field(
            "ZCL header",
            "frame_type",
            f"{header.frame_type} is not a cluster-specific command (OTA commands are)",
        )
    direction_text = (
        "server to client"
        if header.direction is ZclDirection.SERVER_TO_CLIENT
        else "client to server"
    )
    if header.manufacturer_code is not None:
        raise ZclDecodeError(
            f"Command 0x{header.command_id:02X} ({direction_text}) is specific to manufacturer "
            f"0x{header.manufacturer_code:04X}, not a standard OTA Upgrade command.",
            code="zcl-unknown-command",
            details={"command_id": header.command_id},
        )
    decoder = _DECODERS.get((header.direction, header.command_id))
    if decoder is None:
        raise ZclDecodeError(
            f"Command 0x{header.command_id:02X} sent {direction_text} is not an OTA Upgrade "
            "cluster command.",
            code="zcl-unknown-command",
            details={"command_id": header.command_id, "direction": int(header.direction)},
        )
    return header, decoder(payload)


_DECODERS = _build_decoders()
