"""The hash a GBCS Activate Firmware command (CS06) carries for an image.

GBCS activation names the firmware by the SHA-256 of the Manufacturer Image alone (not the
OTA header, not the signature): the device hashes what it holds and compares.
"""

from __future__ import annotations

import hashlib

from bridgelab.firmware.image import OtaImage


def manufacturer_image_sha256(image: OtaImage) -> bytes:
    """The 32-byte SHA-256 of `image.manufacturer_image`, hashed in place (no copy)."""
    return hashlib.sha256(image.manufacturer_image).digest()
