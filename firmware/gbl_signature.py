"""The ECDSA P-256 signature a GBL file may carry, checked against a trusted key.

UG266: the signature tag (`0xF70A0AF7`) holds r and s (32 bytes each, big-endian) of an
ECDSA P-256 signature, over SHA-256, of every byte of the file before that tag. The Gecko
Bootloader checks it with the key in its own flash; the workstation checks it with the
key the engineer trusts for that radio, before the first block is sent.
"""

from __future__ import annotations

import enum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bridgelab.firmware.gbl import GBL_TAG_SIGNATURE, BootloaderImage

SIGNATURE_SIZE = 64


class GblSignature(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNSIGNED = "unsigned"
    NOT_CHECKED = "not checked"  # signed, but no key is trusted for it


def check_gbl_signature(
    data: bytes, image: BootloaderImage, key: ec.EllipticCurvePublicKey | None
) -> GblSignature:
    """What the file's signature says about it under `key` (None: no trusted key)."""
    tag = next((t for t in image.tags if t.tag_id == GBL_TAG_SIGNATURE), None)
    if tag is None:
        return GblSignature.UNSIGNED
    if key is None:
        return GblSignature.NOT_CHECKED
    raw = data[tag.data_offset : tag.data_offset + tag.length]
    if len(raw) < SIGNATURE_SIZE:
        return GblSignature.INVALID
    r = int.from_bytes(raw[:32], "big")
    s = int.from_bytes(raw[32:64], "big")
    try:
        key.verify(encode_dss_signature(r, s), data[: tag.offset], ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return GblSignature.INVALID
    return GblSignature.VALID
