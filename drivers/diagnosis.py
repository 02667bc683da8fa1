"""What a bridge's state means for the engineer, as findings with a next step.

`diagnose()` turns identity, join status and the P2P link into a list of findings, most
severe first. Each finding has a stable code (scripts and the triage log use it), a
severity (`error`, `warning`, `info`) and a message that ends with what to do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bridgelab.drivers import protocol as p
from bridgelab.drivers.join_state import JOIN_FAILURE_CODES, MEANINGS, JoinState
from bridgelab.drivers.versions import display_version

WEAK_LQI = 80
_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    severity: str
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ota_blockers(identity: p.IdentityResponse, join: p.JoinStatusResponse) -> list[Finding]:
    """Why this bridge cannot take firmware over the air now (empty: it can)."""
    return ota_blockers_for(identity.ota_capable, join.state)


def ota_blockers_for(ota_capable: bool, state: JoinState) -> list[Finding]:
    """`ota_blockers` from the two facts it needs (the pre-flight has no protocol messages)."""
    blockers: list[Finding] = []
    if not ota_capable:
        blockers.append(
            Finding(
                "warning",
                "not-ota-capable",
                "Not OTA capable: this bridge has no OTA client (installed before the CH/DCC "
                "changes), so it can only be updated on site. Update it locally now.",
            )
        )
    if state == JoinState.ORPHANED:
        blockers.append(
            Finding(
                "error",
                "orphaned-after-swap-out",
                "Orphaned after a Comms Hub swap-out: it cannot rejoin the HAN as a PPMID, so "
                "no OTA is possible. Update it locally, and raise it with the supplier.",
            )
        )
    elif state != JoinState.JOINED:
        meaning = MEANINGS[state]
        blockers.append(
            Finding(
                "error" if state == JoinState.NOT_IN_DEVICE_LOG else "warning",
                f"not-joined-{state.label}",
                f"{meaning.title}: {meaning.meaning} OTA needs the bridge on the HAN. "
                f"{meaning.next_step}",
            )
        )
    return blockers


def trial_finding(
    identity: p.IdentityResponse, status: p.UpdateStatusResponse | None
) -> Finding | None:
    """The warning for a bridge running an unconfirmed (trial) image, with its next step."""
    if status is None or status.state != p.UpdateState.TRIAL:
        return None
    running = display_version(identity.firmware_version)
    fallback = display_version(identity.inactive_firmware_version)
    return Finding(
        "warning",
        "trial-unconfirmed",
        f"Running {running} on trial: not yet confirmed; it rolls back to {fallback} at the "
        "next reboot unless confirmed. Run the same update again to confirm it.",
    )


def diagnose(
    identity: p.IdentityResponse,
    join: p.JoinStatusResponse,
    p2p: p.P2PLinkResponse | None = None,
    update: p.UpdateStatusResponse | None = None,
) -> list[Finding]:
    """Findings, most severe first. `update` is the bridge's UPDATE_STATUS (None: not read,
    or an old bridge that does not answer it): a trial image comes first among warnings."""
    findings = ota_blockers(identity, join)
    trial = trial_finding(identity, update)
    if trial is not None:
        findings.insert(0, trial)
    if join.state == JoinState.JOIN_FAILED and join.last_failure_code != p.NO_FAILURE:
        reason = JOIN_FAILURE_CODES.get(join.last_failure_code, "unknown code")
        findings.append(
            Finding(
                "error",
                "join-failed",
                f"The last HAN join failed with GBCS code {join.last_failure_code} ({reason}). "
                f"{MEANINGS[JoinState.JOIN_FAILED].next_step}",
            )
        )
    if join.state == JoinState.JOINED and join.lqi < WEAK_LQI:
        findings.append(
            Finding(
                "warning",
                "weak-han-signal",
                f"Weak HAN signal (LQI {join.lqi}, RSSI {join.rssi} dBm): OTA blocks will be "
                "lost and retried. Check the antenna and the cupboard door; update locally if "
                "OTA keeps failing.",
            )
        )
    if p2p is not None and p2p.state != p.LinkState.UP:
        findings.append(
            Finding(
                "warning",
                "p2p-link-down",
                "The link to the premises-side bridge is down: in-home devices lose the HAN. "
                "Check the other half's power and cabling.",
            )
        )
    if not findings:
        findings.append(
            Finding(
                "info",
                "ota-ready",
                "Joined to the HAN and OTA capable: this bridge can receive firmware over the "
                "air. A local update is also possible.",
            )
        )
    return sorted(findings, key=lambda f: _ORDER[f.severity])
