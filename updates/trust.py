"""Which keys an update trusts: the engineer's trust store, or the demo key for the Demo
bridge only (it ships with every copy of Bridge Lab, so it proves nothing on real hardware).
"""

from __future__ import annotations

from pathlib import Path

from bridgelab.data.failures import FailureClass, Stage
from bridgelab.emulator.demo_material import demo_trust_store
from bridgelab.emulator.profiles import DEMO_MANUFACTURER_CODE
from bridgelab.firmware.errors import FirmwareError
from bridgelab.firmware.trust import TrustStore
from bridgelab.updates.errors import UpdateFailed


def resolve_trust(trust_dir: Path | None, manufacturer_code: int) -> tuple[TrustStore, str]:
    """The trust store and a sentence saying where it came from; raises UpdateFailed."""
    if trust_dir is not None:
        try:
            return TrustStore.load(trust_dir), f"trust store {trust_dir}"
        except FirmwareError as error:
            raise UpdateFailed.from_error(
                Stage.VALIDATE, FailureClass.IMAGE_REJECTED, error
            ) from error
    if manufacturer_code == DEMO_MANUFACTURER_CODE:
        return demo_trust_store(), "the shipped demo key (Demo bridge only)"
    raise UpdateFailed(
        Stage.VALIDATE,
        FailureClass.IMAGE_REJECTED,
        "No trust store was given, and the shipped demo key is trusted only for the Demo bridge.",
        code="no-trust-store",
        action="Give the folder of the manufacturer's public keys with --trust DIR.",
    )
