"""The failure taxonomy: why an update attempt ended, in words the GUI shows as they are.

The update engine classifies every failed attempt with one `FailureClass` and the `Stage`
it failed in; the triage store keeps both (plus a free `code`, e.g. the image rule or the
device's error number, and a message) so the lab can count failures by class and stage.

Values are stable kebab-case strings stored in the log: never rename one, only add.
Each class carries a `title`, a plain `explanation` of what happened, the `action` the
engineer should take next, and an `area` (image, device, link, han, user, tool) that says
where the fault most likely lies. `docs/triage.md` lists them; a test keeps it in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    """The stages of an update, in order (the house style's staged pipeline)."""

    IDENTIFY = "identify"
    VALIDATE = "validate"
    TRANSFER = "transfer"
    VERIFY = "verify"
    ACTIVATE = "activate"
    CONFIRM = "confirm"

    @property
    def description(self) -> str:
        return _STAGE_DESCRIPTIONS[self]


_STAGE_DESCRIPTIONS: dict[Stage, str] = {
    Stage.IDENTIFY: "Find the bridge on its link and read its identity, version and join state.",
    Stage.VALIDATE: "Check the image against the device before a single byte is sent.",
    Stage.TRANSFER: "Send the image block by block, resuming from the offset the device asks for.",
    Stage.VERIFY: "The device checks the whole image it received (hash, signature).",
    Stage.ACTIVATE: "The device switches to the new image and restarts.",
    Stage.CONFIRM: "Read the version back and check the bridge is healthy and on the HAN again.",
}


class FinalState(StrEnum):
    """How a session ended; `running` only while its update is in progress."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class Area(StrEnum):
    """Where the fault most likely lies: steers who gets the defect report."""

    IMAGE = "image"
    DEVICE = "device"
    LINK = "link"
    HAN = "han"
    USER = "user"
    TOOL = "tool"


@dataclass(frozen=True)
class FailureInfo:
    title: str
    explanation: str
    action: str
    area: Area


class FailureClass(StrEnum):
    """Why an update attempt failed. Stored as the value; explained by `.info`."""

    IMAGE_REJECTED = "image-rejected"
    PORT_UNAVAILABLE = "port-unavailable"
    NO_RESPONSE = "no-response"
    WRONG_DEVICE = "wrong-device"
    DEVICE_REFUSED = "device-refused"
    LINK_LOST = "link-lost"
    STALLED = "stalled"
    DEVICE_ERROR = "device-error"
    HASH_MISMATCH = "hash-mismatch"
    ACTIVATION_FAILED = "activation-failed"
    VERSION_UNCHANGED = "version-unchanged"
    DID_NOT_REJOIN = "did-not-rejoin"
    UNHEALTHY = "unhealthy"
    NOT_OTA_CAPABLE = "not-ota-capable"
    ORPHANED = "orphaned"
    NOT_JOINED = "not-joined"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    INTERNAL_ERROR = "internal-error"
    RIG_LOST = "rig-lost"

    @property
    def info(self) -> FailureInfo:
        return _FAILURE_INFO[self]

    # Shadows str.title(), which nobody calls on a class value; `title` is what the GUI
    # and the docs call it.
    @property
    def title(self) -> str:  # type: ignore[override]
        return self.info.title

    @property
    def explanation(self) -> str:
        return self.info.explanation

    @property
    def action(self) -> str:
        return self.info.action

    @property
    def area(self) -> Area:
        return self.info.area

    @property
    def retryable(self) -> bool:
        """Can the same attempt succeed if simply run again? True for faults of the moment
        (a busy port, a lost link, a stall); False where the same inputs meet the same
        refusal (an image refused at validate, a bridge without OTA, a wrong device)."""
        return self in _RETRYABLE


_FAILURE_INFO: dict[FailureClass, FailureInfo] = {
    FailureClass.IMAGE_REJECTED: FailureInfo(
        "Image rejected before sending",
        "Bridge Lab refused the image before sending it: it breaks a rule (the failure "
        "code names it: wrong manufacturer or image type, hardware version out of range, "
        "downgrade, bad or untrusted signature, damaged file).",
        "Get the right image for this device from the supplier, or check the trust store "
        "holds the supplier's key. The device was not touched.",
        Area.IMAGE,
    ),
    FailureClass.PORT_UNAVAILABLE: FailureInfo(
        "Port could not be opened",
        "The serial port was missing, busy (another program or ModemManager holds it) or "
        "not permitted (the user is not in the dialout group).",
        "Re-plug the cable, close other serial programs, and check permissions; then retry.",
        Area.LINK,
    ),
    FailureClass.NO_RESPONSE: FailureInfo(
        "No answer from the device",
        "The port opened but the bridge (or its bootloader) never answered.",
        "Check power and cabling, the baud rate and the driver chosen; then retry.",
        Area.LINK,
    ),
    FailureClass.WRONG_DEVICE: FailureInfo(
        "A different device answered",
        "The device on the link is not the one the update started with (another EUI-64 "
        "after a re-connection or re-enumeration).",
        "Check which bridge is connected and start the update again for that device.",
        Area.USER,
    ),
    FailureClass.DEVICE_REFUSED: FailureInfo(
        "Device refused the update",
        "The bridge declined the image or the request (no image wanted, not authorised, "
        "aborted by the device).",
        "Check the device's state and the image version; the failure code has the status "
        "the device sent. Report to the supplier if the image should have been accepted.",
        Area.DEVICE,
    ),
    FailureClass.LINK_LOST: FailureInfo(
        "Link lost",
        "The connection to the bridge dropped in the middle of the session (cable pulled, "
        "adapter reset, radio link gone).",
        "Restore the link and retry: the transfer resumes from the last good block.",
        Area.LINK,
    ),
    FailureClass.STALLED: FailureInfo(
        "Stalled",
        "The device stopped making progress for longer than the stage allows.",
        "Retry; if it stalls at the same point again, attach the defect bundle to a report "
        "to the supplier.",
        Area.DEVICE,
    ),
    FailureClass.DEVICE_ERROR: FailureInfo(
        "Device reported an error",
        "The bridge answered with an error code (the failure code holds it).",
        "Look up the code in the supplier's documentation; report it with the defect "
        "bundle if it is not explained.",
        Area.DEVICE,
    ),
    FailureClass.HASH_MISMATCH: FailureInfo(
        "Image damaged on the device",
        "The device's check of the image it received failed (hash mismatch or invalid "
        "image): the copy on the device differs from the file sent.",
        "Retry from the start; if it happens again with the same image, report it with the "
        "defect bundle.",
        Area.DEVICE,
    ),
    FailureClass.ACTIVATION_FAILED: FailureInfo(
        "Activation failed",
        "The device received the image but could not switch to it (no image held, or the "
        "activation itself failed).",
        "Retry the activation; if it fails again, report it with the defect bundle.",
        Area.DEVICE,
    ),
    FailureClass.VERSION_UNCHANGED: FailureInfo(
        "Version unchanged after restart",
        "The transfer and activation reported success, but after the restart the device "
        "still runs the old firmware version.",
        "Report it to the supplier with the defect bundle: the device accepted an image it "
        "did not run.",
        Area.DEVICE,
    ),
    FailureClass.DID_NOT_REJOIN: FailureInfo(
        "Did not rejoin the HAN",
        "The device runs the new firmware but did not join the home area network again.",
        "Check the Communications Hub's device log still holds the bridge, then retry the "
        "join; report if it stays off the HAN.",
        Area.HAN,
    ),
    FailureClass.UNHEALTHY: FailureInfo(
        "Unhealthy after update",
        "The device runs the new firmware but failed the health checks afterwards.",
        "Note the failing check (in the events), then report it with the defect bundle.",
        Area.DEVICE,
    ),
    FailureClass.NOT_OTA_CAPABLE: FailureInfo(
        "Not OTA capable",
        "The device was installed before the OTA changes and cannot take an update over the air.",
        "Update it on site over its local service port.",
        Area.HAN,
    ),
    FailureClass.ORPHANED: FailureInfo(
        "Orphaned after hub swap-out",
        "The Communications Hub was replaced (trust-centre swap-out) and the bridge cannot "
        "rejoin as a PPMID, so it cannot receive OTA updates.",
        "Update it on site over its local service port and re-commission it with the new hub.",
        Area.HAN,
    ),
    FailureClass.NOT_JOINED: FailureInfo(
        "Not joined to the HAN",
        "The device is not on the home area network, so an OTA update cannot reach it.",
        "Check the hub's device log and join state, join the device, then retry.",
        Area.HAN,
    ),
    FailureClass.CANCELLED: FailureInfo(
        "Cancelled by the user",
        "The engineer stopped the update.",
        "Resume the update when ready: it continues from the last good block.",
        Area.USER,
    ),
    FailureClass.INTERRUPTED: FailureInfo(
        "Interrupted",
        "Bridge Lab stopped before the session ended (crash, power loss, laptop closed); "
        "the record was closed the next time the log was opened, with what was known.",
        "Check the device's version, then resume the update: it continues from the last "
        "good block.",
        Area.TOOL,
    ),
    FailureClass.INTERNAL_ERROR: FailureInfo(
        "Internal error",
        "Bridge Lab hit a bug during the update.",
        "Report it to the Bridge Lab team with the defect bundle and the crash file named "
        "in the message.",
        Area.TOOL,
    ),
    FailureClass.RIG_LOST: FailureInfo(
        "Remote rig lost",
        "The machine serving the bridge's port (a labgrid exporter and its ser2net) went "
        "away during the session; the bridge itself was not at fault.",
        "Bring the exporter back (check the rack machine's power and network), then run "
        "the job again: the transfer resumes from the last good block.",
        Area.LINK,
    ),
}


_RETRYABLE = frozenset(
    {
        FailureClass.PORT_UNAVAILABLE,
        FailureClass.NO_RESPONSE,
        FailureClass.LINK_LOST,
        FailureClass.STALLED,
        FailureClass.DEVICE_ERROR,
        FailureClass.HASH_MISMATCH,
        FailureClass.ACTIVATION_FAILED,
        FailureClass.DID_NOT_REJOIN,
        FailureClass.UNHEALTHY,
        FailureClass.CANCELLED,
        FailureClass.INTERRUPTED,
    }
)


@dataclass(frozen=True)
class Failure:
    """Why one session failed: the stage, the class, a stable code and a message.

    `code` is the precise reason inside the class (the image rule, the device's status or
    error number, the error code of the layer that raised); `message` is for people.
    """

    stage: Stage
    cls: FailureClass
    code: str = ""
    message: str = ""
