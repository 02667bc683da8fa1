"""What the update view shows before anything is sent: the image checked against the bridge.

`assess_image_file` is blocking (it reads, hashes and verifies a signature: run it on a
worker) and uses the same rules as the update engine: the trust store from
`updates.trust.resolve_trust` (the demo key only for the Demo bridge), the firmware
layer's `assess_image` (signature, compatibility, downgrade policy) and the engine's
prediction of the real OTA duration. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bridgelab.errors import BridgeLabError
from bridgelab.firmware.compat import DeviceIdentity, DowngradeOverride
from bridgelab.firmware.image import load_image
from bridgelab.firmware.trust import TrustStore
from bridgelab.firmware.verify import VerificationReport, assess_image
from bridgelab.updates.ota_server import predict_policy_ota_duration
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.trust import resolve_trust

DOWNGRADE_CODES = frozenset({"downgrade", "downgrade-needs-reason"})


@dataclass(frozen=True)
class ImageAssessment:
    """An image file checked against one bridge (or none), ready to show."""

    path: Path
    report: VerificationReport
    device: DeviceIdentity | None
    trust_source: str  # where the trusted keys came from, or why there are none
    trust_problem: BridgeLabError | None
    override: DowngradeOverride | None
    image_size: int
    file_version: int
    predicted_ota_s: float

    @property
    def is_downgrade(self) -> bool:
        """The image is older than the bridge's firmware (allowed or not)."""
        return any(
            f.code in DOWNGRADE_CODES or f.code == "downgrade-allowed" for f in self.report.findings
        )

    @property
    def needs_downgrade_reason(self) -> bool:
        """The only thing between this image and the bridge is an explicit downgrade."""
        codes = {f.code for f in self.report.errors}
        return bool(codes) and codes <= DOWNGRADE_CODES

    @property
    def can_start(self) -> bool:
        return self.report.ok and self.device is not None and self.trust_problem is None


def assess_image_file(
    path: Path,
    device: DeviceIdentity | None,
    *,
    trust_dir: Path | None,
    override: DowngradeOverride | None = None,
    policy: UpdatePolicy | None = None,
) -> ImageAssessment:
    """Load and check `path`; raises the firmware layer's error when it is not an image.

    Without a trust store and off the Demo bridge the signature is reported as not
    checked (a warning) and `trust_problem` says what to configure: the engine itself
    refuses such an update, so the view does not offer to start it.
    """
    image = load_image(path)
    manufacturer = device.manufacturer_code if device else image.header.manufacturer_code
    trust: TrustStore | None
    problem: BridgeLabError | None = None
    try:
        trust, source = resolve_trust(trust_dir, manufacturer)
    except BridgeLabError as error:
        trust, source, problem = None, error.message, error
    report = assess_image(image, trust, device, override)
    size = len(image.raw)
    return ImageAssessment(
        path=path,
        report=report,
        device=device,
        trust_source=source,
        trust_problem=problem,
        override=override,
        image_size=size,
        file_version=image.header.file_version,
        predicted_ota_s=predict_policy_ota_duration(size, policy or UpdatePolicy()),
    )
