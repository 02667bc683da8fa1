"""The bridge's HAN join state and what each state means for the engineer.

GBCS publishes no join-state enumeration; this model is proposed from the Device Log, the
join response codes and the join alerts (domain notes, section 4), and is part of the
bridge service protocol (the numbers are the wire values).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class JoinState(enum.IntEnum):
    NOT_IN_DEVICE_LOG = 0
    AWAITING_JOIN = 1
    JOINING = 2
    JOINED = 3
    JOIN_FAILED = 4
    LEFT = 5
    ORPHANED = 6  # after a trust-centre swap-out: cannot rejoin as a PPMID

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True)
class JoinStateMeaning:
    title: str
    meaning: str
    next_step: str


MEANINGS: dict[JoinState, JoinStateMeaning] = {
    JoinState.NOT_IN_DEVICE_LOG: JoinStateMeaning(
        "Not in the Comms Hub device log",
        "The Comms Hub does not know this bridge, so it cannot join the HAN.",
        "Ask the supplier to add the bridge's EUI-64 and install code to the CH device log "
        "(SR 8.11), then power-cycle the bridge.",
    ),
    JoinState.AWAITING_JOIN: JoinStateMeaning(
        "Awaiting join",
        "The bridge is in the device log and waiting for the join window.",
        "Wait for the join to complete (it can take several minutes); check the meter "
        "cupboard's signal if it does not.",
    ),
    JoinState.JOINING: JoinStateMeaning(
        "Joining",
        "Key establishment with the Comms Hub is in progress.",
        "Wait; if it fails, the failure code says why.",
    ),
    JoinState.JOINED: JoinStateMeaning(
        "Joined",
        "The bridge is on the HAN as a PPMID-type device.",
        "Nothing to do.",
    ),
    JoinState.JOIN_FAILED: JoinStateMeaning(
        "Join failed",
        "The last join attempt failed (see the GBCS join response code).",
        "Check the install code on the device log entry matches the label; re-add the "
        "device (SR 8.11) if it does not.",
    ),
    JoinState.LEFT: JoinStateMeaning(
        "Left the HAN",
        "The bridge was on the HAN and has left it (removed, or lost the network).",
        "Check the Comms Hub is powered and in range, then power-cycle the bridge.",
    ),
    JoinState.ORPHANED: JoinStateMeaning(
        "Orphaned after Comms Hub swap-out",
        "The Comms Hub was replaced (trust-centre swap-out); the bridge cannot rejoin as a "
        "PPMID, so it cannot receive firmware over the air.",
        "Update it locally on site, and raise the device with the supplier for re-commissioning.",
    ),
}

# GBCS join response codes (domain notes, section 4).
JOIN_FAILURE_CODES: dict[int, str] = {
    0: "success",
    1: "invalid message code",
    2: "invalid join method",
    3: "incompatible with existing entry",
    4: "device log full",
    5: "write failure",
    6: "key agreement: no resources",
    7: "key agreement: unknown issuer",
    8: "key agreement: unsupported suite",
    9: "key agreement: bad message",
    10: "key agreement: bad key confirm",
    11: "invalid or missing certificate",
    12: "no partner link key",
    13: "no CBKE response",
}
