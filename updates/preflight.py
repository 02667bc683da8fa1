"""The pre-flight: may this image go to this bridge, in this mode, under this policy?

One assessment for everyone who asks the question: the engine's validate stage (which
refuses what it refuses), the GUI's verification report and Start button (a mode the
pre-flight refuses cannot be started, and says why), `bridgelab image verify` and
`bridgelab update`. The rules it applies live in one place each: the image's format,
signature and compatibility in `bridgelab.firmware` (`assess_image`, which calls
`firmware.compat`), the trust store in `firmware.trust_source`, what keeps a bridge from OTA in
`drivers.diagnosis`. This module only joins them into a verdict per mode, with the reason
and the next step, and the failure class a refusal is recorded as.

`assess()` is blocking (it reads and hashes the file and checks a signature): the GUI
runs it on a worker. It raises the firmware layer's error only when the file is not an
image at all; everything else is a reason in the verdict.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridgelab.data.failures import FailureClass
from bridgelab.drivers import protocol as p
from bridgelab.drivers.diagnosis import ota_blockers_for
from bridgelab.drivers.join_state import MEANINGS, JoinState
from bridgelab.emulator.demo_material import demo_trust_store
from bridgelab.emulator.profiles import DEMO_MANUFACTURER_CODE
from bridgelab.errors import BridgeLabError
from bridgelab.firmware.compat import DeviceIdentity, DowngradeOverride
from bridgelab.firmware.image import OtaImage, load_image
from bridgelab.firmware.trust import TrustStore
from bridgelab.firmware.trust_source import DemoTrust, identity_of, resolve_trust
from bridgelab.firmware.verify import VerificationReport, assess_image
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.request import MODES

# The shipped demo key, trusted for the Demo bridge only.
DEMO_TRUST = DemoTrust(DEMO_MANUFACTURER_CODE, demo_trust_store)

DOWNGRADE_CODES = frozenset({"downgrade", "downgrade-needs-reason"})
OFF_HAN_AFTER_LOCAL = (JoinState.ORPHANED, JoinState.NOT_IN_DEVICE_LOG)
_OTA_CLASSES = {
    "not-ota-capable": FailureClass.NOT_OTA_CAPABLE,
    "orphaned-after-swap-out": FailureClass.ORPHANED,
}


@dataclass(frozen=True)
class BridgeFacts:
    """What the pre-flight needs to know of the bridge.

    `ota_capable` and `join_state` are None when nobody read them (`image verify
    --device` without them): the OTA verdict then says eligibility was not checked.
    """

    device: DeviceIdentity
    ota_capable: bool | None = None
    join_state: JoinState | None = None

    @classmethod
    def read(cls, identity: p.IdentityResponse, join_state: JoinState) -> BridgeFacts:
        """From what a bridge answered (identity and join status)."""
        return cls(
            identity_of(identity),
            identity.ota_capable,
            join_state,
        )


@dataclass(frozen=True)
class Reason:
    """One thing the pre-flight found: an `error` refuses the mode it is listed under."""

    code: str
    severity: str  # "error", "warning" or "info"
    message: str  # what is so
    action: str = ""  # what to do about it ("" when nothing)
    failure: FailureClass | None = None  # how a refusal is recorded in the triage log

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "action": self.action or None,
            "failure_class": self.failure.value if self.failure is not None else None,
        }


@dataclass(frozen=True)
class ModeVerdict:
    """The verdict for one mode: allowed, or refused with the first error as the reason."""

    mode: str
    reasons: tuple[Reason, ...]  # errors first, then warnings
    own: tuple[Reason, ...] = ()  # those about this mode alone (not the image's)

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def refusal(self) -> Reason | None:
        return next((r for r in self.reasons if r.severity == "error"), None)

    @property
    def mode_refusal(self) -> Reason | None:
        """Why this mode (not the image) is refused for this bridge: the GUI greys the
        mode out with it, where an image refusal greys out Start for every mode."""
        return next((r for r in self.own if r.severity == "error"), None)

    @property
    def warnings(self) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if r.severity == "warning")

    def to_dict(self) -> dict[str, Any]:
        refusal = self.refusal
        return {
            "allowed": self.allowed,
            "reason": refusal.to_dict() if refusal is not None else None,
            "warnings": [r.to_dict() for r in self.warnings],
        }


@dataclass(frozen=True)
class Preflight:
    """An image checked against one bridge (or none): the report and a verdict per mode."""

    path: Path
    image: OtaImage
    file_sha256: bytes
    report: VerificationReport
    bridge: BridgeFacts | None
    trust_source: str  # where the trusted keys came from, or why there are none
    trust_problem: Reason | None
    override: DowngradeOverride | None
    policy: UpdatePolicy
    modes: tuple[ModeVerdict, ...]

    @property
    def predicted_ota_s(self) -> float:
        """How long the real over-the-air update would take. Worked out when asked: a
        local update's start-up does not import the ZCL OTA cluster for it."""
        from bridgelab.updates.ota_server import predict_policy_ota_duration

        return predict_policy_ota_duration(len(self.image.raw), self.policy)

    @property
    def device(self) -> DeviceIdentity | None:
        return self.bridge.device if self.bridge is not None else None

    @property
    def image_size(self) -> int:
        return len(self.image.raw)

    @property
    def file_version(self) -> int:
        return self.image.header.file_version

    def verdict(self, mode: str) -> ModeVerdict:
        for verdict in self.modes:
            if verdict.mode == mode:
                return verdict
        raise KeyError(mode)

    def allowed(self, mode: str) -> bool:
        return self.verdict(mode).allowed

    @property
    def image_ok(self) -> bool:
        """Well-formed, signed by a trusted key and (when a device was given) compatible."""
        return self.report.ok and self.trust_problem is None

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

    def to_dict(self) -> dict[str, Any]:
        """The verdicts for JSON: one key per mode, each with its reason or none."""
        return {verdict.mode: verdict.to_dict() for verdict in self.modes}


def assess(
    path: Path,
    bridge: BridgeFacts | None,
    *,
    trust_dir: Path | None,
    override: DowngradeOverride | None = None,
    policy: UpdatePolicy | None = None,
    image: OtaImage | None = None,
    trust: TrustStore | None = None,
) -> Preflight:
    """Check `path` (or the already loaded `image`) against `bridge` for every mode.

    The trust store is `trust` when given, else `resolve_trust(trust_dir, ...)`: the
    engineer's folder, or the shipped demo key for the Demo bridge only. Raises the
    firmware layer's error when the file cannot be read as an image.
    """
    if image is None:
        image = load_image(path)
    device = bridge.device if bridge is not None else None
    manufacturer = device.manufacturer_code if device else image.header.manufacturer_code
    trust_problem: Reason | None = None
    if trust is not None:
        source = "the given trust store"
    else:
        try:
            trust, source = resolve_trust(trust_dir, manufacturer, demo=DEMO_TRUST)
        except BridgeLabError as error:
            source = error.message
            trust_problem = Reason(
                error.code, "error", error.message, error.action, FailureClass.IMAGE_REJECTED
            )
    report = assess_image(image, trust, device, override)
    shared = _image_reasons(report, trust_problem, bridge)
    modes = []
    for mode in MODES:
        own = _mode_reasons(mode, bridge)
        modes.append(ModeVerdict(mode, _ordered(shared + own), tuple(own)))
    return Preflight(
        path=path,
        image=image,
        file_sha256=hashlib.sha256(image.raw).digest(),
        report=report,
        bridge=bridge,
        trust_source=source,
        trust_problem=trust_problem,
        override=override,
        policy=policy or UpdatePolicy(),
        modes=tuple(modes),
    )


def _ordered(reasons: list[Reason]) -> tuple[Reason, ...]:
    rank = {"error": 0, "warning": 1, "info": 2}
    return tuple(sorted(reasons, key=lambda r: rank[r.severity]))


def _image_reasons(
    report: VerificationReport, trust_problem: Reason | None, bridge: BridgeFacts | None
) -> list[Reason]:
    """What refuses (or qualifies) every mode alike: the image, its signature, the bridge."""
    reasons: list[Reason] = []
    if trust_problem is not None:
        reasons.append(trust_problem)
    for finding in report.findings:
        if finding.code == "signature-not-checked" and trust_problem is not None:
            continue  # the trust problem above says it, with what to do
        if str(finding.severity) == "info":
            continue
        reasons.append(
            Reason(
                finding.code,
                str(finding.severity),
                finding.message,
                finding.action,
                FailureClass.IMAGE_REJECTED if str(finding.severity) == "error" else None,
            )
        )
    if bridge is None:
        reasons.append(
            Reason(
                "no-bridge",
                "error",
                "The image was not checked against a bridge.",
                "Connect to the bridge: the image is checked against it before anything is sent.",
            )
        )
    return reasons


def _mode_reasons(mode: str, bridge: BridgeFacts | None) -> list[Reason]:
    if bridge is None:
        return []
    if mode == "ota":
        return _ota_reasons(bridge)
    return _local_reasons(bridge)


def _ota_reasons(bridge: BridgeFacts) -> list[Reason]:
    if bridge.ota_capable is None or bridge.join_state is None:
        return [
            Reason(
                "ota-eligibility-not-checked",
                "warning",
                "Whether the bridge can take OTA was not checked (its OTA client and HAN "
                "join state were not given).",
                "Read the bridge (bridgelab info) before sending it an image over the air.",
            )
        ]
    reasons = []
    for blocker in ota_blockers_for(bridge.ota_capable, bridge.join_state):
        reasons.append(_ota_refusal(blocker.code, bridge.join_state))
    return reasons


def _ota_refusal(code: str, state: JoinState) -> Reason:
    """A blocker as a refusal: what is so, then (once) what to do."""
    if code == "not-ota-capable":
        return Reason(
            code,
            "error",
            "This bridge has no OTA client (it was installed before the CH/DCC changes), "
            "so it cannot take an update over the air.",
            "Update it locally over the service port.",
            FailureClass.NOT_OTA_CAPABLE,
        )
    if code == "orphaned-after-swap-out":
        return Reason(
            code,
            "error",
            "The bridge is orphaned after a Comms Hub swap-out: it cannot rejoin the HAN as "
            "a PPMID, so no OTA can reach it.",
            "Update it locally, and raise it with the supplier so it is re-commissioned "
            "with the new hub.",
            FailureClass.ORPHANED,
        )
    meaning = MEANINGS[state]
    return Reason(
        code,
        "error",
        f"The bridge is not on the HAN ({meaning.title.lower()}), so an OTA update cannot "
        "reach it.",
        f"{meaning.next_step} Or update it locally.",
        _OTA_CLASSES.get(code, FailureClass.NOT_JOINED),
    )


def off_han_after_local(state: JoinState | None) -> tuple[str, str] | None:
    """(what the state is, who can fix it) for a bridge that a local update leaves off the
    HAN (orphaned, or not in the hub's device log); None for any other state."""
    if state not in OFF_HAN_AFTER_LOCAL:
        return None
    assert state is not None
    step = (
        "Raise it with the supplier: it must be re-commissioned with the new hub."
        if state is JoinState.ORPHANED
        else MEANINGS[state].next_step
    )
    return MEANINGS[state].title.lower(), step


def _local_reasons(bridge: BridgeFacts) -> list[Reason]:
    """A local update reaches any bridge, but one off the HAN stays off it afterwards."""
    off_han = off_han_after_local(bridge.join_state)
    if off_han is None:
        return []
    title, step = off_han
    return [
        Reason(
            "stays-off-han",
            "warning",
            f"A local update reaches this bridge, but it stays off the HAN afterwards ({title}).",
            step,
        )
    ]
