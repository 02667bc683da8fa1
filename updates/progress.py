"""Rate, ETA and line efficiency from a stream of byte counts."""

from __future__ import annotations

import time
from collections import deque

WINDOW_S = 2.0  # rate over the last two seconds: steady, yet quick to show a stall
EMIT_EVERY_S = 0.1


class ProgressMeter:
    def __init__(self, total: int, line_rate_bps: float | None, start_at: int = 0) -> None:
        self.total = total
        self.line_rate_bps = line_rate_bps
        self.started = time.monotonic()
        self._samples: deque[tuple[float, int]] = deque([(self.started, start_at)])
        self._last_emit = 0.0
        self.done = start_at

    def update(self, done: int) -> bool:
        """Record progress; True when it is time to tell subscribers (throttled)."""
        now = time.monotonic()
        self.done = done
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] > WINDOW_S:
            self._samples.popleft()
        if done >= self.total or now - self._last_emit >= EMIT_EVERY_S:
            self._last_emit = now
            return True
        return False

    @property
    def rate_bps(self) -> float:
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    @property
    def eta_s(self) -> float | None:
        rate = self.rate_bps
        return (self.total - self.done) / rate if rate > 0 else None

    @property
    def efficiency(self) -> float | None:
        if not self.line_rate_bps:
            return None
        return self.rate_bps / self.line_rate_bps
