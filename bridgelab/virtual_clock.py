"""A simulated clock: float seconds that move only when a model advances them.

The OTA client model runs a 1-2 hour over-the-air download in a fraction of a second of
wall time by advancing one of these instead of sleeping. Whoever shares the clock (an
emulated device, a test, the GUI) reads `now_s` to learn how long the real thing would
have taken.
"""

from __future__ import annotations

import math


class VirtualClock:
    """Monotonic simulated time in seconds; never reads the wall clock."""

    def __init__(self, start_s: float = 0.0) -> None:
        if not math.isfinite(start_s):
            raise ValueError(f"a clock starts at a finite time, not {start_s!r}")
        self._now_s = float(start_s)

    @property
    def now_s(self) -> float:
        return self._now_s

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds` (>= 0) and return the new time; raises ValueError."""
        if not seconds >= 0 or not math.isfinite(seconds):
            raise ValueError(f"simulated time only moves forward, not by {seconds!r} s")
        self._now_s += seconds
        return self._now_s

    def advance_to(self, time_s: float) -> float:
        """Move forward to `time_s` if it is later than now; never moves back."""
        if time_s > self._now_s:
            self.advance(time_s - self._now_s)
        return self._now_s

    def __repr__(self) -> str:
        return f"VirtualClock(now_s={self._now_s:.3f})"
