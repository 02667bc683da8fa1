"""Is this image for this device, and newer? The policy checked before any byte is sent.

Rules, in the order they are checked (docs/firmware-format.md, "Compatibility"):

1. manufacturer code equal                        else wrong-manufacturer
2. image type equal, or the image's is 0xFFFF      else wrong-image-type
3. device hardware version within the image's
   min..max (when the header has them)             else hardware-out-of-range
4. a device-specific file names this device        else wrong-destination
5. file version: the image's 0xFFFFFFFF fits any version; equal is same-version;
   lower is downgrade, allowed only with a `DowngradeOverride` whose reason is not blank
   (else downgrade-needs-reason); an allowed downgrade is recorded in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridgelab.eui64 import format_eui64
from bridgelab.firmware.errors import CompatibilityError, hex_id
from bridgelab.firmware.image import WILDCARD_FILE_VERSION, WILDCARD_IMAGE_TYPE, OtaImage


@dataclass(frozen=True)
class DeviceIdentity:
    """What the bridge reports about itself; `eui64` is needed only for device-specific files."""

    manufacturer_code: int
    image_type: int
    hardware_version: int
    file_version: int
    eui64: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "manufacturer_code": self.manufacturer_code,
            "image_type": self.image_type,
            "hardware_version": self.hardware_version,
            "file_version": self.file_version,
            "eui64": self.eui64,
        }


@dataclass(frozen=True)
class DowngradeOverride:
    """An engineer's explicit permission to install an older version, and why."""

    reason: str


@dataclass(frozen=True)
class CompatibilityReport:
    """The image fits the device; records a permitted downgrade and wildcards that matched."""

    device: DeviceIdentity
    image_file_version: int
    downgrade_reason: str | None = None
    wildcard_image_type: bool = False
    wildcard_file_version: bool = False

    @property
    def is_downgrade(self) -> bool:
        return self.downgrade_reason is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device.to_dict(),
            "image_file_version": self.image_file_version,
            "is_downgrade": self.is_downgrade,
            "downgrade_reason": self.downgrade_reason,
            "wildcard_image_type": self.wildcard_image_type,
            "wildcard_file_version": self.wildcard_file_version,
        }


def compatibility_problems(
    image: OtaImage, device: DeviceIdentity, override: DowngradeOverride | None = None
) -> list[CompatibilityError]:
    """Every rule the image breaks for `device`, in rule order (empty when it fits)."""
    header = image.header
    problems: list[CompatibilityError] = []
    if header.manufacturer_code != device.manufacturer_code:
        problems.append(
            CompatibilityError(
                f"The image is for manufacturer {hex_id(header.manufacturer_code)}; the device "
                f"is made by {hex_id(device.manufacturer_code)}.",
                code="wrong-manufacturer",
            )
        )
    if header.image_type not in (device.image_type, WILDCARD_IMAGE_TYPE):
        problems.append(
            CompatibilityError(
                f"The image is of type {hex_id(header.image_type)}; the device takes type "
                f"{hex_id(device.image_type)}.",
                code="wrong-image-type",
            )
        )
    low, high = header.min_hw_version, header.max_hw_version
    if low is not None and high is not None and not low <= device.hardware_version <= high:
        problems.append(
            CompatibilityError(
                f"The image is for hardware {hex_id(low)} to {hex_id(high)}; the device is "
                f"hardware {hex_id(device.hardware_version)}.",
                code="hardware-out-of-range",
            )
        )
    if header.destination_eui64 is not None and header.destination_eui64 != device.eui64:
        mine = format_eui64(header.destination_eui64)
        problems.append(
            CompatibilityError(
                f"The image is for device {mine} only; "
                + (
                    "the device's EUI-64 was not given."
                    if device.eui64 is None
                    else f"this device is {format_eui64(device.eui64)}."
                ),
                code="wrong-destination",
            )
        )
    problems += _version_problems(header.file_version, device.file_version, override)
    return problems


def _version_problems(
    image_version: int, device_version: int, override: DowngradeOverride | None
) -> list[CompatibilityError]:
    if image_version == WILDCARD_FILE_VERSION:
        return []
    if image_version == device_version:
        return [
            CompatibilityError(
                f"The device already runs file version {hex_id(device_version, 8)}.",
                code="same-version",
            )
        ]
    if image_version > device_version:
        return []
    older = (
        f"The image's file version {hex_id(image_version, 8)} is older than the device's "
        f"{hex_id(device_version, 8)}"
    )
    if override is None:
        return [CompatibilityError(older + ".", code="downgrade")]
    if not override.reason.strip():
        return [
            CompatibilityError(
                older + ", and the downgrade was allowed without a reason.",
                code="downgrade-needs-reason",
            )
        ]
    return []


def check_compatibility(
    image: OtaImage, device: DeviceIdentity, override: DowngradeOverride | None = None
) -> CompatibilityReport:
    """The report when `image` fits `device`; raises the first broken rule's CompatibilityError."""
    problems = compatibility_problems(image, device, override)
    if problems:
        raise problems[0]
    header = image.header
    downgrade = (
        header.file_version != WILDCARD_FILE_VERSION and header.file_version < device.file_version
    )
    return CompatibilityReport(
        device=device,
        image_file_version=header.file_version,
        downgrade_reason=override.reason.strip() if downgrade and override is not None else None,
        wildcard_image_type=header.image_type == WILDCARD_IMAGE_TYPE,
        wildcard_file_version=header.file_version == WILDCARD_FILE_VERSION,
    )
