"""Silicon Labs bootloader images (GBL, and the older EBL): read their tags, check the CRC.

ZigBee OTA files for Silicon Labs radios usually carry one of these as the upgrade image,
and the Gecko Bootloader takes a GBL over its UART menu (XMODEM). Either way a file whose
own CRC-32 is wrong must be refused before its first byte leaves the workstation, so the
check lives here, once, for the OTA reader and for a bootloader driver alike.

The format facts (Silicon Labs UG266 / UG489, `btl_gbl_format.h`, `ebl.h`):

- GBL: tags of id u32 / length u32 (little-endian) / payload. The header tag `0x03A617EB`
  comes first (spec version u32, type u32: bit 0 AES-CCM encrypted, bit 8 ECDSA signed);
  the application info tag `0xF40A0AF4` holds type, version, capabilities (u32 each) and
  a 16-byte product id; program data, metadata, encryption and signature tags follow; the
  end tag `0xFC0404FC` is last and holds the CRC-32 of every byte before its CRC field.
- EBL: tags of id u16 / length u16 (big-endian). The header tag `0x0000` (or `0xFB05`
  for an encrypted EBL) comes first, the end tag `0xFC04` holds the CRC-32 (stored
  little-endian) the same way, and the file is padded with 0xFF to a multiple of 64.

Bytes after the end tag are padding: 0xFF only (some vendors pad a GBL too); anything
else is refused. The CRC is the zlib CRC-32 (reflected 0x04C11DB7, init and xor-out
0xFFFFFFFF). Parsing is bounded by the input: one pass over the tags (at most
`MAX_TAGS`), one CRC pass over the bytes.

API: `parse_bootloader_image(data)` (GBL or EBL, sniffed) -> `BootloaderImage`;
`parse_gbl`, `parse_ebl`; `sniff_format(data)`; `BootloaderImage.require_valid_crc()`
raises `GblFormatError(gbl-bad-crc)`; `load_bootloader_image(path)` reads a file first.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from enum import StrEnum

from bridgelab.firmware.errors import GblFormatError, hex_id
from bridgelab.firmware.files import DEFAULT_MAX_IMAGE_SIZE, read_file

GBL_TAG_HEADER = 0x03A617EB
GBL_TAG_APPLICATION = 0xF40A0AF4
GBL_TAG_BOOTLOADER = 0xF50909F5
GBL_TAG_SE_UPGRADE = 0x5EA617EB
GBL_TAG_METADATA = 0xF60808F6
GBL_TAG_PROG = 0xFE0101FE
GBL_TAG_ERASEPROG = 0xFD0303FD
GBL_TAG_PROG_LZ4 = 0xFD0505FD
GBL_TAG_PROG_LZMA = 0xFD0707FD
GBL_TAG_DELTA = 0xF80A0AF8
GBL_TAG_DELTA_LZ4 = 0xF80B0BF8
GBL_TAG_DELTA_LZMA = 0xF80C0CF8
GBL_TAG_VERSION_DEPENDENCY = 0x76A617EB
GBL_TAG_ENC_HEADER = 0xFB0505FB
GBL_TAG_ENC_INIT = 0xFA0606FA
GBL_TAG_ENC_DATA = 0xF90707F9
GBL_TAG_SIGNATURE = 0xF70A0AF7
GBL_TAG_CERTIFICATE = 0xF30B0BF3
GBL_TAG_END = 0xFC0404FC

GBL_TYPE_ENCRYPTED = 0x00000001  # AES-CCM
GBL_TYPE_SIGNED = 0x00000100  # ECDSA P-256

EBL_TAG_HEADER = 0x0000
EBL_TAG_PROG = 0xFE01
EBL_TAG_MFGPROG = 0x02FE
EBL_TAG_ERASEPROG = 0xFD03
EBL_TAG_METADATA = 0xF608
EBL_TAG_END = 0xFC04
EBL_TAG_ENC_HEADER = 0xFB05
EBL_TAG_ENC_INIT = 0xFA06
EBL_TAG_ENC_DATA = 0xF907
EBL_TAG_ENC_MAC = 0xF709
EBL_TAG_SIGNATURE = 0xF70A
EBL_IMAGE_SIGNATURE = 0xE350  # the header's "signature" word: an EM35x image
EBL_PADDING_BLOCK = 64

# A real GBL has tens to hundreds of tags; a crafted file of millions of empty tags
# would cost a Python object each. The cap keeps memory below the file's own size.
MAX_TAGS = 65_536

_GBL_TAG_HEADER_SIZE = 8
_EBL_TAG_HEADER_SIZE = 4
_CRC_SIZE = 4
_GBL_HEADER = struct.Struct("<II")
_GBL_APPLICATION = struct.Struct("<III16s")
_EBL_HEADER = struct.Struct(">HHII")

_GBL_TAG_NAMES = {
    GBL_TAG_HEADER: "header",
    GBL_TAG_APPLICATION: "application info",
    GBL_TAG_BOOTLOADER: "bootloader upgrade",
    GBL_TAG_SE_UPGRADE: "secure element upgrade",
    GBL_TAG_METADATA: "metadata",
    GBL_TAG_PROG: "program data",
    GBL_TAG_ERASEPROG: "erase and program data",
    GBL_TAG_PROG_LZ4: "program data (LZ4)",
    GBL_TAG_PROG_LZMA: "program data (LZMA)",
    GBL_TAG_DELTA: "delta patch",
    GBL_TAG_DELTA_LZ4: "delta patch (LZ4)",
    GBL_TAG_DELTA_LZMA: "delta patch (LZMA)",
    GBL_TAG_VERSION_DEPENDENCY: "version dependency",
    GBL_TAG_ENC_HEADER: "encryption header",
    GBL_TAG_ENC_INIT: "encryption init",
    GBL_TAG_ENC_DATA: "encrypted data",
    GBL_TAG_SIGNATURE: "ECDSA P-256 signature",
    GBL_TAG_CERTIFICATE: "ECDSA P-256 certificate",
    GBL_TAG_END: "end",
}
_EBL_TAG_NAMES = {
    EBL_TAG_HEADER: "header",
    EBL_TAG_PROG: "program data",
    EBL_TAG_MFGPROG: "manufacturing program data",
    EBL_TAG_ERASEPROG: "erase and program data",
    EBL_TAG_METADATA: "metadata",
    EBL_TAG_END: "end",
    EBL_TAG_ENC_HEADER: "encryption header",
    EBL_TAG_ENC_INIT: "encryption init",
    EBL_TAG_ENC_DATA: "encrypted data",
    EBL_TAG_ENC_MAC: "encryption MAC",
    EBL_TAG_SIGNATURE: "ECDSA P-256 signature",
}
_GBL_ENCRYPTION_TAGS = {GBL_TAG_ENC_HEADER, GBL_TAG_ENC_INIT, GBL_TAG_ENC_DATA}
_EBL_ENCRYPTION_TAGS = {EBL_TAG_ENC_HEADER, EBL_TAG_ENC_INIT, EBL_TAG_ENC_DATA, EBL_TAG_ENC_MAC}

APPLICATION_TYPES = {
    1 << 0: "zigbee",
    1 << 1: "thread",
    1 << 2: "flex",
    1 << 3: "bluetooth",
    1 << 4: "mcu",
    1 << 5: "bluetooth app",
    1 << 6: "bootloader",
    1 << 7: "z-wave",
}


class BootloaderFormat(StrEnum):
    GBL = "gbl"
    EBL = "ebl"


@dataclass(frozen=True)
class BootloaderTag:
    """One tag: `offset` is where its tag header starts, `length` its payload size."""

    tag_id: int
    offset: int
    length: int
    name: str
    header_size: int

    @property
    def data_offset(self) -> int:
        return self.offset + self.header_size

    @property
    def end(self) -> int:
        return self.data_offset + self.length


@dataclass(frozen=True)
class ApplicationInfo:
    """The GBL application info tag (Silicon Labs `ApplicationData_t`)."""

    app_type: int
    version: int
    capabilities: int
    product_id: bytes

    @property
    def type_names(self) -> tuple[str, ...]:
        return tuple(name for bit, name in APPLICATION_TYPES.items() if self.app_type & bit)


@dataclass(frozen=True)
class BootloaderImage:
    """What a GBL or EBL file holds and whether its CRC-32 is right.

    `crc_stored` is the value in the end tag, `crc_computed` the CRC-32 of every byte
    before it; `padding` counts the 0xFF bytes after the end tag. `encrypted` is the
    header's type bit or any encryption tag; `signed` a signature tag (for GBL also
    the header's type bit); an encrypted file hides its application info, so
    `application` is then None.
    """

    format: BootloaderFormat
    size: int
    tags: tuple[BootloaderTag, ...]
    header_version: int
    header_type: int | None
    application: ApplicationInfo | None
    encrypted: bool
    signed: bool
    certificate: bool
    crc_stored: int
    crc_computed: int
    padding: int

    @property
    def crc_ok(self) -> bool:
        return self.crc_stored == self.crc_computed

    @property
    def end_offset(self) -> int:
        """Where the padding starts: the size of the file without it."""
        return self.size - self.padding

    def require_valid_crc(self) -> None:
        """Raise GblFormatError(gbl-bad-crc) unless the end tag's CRC-32 matches."""
        if not self.crc_ok:
            raise GblFormatError(
                f"The {self.format.upper()} file's CRC-32 is wrong: its end tag says "
                f"{hex_id(self.crc_stored, 8)}, its bytes give {hex_id(self.crc_computed, 8)}.",
                code="gbl-bad-crc",
            )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready facts (integers, not hex) for `image inspect --json` and reports."""
        app = self.application
        return {
            "format": str(self.format),
            "size": self.size,
            "header_version": self.header_version,
            "header_type": self.header_type,
            "application": None
            if app is None
            else {
                "type": app.app_type,
                "type_names": list(app.type_names),
                "version": app.version,
                "capabilities": app.capabilities,
                "product_id": app.product_id.hex(),
            },
            "encrypted": self.encrypted,
            "signed": self.signed,
            "certificate": self.certificate,
            "crc_stored": self.crc_stored,
            "crc_computed": self.crc_computed,
            "crc_ok": self.crc_ok,
            "padding": self.padding,
            "tags": [
                {"id": tag.tag_id, "name": tag.name, "offset": tag.offset, "length": tag.length}
                for tag in self.tags
            ],
        }


def sniff_format(data: bytes | memoryview) -> BootloaderFormat | None:
    """GBL when `data` starts with the GBL header tag, EBL with an EBL header; else None.

    Only the first bytes are looked at: a match says what to try, not that it is valid.
    """
    head = bytes(data[:4])
    if len(head) < 4:
        return None
    if int.from_bytes(head, "little") == GBL_TAG_HEADER:
        return BootloaderFormat.GBL
    tag, length = struct.unpack(">HH", head)
    # An EBL header tag carries at least the version, image signature and flash address.
    if (tag == EBL_TAG_HEADER and length >= _EBL_HEADER.size) or tag == EBL_TAG_ENC_HEADER:
        if tag == EBL_TAG_HEADER and len(data) >= 8:
            signature = int.from_bytes(bytes(data[6:8]), "big")
            return BootloaderFormat.EBL if signature == EBL_IMAGE_SIGNATURE else None
        return BootloaderFormat.EBL
    return None


def parse_bootloader_image(data: bytes | memoryview) -> BootloaderImage:
    """Read a GBL or EBL file (which one is sniffed from its first bytes).

    A wrong CRC is reported (`crc_ok` False), not raised: call `require_valid_crc()`
    before sending. Raises GblFormatError: gbl-unknown-format, gbl-truncated,
    gbl-no-end-tag, gbl-bad-padding, gbl-too-many-tags, gbl-bad-tag.
    """
    found = sniff_format(data)
    if found is BootloaderFormat.GBL:
        return parse_gbl(data)
    if found is BootloaderFormat.EBL:
        return parse_ebl(data)
    raise GblFormatError(
        f"The data is neither a GBL nor an EBL file (it starts "
        f"{bytes(data[:4]).hex(' ').upper() or 'empty'}).",
        code="gbl-unknown-format",
    )


def parse_gbl(data: bytes | memoryview) -> BootloaderImage:
    """Read a GBL file; see `parse_bootloader_image` for what it raises."""
    view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
    tags = _walk(view, BootloaderFormat.GBL)
    if not tags or tags[0].tag_id != GBL_TAG_HEADER:
        raise GblFormatError("A GBL file must start with its header tag.", code="gbl-bad-tag")
    header = tags[0]
    if header.length < _GBL_HEADER.size:
        raise GblFormatError(
            f"The GBL header tag holds {header.length} bytes, fewer than {_GBL_HEADER.size}.",
            code="gbl-bad-tag",
        )
    version, gbl_type = _GBL_HEADER.unpack_from(view, header.data_offset)
    ids = {tag.tag_id for tag in tags}
    application: ApplicationInfo | None = None
    for tag in tags:
        if tag.tag_id == GBL_TAG_APPLICATION:
            if tag.length < _GBL_APPLICATION.size:
                raise GblFormatError(
                    f"The GBL application info tag holds {tag.length} bytes, fewer than "
                    f"{_GBL_APPLICATION.size}.",
                    code="gbl-bad-tag",
                )
            app_type, app_version, capabilities, product = _GBL_APPLICATION.unpack_from(
                view, tag.data_offset
            )
            application = ApplicationInfo(app_type, app_version, capabilities, product)
            break
    return _finish(
        view,
        tags,
        BootloaderFormat.GBL,
        header_version=version,
        header_type=gbl_type,
        application=application,
        encrypted=bool(gbl_type & GBL_TYPE_ENCRYPTED) or bool(ids & _GBL_ENCRYPTION_TAGS),
        signed=bool(gbl_type & GBL_TYPE_SIGNED) or GBL_TAG_SIGNATURE in ids,
        certificate=GBL_TAG_CERTIFICATE in ids,
    )


def parse_ebl(data: bytes | memoryview) -> BootloaderImage:
    """Read an EBL file; see `parse_bootloader_image` for what it raises."""
    view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
    tags = _walk(view, BootloaderFormat.EBL)
    first = tags[0] if tags else None
    if first is None or first.tag_id not in (EBL_TAG_HEADER, EBL_TAG_ENC_HEADER):
        raise GblFormatError("An EBL file must start with its header tag.", code="gbl-bad-tag")
    version = 0
    if first.tag_id == EBL_TAG_HEADER:
        if first.length < _EBL_HEADER.size:
            raise GblFormatError(
                f"The EBL header tag holds {first.length} bytes, fewer than {_EBL_HEADER.size}.",
                code="gbl-bad-tag",
            )
        version = _EBL_HEADER.unpack_from(view, first.data_offset)[0]
    ids = {tag.tag_id for tag in tags}
    return _finish(
        view,
        tags,
        BootloaderFormat.EBL,
        header_version=version,
        header_type=None,
        application=None,
        encrypted=bool(ids & _EBL_ENCRYPTION_TAGS),
        signed=EBL_TAG_SIGNATURE in ids,
        certificate=False,
    )


def load_bootloader_image(
    path: str | os.PathLike[str], *, max_size: int = DEFAULT_MAX_IMAGE_SIZE
) -> tuple[bytes, BootloaderImage]:
    """Read a .gbl/.ebl file and parse it; returns the bytes and what they hold.

    Raises ImageFileError (file-not-found, not-a-file, file-unreadable, file-too-large)
    or GblFormatError.
    """
    data = read_file(path, max_size=max_size, what="bootloader image")
    return data, parse_bootloader_image(data)


def _walk(view: memoryview, kind: BootloaderFormat) -> list[BootloaderTag]:
    """Every tag up to and including the end tag; refuses a walk that leaves the data."""
    gbl = kind is BootloaderFormat.GBL
    header_size = _GBL_TAG_HEADER_SIZE if gbl else _EBL_TAG_HEADER_SIZE
    end_tag = GBL_TAG_END if gbl else EBL_TAG_END
    names = _GBL_TAG_NAMES if gbl else _EBL_TAG_NAMES
    layout = "<II" if gbl else ">HH"
    size = len(view)
    tags: list[BootloaderTag] = []
    cursor = 0
    while True:
        if size - cursor < header_size:
            if cursor == size:
                raise GblFormatError(
                    f"The {kind.upper()} file has no end tag: its tags stop at byte {cursor:,}.",
                    code="gbl-no-end-tag",
                )
            raise GblFormatError(
                f"A {kind.upper()} tag header at offset {cursor:,} is cut short: only "
                f"{size - cursor} of its {header_size} bytes are there.",
                code="gbl-truncated",
            )
        if len(tags) == MAX_TAGS:
            raise GblFormatError(
                f"The {kind.upper()} file has more than {MAX_TAGS:,} tags.",
                code="gbl-too-many-tags",
            )
        tag_id, length = struct.unpack_from(layout, view, cursor)
        if length > size - cursor - header_size:
            raise GblFormatError(
                f"{kind.upper()} tag {hex_id(tag_id, 8 if gbl else 4)} at offset {cursor:,} says "
                f"it holds {length:,} bytes, but only {size - cursor - header_size:,} remain.",
                code="gbl-truncated",
            )
        name = names.get(tag_id, "unknown")
        tags.append(BootloaderTag(tag_id, cursor, length, name, header_size))
        cursor += header_size + length
        if tag_id == end_tag:
            if length != _CRC_SIZE:
                raise GblFormatError(
                    f"The {kind.upper()} end tag holds {length} bytes, not the 4 of a CRC-32.",
                    code="gbl-bad-tag",
                )
            return tags


def _finish(
    view: memoryview,
    tags: list[BootloaderTag],
    kind: BootloaderFormat,
    *,
    header_version: int,
    header_type: int | None,
    application: ApplicationInfo | None,
    encrypted: bool,
    signed: bool,
    certificate: bool,
) -> BootloaderImage:
    end = tags[-1]
    after = view[end.end :]
    # Padding is 0xFF only: erased flash. Any other byte after the end tag means the
    # file is not what its tags say (a second image glued on, a wrong length).
    if after and after.tobytes().strip(b"\xff"):
        raise GblFormatError(
            f"{len(after):,} bytes follow the {kind.upper()} end tag and they are not 0xFF "
            "padding.",
            code="gbl-bad-padding",
        )
    stored = int.from_bytes(view[end.data_offset : end.end], "little")
    computed = zlib.crc32(view[: end.data_offset])
    return BootloaderImage(
        format=kind,
        size=len(view),
        tags=tuple(tags),
        header_version=header_version,
        header_type=header_type,
        application=application,
        encrypted=encrypted,
        signed=signed,
        certificate=certificate,
        crc_stored=stored,
        crc_computed=computed,
        padding=len(after),
    )
