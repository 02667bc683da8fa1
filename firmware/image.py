"""ZigBee OTA upgrade files as makers ship them: parse, load, build (docs/firmware-format.md).

Parsing is a pure function over bytes that checks every length against the buffer before
looking past it. `OtaImage.raw` is the OTA file a device receives: the file given, or
(when the file is wrapped in a vendor container, or carries bytes after its total image
size) the OTA file inside it; every part of it (`manufacturer_image`, sub-element data)
is a memoryview into `raw`, never a copy. The body after the header has one of these
forms (`BodyForm`), each detected on evidence that `OtaImage.form_evidence` states:

- ZIGBEE: tag (u16) / length (u32) / data sub-elements up to the total image size,
  reserved and manufacturer tags included; Bridge Lab's signature is the
  manufacturer-specific sub-element `SIGNATURE_TAG`, last.
- GBCS: the Manufacturer Image straight after the header, optionally followed by the
  trailer `00 40` + 64-byte raw ECDSA signature (r||s).
- TELINK: sub-elements where the manufacturer tag 0xF000 carries a 2-byte "tag info"
  word between its length and its data (Telink's SDK).
- HUE_SBL: Philips Hue's `.sbl-ota`: no sub-elements, the body starts `2A 00 01`.

Where the evidence does not decide, parsing says so (`ambiguous-form`) and the caller
names the form. What is not standard but readable (bytes after the image, a container,
no or several upgrade image elements, reserved tags, an inner GBL/EBL file) is read and
described in `OtaImage.notes`; `strict=True` refuses what the ZigBee specification does
not allow (bytes after the image, not exactly one upgrade image element).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from bridgelab.codec import (
    U16,
    U32,
    Bit,
    Const,
    Control,
    DecodeError,
    FieldValueError,
    Fixed,
    Record,
    Truncated,
    check,
    fields_of,
    u8,
    u16,
    u32,
    u64,
)
from bridgelab.firmware.containers import Container, find_container
from bridgelab.firmware.errors import GblFormatError, ImageBuildError, ImageFormatError, hex_id
from bridgelab.firmware.files import DEFAULT_MAX_IMAGE_SIZE, read_file
from bridgelab.firmware.gbl import BootloaderImage, parse_bootloader_image, sniff_format
from bridgelab.firmware.trailing import TrailingBytes, classify_trailing

MAGIC = 0x0BEEF11E
MAGIC_BYTES = MAGIC.to_bytes(4, "little")
HEADER_VERSION = 0x0100
HEADER_STRING_SIZE = 32
STACK_ZIGBEE_PRO = 0x0002

FIELD_SECURITY_CREDENTIAL = 0x0001  # 1 byte: security credential version
FIELD_DEVICE_SPECIFIC = 0x0002  # 8 bytes: destination EUI-64
FIELD_HARDWARE_VERSIONS = 0x0004  # 2 + 2 bytes: minimum and maximum hardware version

WILDCARD_IMAGE_TYPE = 0xFFFF
WILDCARD_FILE_VERSION = 0xFFFFFFFF

TAG_UPGRADE_IMAGE = 0x0000
MANUFACTURER_TAGS = range(0xF000, 0x10000)
# Bridge Lab's convention (docs/firmware-format.md), in the manufacturer-specific range
# 0xF000-0xFFFF until a vendor document assigns one: 64 bytes of raw r||s, last in the file.
SIGNATURE_TAG = 0xF0B1
SIGNATURE_SIZE = 64
# The GBCS trailer as the DCC's SR 11.1 sample carries it: a big-endian length of 64.
GBCS_TRAILER_PREFIX = b"\x00\x40"
GBCS_TRAILER_SIZE = len(GBCS_TRAILER_PREFIX) + SIGNATURE_SIZE
# Telink's SDK writes its (encrypted) image as tag 0xF000 with a 2-byte word after the
# length that the length does not count.
TELINK_TAG = 0xF000
# Hue .sbl-ota: Philips/Signify's manufacturer code and the first bytes of the body.
HUE_MANUFACTURER = 0x100B
HUE_SBL_MAGIC = b"\x2a\x00\x01"
# Real files carry a handful of sub-elements; a cap keeps a crafted file of thousands of
# empty ones from costing more memory than the file itself, and bounds form detection.
MAX_SUBELEMENTS = 256


@dataclass(frozen=True)
class _HeaderWire(Record):
    """The OTA header as it goes on the wire, declared once (docs/firmware-format.md §1):
    widths, order, the optional fields field control announces, the file identifier."""

    magic: ClassVar[Const] = Const(u32, MAGIC)
    header_version: U16
    header_length: U16
    field_control: ClassVar[Control] = Control(u16)
    manufacturer_code: U16
    image_type: U16
    file_version: U32
    stack_version: U16
    header_string: Annotated[bytes, Fixed(HEADER_STRING_SIZE)]
    total_image_size: U32
    security_credential_version: Annotated[
        int | None, u8, Bit("field_control", FIELD_SECURITY_CREDENTIAL)
    ] = None
    # An EUI-64 goes on the wire little-endian: a u64.
    destination_eui64: Annotated[int | None, u64, Bit("field_control", FIELD_DEVICE_SPECIFIC)] = (
        None
    )
    min_hw_version: Annotated[int | None, u16, Bit("field_control", FIELD_HARDWARE_VERSIONS)] = None
    max_hw_version: Annotated[int | None, u16, Bit("field_control", FIELD_HARDWARE_VERSIONS)] = None

    @classmethod
    def codec_name(cls) -> str:
        return "OTA header"

    @classmethod
    def _codec_error(cls, error: DecodeError) -> Exception:
        if isinstance(error, Truncated):
            return ImageFormatError(error.message, code="truncated-header")
        if error.field == "field_control":
            return ImageFormatError(error.message, code="bad-field-control")
        return ImageFormatError(error.message, code="bad-magic")


@dataclass(frozen=True)
class _ElementHeader(Record):
    """A sub-element's header: tag, then the length of its data."""

    tag: U16
    length: U32


@dataclass(frozen=True)
class _TelinkElementHeader(Record):
    """Telink's element header: a 2-byte tag-info word the length does not count."""

    tag: U16
    length: U32
    tag_info: U16


# Sizes follow from the declarations above, never written down a second time.
BASE_HEADER_LENGTH = len(_HeaderWire(HEADER_VERSION, 0, 0, 0, 0, 0, bytes(32), 0).pack())
SUBELEMENT_HEADER_SIZE = len(_ElementHeader(0, 0).pack())
TELINK_HEADER_SIZE = len(_TelinkElementHeader(0, 0, 0).pack())
_OPTIONAL_SIZES = {
    name: spec.size or 0 for name, spec, condition in fields_of(_HeaderWire) if condition
}

_SUBELEMENT_NAMES = {
    0x0000: "upgrade image",
    0x0001: "ECDSA signature (crypto suite 1)",
    0x0002: "ECDSA signing certificate (crypto suite 1)",
    0x0003: "image integrity code",
    0x0004: "picture data",
    0x0005: "ECDSA signature (crypto suite 2)",
    0x0006: "ECDSA signing certificate (crypto suite 2)",
    SIGNATURE_TAG: "Bridge Lab manufacturer signature",
}


class BodyForm(StrEnum):
    """What follows the OTA header (the two standard forms, then the vendor layouts)."""

    ZIGBEE = "zigbee"
    GBCS = "gbcs"
    TELINK = "telink"
    HUE_SBL = "hue-sbl"


# The forms `build_image` writes and Bridge Lab signs; the others are read only.
BUILD_FORMS = (BodyForm.ZIGBEE, BodyForm.GBCS)
VENDOR_LAYOUTS = {
    BodyForm.TELINK: "Telink vendor layout",
    BodyForm.HUE_SBL: "Philips Hue .sbl-ota vendor layout",
}


def subelement_name(tag: int) -> str:
    """A readable name for a sub-element tag (ZigBee OTA tags, or the manufacturer range)."""
    if tag in _SUBELEMENT_NAMES:
        return _SUBELEMENT_NAMES[tag]
    return "manufacturer specific" if tag >= 0xF000 else "reserved"


def _is_defined_tag(tag: int) -> bool:
    return tag <= 0x0006 or tag >= 0xF000


@dataclass(frozen=True)
class OtaHeader:
    """Every field of the OTA header; the optional ones are None when absent.

    `field_control` and `header_length` follow from which optional fields are present
    (parsing refuses a file where they disagree), so they are properties, not fields.
    `header_string` keeps the 32 raw bytes so that a file is rebuilt byte for byte;
    `header_text` is its readable form. Raises ImageBuildError(bad-field-value) for values
    that do not fit their field.
    """

    manufacturer_code: int
    image_type: int
    file_version: int
    total_image_size: int
    header_version: int = HEADER_VERSION
    stack_version: int = STACK_ZIGBEE_PRO
    header_string: bytes = bytes(HEADER_STRING_SIZE)
    security_credential_version: int | None = None
    destination_eui64: int | None = None
    min_hw_version: int | None = None
    max_hw_version: int | None = None

    def __post_init__(self) -> None:
        try:
            check(self._wire())
        except FieldValueError as error:
            raise ImageBuildError(error.message, code="bad-field-value") from None
        if (self.min_hw_version is None) != (self.max_hw_version is None):
            raise ImageBuildError(
                "Give both the minimum and the maximum hardware version, or neither.",
                code="bad-field-value",
            )
        low, high = self.min_hw_version, self.max_hw_version
        if low is not None and high is not None and low > high:
            raise ImageBuildError(
                f"The hardware range {hex_id(low)} to {hex_id(high)} is empty.",
                code="bad-field-value",
            )

    @property
    def field_control(self) -> int:
        bits = FIELD_SECURITY_CREDENTIAL if self.security_credential_version is not None else 0
        bits |= FIELD_DEVICE_SPECIFIC if self.destination_eui64 is not None else 0
        bits |= FIELD_HARDWARE_VERSIONS if self.min_hw_version is not None else 0
        return bits

    @property
    def header_length(self) -> int:
        present = (name for name in _OPTIONAL_SIZES if getattr(self, name) is not None)
        return BASE_HEADER_LENGTH + sum(_OPTIONAL_SIZES[name] for name in present)

    @property
    def header_text(self) -> str:
        """The header string up to its first zero byte, undecodable bytes shown as U+FFFD."""
        return self.header_string.split(b"\x00", 1)[0].decode("utf-8", errors="replace")

    def to_bytes(self) -> bytes:
        """The header exactly as it goes on the wire."""
        return self._wire().pack()

    def _wire(self) -> _HeaderWire:
        return _HeaderWire(
            header_version=self.header_version,
            header_length=self.header_length,
            manufacturer_code=self.manufacturer_code,
            image_type=self.image_type,
            file_version=self.file_version,
            stack_version=self.stack_version,
            header_string=self.header_string,
            total_image_size=self.total_image_size,
            security_credential_version=self.security_credential_version,
            destination_eui64=self.destination_eui64,
            min_hw_version=self.min_hw_version,
            max_hw_version=self.max_hw_version,
        )


@dataclass(frozen=True)
class SubElement:
    """One tag/length/value element: `offset` is where its data starts in the file.

    `header_size` is 6 for a standard element, 8 for a Telink element, whose 2-byte
    `tag_info` word sits between the length and the data.
    """

    tag: int
    offset: int
    length: int
    header_size: int = SUBELEMENT_HEADER_SIZE
    tag_info: int | None = None

    @property
    def name(self) -> str:
        if self.tag_info is not None:
            return "Telink image"
        return subelement_name(self.tag)

    @property
    def header_offset(self) -> int:
        return self.offset - self.header_size

    @property
    def end(self) -> int:
        return self.offset + self.length

    def header_bytes(self) -> bytes:
        if self.tag_info is not None:
            return _TelinkElementHeader(self.tag, self.length, self.tag_info).pack()
        return _ElementHeader(self.tag, self.length).pack()

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "name": self.name,
            "offset": self.offset,
            "length": self.length,
            "header_size": self.header_size,
            "tag_info": self.tag_info,
        }


@dataclass(frozen=True)
class ReadNote:
    """Something non-standard the reader met and how it read it (`severity` info/warning)."""

    code: str
    severity: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message}


@dataclass(frozen=True)
class OtaImage:
    """A parsed upgrade file; `raw` is the OTA file, every other byte field a view into it.

    `manufacturer_image` is what a GBCS Activate Firmware hash covers: the data of the
    element taken as the firmware (`firmware_element`; zigbee and telink forms),
    everything between the header and the signature trailer (gbcs), or the whole body
    (hue-sbl, and a file whose firmware element is not known). `signature` is the
    64-byte raw r||s of Bridge Lab's convention, or None when the file carries none.
    `source_size` is the size of the file as given: larger than `raw` when a `container`
    wraps it or `trailing` bytes follow the image. `inner` is the GBL/EBL file the
    firmware is, when it is one; `inner_problem` why it could not be read as one.
    """

    header: OtaHeader
    body_form: BodyForm
    sub_elements: tuple[SubElement, ...]
    manufacturer_image_offset: int
    manufacturer_image: memoryview = field(repr=False)
    signature: bytes | None = field(repr=False)
    raw: bytes = field(repr=False)
    form_evidence: str = ""
    form_given: bool = False
    firmware_element: SubElement | None = None
    firmware_note: str = ""
    container: Container | None = None
    trailing: TrailingBytes | None = None
    source_size: int = 0
    inner: BootloaderImage | None = None
    inner_problem: GblFormatError | None = field(default=None, compare=False)
    notes: tuple[ReadNote, ...] = ()

    @property
    def manufacturer_image_size(self) -> int:
        return len(self.manufacturer_image)

    @property
    def signature_offset(self) -> int | None:
        """Where the signature's container (trailer or sub-element) starts; None if unsigned.

        The signature covers exactly the bytes before this offset.
        """
        if self.signature is None:
            return None
        if self.body_form is BodyForm.GBCS:
            return len(self.raw) - GBCS_TRAILER_SIZE
        return self.sub_elements[-1].header_offset

    def signed_bytes(self) -> memoryview:
        """The bytes the signature covers (a view; raises nothing, empty when unsigned)."""
        offset = self.signature_offset
        return memoryview(self.raw)[: offset if offset is not None else 0]

    def sub_element_data(self, element: SubElement) -> memoryview:
        return memoryview(self.raw)[element.offset : element.end]

    def unsigned_body_parts(self) -> list[bytes | memoryview]:
        """The body re-serialised without the signature container, in file order."""
        if not self.sub_elements:
            return [self.manufacturer_image]
        parts: list[bytes | memoryview] = []
        for element in self.sub_elements:
            if element.tag != SIGNATURE_TAG or self.signature is None:
                parts.append(element.header_bytes())
                parts.append(self.sub_element_data(element))
        return parts

    def to_bytes(self) -> bytes:
        """Serialise from the parsed fields, elements in file order; equals `raw`."""
        parts = [self.header.to_bytes(), *self.unsigned_body_parts()]
        if self.signature is not None:
            parts.append(signature_container(self.body_form, self.signature))
        return b"".join(parts)


def signature_container(body_form: BodyForm, signature: bytes) -> bytes:
    """The bytes that carry a 64-byte signature at the end of a file of `body_form`."""
    if body_form not in BUILD_FORMS:
        raise ImageBuildError(
            f"Bridge Lab signs the zigbee and gbcs forms only, not the {body_form} layout.",
            code="bad-field-value",
        )
    if len(signature) != SIGNATURE_SIZE:
        raise ImageBuildError(
            f"A signature is {SIGNATURE_SIZE} bytes (r||s), not {len(signature)}.",
            code="bad-field-value",
        )
    if body_form is BodyForm.GBCS:
        return GBCS_TRAILER_PREFIX + signature
    return _ElementHeader(SIGNATURE_TAG, SIGNATURE_SIZE).pack() + signature


def parse_header(data: bytes) -> OtaHeader:
    """Decode the header at the start of `data` (which may hold only the header).

    Raises ImageFormatError: bad-magic, truncated-header, bad-header-version,
    bad-field-control, bad-header-length, bad-hardware-range.
    """
    size = len(data)
    if size == 0 or data[:4] != MAGIC_BYTES[: min(size, 4)]:
        raise ImageFormatError(
            f"The file does not start with the OTA file identifier 1E F1 EE 0B "
            f"(it starts {bytes(data[:4]).hex(' ').upper() or 'empty'}).",
            code="bad-magic",
        )
    if size < BASE_HEADER_LENGTH:
        raise ImageFormatError(
            f"The file is {size} bytes, shorter than the {BASE_HEADER_LENGTH}-byte OTA header.",
            code="truncated-header",
        )
    try:
        wire, _ = _HeaderWire.unpack_from(data)
    except ImageFormatError as error:
        if error.code != "truncated-header":
            raise
        raise ImageFormatError(
            f"The file is {size} bytes, shorter than its header: {error.message}",
            code="truncated-header",
        ) from None
    if wire.header_version != HEADER_VERSION:
        raise ImageFormatError(
            f"The header version is {hex_id(wire.header_version)}; only 0x0100 is defined.",
            code="bad-header-version",
        )
    low, high = wire.min_hw_version, wire.max_hw_version
    if low is not None and high is not None and low > high:
        raise ImageFormatError(
            f"The header's hardware range is empty: minimum {hex_id(low)} is above "
            f"maximum {hex_id(high)}.",
            code="bad-hardware-range",
        )
    header = OtaHeader(
        manufacturer_code=wire.manufacturer_code,
        image_type=wire.image_type,
        file_version=wire.file_version,
        total_image_size=wire.total_image_size,
        header_version=wire.header_version,
        stack_version=wire.stack_version,
        header_string=wire.header_string,
        security_credential_version=wire.security_credential_version,
        destination_eui64=wire.destination_eui64,
        min_hw_version=low,
        max_hw_version=high,
    )
    if wire.header_length != header.header_length:
        raise ImageFormatError(
            f"The header says it is {wire.header_length} bytes long, but its field control "
            f"{hex_id(header.field_control)} makes it {header.header_length}.",
            code="bad-header-length",
        )
    return header


@dataclass(frozen=True)
class FormDetection:
    """The form the body was read in, why, and (zigbee, telink) its elements."""

    form: BodyForm
    evidence: str
    elements: tuple[SubElement, ...] = ()


def parse_image(
    data: bytes | bytearray | memoryview,
    *,
    form: BodyForm | None = None,
    strict: bool = False,
) -> OtaImage:
    """Parse an OTA upgrade file as makers ship it; `form` None detects the body form.

    A vendor container is unwrapped first (`container`); bytes after the total image
    size are read and described (`trailing`), or refused with `strict`. `data` that is
    not `bytes` is copied once into bytes (the image keeps views into it). Raises
    ImageFormatError with the code of the first problem found: bad-container, the
    header's codes (see `parse_header`), size-mismatch (file shorter than its total
    image size), trailing-data (longer, with `strict`), ambiguous-form (the evidence does
    not decide the form: name it), and the body's: subelement-overrun,
    signature-not-last, bad-signature-length, no-upgrade-image, duplicate-upgrade-image
    (with `strict`, or when no element can be the firmware).
    """
    source = data if isinstance(data, bytes) else bytes(data)
    container = find_container(source)
    file_bytes = (
        source
        if container is None
        else source[container.inner_offset : container.inner_offset + container.inner_size]
    )
    header = parse_header(file_bytes)
    size = len(file_bytes)
    where = " inside its container" if container is not None else ""
    if header.total_image_size > size:
        raise ImageFormatError(
            f"The file{where} is {size:,} bytes but its header says the image is "
            f"{header.total_image_size:,}: it was cut short.",
            code="size-mismatch",
        )
    if header.total_image_size < header.header_length:
        raise ImageFormatError(
            f"The header says the whole image is {header.total_image_size} bytes, less than "
            f"the {header.header_length}-byte header itself.",
            code="size-mismatch",
        )
    trailing = classify_trailing(file_bytes, header.total_image_size)
    if trailing is not None and strict:
        raise ImageFormatError(
            f"The file{where} is {size:,} bytes but its header says the image is "
            f"{header.total_image_size:,}: {trailing.description}.",
            code="trailing-data",
        )
    raw = file_bytes if trailing is None else file_bytes[: header.total_image_size]
    if form is None:
        detection = detect_form(raw, header.header_length)
    else:
        detection = _given_form(raw, header.header_length, form)
    notes: list[ReadNote] = []
    if container is not None:
        notes.append(
            ReadNote(
                "container-unwrapped",
                "info",
                f"{container.name}: {container.evidence}. The OTA file inside it is read "
                "and is what a device receives.",
            )
        )
    if trailing is not None:
        notes.append(
            ReadNote(
                "trailing-bytes",
                "warning",
                f"{trailing.description}. They are after the total image size "
                f"({header.total_image_size:,}), so they are not sent to a device.",
            )
        )
    if detection.form in VENDOR_LAYOUTS:
        notes.append(
            ReadNote(
                "vendor-layout",
                "info",
                f"{VENDOR_LAYOUTS[detection.form]}: {detection.evidence}.",
            )
        )
    if detection.form is BodyForm.GBCS:
        image = _gbcs_image(raw, header)
    elif detection.form is BodyForm.HUE_SBL:
        image = _whole_body_image(raw, header, BodyForm.HUE_SBL)
    else:
        image = _element_image(raw, header, detection, strict=strict, notes=notes)
    inner, problem = _inner_image(image.manufacturer_image)
    if inner is not None:
        notes.append(ReadNote("inner-image", "info", describe_inner(inner)))
    return replace(
        image,
        form_evidence=detection.evidence,
        form_given=form is not None,
        container=container,
        trailing=trailing,
        source_size=len(source),
        inner=inner,
        inner_problem=problem,
        notes=(*notes, *image.notes),
    )


def describe_inner(inner: BootloaderImage) -> str:
    """One sentence on a GBL/EBL upgrade image: tags, version, flags, CRC."""
    kind = inner.format.upper()
    app = inner.application
    version = f", application version {hex_id(app.version, 8)}" if app is not None else ""
    flags = f"{'signed' if inner.signed else 'not signed'}, " + (
        "encrypted" if inner.encrypted else "not encrypted"
    )
    crc = (
        f"CRC-32 {hex_id(inner.crc_stored, 8)} checked: it matches"
        if inner.crc_ok
        else f"CRC-32 WRONG (end tag {hex_id(inner.crc_stored, 8)}, bytes give "
        f"{hex_id(inner.crc_computed, 8)})"
    )
    padding = f", {inner.padding} bytes of 0xFF padding" if inner.padding else ""
    tags = f"{len(inner.tags)} tags{version}"
    return f"The firmware is a Silicon Labs {kind} file: {tags}, {flags}, {crc}{padding}."


def _inner_image(
    firmware: memoryview,
) -> tuple[BootloaderImage | None, GblFormatError | None]:
    if sniff_format(firmware) is None:
        return None, None
    try:
        return parse_bootloader_image(firmware), None
    except GblFormatError as problem:
        return None, problem


def detect_body_form(raw: bytes, body_start: int) -> BodyForm:
    """The form `detect_form` finds (see there for the evidence and what it raises)."""
    return detect_form(raw, body_start).form


def detect_form(raw: bytes, body_start: int) -> FormDetection:
    """Decide the body's form on evidence; `raw` is the OTA file up to its total size.

    In order: ZIGBEE when the body walks as sub-elements ending exactly at the end and
    holding an upgrade image, a manufacturer element or only defined tags; TELINK when
    it walks so once tag 0xF000 is read with its 2-byte tag-info word; HUE_SBL for
    manufacturer 0x100B and a body starting `2A 00 01`; a damaged ZIGBEE file (the walk
    fails after an upgrade image tag) raises the walk's subelement-overrun; GBCS on the
    GBCS signature trailer, or when the first 6 bytes cannot be a sub-element header
    (its length runs past the body). Anything else raises ImageFormatError
    (ambiguous-form). The work is bounded by MAX_SUBELEMENTS steps, whatever the size.
    """
    body = len(raw) - body_start
    elements, failure = _walk(raw, body_start)
    if failure is None:
        tags = {element.tag for element in elements}
        count = f"{len(elements)} sub-element{'s' if len(elements) != 1 else ''}"
        ends = f"the body walks as {count} ending exactly at the total image size"
        if TAG_UPGRADE_IMAGE in tags:
            return FormDetection(
                BodyForm.ZIGBEE, f"{ends}, with an upgrade image element", tuple(elements)
            )
        if any(tag in MANUFACTURER_TAGS for tag in tags):
            return FormDetection(
                BodyForm.ZIGBEE,
                f"{ends}; it has no upgrade image element but manufacturer-specific ones",
                tuple(elements),
            )
        if elements and all(_is_defined_tag(tag) for tag in tags):
            return FormDetection(
                BodyForm.ZIGBEE,
                f"{ends}, all with tags the ZigBee OTA format defines",
                tuple(elements),
            )
    telink, telink_failure = _walk(raw, body_start, telink=True)
    if telink_failure is None and any(element.tag_info is not None for element in telink):
        first = next(element for element in telink if element.tag_info is not None)
        return FormDetection(
            BodyForm.TELINK,
            f"tag 0xF000 at offset {first.header_offset} carries a 2-byte tag-info word "
            f"({hex_id(first.tag_info or 0)}) after its length; read with it the body walks "
            "as sub-elements ending exactly at the total image size, read without it the "
            "walk does not",
            tuple(telink),
        )
    manufacturer = int.from_bytes(raw[10:12], "little")
    if manufacturer == HUE_MANUFACTURER and raw[body_start : body_start + 3] == HUE_SBL_MAGIC:
        return FormDetection(
            BodyForm.HUE_SBL,
            "manufacturer 0x100B (Philips/Signify), the body starts 2A 00 01 (a Hue SBL "
            "image) and does not walk as sub-elements",
        )
    if failure is not None and any(element.tag == TAG_UPGRADE_IMAGE for element in elements):
        raise failure
    if failure is not None and body >= SUBELEMENT_HEADER_SIZE:
        head, _ = _ElementHeader.unpack_from(raw, body_start)
        if head.tag == TAG_UPGRADE_IMAGE:
            raise failure
    trailer_at = len(raw) - GBCS_TRAILER_SIZE
    if trailer_at >= body_start and raw[trailer_at : trailer_at + 2] == GBCS_TRAILER_PREFIX:
        return FormDetection(
            BodyForm.GBCS,
            "the body does not walk as sub-elements and ends with the GBCS signature trailer "
            "(00 40 and 64 bytes)",
        )
    if body < SUBELEMENT_HEADER_SIZE:
        return FormDetection(
            BodyForm.GBCS,
            f"the body is {body} bytes, too short to hold a sub-element header: it has no "
            "sub-element tag",
        )
    head, _ = _ElementHeader.unpack_from(raw, body_start)
    first_tag, first_length = head.tag, head.length
    room = body - SUBELEMENT_HEADER_SIZE
    if first_length > room:
        return FormDetection(
            BodyForm.GBCS,
            f"the body has no sub-element tag: its first 6 bytes, read as one, would be tag "
            f"{hex_id(first_tag)} holding {first_length:,} bytes, more than the {room:,} "
            "that follow",
        )
    raise ImageFormatError(
        f"The body's form cannot be told from its bytes: its first 6 bytes read as a "
        f"sub-element (tag {hex_id(first_tag)}, {first_length:,} bytes) that fits, but the "
        "body does not walk as sub-elements to its end "
        f"({failure.message if failure is not None else 'no upgrade image element'}); it may "
        "be a damaged zigbee file or a GBCS Manufacturer Image.",
        code="ambiguous-form",
    )


def _given_form(raw: bytes, body_start: int, form: BodyForm) -> FormDetection:
    evidence = "named by the caller (--form)"
    if form in (BodyForm.ZIGBEE, BodyForm.TELINK):
        elements, failure = _walk(raw, body_start, telink=form is BodyForm.TELINK)
        if failure is not None:
            raise failure
        return FormDetection(form, evidence, tuple(elements))
    return FormDetection(form, evidence)


def _walk(
    raw: bytes, start: int, *, telink: bool = False
) -> tuple[list[SubElement], ImageFormatError | None]:
    """The elements from `start` to the end, and the problem that stopped the walk early.

    With `telink`, tag 0xF000 is read with its 2-byte tag-info word.
    """
    elements: list[SubElement] = []
    cursor, end = start, len(raw)
    while cursor < end:
        if len(elements) == MAX_SUBELEMENTS:
            return elements, ImageFormatError(
                f"The image has more than {MAX_SUBELEMENTS} sub-elements.",
                code="subelement-overrun",
            )
        if end - cursor < SUBELEMENT_HEADER_SIZE:
            return elements, ImageFormatError(
                f"A sub-element header at offset {cursor} is cut short: only "
                f"{end - cursor} of its 6 bytes are in the image.",
                code="subelement-overrun",
            )
        element, _ = _ElementHeader.unpack_from(raw, cursor)
        tag, length = element.tag, element.length
        header_size, tag_info = SUBELEMENT_HEADER_SIZE, None
        if telink and tag == TELINK_TAG and end - cursor >= TELINK_HEADER_SIZE:
            header_size = TELINK_HEADER_SIZE
            tag_info = _TelinkElementHeader.unpack_from(raw, cursor)[0].tag_info
        data_start = cursor + header_size
        if length > end - data_start:
            return elements, ImageFormatError(
                f"Sub-element {hex_id(tag)} at offset {cursor} says it holds {length:,} bytes, "
                f"but only {end - data_start:,} remain in the image.",
                code="subelement-overrun",
            )
        elements.append(SubElement(tag, data_start, length, header_size, tag_info))
        cursor = data_start + length
    return elements, None


def _element_image(
    raw: bytes,
    header: OtaHeader,
    detection: FormDetection,
    *,
    strict: bool,
    notes: list[ReadNote],
) -> OtaImage:
    elements = detection.elements
    signature: bytes | None = None
    for index, element in enumerate(elements):
        if element.tag != SIGNATURE_TAG or element.tag_info is not None:
            continue
        if index != len(elements) - 1:
            raise ImageFormatError(
                f"The signature sub-element at offset {element.header_offset} is followed by "
                f"{len(elements) - 1 - index} more sub-element(s); it must be last.",
                code="signature-not-last",
            )
        if element.length != SIGNATURE_SIZE:
            raise ImageFormatError(
                f"The signature sub-element holds {element.length} bytes, not {SIGNATURE_SIZE}.",
                code="bad-signature-length",
            )
        signature = raw[element.offset : element.end]
    for element in elements:
        if not _is_defined_tag(element.tag):
            notes.append(
                ReadNote(
                    "reserved-tag",
                    "info",
                    f"Sub-element tag {hex_id(element.tag)} ({element.length:,} bytes at offset "
                    f"{element.offset}) is reserved by the ZigBee OTA format; it is "
                    "listed and kept, not interpreted.",
                )
            )
    chosen, note, severity = _firmware_element(raw, elements, strict=strict)
    body_end = len(raw) - (SUBELEMENT_HEADER_SIZE + SIGNATURE_SIZE if signature else 0)
    if chosen is None:
        start, end = header.header_length, body_end
    else:
        start, end = chosen.offset, chosen.end
    image_notes = (
        (ReadNote(_FIRMWARE_NOTE_CODES[severity], severity, note[0].upper() + note[1:] + "."),)
        if severity
        else ()
    )
    return OtaImage(
        header=header,
        body_form=detection.form,
        sub_elements=tuple(elements),
        manufacturer_image_offset=start,
        manufacturer_image=memoryview(raw)[start:end],
        signature=signature,
        raw=raw,
        firmware_element=chosen,
        firmware_note=note,
        notes=image_notes,
    )


_FIRMWARE_NOTE_CODES = {"info": "firmware-element", "warning": "firmware-element-guessed"}


def _firmware_element(
    raw: bytes, elements: tuple[SubElement, ...], *, strict: bool
) -> tuple[SubElement | None, str, str]:
    """(element taken as the firmware or None, why, note severity: "" for the standard case)."""
    upgrades = [element for element in elements if element.tag == TAG_UPGRADE_IMAGE]
    if len(upgrades) == 1:
        only = upgrades[0]
        return only, f"the upgrade image element (tag 0x0000) at offset {only.offset}", ""
    if len(upgrades) > 1 and strict:
        raise ImageFormatError(
            f"The file has {len(upgrades)} upgrade image sub-elements; it must have one.",
            code="duplicate-upgrade-image",
        )
    if not upgrades:
        vendor = [
            element
            for element in elements
            if element.tag in MANUFACTURER_TAGS and element.tag != SIGNATURE_TAG
        ]
        if strict or not vendor:
            raise ImageFormatError(
                "The file has no upgrade image sub-element (tag 0x0000)"
                + (" and no manufacturer-specific one." if not vendor else "."),
                code="no-upgrade-image",
            )
        if len(vendor) == 1:
            only = vendor[0]
            what = "Telink image element" if only.tag_info is not None else "element"
            return (
                only,
                f"the only manufacturer-specific {what} ({hex_id(only.tag)}, {only.length:,} "
                f"bytes at offset {only.offset}) is taken as the firmware: the file "
                "has no upgrade image element (tag 0x0000)",
                "info" if only.tag_info is not None else "warning",
            )
        candidates, kind = vendor, "manufacturer-specific elements"
    else:
        candidates, kind = upgrades, "upgrade image elements (tag 0x0000)"
    listing = ", ".join(
        f"{hex_id(element.tag)} ({element.length:,} bytes at offset {element.offset})"
        for element in candidates
    )
    bootloader = [
        element
        for element in candidates
        if sniff_format(memoryview(raw)[element.offset : element.end]) is not None
    ]
    if len(bootloader) == 1:
        pick = bootloader[0]
        return (
            pick,
            f"the file has {len(candidates)} {kind}: {listing}; the one that is a Silicon Labs "
            f"bootloader file, at offset {pick.offset}, is taken as the firmware",
            "warning",
        )
    largest = max(element.length for element in candidates)
    biggest = [element for element in candidates if element.length == largest]
    if len(biggest) == 1 and len(upgrades) > 1:
        pick = biggest[0]
        return (
            pick,
            f"the file has {len(candidates)} {kind}: {listing}; the largest, at offset "
            f"{pick.offset}, is taken as the firmware",
            "warning",
        )
    return (
        None,
        f"which element is the firmware is not known: the file has {len(candidates)} {kind}: "
        f"{listing}; the Manufacturer Image hash below covers the whole body",
        "warning",
    )


def _gbcs_image(raw: bytes, header: OtaHeader) -> OtaImage:
    start, end = header.header_length, len(raw)
    signature: bytes | None = None
    trailer_at = end - GBCS_TRAILER_SIZE
    if trailer_at >= start and raw[trailer_at : trailer_at + 2] == GBCS_TRAILER_PREFIX:
        signature = raw[end - SIGNATURE_SIZE :]
        end = trailer_at
    if end == start:
        raise ImageFormatError(
            "The file has an OTA header but no Manufacturer Image after it.",
            code="no-upgrade-image",
        )
    return OtaImage(
        header=header,
        body_form=BodyForm.GBCS,
        sub_elements=(),
        manufacturer_image_offset=start,
        manufacturer_image=memoryview(raw)[start:end],
        signature=signature,
        raw=raw,
        firmware_note="the Manufacturer Image: the body after the header"
        + (", before the signature trailer" if signature is not None else ""),
    )


def _whole_body_image(raw: bytes, header: OtaHeader, form: BodyForm) -> OtaImage:
    start = header.header_length
    if start == len(raw):
        raise ImageFormatError(
            "The file has an OTA header but nothing after it.", code="no-upgrade-image"
        )
    return OtaImage(
        header=header,
        body_form=form,
        sub_elements=(),
        manufacturer_image_offset=start,
        manufacturer_image=memoryview(raw)[start:],
        signature=None,
        raw=raw,
        firmware_note="the whole body after the header (the layout has no sub-elements)",
    )


def load_image(
    path: str | os.PathLike[str],
    *,
    max_size: int = DEFAULT_MAX_IMAGE_SIZE,
    form: BodyForm | None = None,
    strict: bool = False,
) -> OtaImage:
    """Read and parse an image file, holding its bytes once (twice when unwrapped).

    A file over `max_size` bytes is refused before it is read. Raises ImageFileError
    (file-not-found, not-a-file, file-unreadable, file-too-large) or ImageFormatError.
    """
    return parse_image(read_file(path, max_size=max_size, what="image"), form=form, strict=strict)


def encode_header_string(text: str | bytes) -> bytes:
    """Zero-pad a header string to 32 bytes; refuses one that does not fit."""
    encoded = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(encoded) > HEADER_STRING_SIZE:
        raise ImageBuildError(
            f"The header string is {len(encoded)} bytes; it must fit in {HEADER_STRING_SIZE}.",
            code="bad-field-value",
        )
    return encoded.ljust(HEADER_STRING_SIZE, b"\x00")


def build_image(
    *,
    manufacturer_code: int,
    image_type: int,
    file_version: int,
    manufacturer_image: bytes | memoryview,
    body_form: BodyForm = BodyForm.GBCS,
    stack_version: int = STACK_ZIGBEE_PRO,
    header_string: str | bytes = b"",
    security_credential_version: int | None = None,
    destination_eui64: int | None = None,
    min_hw_version: int | None = None,
    max_hw_version: int | None = None,
    sub_elements: tuple[tuple[int, bytes | memoryview], ...] = (),
    upgrade_image_position: int = 0,
    signature: bytes | None = None,
) -> bytes:
    """Write an upgrade file; header length, field control and total size are computed.

    GBCS is the default form (the GB smart-metering form). The zigbee form holds
    `sub_elements` in order with the upgrade image element inserted at index
    `upgrade_image_position` (0: first), then the signature sub-element when `signature`
    is given, so a file read with `parse_image` is written again in its own order; the
    gbcs form holds the Manufacturer Image, then the `00 40` trailer when signed.
    `parse_image` of the result gives back every field given here. Raises
    ImageBuildError: bad-field-value (a value that does not fit, an empty image,
    sub-elements in the gbcs form, a form Bridge Lab does not write, a position outside
    the elements), ambiguous-body or ambiguous-trailer (a gbcs file that would not read
    back as written; see `detect_form`).
    """
    if body_form not in BUILD_FORMS:
        raise ImageBuildError(
            f"Bridge Lab writes the zigbee and gbcs forms, not the {body_form} layout.",
            code="bad-field-value",
        )
    if len(manufacturer_image) == 0:
        raise ImageBuildError("The Manufacturer Image is empty.", code="bad-field-value")
    body_parts: list[bytes | memoryview] = []
    if body_form is BodyForm.GBCS:
        if sub_elements:
            raise ImageBuildError(
                "The gbcs form has no sub-elements; use the zigbee form to add them.",
                code="bad-field-value",
            )
        body_parts.append(manufacturer_image)
    else:
        if not 0 <= upgrade_image_position <= len(sub_elements):
            raise ImageBuildError(
                f"The upgrade image cannot go at position {upgrade_image_position} among "
                f"{len(sub_elements)} other sub-elements.",
                code="bad-field-value",
            )
        for index, (tag, data) in enumerate(sub_elements):
            if tag in (TAG_UPGRADE_IMAGE, SIGNATURE_TAG) or not 0 <= tag <= 0xFFFF:
                raise ImageBuildError(
                    f"Sub-element tag {hex_id(tag)} cannot be added: the upgrade image and the "
                    "signature have their own arguments, and tags are 16 bits.",
                    code="bad-field-value",
                )
            if index == upgrade_image_position:
                body_parts += _upgrade_element(manufacturer_image)
            body_parts += [_ElementHeader(tag, len(data)).pack(), data]
        if upgrade_image_position == len(sub_elements):
            body_parts += _upgrade_element(manufacturer_image)
    if signature is not None:
        body_parts.append(signature_container(body_form, signature))
    header = OtaHeader(
        manufacturer_code=manufacturer_code,
        image_type=image_type,
        file_version=file_version,
        total_image_size=0,
        stack_version=stack_version,
        header_string=encode_header_string(header_string),
        security_credential_version=security_credential_version,
        destination_eui64=destination_eui64,
        min_hw_version=min_hw_version,
        max_hw_version=max_hw_version,
    )
    total = header.header_length + sum(len(part) for part in body_parts)
    header = replace(header, total_image_size=total)
    raw = b"".join([header.to_bytes(), *body_parts])
    if body_form is BodyForm.GBCS:
        _refuse_ambiguous_gbcs(raw, header.header_length, signed=signature is not None)
    return raw


def _upgrade_element(manufacturer_image: bytes | memoryview) -> list[bytes | memoryview]:
    return [_ElementHeader(TAG_UPGRADE_IMAGE, len(manufacturer_image)).pack(), manufacturer_image]


def _refuse_ambiguous_gbcs(raw: bytes, body_start: int, *, signed: bool) -> None:
    try:
        detected: BodyForm | None = detect_form(raw, body_start).form
    except ImageFormatError:
        detected = None
    if detected is not BodyForm.GBCS:
        raise ImageBuildError(
            "This Manufacturer Image starts like a ZigBee sub-element or a vendor layout, so "
            "the file would not read back as the gbcs form.",
            code="ambiguous-body",
        )
    trailer_at = len(raw) - GBCS_TRAILER_SIZE
    if (
        not signed
        and trailer_at >= body_start
        and raw[trailer_at : trailer_at + 2] == GBCS_TRAILER_PREFIX
    ):
        raise ImageBuildError(
            "This unsigned Manufacturer Image ends like a signature trailer (00 40 and 64 "
            "bytes), so the file would read back as signed.",
            code="ambiguous-trailer",
        )
