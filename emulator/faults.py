"""Fault injection for the emulated bridge: `--faults name=value,...` or the emu:// query.

Every fault is named and typed; an unknown name or a bad value is refused with the list of
valid ones, so a lab script with a typo fails loudly instead of testing nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from bridgelab.errors import UsageError


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError("a rate is between 0 and 1")
    return value


def _offset(text: str) -> int:
    value = int(text, 0)
    if value < 0:
        raise ValueError("an offset is 0 or more")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError("seconds are a finite number, 0 or more")
    return value


def _flag(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("", "1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("a flag is 1/0, true/false, yes/no or on/off")


@dataclass
class Faults:
    """Faults the emulated bridge injects. Offsets are byte offsets of the image transfer."""

    corrupt_rate: float = 0.0  # per byte, both directions: one bit flipped
    drop_rate: float = 0.0  # per frame, both directions
    drop_in_rate: float = 0.0  # per frame, host to bridge only (answers all arrive)
    stall_at: int | None = None  # stop answering once the transfer reaches this offset
    reboot_at: int | None = None  # reboot (watchdog) once the transfer reaches this offset
    power_loss_at: int | None = None  # lose power at this offset: the block in flight is lost
    refuse_activate: bool = False  # answer UPDATE_ACTIVATE with ACTIVATION_FAILED
    version_unchanged: bool = False  # activation reboots but the old image keeps running
    leave_han_at: float | None = None  # seconds after start: leave the HAN
    tcso: float | None = None  # seconds after start: trust-centre swap-out (orphaned)
    han_loss_rate: float = 0.0  # per OTA block exchange over the simulated radio
    dup_rate: float = 0.0  # per frame, both directions: delivered twice
    reorder_rate: float = 0.0  # per frame, both directions: swapped with the next one
    unplug_at: int | None = None  # the cable is pulled once the transfer reaches this offset
    replug_s: float = 0.5  # how long the cable stays out
    replug_port: bool = False  # it comes back as another port (emu://: the next `port`)
    # Message boundaries, counted in requests the bridge has handled since power-on of
    # the emulator (1 = the first request): for crash tests at every boundary.
    power_cycle_after: int | None = None  # power lost right after answering request N
    lose_reply: int | None = None  # the answer to request N never reaches the host
    dup_reply: int | None = None  # the answer to request N reaches the host twice
    # Line-rate switches (SET_BAUD): refused outright, or accepted and then deaf at the new
    # rate, so the bridge falls back to the old one after its probation second.
    refuse_baud: bool = False
    deaf_after_baud: bool = False

    def describe(self) -> str:
        active = [
            f"{f.name.replace('_', '-')}={getattr(self, f.name)}"
            for f in fields(self)
            if getattr(self, f.name) not in (None, False, 0.0) and f.name != "replug_s"
        ]
        return ",".join(active) or "none"


_PARSERS: dict[str, Callable[[str], Any]] = {
    "corrupt-rate": _rate,
    "drop-rate": _rate,
    "drop-in-rate": _rate,
    "stall-at": _offset,
    "reboot-at": _offset,
    "power-loss-at": _offset,
    "refuse-activate": _flag,
    "version-unchanged": _flag,
    "leave-han-at": _seconds,
    "tcso": _seconds,
    "han-loss-rate": _rate,
    "dup-rate": _rate,
    "reorder-rate": _rate,
    "unplug-at": _offset,
    "replug-s": _seconds,
    "replug-port": _flag,
    "power-cycle-after": _offset,
    "lose-reply": _offset,
    "dup-reply": _offset,
    "refuse-baud": _flag,
    "deaf-after-baud": _flag,
}
VALID_FAULTS = tuple(_PARSERS)


class FaultSpecError(UsageError):
    code = "bad-fault-spec"
    default_action = "Valid faults: " + ", ".join(VALID_FAULTS) + "."


def parse_faults(spec: str | None, base: Faults | None = None) -> Faults:
    """Parse `name=value,...` (a bare name is a flag set to true) onto `base`."""
    faults = base if base is not None else Faults()
    if not spec:
        return faults
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, value = item.partition("=")
        name = name.strip().lower()
        apply_fault(faults, name, value.strip())
    return faults


def apply_fault(faults: Faults, name: str, value: str) -> None:
    parser = _PARSERS.get(name)
    if parser is None:
        raise FaultSpecError(f"Unknown fault {name!r}.")
    try:
        parsed = parser(value)
    except ValueError as error:
        raise FaultSpecError(f"Bad value {value!r} for fault {name!r}: {error}.") from None
    setattr(faults, name.replace("-", "_"), parsed)
