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
from urllib.parse import parse_qsl, urlsplit


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


_SHARED: dict[str, SkippingClock] = {}
_SHARED_LOCK = threading.Lock()


def shared_skipping_clock(name: str) -> SkippingClock:
    """The process's skipping clock called `name` (made on first use): an engine and an
    in-process emulated bridge (`emu://...?clock=NAME`) given the same name share it."""
    with _SHARED_LOCK:
        clock = _SHARED.get(name)
        if clock is None:
            clock = _SHARED[name] = SkippingClock()
        return clock


def clock_for_url(url: str) -> Clock:
    """The clock a session with the bridge at `url` must run on: the shared skipping
    clock an in-process emulated bridge names (`emu://...?clock=NAME`), else real time.
    (Engine and bridge must agree: a skipped wait is only safe if the bridge skips too.)"""
    parts = urlsplit(url)
    if parts.scheme.lower() == "emu":
        for key, value in parse_qsl(parts.query):
            if key.strip().lower() == "clock" and value:
                return shared_skipping_clock(value)
    return SYSTEM_CLOCK
