"""The emulated bridge checks images itself, as a real bridge must.

It trusts the shipped demo key and any keys in a `--trust` folder, and applies the
compatibility rules that belong to the device (manufacturer, image type, hardware range,
device-specific destination). The version policy (same version, downgrade with a reason)
is the workstation's, so the device accepts whatever version it is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bridgelab.emulator.demo_material import demo_trust_store
from bridgelab.firmware.errors import FirmwareError
from bridgelab.firmware.image import parse_image
from bridgelab.firmware.trust import TrustStore
from bridgelab.firmware.trust_source import identity_of
from bridgelab.firmware.verify import assess_image

if TYPE_CHECKING:
    from bridgelab.emulator.device import EmulatedBridge, ImageCheck, ImageChecker

# Version rules are the workstation's (it records the engineer's downgrade reason).
WORKSTATION_RULES = frozenset({"same-version", "downgrade", "downgrade-needs-reason"})


def device_trust_store(trust_dir: Path | None) -> TrustStore:
    demo = demo_trust_store()
    if trust_dir is None:
        return demo
    extra = TrustStore.load(trust_dir)
    return TrustStore([*demo.keys, *extra.keys], revoked=extra.revoked)


def make_image_checker(trust_dir: Path | None) -> ImageChecker:
    from bridgelab.emulator.device import ImageCheck

    store = device_trust_store(trust_dir)

    def check(data: bytes, device: EmulatedBridge) -> ImageCheck:
        try:
            image = parse_image(data)
        except FirmwareError as error:
            return ImageCheck(False, f"{error.code}: {error.message}")
        report = assess_image(image, store, identity_of(device.identity()))
        for finding in report.errors:
            if finding.code not in WORKSTATION_RULES:
                return ImageCheck(False, f"{finding.code}: {finding.message}")
        return ImageCheck(
            True,
            file_version=image.header.file_version,
            manufacturer_image_sha256=report.manufacturer_image_sha256,
        )

    return check
