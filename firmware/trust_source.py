"""Which keys a check of one bridge's image trusts, and what the bridge reports about
itself, in the firmware layer's terms.

`resolve_trust`: the engineer's trust store when one is given; otherwise the shipped demo
key, and only for the bridge it was made for (it ships with every copy of Bridge Lab, so
it proves nothing on real hardware). The caller names that demo trust (it lives with the
emulated bridge's material, above this layer). `identity_of`: the one conversion of what a
bridge reports (the service protocol's identity answer, or the emulated bridge's own
record) into the `DeviceIdentity` the compatibility rules check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bridgelab.errors import BridgeLabError
from bridgelab.firmware.compat import DeviceIdentity
from bridgelab.firmware.trust import TrustStore


class NoTrustStore(BridgeLabError):
    """No trust store for a bridge that is not the demo's. Its code predates the firmware
    catalogue (`firmware.errors`) and scripts and triage logs know it, so it keeps it."""

    code = "no-trust-store"
    default_action = "Give the folder of the manufacturer's public keys with --trust DIR."


@dataclass(frozen=True)
class DemoTrust:
    """The demo key's trust, valid for one manufacturer code only."""

    manufacturer_code: int
    load: Callable[[], TrustStore]


def resolve_trust(
    trust_dir: Path | None, manufacturer_code: int, *, demo: DemoTrust | None = None
) -> tuple[TrustStore, str]:
    """The trust store and a sentence saying where it came from.

    Raises the trust store's own FirmwareError when `trust_dir` cannot be loaded, and
    NoTrustStore when none is given and the bridge is not the demo's.
    """
    if trust_dir is not None:
        return TrustStore.load(trust_dir), f"trust store {trust_dir}"
    if demo is not None and manufacturer_code == demo.manufacturer_code:
        return demo.load(), "the shipped demo key (Demo bridge only)"
    raise NoTrustStore(
        "No trust store was given, and the shipped demo key is trusted only for the Demo bridge."
    )


class ReportedIdentity(Protocol):
    """What a bridge says about itself (`drivers.protocol.IdentityResponse` has it)."""

    @property
    def manufacturer_code(self) -> int: ...

    @property
    def image_type(self) -> int: ...

    @property
    def hardware_version(self) -> int: ...

    @property
    def firmware_version(self) -> int: ...

    @property
    def eui64(self) -> int: ...


def identity_of(reported: ReportedIdentity, *, file_version: int | None = None) -> DeviceIdentity:
    """The identity the compatibility rules check an image against; `file_version`, when
    given, stands for the running one (a bridge on trial is judged by its confirmed one)."""
    return DeviceIdentity(
        manufacturer_code=reported.manufacturer_code,
        image_type=reported.image_type,
        hardware_version=reported.hardware_version,
        file_version=reported.firmware_version if file_version is None else file_version,
        eui64=reported.eui64,
    )
