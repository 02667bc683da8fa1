"""Fixtures for the firmware toolkit: real P-256 keys, trust store folders, image makers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bridgelab.firmware.compat import DeviceIdentity
from bridgelab.firmware.image import BodyForm, build_image
from bridgelab.firmware.keys import save_public_key
from bridgelab.firmware.signing import sign_image

MANUFACTURER = 0x121D
IMAGE_TYPE = 0x0042
FILE_VERSION = 0x01020304
HW_MIN, HW_MAX = 0x1111, 0x1211
EUI64 = 0x00124B0001020304

ImageMaker = Callable[..., bytes]


@dataclass(frozen=True)
class Defaults:
    """The identity `make_image` builds for, and the device that matches it."""

    manufacturer_code: int = MANUFACTURER
    image_type: int = IMAGE_TYPE
    file_version: int = FILE_VERSION
    min_hw_version: int = HW_MIN
    max_hw_version: int = HW_MAX
    eui64: int = EUI64

    def device(self, **changes: int | None) -> DeviceIdentity:
        """A device one version behind the image, inside its hardware range."""
        values: dict[str, Any] = {
            "manufacturer_code": self.manufacturer_code,
            "image_type": self.image_type,
            "hardware_version": self.min_hw_version,
            "file_version": self.file_version - 1,
            "eui64": self.eui64,
        }
        values.update(changes)
        return DeviceIdentity(**values)


@pytest.fixture(scope="session")
def defaults() -> Defaults:
    return Defaults()


@pytest.fixture(scope="session")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def stranger_key() -> ec.EllipticCurvePrivateKey:
    """A valid key that no trust store in these tests holds."""
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def trust_dir(tmp_path: Path, signing_key: ec.EllipticCurvePrivateKey) -> Path:
    """A trust store folder holding `signing_key` for MANUFACTURER, labelled `lab`."""
    folder = tmp_path / "trust"
    folder.mkdir()
    save_public_key(signing_key.public_key(), folder / f"{MANUFACTURER:04X}-lab.pem")
    return folder


@pytest.fixture
def make_image(signing_key: ec.EllipticCurvePrivateKey) -> ImageMaker:
    """Build an image with test defaults; `sign=False` leaves it unsigned, `key=` picks one."""

    def make(
        *,
        sign: bool = True,
        key: ec.EllipticCurvePrivateKey | None = None,
        payload: bytes = b"\x7fELF bridge firmware " * 40,
        **fields: Any,
    ) -> bytes:
        values: dict[str, Any] = {
            "manufacturer_code": MANUFACTURER,
            "image_type": IMAGE_TYPE,
            "file_version": FILE_VERSION,
            "min_hw_version": HW_MIN,
            "max_hw_version": HW_MAX,
            "body_form": BodyForm.GBCS,
            "header_string": "Bridge Lab test image",
            "manufacturer_image": payload,
        }
        values.update(fields)
        data = build_image(**values)
        return sign_image(data, key or signing_key) if sign else data

    return make
