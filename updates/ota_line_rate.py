"""The line rate of a simulated OTA's tunnel: the fastest the bridge offers, then back.

Each tunnel exchange waits on the line (stop-and-wait), so the OTA runs at the fastest
rate the handshake (HELLO) lists above the one the session opened with. SET_BAUD is the
safe switch: the bridge answers at the old rate, then moves, and falls back by itself
unless a frame reaches it at the new rate within a second; `BridgeClient.set_baud` pings
at the new rate and falls back with it. A refusal or a silent line leaves the tunnel at
the rate it had (a notice says so, nothing is lost). After the transfer the session asks
for the old rate again, so the bridge restarts into its new image on the rate the
session (and a reconnect) uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bridgelab.drivers.errors import DriverError, LineRateFixed
from bridgelab.drivers.protocol import DeviceStatusError

if TYPE_CHECKING:
    from bridgelab.drivers.client import BridgeClient
    from bridgelab.updates.session import SessionContext

RATE_NOTICE = "ota-line-rate"  # the notice code that names the rate the tunnel ran at


@dataclass
class LineRate:
    """The rate the session opened with and the one the tunnel runs at (None: unknown)."""

    opened_at: int | None
    running_at: int | None


def _baudrate(client: BridgeClient) -> int | None:
    rate = getattr(client.port, "baudrate", None)
    return rate if isinstance(rate, int) else None


def switch_to_fastest(context: SessionContext) -> LineRate:
    """Move the line to the fastest rate the bridge offers, if any is faster; never raises
    for a refused or failed switch (the tunnel then stays at the rate it had)."""
    client = context.link.current
    opened = _baudrate(client)
    rate = LineRate(opened, opened)
    offered = client.session.baud_rates if client.session is not None else ()
    faster = [baud for baud in offered if opened is not None and baud > opened]
    if not context.policy.ota_fastest_line_rate or not faster:
        _announce(context, rate, "")
        return rate
    target = max(faster)
    try:
        switched = client.set_baud(target)
    except LineRateFixed:
        # Raw TCP: nothing was sent, and the link is as it should be (not a warning).
        _announce(context, rate, "", kept="; a raw TCP link cannot set the far end's rate")
        return rate
    except DeviceStatusError as error:
        _announce(context, rate, f"; the bridge refused {target} baud ({error.message})")
        return rate
    except DriverError as error:
        # Not even the old rate answered after the fallback: the tunnel's own retries and
        # reconnect take it from here.
        _announce(context, rate, f"; switching to {target} baud failed ({error.message})")
        return rate
    if switched:
        rate.running_at = target
        _announce(context, rate, "")
    else:
        _announce(context, rate, f"; {target} baud did not answer, so the line fell back")
    return rate


def restore(context: SessionContext, rate: LineRate) -> None:
    """Ask for the rate the session opened with again (if the tunnel moved it)."""
    if rate.opened_at is None or rate.running_at == rate.opened_at:
        return
    if not context.link.healthy():
        return  # a reconnect opens at the session's own rate anyway
    try:
        if context.link.current.set_baud(rate.opened_at):
            rate.running_at = rate.opened_at
    except DriverError as error:
        context.notice(
            "warning",
            "ota-line-rate-restore",
            f"The line stayed at {rate.running_at} baud after the OTA ({error.message}).",
        )


def _announce(context: SessionContext, rate: LineRate, why: str, kept: str = "") -> None:
    """`why`: what went wrong (a warning); `kept`: why no switch was tried (information)."""
    where = f"{rate.running_at} baud" if rate.running_at is not None else "an unpaced link"
    level = "warning" if why else "info"
    context.notice(level, RATE_NOTICE, f"OTA tunnel at {where}{why}{kept}.")
