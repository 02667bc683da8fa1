"""The one retry loop: try, and on a failure worth retrying wait and try again, within a
total time, with an optional back-off of the per-try timeout.

The engine's idempotent requests, UPDATE_BEGIN, the OTA tunnel, the identity read-back
and the link's reconnect all use it, so "how long, how often, what counts as lost" is
decided in one place and every wait runs on the injected clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bridgelab.clock import Clock

T = TypeVar("T")
MIN_TRY_S = 0.05  # the shortest timeout a try is given, even at the very deadline


def _never() -> None:
    """No cancellation."""


def retry(
    attempt: Callable[[float], T],
    *,
    total_s: float,
    clock: Clock,
    retry_on: tuple[type[Exception], ...],
    first_try_s: float = 0.0,
    backoff: float = 1.0,
    pause_s: float = 0.0,
    on_retry: Callable[[Exception], None] | None = None,
    check_cancel: Callable[[], None] = _never,
    give_up: Callable[[], bool] | None = None,
) -> T:
    """`attempt(try_s)` until it returns; its result is returned.

    `try_s` is the timeout this try may use: `first_try_s`, multiplied by `backoff` after
    each failure, never more than the time left (nor less than MIN_TRY_S). An exception in
    `retry_on` is retried until `total_s` has passed (then it is raised) or `give_up()`
    says so; any other exception propagates at once. `check_cancel` runs before each try
    (it raises to cancel), `on_retry(error)` after each failure that is retried, and
    `pause_s` is slept between tries.
    """
    deadline = clock.monotonic() + total_s
    try_s = first_try_s
    while True:
        check_cancel()
        remaining = deadline - clock.monotonic()
        try:
            return attempt(min(try_s, max(remaining, MIN_TRY_S)) if try_s else remaining)
        except retry_on as error:
            if clock.monotonic() >= deadline or (give_up is not None and give_up()):
                raise
            if on_retry is not None:
                on_retry(error)
        try_s *= backoff
        if pause_s:
            clock.sleep(pause_s)
