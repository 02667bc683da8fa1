"""The emulated board's reset circuit: DTR/RTS to the radio's reset and bootloader pins.

Sans-I/O. It models the two-transistor "auto-download" circuit that the Sonoff ZBDongle-E
and ESP32 devkits use (facts in `bridgelab.drivers.reset_lines`): RTS asserted alone holds
the radio in reset; DTR asserted alone holds the Gecko Bootloader's activation pin; equal
lines release both. When reset is released the radio starts, and its bootloader reads the
activation pin `PIN_READ_S` later: held, it stays in its menu; released, it starts the
application (when it has a valid one). Other changes of the lines do nothing.

`PIN_READ_S` stands for the board's reset RC delay and the bootloader's start. It is
generous on purpose: over RFC 2217 each line change is a round trip of its own (pyserial
polls for the server's answer every 50 ms), so the activation pin takes hold some 50 ms
after reset is released; real boards bridge that gap with the RC on their reset pin.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

PIN_READ_S = 0.25


class Boot(enum.Enum):
    BOOTLOADER = "bootloader"  # out of reset with the activation pin held
    APPLICATION = "application"  # out of reset with the pin released


@dataclass
class ResetCircuit:
    dtr: bool = False  # the adapter's outputs as last set (True: asserted)
    rts: bool = False
    resets: int = 0  # how often the radio was held in reset
    _read_at: float | None = None

    @property
    def in_reset(self) -> bool:
        return self.rts and not self.dtr

    @property
    def activation_pin_held(self) -> bool:
        return self.dtr and not self.rts

    def set_lines(self, dtr: bool, rts: bool, now: float) -> bool:
        """The host set both lines (one change, or both at once). True when this change
        put the radio into reset (the caller stops it)."""
        was_in_reset = self.in_reset
        self.dtr, self.rts = dtr, rts
        if self.in_reset and not was_in_reset:
            self.resets += 1
            self._read_at = None
            return True
        if was_in_reset and not self.in_reset:
            self._read_at = now + PIN_READ_S
        return False

    def next_deadline(self) -> float | None:
        return self._read_at

    def poll(self, now: float) -> Boot | None:
        """How the radio starts, once, when the bootloader reads its pin after a reset."""
        if self._read_at is None or now < self._read_at:
            return None
        self._read_at = None
        return Boot.BOOTLOADER if self.activation_pin_held else Boot.APPLICATION
