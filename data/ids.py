"""UUIDv7 identifiers (RFC 9562): time-ordered, so ids sort by creation time.

Sessions and notes are keyed by UUIDv7 so that logs from many laptops merge without
clashes and `ORDER BY id` is roughly `ORDER BY started_at`. Python 3.11 has no
`uuid.uuid7`, hence this small generator.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_COUNTER_BITS = 12
_RAND_B_BITS = 62


def uuid7_at(unix_ms: int, counter: int, rand_b: int) -> str:
    """The UUIDv7 text for a millisecond time, a 12-bit counter and 62 random bits."""
    value = (
        (unix_ms & ((1 << 48) - 1)) << 80
        | 0x7 << 76
        | (counter & ((1 << _COUNTER_BITS) - 1)) << 64
        | 0b10 << 62
        | (rand_b & ((1 << _RAND_B_BITS) - 1))
    )
    return str(uuid.UUID(int=value))


def uuid7() -> str:
    """A new UUIDv7 as canonical lower-case text.

    Ids from one process are strictly increasing: within one millisecond the 12-bit
    `rand_a` field counts up (RFC 9562 method 1), and on overflow the timestamp is
    advanced by one millisecond rather than repeating.
    """
    global _last_ms, _counter
    now_ms = time.time_ns() // 1_000_000
    with _lock:
        if now_ms > _last_ms:
            _last_ms = now_ms
            # Start low in the counter space so bursts rarely overflow it.
            _counter = int.from_bytes(os.urandom(2), "big") >> 6
        else:
            _counter += 1
            if _counter >> _COUNTER_BITS:
                _last_ms += 1
                _counter = 0
        ms, counter = _last_ms, _counter
    return uuid7_at(ms, counter, int.from_bytes(os.urandom(8), "big"))


def uuid7_time_ms(text: str) -> int:
    """The Unix time in milliseconds encoded in a UUIDv7."""
    return uuid.UUID(text).int >> 80
