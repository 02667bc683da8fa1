"""Vendor containers around a ZigBee OTA file: recognise them, say why, give the inner file.

Some makers ship their OTA file inside a wrapper of their own; the device receives only
the inner file over the air. Each container is recognised on evidence that cannot be an
OTA file's first bytes (an OTA file starts `1E F1 EE 0B`), and every size it states is
checked against the file before the inner bytes are taken:

- IKEA's signed container: starts `NGIS`; u32 at offset 16 is where the inner file
  starts, u32 at offset 20 its size; what follows the inner file (a signature) is
  reported, not checked.
- Legrand's: a u32 prefix giving the inner file's size, the inner file, then a 17-byte
  suffix (1 + 16 bytes), so that the prefix + 21 is the file's size.
- Third Reality's: a 152-byte header that starts with the SHA-512 of everything after
  its first 64 bytes and gives, at offset 68, the size of the rest minus 64.

Facts from the files makers publish (Koenkk/zigbee-OTA) and zigpy's reader (a reference
for facts only). Detection looks at a few bytes and one hash at most: O(file size).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bridgelab.firmware.errors import ImageFormatError

OTA_MAGIC = b"\x1e\xf1\xee\x0b"
IKEA_MAGIC = b"NGIS"
IKEA_HEADER_SIZE = 24
LEGRAND_PREFIX_SIZE = 4
LEGRAND_SUFFIX_SIZE = 17
THIRD_REALITY_HEADER_SIZE = 152


class ContainerKind(StrEnum):
    IKEA = "ikea"
    LEGRAND = "legrand"
    THIRD_REALITY = "third-reality"


CONTAINER_NAMES = {
    ContainerKind.IKEA: "IKEA signed container (NGIS)",
    ContainerKind.LEGRAND: "Legrand container (size prefix, 17-byte suffix)",
    ContainerKind.THIRD_REALITY: "Third Reality container (152-byte SHA-512 header)",
}


@dataclass(frozen=True)
class Container:
    """Where the inner OTA file sits in the file as given, and the evidence for it."""

    kind: ContainerKind
    file_size: int
    inner_offset: int
    inner_size: int
    evidence: str

    @property
    def name(self) -> str:
        return CONTAINER_NAMES[self.kind]

    @property
    def suffix_size(self) -> int:
        """Bytes of the container after the inner file."""
        return self.file_size - self.inner_offset - self.inner_size

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "name": self.name,
            "file_size": self.file_size,
            "inner_offset": self.inner_offset,
            "inner_size": self.inner_size,
            "suffix_size": self.suffix_size,
            "evidence": self.evidence,
        }


def find_container(data: bytes) -> Container | None:
    """The container `data` is wrapped in, or None for a bare OTA file (or anything else).

    Raises ImageFormatError(bad-container) when the file starts like a container whose
    stated sizes do not fit the file or do not frame an OTA file.
    """
    size = len(data)
    if data[:4] == IKEA_MAGIC:
        return _ikea(data)
    if (
        size > LEGRAND_PREFIX_SIZE + LEGRAND_SUFFIX_SIZE
        and int.from_bytes(data[:4], "little") + LEGRAND_PREFIX_SIZE + LEGRAND_SUFFIX_SIZE == size
        and data[4:8] == OTA_MAGIC
    ):
        inner = size - LEGRAND_PREFIX_SIZE - LEGRAND_SUFFIX_SIZE
        return Container(
            ContainerKind.LEGRAND,
            size,
            LEGRAND_PREFIX_SIZE,
            inner,
            f"the first 4 bytes give {inner:,}, and {inner:,} + 4 + 17 is the file's size; "
            "the OTA file identifier follows them",
        )
    if (
        size > THIRD_REALITY_HEADER_SIZE
        and data[THIRD_REALITY_HEADER_SIZE : THIRD_REALITY_HEADER_SIZE + 4] == OTA_MAGIC
        and int.from_bytes(data[68:72], "little") + 64 == size
        # The hash last: only once the cheap checks say this is what it looks like.
        and data[:64] == hashlib.sha512(memoryview(data)[64:]).digest()
    ):
        return Container(
            ContainerKind.THIRD_REALITY,
            size,
            THIRD_REALITY_HEADER_SIZE,
            size - THIRD_REALITY_HEADER_SIZE,
            "the file starts with the SHA-512 of its bytes after the first 64, the size at "
            "offset 68 matches, and the OTA file identifier is at offset 152",
        )
    return None


def _ikea(data: bytes) -> Container:
    size = len(data)
    if size < IKEA_HEADER_SIZE:
        raise ImageFormatError(
            f"The file starts NGIS (IKEA's signed container) but is only {size} bytes, "
            f"shorter than the container's {IKEA_HEADER_SIZE}-byte header.",
            code="bad-container",
        )
    offset = int.from_bytes(data[16:20], "little")
    inner = int.from_bytes(data[20:24], "little")
    if offset < IKEA_HEADER_SIZE or offset + inner > size:
        raise ImageFormatError(
            f"IKEA's container says the OTA file is {inner:,} bytes at offset {offset:,}, "
            f"which does not fit in the {size:,}-byte file.",
            code="bad-container",
        )
    if data[offset : offset + 4] != OTA_MAGIC:
        raise ImageFormatError(
            f"IKEA's container points at offset {offset:,}, but no OTA file starts there.",
            code="bad-container",
        )
    return Container(
        ContainerKind.IKEA,
        size,
        offset,
        inner,
        f"the file starts NGIS; its header places a {inner:,}-byte OTA file at offset "
        f"{offset:,}, followed by {size - offset - inner:,} bytes of the container",
    )
