"""Demo material shipped with Bridge Lab: a signing key and signed images for the Demo bridge.

FOR DEMONSTRATION ONLY. The demo private key is public knowledge (it ships in every copy
of Bridge Lab); it exists so a newcomer can try updates on the Demo bridge at once. No
real bridge trusts it, and `bridgelab update` trusts it only for the emulated bridge.

Regenerate (maintainers) with `python -m bridgelab.emulator.demo_material`;
signatures are deterministic (RFC 6979), so unchanged inputs give identical files.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bridgelab.emulator.profiles import (
    DEMO_HARDWARE_VERSION,
    DEMO_IMAGE_TYPE,
    DEMO_MANUFACTURER_CODE,
)
from bridgelab.firmware.image import build_image
from bridgelab.firmware.keys import load_private_key, load_public_key
from bridgelab.firmware.signing import sign_image
from bridgelab.firmware.trust import TrustedKey, TrustStore

DEMO_DIR = Path(__file__).with_name("demo")
DEMO_PUBLIC_KEY = DEMO_DIR / f"{DEMO_MANUFACTURER_CODE:04X}-demo.pem"
DEMO_PRIVATE_KEY = DEMO_DIR / f"{DEMO_MANUFACTURER_CODE:04X}-demo.key"
DEMO_IMAGE_SIZE = 48 * 1024


@dataclass(frozen=True)
class DemoImage:
    file_name: str
    what: str
    file_version: int
    image_type: int = DEMO_IMAGE_TYPE
    tamper: bool = False

    @property
    def path(self) -> Path:
        return DEMO_DIR / self.file_name


DEMO_IMAGES: tuple[DemoImage, ...] = (
    DemoImage("bridge-demo-1.3.0.ota", "newer than the Demo bridge's 1.2.0", 0x01030000),
    DemoImage("bridge-demo-1.1.0.ota", "older: a downgrade, needs a reason", 0x01010000),
    DemoImage("bridge-demo-wrong-type.ota", "for another image type: refused", 0x01030000, 0x0106),
    DemoImage(
        "bridge-demo-1.3.0-tampered.ota",
        "one byte changed after signing: signature invalid",
        0x01030000,
        tamper=True,
    ),
)


@cache
def demo_trust_store() -> TrustStore:
    """The trust the Demo bridge (and only it) has in the demo key."""
    public = load_public_key(DEMO_PUBLIC_KEY)
    return TrustStore([TrustedKey.create(DEMO_MANUFACTURER_CODE, public, label="demo")])


def demo_payload(file_version: int, size: int = DEMO_IMAGE_SIZE) -> bytes:
    """A deterministic stand-in for a Manufacturer Image, labelled as demo firmware."""
    banner = (
        f"BRIDGE LAB DEMO FIRMWARE {file_version:#010x} - FOR DEMONSTRATION ONLY - "
        "NOT FOR REAL BRIDGES\n"
    ).encode()
    out = bytearray(banner)
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{file_version}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def build_demo_image(spec: DemoImage) -> bytes:
    unsigned = build_image(
        manufacturer_code=DEMO_MANUFACTURER_CODE,
        image_type=spec.image_type,
        file_version=spec.file_version,
        manufacturer_image=demo_payload(spec.file_version),
        header_string="Bridge Lab DEMO image",
        min_hw_version=DEMO_HARDWARE_VERSION & 0xFF00,
        max_hw_version=DEMO_HARDWARE_VERSION | 0x00FF,
    )
    signed = bytearray(sign_image(unsigned, load_private_key(DEMO_PRIVATE_KEY)))
    if spec.tamper:
        signed[len(signed) // 2] ^= 0x01
    return bytes(signed)


def write_demo_images() -> list[Path]:
    written = []
    for spec in DEMO_IMAGES:
        spec.path.write_bytes(build_demo_image(spec))
        written.append(spec.path)
    return written


if __name__ == "__main__":
    for path in write_demo_images():
        print(path)
    sys.exit(0)
