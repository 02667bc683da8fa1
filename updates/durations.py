"""Durations in sentences, for the engine's messages, the verdict and the GUI.

Its own module so that a local update's result can be worded without importing the
simulated OTA (`updates.ota_server`).
"""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """A duration for a sentence: "0.8 s", "42 s", "7 min 17 s", "1 h 05 min"."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
