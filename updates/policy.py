"""How patient and how persistent an update is: per-stage timeouts and retry bounds.

Every wait in the engine has a bound from here, so no session can hang; each is
configurable because a slow erase or a long verify on real hardware is not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridgelab.drivers.protocol import ACTIVATE_NOW


@dataclass(frozen=True)
class StageTimeouts:
    identify_s: float = 10.0  # connect, handshake, identity (retried within this)
    begin_s: float = 30.0  # UPDATE_BEGIN includes erasing the slot
    stall_s: float = 10.0  # transfer: longest time without progress
    verify_s: float = 60.0  # UPDATE_FINISH: hash, signature and checks on the device
    activate_s: float = 60.0  # from UPDATE_ACTIVATE to the bridge running again
    rejoin_s: float = 120.0  # from the restart to being back on the HAN
    reconnect_s: float = 60.0  # after a pulled cable or a reboot: find the bridge again
    ota_stall_s: float = 30.0  # simulated OTA: servers give up after ~30 s without progress


@dataclass(frozen=True)
class UpdatePolicy:
    timeouts: StageTimeouts = StageTimeouts()
    max_retries: int = 10  # recoveries in a row without progress before giving up
    max_total_retries: int = 1000  # recoveries in one session, progress or not
    min_block_size: int = 256  # a noisy line shrinks writes down to this, then grows them
    healthy_s: float = 2.0  # the bridge must stay on the HAN this long after the update
    activate_delay_s: int = ACTIVATE_NOW  # or ACTIVATE_ON_NEXT_REBOOT for a deferred switch
    max_window: int | None = None  # cap on writes in flight (None: from the handshake)
    block_size: int | None = None  # bytes per write (None: as large as the bridge allows)
    request_timeout_s: float = 1.0  # one request's answer, before a retry
    # Protocol version 2 (selective repeat): off, a version-2 bridge gets windowed writes.
    selective_repeat: bool = True
    min_segment_size: int = 64  # the shortest segment a noisy line is given
    retry_min_s: float = 0.05  # the least a segment's answer may be late before a resend
    # Simulated OTA
    ota_block_size: int = 63  # Silicon Labs clients accept at most 63 bytes
    ota_round_trip_s: float = 0.55  # expected radio round trip per block, for the prediction
    ota_loss_rate: float = 0.0  # expected per-exchange loss, for the prediction
    ota_min_block_period_ms: int = 0  # answer faster requests with WAIT_FOR_DATA
    ota_upgrade_delay_s: int = 0  # Upgrade End Response: 0 now, N seconds, or -1 to wait
    # The tunnel: the fastest line rate the bridge offers (SET_BAUD, with fallback) for the
    # OTA, and how many Image Block Responses one exchange carries ahead (0: one frame).
    ota_fastest_line_rate: bool = True
    ota_tunnel_ahead: int = 32
