"""The emulated Gecko Bootloader's own view of a `.gbl` as it arrives, block by block.

A real bootloader parses the upload as a stream: it refuses a file whose first tag is not
the GBL header, a tag it does not know, or an end tag whose CRC-32 does not match, as soon
as the bytes that show it arrive, and it writes program data to flash as it goes. This is
that device model (the host checks files with the firmware toolkit before sending them);
tag ids and layouts are those of UG266 / AN1086 (`bridgelab.firmware.gbl`, which also
checks the finished file).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from bridgelab.firmware import gbl
from bridgelab.firmware.errors import FirmwareError

TAG_HEADER = gbl.GBL_TAG_HEADER
TAG_APPLICATION = gbl.GBL_TAG_APPLICATION
TAG_BOOTLOADER = gbl.GBL_TAG_BOOTLOADER
TAG_METADATA = gbl.GBL_TAG_METADATA
TAG_PROG = gbl.GBL_TAG_PROG
TAG_ERASEPROG = gbl.GBL_TAG_ERASEPROG
TAG_SIGNATURE = gbl.GBL_TAG_SIGNATURE
TAG_CERTIFICATE = gbl.GBL_TAG_CERTIFICATE
TAG_VERSION_DEPENDENCY = gbl.GBL_TAG_VERSION_DEPENDENCY
TAG_END = gbl.GBL_TAG_END
# What this emulated bootloader takes (no compression, no encryption, no bootloader
# upgrade): any other tag is refused as the real one refuses what it was not built for.
KNOWN_TAGS = frozenset(
    (
        TAG_HEADER,
        TAG_APPLICATION,
        TAG_METADATA,
        TAG_PROG,
        TAG_ERASEPROG,
        TAG_SIGNATURE,
        TAG_CERTIFICATE,
        TAG_VERSION_DEPENDENCY,
        TAG_END,
    )
)
GBL_MAJOR_VERSION = 0x03
MAX_TAG_LENGTH = 16 * 1024 * 1024

# Parser errors as the bootloader reports them after "Serial upload aborted".
ERR_NOT_GBL = 0x01
ERR_UNKNOWN_TAG = 0x02
ERR_BAD_VERSION = 0x03
ERR_BAD_LENGTH = 0x04
ERR_CRC = 0x05
ERR_INCOMPLETE = 0x06
ERR_FLASH_RANGE = 0x07
ERR_UNSIGNED = 0x08


@dataclass
class GblStream:
    """Feed the upload's bytes in order; `error` is set at the first fault, `complete`
    once the end tag's CRC checked out. Bytes after the end tag (XMODEM padding) are
    ignored."""

    flash_size: int
    require_signature: bool = False
    data: bytearray = field(default_factory=bytearray)
    position: int = 0  # where the next tag header starts
    error: int | None = None
    error_text: str = ""
    complete: bool = False
    signed: bool = False
    app_version: int | None = None
    writes: list[tuple[int, bytes]] = field(default_factory=list)

    def feed(self, chunk: bytes) -> None:
        if self.error is not None or self.complete:
            return
        self.data += chunk
        while self.error is None and not self.complete:
            if len(self.data) < self.position + 8:
                return
            tag, length = struct.unpack_from("<II", self.data, self.position)
            if self.position == 0 and tag != TAG_HEADER:
                return self._fail(ERR_NOT_GBL, "not a GBL file (no header tag)")
            if tag not in KNOWN_TAGS:
                return self._fail(ERR_UNKNOWN_TAG, f"unknown tag {tag:#010x}")
            if length > MAX_TAG_LENGTH or (tag == TAG_END and length != 4):
                return self._fail(ERR_BAD_LENGTH, f"tag {tag:#010x} has length {length}")
            end = self.position + 8 + length
            if len(self.data) < end:
                return
            body = bytes(self.data[self.position + 8 : end])
            self._take(tag, body, end)
            self.position = end

    def _take(self, tag: int, body: bytes, end: int) -> None:
        if tag == TAG_HEADER:
            if len(body) < 8 or body[3] != GBL_MAJOR_VERSION:
                self._fail(ERR_BAD_VERSION, "unsupported GBL version")
        elif tag == TAG_BOOTLOADER:
            self._fail(ERR_UNKNOWN_TAG, "bootloader upgrades are not taken over XMODEM here")
        elif tag in (TAG_PROG, TAG_ERASEPROG):
            if len(body) < 4:
                self._fail(ERR_BAD_LENGTH, "program tag without an address")
                return
            address = struct.unpack_from("<I", body)[0]
            if address + len(body) - 4 > self.flash_size:
                self._fail(ERR_FLASH_RANGE, f"program data beyond flash at {address:#x}")
                return
            self.writes.append((address, body[4:]))
        elif tag == TAG_SIGNATURE:
            self.signed = True
        elif tag == TAG_END:
            # The whole file is here: the firmware toolkit's reader checks it as the
            # bootloader's own CRC pass would.
            try:
                image = gbl.parse_gbl(bytes(self.data[:end]))
            except FirmwareError as error:
                self._fail(ERR_BAD_LENGTH, error.message)
                return
            if image.application is not None:
                self.app_version = image.application.version
            if not image.crc_ok:
                self._fail(ERR_CRC, "CRC-32 mismatch")
            elif self.require_signature and not self.signed:
                self._fail(ERR_UNSIGNED, "the image is not signed")
            else:
                self.complete = True

    def _fail(self, code: int, text: str) -> None:
        self.error = code
        self.error_text = text

    def finish(self) -> None:
        """The sender ended the transfer: a file without its end tag is incomplete."""
        if self.error is None and not self.complete:
            self._fail(ERR_INCOMPLETE, "the file ended before its end tag")

    @property
    def received(self) -> int:
        return len(self.data)
