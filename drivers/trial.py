"""Is the running image a trial? The bridge's own answer, read on every connect.

A bridge that restarted into a new image runs it *on trial* until the host confirms it
(UPDATE_CONFIRM); any reboot it did not ask for before then rolls it back to the image it
held before. The bridge says so in UPDATE_STATUS (state TRIAL, docs/protocol.md), and that
answer, not anything the tool remembers, is what `info`, the GUI and a re-run of the update
go by. A bridge too old to know UPDATE_STATUS answers UNKNOWN_COMMAND: the trial state is
then unknown (None), never guessed.
"""

from __future__ import annotations

from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient

UNKNOWN_STATUSES = (p.Status.UNKNOWN_COMMAND, p.Status.NOT_SUPPORTED)


def read_update_status(
    client: BridgeClient, timeout_s: float = 1.0
) -> p.UpdateStatusResponse | None:
    """The bridge's update state; None when it does not support the question.

    Raises NoAnswer or LinkLost like any call: silence is not "no trial".
    """
    try:
        return client.update_status(timeout_s)
    except p.DeviceStatusError as error:
        if error.status in UNKNOWN_STATUSES:
            return None
        raise


def is_trial(status: p.UpdateStatusResponse | None) -> bool:
    return status is not None and status.state == p.UpdateState.TRIAL


def confirmed_version(identity: p.IdentityResponse, status: p.UpdateStatusResponse | None) -> int:
    """The version the bridge holds for good: on trial, the one it would roll back to."""
    return identity.inactive_firmware_version if is_trial(status) else identity.firmware_version
