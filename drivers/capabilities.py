"""What a driver can do, and the words for what it cannot.

Every driver declares a set of `Capability` and implements those parts only; callers ask
`has()` before they use one and, when it is missing, say so with `not_available()` instead
of showing a made-up value ("join status: not available through the bootloader").
"""

from __future__ import annotations

import enum
from typing import Protocol, runtime_checkable


class Capability(enum.Enum):
    IDENTIFY = "identify"
    FIRMWARE_VERSIONS = "firmware versions"
    JOIN_STATUS = "join status"
    EVENT_LOG = "event log"
    LOCAL_UPDATE = "local update"
    OTA_TUNNEL = "OTA tunnel"
    REBOOT = "reboot"
    BOOTLOADER_UPLOAD = "bootloader upload"
    ENTER_BOOTLOADER = "enter bootloader"
    LEAVE_BOOTLOADER = "leave bootloader"


ALL = frozenset(Capability)


@runtime_checkable
class Device(Protocol):
    """An open device, whatever its driver. `close()` releases the port."""

    driver_name: str
    url: str
    capabilities: frozenset[Capability]
    # How the driver reaches the device, for "not available through ..." wording.
    reached_through: str

    def close(self) -> None: ...


def has(device: Device, capability: Capability) -> bool:
    return capability in device.capabilities


def not_available(device: Device, capability: Capability) -> str:
    """ "join status: not available through the bootloader"."""
    return f"{capability.value}: not available through {device.reached_through}"


def describe(device: Device) -> dict[str, object]:
    """What the device offers, by name, and a sentence for each thing it cannot report
    (for --json and the views), in the order of `Capability`."""
    return {
        "driver": device.driver_name,
        "reached_through": device.reached_through,
        "capabilities": [c.value for c in Capability if c in device.capabilities],
        "not_available": [
            not_available(device, c) for c in Capability if c not in device.capabilities
        ],
    }
