"""Clocks the update engine and the emulated bridge are given, instead of calling `time`.

`Clock` is what they need: `monotonic()` and `sleep(seconds)`. `SYSTEM_CLOCK` is real
time. `SkippingClock` is real time plus every sleep skipped: a wait of N seconds
returns at once and the clock jumps N seconds ahead, so that a test whose engine and
emulated bridge share one clock sees a 2-second health check, a boot and a rejoin happen
in their order, without spending the seconds (real waits, such as a request timeout on a
socket, still pass in real time and move the clock with them). `bridgelab.virtual_clock`
is the third kind: simulated time only, for models that never wait on a thread.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


class SkippingClock:
    """Real time plus the sum of all sleeps, which return at once (thread-safe)."""

    def __init__(self) -> None:
        self._skipped_s = 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return time.monotonic() + self._skipped_s

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._skipped_s += seconds
        time.sleep(0)  # let the other threads (the emulated bridge) run

    @property
    def skipped_s(self) -> float:
        return self._skipped_s
