"""What a driver can do, and the words for what it cannot.

Every driver declares a set of `Capability` and implements those parts only; callers ask
`has()` before they use one and, when it is missing, say so with `not_available()` instead
of showing a made-up value ("join status: not available through the bootloader").

`RESET_LINES` belongs to the link, not the driver: an open device has it when its port can
drive DTR/RTS (`drivers/reset_lines.py`), so a reset-line sequence can reach the radio.
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
    RESET_LINES = "reset lines (DTR/RTS)"


# What the link, not the driver, decides.
LINK_CAPABILITIES = frozenset({Capability.RESET_LINES})


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
    if capability in LINK_CAPABILITIES:
        return f"{capability.value}: not available on this link"
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
