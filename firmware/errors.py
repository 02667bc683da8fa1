"""The firmware layer's exception tree and its catalogue of stable error codes.

Every refusal the toolkit can produce is listed once in `ERROR_CATALOGUE`: its code, the
class that carries it and the sentence telling the engineer what to do. Raising sites give
only the code and a message saying what was found, so the advice for one code is the same
wherever it is raised, and `docs/firmware-format.md` can be checked against this table.
"""

from __future__ import annotations

from typing import Any

from bridgelab.errors import BridgeLabError


class FirmwareError(BridgeLabError):
    """Base of the firmware layer: every code it carries is in `ERROR_CATALOGUE`."""

    code = "firmware-error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        action: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        chosen = code if code is not None else self.code
        entry = ERROR_CATALOGUE.get(chosen)
        if entry is None or not issubclass(type(self), entry[0]):
            # A code outside the catalogue, or on the wrong class, is a programming error:
            # the triage log and scripts would meet a code nobody documented.
            raise ValueError(f"{chosen!r} is not a catalogued {type(self).__name__} code")
        super().__init__(
            message, code=chosen, action=action if action is not None else entry[1], details=details
        )


class ImageFileError(FirmwareError):
    """A file could not be read or written: missing, a folder, unreadable, too large."""

    code = "file-unreadable"


class ImageFormatError(FirmwareError):
    """The bytes are not a well-formed OTA upgrade file."""

    code = "bad-format"


class GblFormatError(ImageFormatError):
    """A Silicon Labs GBL or EBL image (alone, or inside an OTA file) is damaged."""

    code = "gbl-truncated"


class ImageBuildError(FirmwareError):
    """The fields given to the builder cannot make a well-formed, unambiguous file."""

    code = "bad-field-value"


class KeyFileError(FirmwareError):
    """A signing or public key file is not a usable ECDSA P-256 key."""

    code = "bad-key"


class TrustStoreError(FirmwareError):
    """The trust store folder cannot be used as it is."""

    code = "trust-store-missing"


class SignatureError(FirmwareError):
    """The image's manufacturer signature is absent, unknown, revoked or wrong."""

    code = "signature-invalid"


class CompatibilityError(FirmwareError):
    """The image is well-formed and signed but is not for this device, or not newer."""

    code = "wrong-manufacturer"


_FETCH_AGAIN = "Fetch the image again from its source and compare its size and SHA-256."
_NOT_FOR_DEVICE = "Do not send this image; find the release built for this bridge."

ERROR_CATALOGUE: dict[str, tuple[type[FirmwareError], str]] = {
    "firmware-error": (FirmwareError, "Report this to the Bridge Lab maintainers."),
    "bad-field-value": (FirmwareError, "Correct the value and try again."),
    # Files on disk.
    "file-not-found": (ImageFileError, "Check the path; the file does not exist there."),
    "not-a-file": (ImageFileError, "Give the path of a regular file, not a folder or device."),
    "file-unreadable": (
        ImageFileError,
        "Check the file's permissions (and that the disk is readable), then try again.",
    ),
    "file-too-large": (
        ImageFileError,
        "This is not a bridge firmware image; check you picked the right file.",
    ),
    "cannot-write": (
        ImageFileError,
        "Check the output folder exists and is writable, then try again.",
    ),
    "file-exists": (
        ImageFileError,
        "Choose another folder or label; Bridge Lab never overwrites a key.",
    ),
    # The OTA file format.
    "bad-format": (ImageFormatError, _FETCH_AGAIN),
    "bad-magic": (
        ImageFormatError,
        "This is not a ZigBee OTA upgrade file; check you picked the firmware image.",
    ),
    "truncated-header": (ImageFormatError, "The file was cut short. " + _FETCH_AGAIN),
    "bad-header-version": (
        ImageFormatError,
        "Only OTA header version 0x0100 is supported; ask the vendor for a standard image.",
    ),
    "bad-field-control": (
        ImageFormatError,
        "The header uses reserved options Bridge Lab cannot read; ask the vendor.",
    ),
    "bad-header-length": (ImageFormatError, "The header is damaged. " + _FETCH_AGAIN),
    "bad-hardware-range": (
        ImageFormatError,
        "No hardware can accept this image; ask the vendor for a corrected file.",
    ),
    "size-mismatch": (ImageFormatError, "The file is incomplete. " + _FETCH_AGAIN),
    "trailing-data": (
        ImageFormatError,
        "Extra bytes were added after the image. " + _FETCH_AGAIN,
    ),
    "subelement-overrun": (
        ImageFormatError,
        "The image body is damaged. " + _FETCH_AGAIN + " If it is a GBCS image whose "
        "Manufacturer Image happens to start like a sub-element, inspect it with --form gbcs.",
    ),
    "no-upgrade-image": (
        ImageFormatError,
        "The file carries no firmware; check you picked the firmware image.",
    ),
    "duplicate-upgrade-image": (
        ImageFormatError,
        "The file is ambiguous; ask the vendor for an image with one upgrade image.",
    ),
    "signature-not-last": (
        ImageFormatError,
        "Bytes were added after the signature. " + _FETCH_AGAIN,
    ),
    "bad-signature-length": (ImageFormatError, "The signature is damaged. " + _FETCH_AGAIN),
    "ambiguous-form": (
        ImageFormatError,
        "If you know how the body is laid out, name it (bridgelab image inspect, verify or "
        "update --form zigbee, gbcs, telink or hue-sbl); otherwise ask the vendor.",
    ),
    "bad-container": (
        ImageFormatError,
        "The container around the OTA file is damaged. " + _FETCH_AGAIN,
    ),
    # Silicon Labs bootloader images (GBL/EBL), alone or as an OTA upgrade image.
    "gbl-unknown-format": (
        GblFormatError,
        "This is not a Silicon Labs GBL or EBL file; check you picked the right image.",
    ),
    "gbl-truncated": (GblFormatError, "The GBL/EBL image was cut short. " + _FETCH_AGAIN),
    "gbl-no-end-tag": (GblFormatError, "The GBL/EBL image has no end. " + _FETCH_AGAIN),
    "gbl-bad-tag": (GblFormatError, "A GBL/EBL tag is damaged. " + _FETCH_AGAIN),
    "gbl-bad-padding": (
        GblFormatError,
        "Bytes other than padding follow the GBL/EBL image. " + _FETCH_AGAIN,
    ),
    "gbl-too-many-tags": (
        GblFormatError,
        "This is not a bootloader image Bridge Lab can read; check the file.",
    ),
    "gbl-bad-crc": (
        GblFormatError,
        "Do not send this image: its bytes changed after it was built. " + _FETCH_AGAIN,
    ),
    # Building images.
    "ambiguous-body": (
        ImageBuildError,
        "Build it in the zigbee form, or change the first bytes of the Manufacturer Image.",
    ),
    "ambiguous-trailer": (
        ImageBuildError,
        "Sign the image (a signed GBCS image is never ambiguous), or use the zigbee form.",
    ),
    # Keys and trust store.
    "bad-key": (
        KeyFileError,
        "Give a PEM file holding an ECDSA P-256 key (`bridgelab keys generate` makes one).",
    ),
    "trust-store-missing": (
        TrustStoreError,
        "Give the folder that holds the manufacturers' public keys (e.g. 121D.pem).",
    ),
    "trust-store-bad-name": (
        TrustStoreError,
        "Name each key file after its manufacturer code: 121D.pem or 121D-label.pem.",
    ),
    "trust-store-bad-key": (
        TrustStoreError,
        "Replace the file with the manufacturer's ECDSA P-256 public key in PEM form.",
    ),
    "private-key-in-trust-store": (
        TrustStoreError,
        "Move the private key somewhere safe and put only its public key in the store.",
    ),
    "bad-revocation-list": (
        TrustStoreError,
        "Each line of revoked.txt is a key id (64 hex digits) or a # comment; fix the line.",
    ),
    # Signatures.
    "unsigned": (
        SignatureError,
        "Do not send an unsigned image; ask the manufacturer for the signed release.",
    ),
    "signer-unknown": (
        SignatureError,
        "Add the manufacturer's public key to the trust store if you trust it, or do not "
        "send this image.",
    ),
    "signer-revoked": (
        SignatureError,
        "Do not send this image: its signing key was withdrawn. Get a re-signed release.",
    ),
    "signature-invalid": (
        SignatureError,
        "Do not send this image. " + _FETCH_AGAIN,
    ),
    # Compatibility with a device.
    "reserved-file-version": (
        CompatibilityError,
        "Do not send this image: rebuild it with its real file version (not 0xFFFFFFFF).",
    ),
    "reserved-image-type": (
        CompatibilityError,
        "Do not send this image: rebuild it with the bridge's own image type.",
    ),
    "not-firmware": (
        CompatibilityError,
        "Do not send this as a firmware update; use the firmware release for this bridge.",
    ),
    "empty-upgrade-image": (
        CompatibilityError,
        "Do not send this image; get the complete release (its upgrade image is empty).",
    ),
    "wrong-manufacturer": (CompatibilityError, _NOT_FOR_DEVICE),
    "wrong-image-type": (CompatibilityError, _NOT_FOR_DEVICE),
    "hardware-out-of-range": (
        CompatibilityError,
        "Do not send this image: it was not built for this hardware revision.",
    ),
    "wrong-destination": (
        CompatibilityError,
        "This file is for one device only; give that device's EUI-64, or use the general release.",
    ),
    "same-version": (
        CompatibilityError,
        "The bridge already runs this version; nothing to update.",
    ),
    "downgrade": (
        CompatibilityError,
        "Use a newer image; to downgrade on purpose, allow it and give a reason.",
    ),
    "downgrade-needs-reason": (
        CompatibilityError,
        "Give the reason for the downgrade (it is recorded with the attempt).",
    ),
}


def catalogued_codes(category: type[FirmwareError] = FirmwareError) -> list[str]:
    """The codes carried by `category` and its subclasses, in catalogue order."""
    return [code for code, (cls, _) in ERROR_CATALOGUE.items() if issubclass(cls, category)]


def hex_id(value: int, digits: int = 4) -> str:
    """How codes and versions are written for people: `0x121D`, `0xACDCACDC`."""
    return f"0x{value:0{digits}X}"
