"""ZigBee OTA upgrade files in both body forms: parse, load, build (docs/firmware-format.md).

Parsing is a pure function over bytes that checks every length against the buffer before
looking past it, and holds the file once: `OtaImage.raw` is the file's bytes and every
part of it (`manufacturer_image`, sub-element data) is a memoryview or an offset into
them, never a copy. Two body forms exist after the header:

- ZIGBEE: tag (u16) / length (u32) / data sub-elements up to the total image size;
  Bridge Lab's signature is the manufacturer-specific sub-element `SIGNATURE_TAG`, last.
- GBCS: the Manufacturer Image straight after the header, optionally followed by the
  trailer `00 40` + 64-byte raw ECDSA signature (r||s).

The form is detected (see `detect_body_form`) unless the caller names it. `build_image`
writes either form and refuses field values that would not parse back to the same image.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field, replace
from enum import StrEnum

from bridgelab.eui64 import eui64_from_wire, eui64_to_wire
from bridgelab.firmware.errors import ImageBuildError, ImageFormatError, hex_id
from bridgelab.firmware.files import DEFAULT_MAX_IMAGE_SIZE, read_file

MAGIC = 0x0BEEF11E
MAGIC_BYTES = MAGIC.to_bytes(4, "little")
HEADER_VERSION = 0x0100
BASE_HEADER_LENGTH = 56
HEADER_STRING_SIZE = 32
STACK_ZIGBEE_PRO = 0x0002

FIELD_SECURITY_CREDENTIAL = 0x0001  # 1 byte: security credential version
FIELD_DEVICE_SPECIFIC = 0x0002  # 8 bytes: destination EUI-64
FIELD_HARDWARE_VERSIONS = 0x0004  # 2 + 2 bytes: minimum and maximum hardware version
KNOWN_FIELD_CONTROL = FIELD_SECURITY_CREDENTIAL | FIELD_DEVICE_SPECIFIC | FIELD_HARDWARE_VERSIONS

WILDCARD_IMAGE_TYPE = 0xFFFF
WILDCARD_FILE_VERSION = 0xFFFFFFFF

SUBELEMENT_HEADER_SIZE = 6
TAG_UPGRADE_IMAGE = 0x0000
# Bridge Lab's convention (docs/firmware-format.md), in the manufacturer-specific range
# 0xF000-0xFFFF until a vendor document assigns one: 64 bytes of raw r||s, last in the file.
SIGNATURE_TAG = 0xF0B1
SIGNATURE_SIZE = 64
# The GBCS trailer as the DCC's SR 11.1 sample carries it: a big-endian length of 64.
GBCS_TRAILER_PREFIX = b"\x00\x40"
GBCS_TRAILER_SIZE = len(GBCS_TRAILER_PREFIX) + SIGNATURE_SIZE
# Real files carry a handful of sub-elements; a cap keeps a crafted file of thousands of
# empty ones from costing more memory than the file itself.
MAX_SUBELEMENTS = 256

_BASE_HEADER = struct.Struct("<IHHHHHIH32sI")
_SUBELEMENT_HEADER = struct.Struct("<HI")
_U16 = struct.Struct("<H")

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
    """What follows the OTA header."""

    ZIGBEE = "zigbee"
    GBCS = "gbcs"


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
        for name, bits in (
            ("manufacturer_code", 16),
            ("image_type", 16),
            ("file_version", 32),
            ("total_image_size", 32),
            ("header_version", 16),
            ("stack_version", 16),
            ("security_credential_version", 8),
            ("destination_eui64", 64),
            ("min_hw_version", 16),
            ("max_hw_version", 16),
        ):
            value = getattr(self, name)
            if value is not None and not 0 <= value < 1 << bits:
                raise ImageBuildError(
                    f"{name} {value} does not fit in {bits} bits.", code="bad-field-value"
                )
        if len(self.header_string) != HEADER_STRING_SIZE:
            raise ImageBuildError(
                f"The header string must be {HEADER_STRING_SIZE} bytes, not "
                f"{len(self.header_string)}.",
                code="bad-field-value",
            )
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
        return BASE_HEADER_LENGTH + _optional_fields_size(self.field_control)

    @property
    def header_text(self) -> str:
        """The header string up to its first zero byte, undecodable bytes shown as U+FFFD."""
        return self.header_string.split(b"\x00", 1)[0].decode("utf-8", errors="replace")

    def to_bytes(self) -> bytes:
        """The header exactly as it goes on the wire."""
        parts = [
            _BASE_HEADER.pack(
                MAGIC,
                self.header_version,
                self.header_length,
                self.field_control,
                self.manufacturer_code,
                self.image_type,
                self.file_version,
                self.stack_version,
                self.header_string,
                self.total_image_size,
            )
        ]
        if self.security_credential_version is not None:
            parts.append(bytes([self.security_credential_version]))
        if self.destination_eui64 is not None:
            parts.append(eui64_to_wire(self.destination_eui64))
        if self.min_hw_version is not None and self.max_hw_version is not None:
            parts.append(struct.pack("<HH", self.min_hw_version, self.max_hw_version))
        return b"".join(parts)


def _optional_fields_size(field_control: int) -> int:
    size = 1 if field_control & FIELD_SECURITY_CREDENTIAL else 0
    size += 8 if field_control & FIELD_DEVICE_SPECIFIC else 0
    return size + (4 if field_control & FIELD_HARDWARE_VERSIONS else 0)


@dataclass(frozen=True)
class SubElement:
    """One tag/length/value element: `offset` is where its data starts in the file."""

    tag: int
    offset: int
    length: int

    @property
    def name(self) -> str:
        return subelement_name(self.tag)

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True)
class OtaImage:
    """A parsed upgrade file; `raw` is the file, every other byte field is a view into it.

    `manufacturer_image` is what a GBCS Activate Firmware hash covers: the data of the
    upgrade image sub-element (zigbee form) or everything between the header and the
    signature trailer (gbcs form). `signature` is the 64-byte raw r||s of Bridge Lab's
    convention, or None when the file carries none.
    """

    header: OtaHeader
    body_form: BodyForm
    sub_elements: tuple[SubElement, ...]
    manufacturer_image_offset: int
    manufacturer_image: memoryview = field(repr=False)
    signature: bytes | None = field(repr=False)
    raw: bytes = field(repr=False)

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
        return self.sub_elements[-1].offset - SUBELEMENT_HEADER_SIZE

    def signed_bytes(self) -> memoryview:
        """The bytes the signature covers (a view; raises nothing, empty when unsigned)."""
        offset = self.signature_offset
        return memoryview(self.raw)[: offset if offset is not None else 0]

    def sub_element_data(self, element: SubElement) -> memoryview:
        return memoryview(self.raw)[element.offset : element.end]

    def unsigned_body_parts(self) -> list[bytes | memoryview]:
        """The body re-serialised without the signature container, in file order."""
        if self.body_form is BodyForm.GBCS:
            return [self.manufacturer_image]
        parts: list[bytes | memoryview] = []
        for element in self.sub_elements:
            if element.tag != SIGNATURE_TAG:
                parts.append(_SUBELEMENT_HEADER.pack(element.tag, element.length))
                parts.append(self.sub_element_data(element))
        return parts

    def to_bytes(self) -> bytes:
        """Serialise from the parsed fields; equals `raw` for every file `parse_image` accepts."""
        parts = [self.header.to_bytes(), *self.unsigned_body_parts()]
        if self.signature is not None:
            parts.append(signature_container(self.body_form, self.signature))
        return b"".join(parts)


def signature_container(body_form: BodyForm, signature: bytes) -> bytes:
    """The bytes that carry a 64-byte signature at the end of a file of `body_form`."""
    if len(signature) != SIGNATURE_SIZE:
        raise ImageBuildError(
            f"A signature is {SIGNATURE_SIZE} bytes (r||s), not {len(signature)}.",
            code="bad-field-value",
        )
    if body_form is BodyForm.GBCS:
        return GBCS_TRAILER_PREFIX + signature
    return _SUBELEMENT_HEADER.pack(SIGNATURE_TAG, SIGNATURE_SIZE) + signature


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
    (
        _magic,
        header_version,
        header_length,
        field_control,
        manufacturer_code,
        image_type,
        file_version,
        stack_version,
        header_string,
        total_image_size,
    ) = _BASE_HEADER.unpack_from(data, 0)
    if header_version != HEADER_VERSION:
        raise ImageFormatError(
            f"The header version is {hex_id(header_version)}; only 0x0100 is defined.",
            code="bad-header-version",
        )
    if field_control & ~KNOWN_FIELD_CONTROL:
        raise ImageFormatError(
            f"The header's field control {hex_id(field_control)} sets reserved bits "
            f"({hex_id(field_control & ~KNOWN_FIELD_CONTROL)}).",
            code="bad-field-control",
        )
    expected_length = BASE_HEADER_LENGTH + _optional_fields_size(field_control)
    if header_length != expected_length:
        raise ImageFormatError(
            f"The header says it is {header_length} bytes long, but its field control "
            f"{hex_id(field_control)} makes it {expected_length}.",
            code="bad-header-length",
        )
    if size < header_length:
        raise ImageFormatError(
            f"The file is {size} bytes, shorter than its {header_length}-byte header.",
            code="truncated-header",
        )
    cursor = BASE_HEADER_LENGTH
    credential = destination = min_hw = max_hw = None
    if field_control & FIELD_SECURITY_CREDENTIAL:
        credential = data[cursor]
        cursor += 1
    if field_control & FIELD_DEVICE_SPECIFIC:
        destination = eui64_from_wire(bytes(data[cursor : cursor + 8]))
        cursor += 8
    if field_control & FIELD_HARDWARE_VERSIONS:
        min_hw, max_hw = struct.unpack_from("<HH", data, cursor)
        if min_hw > max_hw:
            raise ImageFormatError(
                f"The header's hardware range is empty: minimum {hex_id(min_hw)} is above "
                f"maximum {hex_id(max_hw)}.",
                code="bad-hardware-range",
            )
    return OtaHeader(
        manufacturer_code=manufacturer_code,
        image_type=image_type,
        file_version=file_version,
        total_image_size=total_image_size,
        header_version=header_version,
        stack_version=stack_version,
        header_string=header_string,
        security_credential_version=credential,
        destination_eui64=destination,
        min_hw_version=min_hw,
        max_hw_version=max_hw,
    )


def parse_image(data: bytes | bytearray | memoryview, *, form: BodyForm | None = None) -> OtaImage:
    """Parse a whole OTA upgrade file; `form` None detects the body form.

    `data` that is not `bytes` is copied once into bytes (the image keeps views into it).
    Raises ImageFormatError with the code of the first problem found: the header's codes
    (see `parse_header`), then size-mismatch (file shorter than its total image size),
    trailing-data (longer), and the body's: subelement-overrun, too-many-subelements,
    signature-not-last, bad-signature-length, no-upgrade-image, duplicate-upgrade-image.
    """
    raw = data if isinstance(data, bytes) else bytes(data)
    header = parse_header(raw)
    size = len(raw)
    if header.total_image_size > size:
        raise ImageFormatError(
            f"The file is {size:,} bytes but its header says the image is "
            f"{header.total_image_size:,}: it was cut short.",
            code="size-mismatch",
        )
    if header.total_image_size < header.header_length:
        raise ImageFormatError(
            f"The header says the whole image is {header.total_image_size} bytes, less than "
            f"the {header.header_length}-byte header itself.",
            code="size-mismatch",
        )
    if header.total_image_size < size:
        raise ImageFormatError(
            f"The file is {size:,} bytes but its header says the image is "
            f"{header.total_image_size:,}: {size - header.total_image_size:,} bytes follow it.",
            code="trailing-data",
        )
    body_start = header.header_length
    chosen = form if form is not None else detect_body_form(raw, body_start)
    if chosen is BodyForm.GBCS:
        return _parse_gbcs_body(raw, header)
    return _parse_zigbee_body(raw, header)


def detect_body_form(raw: bytes, body_start: int) -> BodyForm:
    """ZIGBEE when the body starts with an upgrade image tag (0x0000), or when the whole
    body walks as sub-elements with defined tags ending exactly at the end; else GBCS.

    A GBCS Manufacturer Image that itself meets either rule is ambiguous: `build_image`
    refuses to write one, and reading one needs `form=BodyForm.GBCS`.
    """
    if len(raw) - body_start >= SUBELEMENT_HEADER_SIZE:
        (first_tag,) = _U16.unpack_from(raw, body_start)
        if first_tag == TAG_UPGRADE_IMAGE:
            return BodyForm.ZIGBEE
        try:
            elements = _walk_subelements(raw, body_start)
        except ImageFormatError:
            return BodyForm.GBCS
        if all(_is_defined_tag(element.tag) for element in elements):
            return BodyForm.ZIGBEE
    return BodyForm.GBCS


def _walk_subelements(raw: bytes, start: int) -> list[SubElement]:
    elements: list[SubElement] = []
    cursor, end = start, len(raw)
    while cursor < end:
        if end - cursor < SUBELEMENT_HEADER_SIZE:
            raise ImageFormatError(
                f"A sub-element header at offset {cursor} is cut short: only "
                f"{end - cursor} of its 6 bytes are in the image.",
                code="subelement-overrun",
            )
        if len(elements) == MAX_SUBELEMENTS:
            raise ImageFormatError(
                f"The image has more than {MAX_SUBELEMENTS} sub-elements.",
                code="subelement-overrun",
            )
        tag, length = _SUBELEMENT_HEADER.unpack_from(raw, cursor)
        data_start = cursor + SUBELEMENT_HEADER_SIZE
        if length > end - data_start:
            raise ImageFormatError(
                f"Sub-element {hex_id(tag)} at offset {cursor} says it holds {length:,} bytes, "
                f"but only {end - data_start:,} remain in the image.",
                code="subelement-overrun",
            )
        elements.append(SubElement(tag=tag, offset=data_start, length=length))
        cursor = data_start + length
    return elements


def _parse_zigbee_body(raw: bytes, header: OtaHeader) -> OtaImage:
    elements = _walk_subelements(raw, header.header_length)
    signature: bytes | None = None
    for index, element in enumerate(elements):
        if element.tag != SIGNATURE_TAG:
            continue
        if index != len(elements) - 1:
            raise ImageFormatError(
                f"The signature sub-element at offset {element.offset - 6} is followed by "
                f"{len(elements) - 1 - index} more sub-element(s); it must be last.",
                code="signature-not-last",
            )
        if element.length != SIGNATURE_SIZE:
            raise ImageFormatError(
                f"The signature sub-element holds {element.length} bytes, not {SIGNATURE_SIZE}.",
                code="bad-signature-length",
            )
        signature = raw[element.offset : element.end]
    upgrade_images = [element for element in elements if element.tag == TAG_UPGRADE_IMAGE]
    if not upgrade_images:
        raise ImageFormatError(
            "The file has no upgrade image sub-element (tag 0x0000).", code="no-upgrade-image"
        )
    if len(upgrade_images) > 1:
        raise ImageFormatError(
            f"The file has {len(upgrade_images)} upgrade image sub-elements; it must have one.",
            code="duplicate-upgrade-image",
        )
    upgrade = upgrade_images[0]
    return OtaImage(
        header=header,
        body_form=BodyForm.ZIGBEE,
        sub_elements=tuple(elements),
        manufacturer_image_offset=upgrade.offset,
        manufacturer_image=memoryview(raw)[upgrade.offset : upgrade.end],
        signature=signature,
        raw=raw,
    )


def _parse_gbcs_body(raw: bytes, header: OtaHeader) -> OtaImage:
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
    )


def load_image(
    path: str | os.PathLike[str],
    *,
    max_size: int = DEFAULT_MAX_IMAGE_SIZE,
    form: BodyForm | None = None,
) -> OtaImage:
    """Read and parse an image file, holding its bytes once.

    A file over `max_size` bytes is refused before it is read. Raises ImageFileError
    (file-not-found, not-a-file, file-unreadable, file-too-large) or ImageFormatError.
    """
    return parse_image(read_file(path, max_size=max_size, what="image"), form=form)


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
    sub_elements: tuple[tuple[int, bytes], ...] = (),
    signature: bytes | None = None,
) -> bytes:
    """Write an upgrade file; header length, field control and total size are computed.

    The zigbee form holds the upgrade image sub-element first, then `sub_elements` in
    order, then the signature sub-element when `signature` is given; the gbcs form holds
    the Manufacturer Image, then the `00 40` trailer when signed. `parse_image` of the
    result gives back every field given here. Raises ImageBuildError: bad-field-value
    (a value that does not fit, an empty image, sub-elements in the gbcs form, a reserved
    tag), ambiguous-body or ambiguous-trailer (a gbcs file that would not read back as
    written; see `detect_body_form`).
    """
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
        body_parts += [
            _SUBELEMENT_HEADER.pack(TAG_UPGRADE_IMAGE, len(manufacturer_image)),
            manufacturer_image,
        ]
        for tag, data in sub_elements:
            if tag in (TAG_UPGRADE_IMAGE, SIGNATURE_TAG) or not 0 <= tag <= 0xFFFF:
                raise ImageBuildError(
                    f"Sub-element tag {hex_id(tag)} cannot be added: the upgrade image and the "
                    "signature have their own arguments, and tags are 16 bits.",
                    code="bad-field-value",
                )
            body_parts += [_SUBELEMENT_HEADER.pack(tag, len(data)), data]
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


def _refuse_ambiguous_gbcs(raw: bytes, body_start: int, *, signed: bool) -> None:
    if detect_body_form(raw, body_start) is not BodyForm.GBCS:
        raise ImageBuildError(
            "This Manufacturer Image starts like a ZigBee sub-element, so the file would "
            "read back as the zigbee form.",
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
