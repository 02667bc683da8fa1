"""argparse types for every duration, count and identifier option of the CLI.

One helper for all of them, so that no option can take `inf`, `nan` or a negative value
that would hang a wait or wrap a counter: `--healthy-s inf` is refused with the range,
never run. Counts and identifiers accept decimal or 0x hex, as the CLI promises.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from bridgelab.cli.output import parse_int

U16_MAX = 0xFFFF
U32_MAX = 0xFFFF_FFFF


def seconds(low: float = 0.0, high: float = 86_400.0) -> Callable[[str], float]:
    """A duration in seconds (or any unit the option names): finite, `low` to `high`."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip().replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a number: give {low:g} to {high:g}"
            ) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a finite number: give {low:g} to {high:g}"
            )
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: give {low:g} to {high:g}")
        return value

    return parse


def count(low: int = 0, high: int = 2**31 - 1) -> Callable[[str], int]:
    """A whole number (decimal or 0x hex) from `low` to `high`."""

    def parse(text: str) -> int:
        cleaned = text.strip()
        if cleaned.lower().lstrip("+-") in ("inf", "infinity", "nan"):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a finite number: give {low} to {high}"
            )
        value = parse_int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: give {low} to {high}")
        return value

    return parse


# The usual ones, named for what they hold.
baud_rate = count(1, 16_000_000)
u16_id = count(0, U16_MAX)
u32_id = count(0, U32_MAX)
