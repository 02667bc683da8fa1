"""ZCL OTA Upgrade cluster (0x0019): the ZCL frame header and the eleven OTA commands.

Pure functions over bytes, no I/O. Every command is a small frozen record whose
`to_bytes()` gives the payload after the ZCL header and whose `from_bytes(payload)` checks
every length and value and raises exactly one `ZclDecodeError` (stable codes
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

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, ClassVar, Self

from bridgelab.errors import BridgeLabError
from bridgelab.eui64 import EUI64_WIRE_SIZE, eui64_from_wire, eui64_to_wire

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


def _truncated(what: str, field_name: str, need: int, offset: int, have: int) -> ZclDecodeError:
    return ZclDecodeError(
        f"{what} is truncated: {field_name} needs {need} byte(s) at byte {offset} "
        f"but only {have} remain.",
        code="zcl-truncated",
        details={"command": what, "field": field_name, "offset": offset},
    )


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


# --------------------------------------------------------------------------- wire helpers


@dataclass(frozen=True)
class _Width:
    """Marks an int field with its unsigned wire width in bytes."""

    size: int


U8 = Annotated[int, _Width(1)]
U16 = Annotated[int, _Width(2)]
U32 = Annotated[int, _Width(4)]
Eui64 = Annotated[int, _Width(EUI64_WIRE_SIZE)]


def _u8(value: int) -> bytes:
    return value.to_bytes(1, "little")


def _u16(value: int) -> bytes:
    return value.to_bytes(2, "little")


def _u32(value: int) -> bytes:
    return value.to_bytes(4, "little")


class _Reader:
    """A cursor over one payload; every read checks the length first."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data = bytes(data)
        self._what = what
        self.offset = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self.offset

    def raw(self, size: int, field_name: str) -> bytes:
        if self.remaining < size:
            raise _truncated(self._what, field_name, size, self.offset, self.remaining)
        chunk = self._data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def uint(self, size: int, field_name: str) -> int:
        return int.from_bytes(self.raw(size, field_name), "little")

    def u8(self, field_name: str) -> int:
        return self.uint(1, field_name)

    def u16(self, field_name: str) -> int:
        return self.uint(2, field_name)

    def u32(self, field_name: str) -> int:
        return self.uint(4, field_name)

    def eui64(self, field_name: str) -> int:
        return eui64_from_wire(self.raw(EUI64_WIRE_SIZE, field_name))

    def expect_status(self, expected: ZclStatus) -> None:
        """The status byte of a record that exists for one status only."""
        found = self.status()
        if found is not expected:
            raise _bad_field(self._what, "status", f"{found.name} where {expected.name} belongs")

    def status(self, field_name: str = "status") -> ZclStatus:
        value = self.u8(field_name)
        try:
            return ZclStatus(value)
        except ValueError:
            raise _bad_field(self._what, field_name, f"0x{value:02X} is not a ZCL status") from None

    def flags(self, field_name: str, known_mask: int) -> int:
        """A bitmap u8 whose reserved bits must be clear."""
        value = self.u8(field_name)
        if value & ~known_mask:
            raise _bad_field(
                self._what,
                field_name,
                f"reserved bits set (0x{value:02X}, known 0x{known_mask:02X})",
            )
        return value

    def done(self) -> None:
        if self.remaining:
            raise ZclDecodeError(
                f"{self._what} has {self.remaining} unexpected byte(s) after its last field "
                f"(from byte {self.offset}).",
                code="zcl-trailing-bytes",
                details={"command": self._what, "offset": self.offset},
            )


_WIDTHS_BY_TYPE: dict[type, dict[str, int]] = {}


def _field_widths(cls: type) -> dict[str, int]:
    """Wire widths of a record's int fields, from their `Annotated` markers (cached)."""
    cached = _WIDTHS_BY_TYPE.get(cls)
    if cached is not None:
        return cached
    widths: dict[str, int] = {}
    hints = typing.get_type_hints(cls, include_extras=True)
    for item in dataclasses.fields(cls):
        hint = hints[item.name]
        candidates = [hint, *typing.get_args(hint)]  # `U16 | None` nests the marker
        for candidate in candidates:
            marks = [m for m in getattr(candidate, "__metadata__", ()) if isinstance(m, _Width)]
            if marks:
                widths[item.name] = marks[0].size
    _WIDTHS_BY_TYPE[cls] = widths
    return widths


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class OtaCommandBase:
    """Shared behaviour of every OTA command record.

    Subclasses give their command id and name in the class statement
    (`class ImageNotify(OtaCommandBase, command=..., name=...)`; the direction follows
    from the id) and implement `to_bytes()` (the payload after the ZCL header) and
    `_decode(reader)`. Construction checks that every integer fits its wire width, then
    runs the subclass's `_validate()`; both raise `ZclValueError`.
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
        for name, size in _field_widths(type(self)).items():
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and 0 <= value < 1 << (8 * size)):
                raise ZclValueError(
                    f"{self.NAME}: {name}={value!r} does not fit an unsigned {8 * size}-bit field.",
                    details={"command": self.NAME, "field": name},
                )
        self._validate()

    def _validate(self) -> None:
        """Cross-field rules of the command; raise `ZclValueError`."""

    def _invalid(self, field_name: str, reason: str) -> ZclValueError:
        return ZclValueError(
            f"{self.NAME}: bad {field_name}: {reason}.",
            details={"command": self.NAME, "field": field_name},
        )

    def to_bytes(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def _decode(cls, reader: _Reader) -> Self:
        raise NotImplementedError

    @classmethod
    def from_bytes(cls, payload: bytes) -> Self:
        """Decode the payload after the ZCL header; raises `ZclDecodeError` only."""
        reader = _Reader(payload, cls.NAME)
        try:
            record = cls._decode(reader)
        except ZclValueError as error:
            raise ZclDecodeError(
                error.message, code="zcl-bad-field", details=error.details
            ) from error
        reader.done()
        return record


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

    query_jitter: U8
    manufacturer_code: U16 | None = None
    image_type: U16 | None = None
    file_version: U32 | None = None

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

    def to_bytes(self) -> bytes:
        out = _u8(self.payload_type) + _u8(self.query_jitter)
        if self.manufacturer_code is not None:
            out += _u16(self.manufacturer_code)
        if self.image_type is not None:
            out += _u16(self.image_type)
        if self.file_version is not None:
            out += _u32(self.file_version)
        return out

    @classmethod
    def _decode(cls, reader: _Reader) -> Self:
        payload_type = reader.u8("payload_type")
        if payload_type > 3:
            raise _bad_field(cls.NAME, "payload_type", f"{payload_type} is not 0, 1, 2 or 3")
        jitter = reader.u8("query_jitter")
        manufacturer = reader.u16("manufacturer_code") if payload_type >= 1 else None
        image_type = reader.u16("image_type") if payload_type >= 2 else None
        version = reader.u32("file_version") if payload_type >= 3 else None
        return cls(jitter, manufacturer, image_type, version)


@dataclass(frozen=True, slots=True)
class QueryNextImageRequest(
    OtaCommandBase, command=OtaCommandId.QUERY_NEXT_IMAGE_REQUEST, name="Query Next Image Request"
):
    """Client asks whether a newer image exists (0x01)."""

    _HW_VERSION_PRESENT: ClassVar[int] = 0x01

    manufacturer_code: U16
    image_type: U16
    current_file_version: U32
    hardware_version: U16 | None = None

    def to_bytes(self) -> bytes:
        has_hw = self.hardware_version is not None
        out = _u8(self._HW_VERSION_PRESENT if has_hw else 0)
        out += _u16(self.manufacturer_code) + _u16(self.image_type)
        out += _u32(self.current_file_version)
        if self.hardware_version is not None:
            out += _u16(self.hardware_version)
        return out

    @classmethod
    def _decode(cls, reader: _Reader) -> Self:
        control = reader.flags("field_control", cls._HW_VERSION_PRESENT)
        manufacturer, image_type, version = _read_image_id(reader)
        hw = reader.u16("hardware_version") if control & cls._HW_VERSION_PRESENT else None
        return cls(manufacturer, image_type, version, hw)


def _image_id_bytes(manufacturer_code: int, image_type: int, file_version: int) -> bytes:
    return _u16(manufacturer_code) + _u16(image_type) + _u32(file_version)


def _read_image_id(reader: _Reader) -> tuple[int, int, int]:
    return reader.u16("manufacturer_code"), reader.u16("image_type"), reader.u32("file_version")


@dataclass(frozen=True, slots=True)
class _ImageOfferResponse(OtaCommandBase):
    """Layout shared by the Query Next Image and Query Device Specific File responses.

    With status SUCCESS all four image fields are present; with any other allowed status
    none is.
    """

    _ALLOWED: ClassVar[frozenset[ZclStatus]] = frozenset(
        {ZclStatus.SUCCESS, ZclStatus.NO_IMAGE_AVAILABLE, ZclStatus.NOT_AUTHORIZED}
    )

    status: ZclStatus
    manufacturer_code: U16 | None = None
    image_type: U16 | None = None
    file_version: U32 | None = None
    image_size: U32 | None = None

    def _validate(self) -> None:
        _check_status(self, self.status, self._ALLOWED)
        fields = (self.manufacturer_code, self.image_type, self.file_version, self.image_size)
        if self.status is ZclStatus.SUCCESS and None in fields:
            raise self._invalid("image fields", "SUCCESS needs all four image fields")
        if self.status is not ZclStatus.SUCCESS and fields != (None,) * 4:
            raise self._invalid("image fields", f"{self.status.name} carries no image fields")

    def to_bytes(self) -> bytes:
        out = _u8(self.status)
        if (
            self.manufacturer_code is not None
            and self.image_type is not None
            and self.file_version is not None
            and self.image_size is not None
        ):
            out += _image_id_bytes(self.manufacturer_code, self.image_type, self.file_version)
            out += _u32(self.image_size)
        return out

    @classmethod
    def _decode(cls, reader: _Reader) -> Self:
        status = reader.status()
        if status is not ZclStatus.SUCCESS:
            return cls(status)
        manufacturer, image_type, version = _read_image_id(reader)
        return cls(status, manufacturer, image_type, version, reader.u32("image_size"))


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

    _EUI64_PRESENT: ClassVar[int] = 0x01
    _BLOCK_PERIOD_PRESENT: ClassVar[int] = 0x02

    manufacturer_code: U16
    image_type: U16
    file_version: U32
    file_offset: U32
    max_data_size: U8
    request_node_eui64: Eui64 | None = None
    minimum_block_period: U16 | None = None

    def to_bytes(self) -> bytes:
        control = (self._EUI64_PRESENT if self.request_node_eui64 is not None else 0) | (
            self._BLOCK_PERIOD_PRESENT if self.minimum_block_period is not None else 0
        )
        out = _u8(control) + _image_id_bytes(
            self.manufacturer_code, self.image_type, self.file_version
        )
        out += _u32(self.file_offset) + _u8(self.max_data_size)
        if self.request_node_eui64 is not None:
            out += eui64_to_wire(self.request_node_eui64)
        if self.minimum_block_period is not None:
            out += _u16(self.minimum_block_period)
        return out

    @classmethod
    def _decode(cls, reader: _Reader) -> Self:
        control = reader.flags("field_control", cls._EUI64_PRESENT | cls._BLOCK_PERIOD_PRESENT)
        manufacturer, image_type, version = _read_image_id(reader)
        offset = reader.u32("file_offset")
        max_size = reader.u8("max_data_size")
        eui = reader.eui64("request_node_eui64") if control & cls._EUI64_PRESENT else None
        period = reader.u16("minimum_block_period") if control & cls._BLOCK_PERIOD_PRESENT else None
        return cls(manufacturer, image_type, version, offset, max_size, eui, period)


@dataclass(frozen=True, slots=True)
class ImagePageRequest(
    OtaCommandBase, command=OtaCommandId.IMAGE_PAGE_REQUEST, name="Image Page Request"
):
    """Client asks for `page_size` bytes from `file_offset`, sent in blocks (0x04).

    `response_spacing_ms` is the pause the server leaves between the blocks of a page.
    """

    _EUI64_PRESENT: ClassVar[int] = 0x01

    manufacturer_code: U16
    image_type: U16
    file_version: U32
    file_offset: U32
    max_data_size: U8
    page_size: U16
    response_spacing_ms: U16
    request_node_eui64: Eui64 | None = None

    def to_bytes(self) -> bytes:
        has_eui = self.request_node_eui64 is not None
        out = _u8(self._EUI64_PRESENT if has_eui else 0)
        out += _image_id_bytes(self.manufacturer_code, self.image_type, self.file_version)
        out += _u32(self.file_offset) + _u8(self.max_data_size)
        out += _u16(self.page_size) + _u16(self.response_spacing_ms)
        if self.request_node_eui64 is not None:
            out += eui64_to_wire(self.request_node_eui64)
        return out

    @classmethod
    def _decode(cls, reader: _Reader) -> Self:
        control = reader.flags("field_control", cls._EUI64_PRESENT)
        manufacturer, image_type, version = _read_image_id(reader)
        offset = reader.u32("file_offset")
        max_size = reader.u8("max_data_size")
        page_size = reader.u16("page_size")
        spacing = reader.u16("response_spacing_ms")
        eui = reader.eui64("request_node_eui64") if control & cls._EUI64_PRESENT else None
        return cls(manufacturer, image_type, version, offset, max_size, page_size, spacing, eui)


@dataclass(frozen=True, slots=True)
class ImageBlockResponse(
    OtaCommandBase, command=OtaCommandId.IMAGE_BLOCK_RESPONSE, name="Image Block Response"
):
    """Server sends one block of the image (0x05 with status SUCCESS)."""

    manufacturer_code: U16
    image_type: U16
    file_version: U32
    file_offset: U32
    data: bytes

    def _validate(self) -> None:
        if not isinstance(self.data, bytes) or len(self.data) > 0xFF:
            raise self._invalid("data", "a block is bytes of at most 255")

    def to_bytes(self) -> bytes:
        out = _u8(ZclStatus.SUCCESS)
        out += _image_id_bytes(self.manufacturer_code, self.image_type, self.file_version)
        return out + _u32(self.file_offset) + _u8(len(self.data)) + self.data

    @classmethod
    def _decode(cls, reader: _Reader) -> Self:
        reader.expect_status(ZclStatus.SUCCESS)
        manufacturer, image_type, version = _read_image_id(reader)
        offset = reader.u32("file_offset")
        size = reader.u8("data_size")
        return cls(manufacturer, image_type, version, offset, reader.raw(size, "data"))


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

    current_time: U32
    request_time: U32
    minimum_block_period: U16 | None = None

    @property
    def wait_s(self) -> int:
        """Seconds the client should wait before asking again (never negative)."""
        return max(0, self.request_time - self.current_time)

    def to_bytes(self) -> bytes:
        out = _u8(ZclStatus.WAIT_FOR_DATA) + _u32(self.current_time) + _u32(self.request_time)
        if self.minimum_block_period is not None:
            out += _u16(self.minimum_block_period)
        return out

    @classmethod
    def _decode(cls, reader: _Reader) -> Self:
        reader.expect_status(ZclStatus.WAIT_FOR_DATA)
        current = reader.u32("current_time")
        request = reader.u32("request_time")
        period = reader.u16("minimum_block_period") if reader.remaining else None
        return cls(current, request, period)


@dataclass(frozen=True, slots=True)
class ImageBlockAbort(
    OtaCommandBase, command=OtaCommandId.IMAGE_BLOCK_RESPONSE, name="Image Block Response (ABORT)"
):
    """Server stops the download (0x05 with status ABORT); no other field."""

    def to_bytes(self) -> bytes:
        return _u8(ZclStatus.ABORT)

    @classmethod
    def _decode(cls, reader: _Reader) -> Self:
        reader.expect_status(ZclStatus.ABORT)
        return cls()


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

    status: ZclStatus
    manufacturer_code: U16
    image_type: U16
    file_version: U32

    def _validate(self) -> None:
        _check_status(self, self.status, self._ALLOWED)

    def to_bytes(self) -> bytes:
        return _u8(self.status) + _image_id_bytes(
            self.manufacturer_code, self.image_type, self.file_version
        )

    @classmethod
    def _decode(cls, reader: _Reader) -> Self:
        status = reader.status()
        return cls(status, *_read_image_id(reader))


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

    def to_bytes(self) -> bytes:
        out = _image_id_bytes(self.manufacturer_code, self.image_type, self.file_version)
        return out + _u32(self.current_time) + _u32(self.upgrade_time)

    @classmethod
    def _decode(cls, reader: _Reader) -> Self:
        manufacturer, image_type, version = _read_image_id(reader)
        return cls(
            manufacturer,
            image_type,
            version,
            reader.u32("current_time"),
            reader.u32("upgrade_time"),
        )


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

    def to_bytes(self) -> bytes:
        out = eui64_to_wire(self.request_node_eui64)
        out += _image_id_bytes(self.manufacturer_code, self.image_type, self.file_version)
        return out + _u16(self.zigbee_stack_version)

    @classmethod
    def _decode(cls, reader: _Reader) -> Self:
        eui = reader.eui64("request_node_eui64")
        manufacturer, image_type, version = _read_image_id(reader)
        return cls(eui, manufacturer, image_type, version, reader.u16("zigbee_stack_version"))


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
    status = _Reader(payload, name).status()
    record_type = _BLOCK_RESPONSE_BY_STATUS.get(status)
    if record_type is None:
        raise _bad_field(name, "status", f"{status.name} is not SUCCESS, WAIT_FOR_DATA or ABORT")
    return record_type.from_bytes(payload)


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
        out = _u8(self.frame_control)
        if self.manufacturer_code is not None:
            out += _u16(self.manufacturer_code)
        return out + _u8(self.seq) + _u8(self.command_id)

    @classmethod
    def from_bytes(cls, data: bytes) -> tuple[ZclHeader, bytes]:
        """Split a frame into its header and payload; raises `ZclDecodeError`."""
        reader = _Reader(data, "ZCL header")
        control = reader.flags("frame_control", 0xFF & ~_RESERVED_FRAME_CONTROL)
        manufacturer = reader.u16("manufacturer_code") if control & _MANUFACTURER_SPECIFIC else None
        seq = reader.u8("seq")
        command_id = reader.u8("command_id")
        header = cls(
            frame_type=control & _FRAME_TYPE_MASK,
            direction=ZclDirection(1 if control & _DIRECTION_SERVER_TO_CLIENT else 0),
            disable_default_response=bool(control & _DISABLE_DEFAULT_RESPONSE),
            seq=seq,
            command_id=command_id,
            manufacturer_code=manufacturer,
        )
        return header, data[reader.offset :]


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
