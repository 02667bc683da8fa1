"""Is this image for this device, and newer? The policy checked before any byte is sent.

Rules, in the order they are checked (docs/firmware-format.md, "Compatibility"):

0. the result must be comparable with the device afterwards, so the image itself
   must not carry a value the ZigBee spec reserves:
   file version 0xFFFFFFFF (the wildcard "any version"; a bridge running it
   reports no version at all)                      else reserved-file-version
   image type 0xFFFF (the wildcard) or 0xFFC3-0xFFFE (reserved)
                                                   else reserved-image-type
   image type 0xFFC0-0xFFC2 (security credential, configuration, log: not
   firmware), unless the device asks for exactly that type
                                                   else not-firmware
   an upgrade image of at least one byte (both body forms)
                                                   else empty-upgrade-image
1. manufacturer code equal                        else wrong-manufacturer
2. image type equal                                else wrong-image-type
3. device hardware version within the image's
   min..max (when the header has them)             else hardware-out-of-range
4. a device-specific file names this device        else wrong-destination
5. file version: equal is same-version; lower is downgrade, allowed only with a
   `DowngradeOverride` whose reason is not blank (else downgrade-needs-reason); an
   allowed downgrade is recorded in the report.

Rule 0 is what keeps an update from ending "Updated 1.2.0 -> none": an image that a
bridge cannot report back, or that is no firmware at all, is refused, not installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridgelab.eui64 import format_eui64
from bridgelab.firmware.errors import CompatibilityError, hex_id
from bridgelab.firmware.image import (
    WILDCARD_FILE_VERSION,
    WILDCARD_IMAGE_TYPE,
    BodyForm,
    OtaImage,
)
from bridgelab.versions import version_text

# ZigBee OTA image types above the manufacturer range (0x0000-0xFFBF).
NON_FIRMWARE_TYPES = {0xFFC0: "security credential", 0xFFC1: "configuration", 0xFFC2: "log"}
RESERVED_TYPES = range(0xFFC3, 0xFFFF)  # 0xFFC3-0xFFFE: reserved by the spec


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
    problems = image_problems(image, device.image_type)
    type_refused = any(p.code in ("reserved-image-type", "not-firmware") for p in problems)
    if header.manufacturer_code != device.manufacturer_code:
        problems.append(
            CompatibilityError(
                f"The image is for manufacturer {hex_id(header.manufacturer_code)}; the device "
                f"is made by {hex_id(device.manufacturer_code)}.",
                code="wrong-manufacturer",
            )
        )
    if header.image_type != device.image_type and not type_refused:
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


def image_problems(
    image: OtaImage, device_image_type: int | None = None
) -> list[CompatibilityError]:
    """Rule 0: what makes an image unfit for any firmware update, whatever the device.

    `device_image_type` is the type the device asks for: a credential, configuration or
    log image (0xFFC0-0xFFC2) passes only for a device that asks for that very type.
    """
    header = image.header
    problems: list[CompatibilityError] = []
    if header.file_version == WILDCARD_FILE_VERSION:
        problems.append(
            CompatibilityError(
                "The image's file version is 0xFFFFFFFF, which ZigBee reserves as the "
                "wildcard 'any version': a bridge running it would report no version, so "
                "the update could never be confirmed (and later updates would be blocked).",
                code="reserved-file-version",
            )
        )
    image_type = header.image_type
    if image_type == WILDCARD_IMAGE_TYPE or image_type in RESERVED_TYPES:
        meaning = "the wildcard 'any type'" if image_type == WILDCARD_IMAGE_TYPE else "reserved"
        problems.append(
            CompatibilityError(
                f"The image's type is {hex_id(image_type)}, which ZigBee reserves "
                f"({meaning}): it names no firmware a bridge can be checked against.",
                code="reserved-image-type",
            )
        )
    elif image_type in NON_FIRMWARE_TYPES and image_type != device_image_type:
        problems.append(
            CompatibilityError(
                f"The image's type is {hex_id(image_type)}, a "
                f"{NON_FIRMWARE_TYPES[image_type]} file, not a firmware image.",
                code="not-firmware",
            )
        )
    if image.manufacturer_image_size == 0:
        zigbee = image.body_form is BodyForm.ZIGBEE
        where = "upgrade image sub-element" if zigbee else "manufacturer image"
        problems.append(
            CompatibilityError(
                f"The image's {where} is empty (0 bytes): there is no firmware in it.",
                code="empty-upgrade-image",
            )
        )
    return problems


def _version_problems(
    image_version: int, device_version: int, override: DowngradeOverride | None
) -> list[CompatibilityError]:
    if image_version == WILDCARD_FILE_VERSION:
        return []  # refused by rule 0 already
    if image_version == device_version:
        return [
            CompatibilityError(
                f"The device already runs file version {version_text(device_version)}.",
                code="same-version",
            )
        ]
    if image_version > device_version:
        return []
    older = (
        f"The image's file version {version_text(image_version)} is older than the device's "
        f"{version_text(device_version)}"
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
