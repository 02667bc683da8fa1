"""Bridge Lab's manufacturer signature: ECDSA P-256 over SHA-256, raw r||s (64 bytes).

The signature covers every byte of the file before its container (docs/firmware-format.md):
in the gbcs form the header (whose total image size already counts the trailer) and the
Manufacturer Image; in the zigbee form the header and every sub-element before the
signature sub-element. Signing is deterministic (RFC 6979), so the same key and the same
image always give the same file, and a build can be reproduced byte for byte.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

from bridgelab.firmware.errors import ImageBuildError, ImageFormatError
from bridgelab.firmware.image import (
    GBCS_TRAILER_SIZE,
    SIGNATURE_SIZE,
    SUBELEMENT_HEADER_SIZE,
    BodyForm,
    OtaImage,
    parse_image,
    signature_container,
)
from bridgelab.firmware.keys import PrivateKey, PublicKey

SIGNATURE_ALGORITHM = "ecdsa-p256-sha256"
_SCALAR_SIZE = SIGNATURE_SIZE // 2
_PREHASHED = ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True)


def sign_digest(digest: bytes, private_key: PrivateKey) -> bytes:
    """Sign a SHA-256 digest; returns the raw 64-byte r||s."""
    r, s = decode_dss_signature(private_key.sign(digest, _PREHASHED))
    return r.to_bytes(_SCALAR_SIZE, "big") + s.to_bytes(_SCALAR_SIZE, "big")


def verify_digest(public_key: PublicKey, digest: bytes, signature: bytes) -> bool:
    """True when `signature` (raw r||s) is `public_key`'s signature of `digest`."""
    if len(signature) != SIGNATURE_SIZE:
        return False
    r = int.from_bytes(signature[:_SCALAR_SIZE], "big")
    s = int.from_bytes(signature[_SCALAR_SIZE:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), digest, _PREHASHED)
    except (InvalidSignature, ValueError):
        return False
    return True


def signed_digest(image: OtaImage) -> bytes:
    """SHA-256 of the bytes the image's signature covers (hashed in place)."""
    return hashlib.sha256(image.signed_bytes()).digest()


def sign_image(image: bytes | OtaImage, private_key: PrivateKey) -> bytes:
    """Return the file signed with `private_key`, replacing any signature it had.

    The header's total image size is updated to count the signature container before
    signing, so the signature covers the final header. Raises ImageFormatError when the
    bytes do not parse, ImageBuildError(ambiguous-body) if the signed file would read
    back in the other body form.
    """
    parsed = image if isinstance(image, OtaImage) else parse_image(image)
    body = parsed.unsigned_body_parts()
    container_size = (
        GBCS_TRAILER_SIZE
        if parsed.body_form is BodyForm.GBCS
        else SUBELEMENT_HEADER_SIZE + SIGNATURE_SIZE
    )
    header = replace(
        parsed.header,
        total_image_size=parsed.header.header_length + sum(map(len, body)) + container_size,
    )
    header_bytes = header.to_bytes()
    hasher = hashlib.sha256(header_bytes)
    for part in body:
        hasher.update(part)
    signature = sign_digest(hasher.digest(), private_key)
    signed = b"".join([header_bytes, *body, signature_container(parsed.body_form, signature)])
    try:
        same_form = parse_image(signed).body_form is parsed.body_form
    except ImageFormatError:
        same_form = False
    if not same_form:
        raise ImageBuildError(
            "With its signature added, this file would read back in the other body form.",
            code="ambiguous-body",
        )
    return signed
