"""Every request of an update has the same bounded retry, the first ones included: one
lost answer at any early boundary (HELLO, identity, join, update status, UPDATE_BEGIN, the
round-trip pings, the first write, the first OTA exchange) costs a retry, not the update."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.request import UpdateRequest
from tests.updates.conftest import FAST_POLICY

CASES = [("local", n) for n in range(1, 11)] + [("ota", n) for n in range(1, 8)]


@pytest.mark.parametrize(("mode", "boundary"), CASES)
def test_one_lost_answer_early_costs_a_retry(
    bridge_url: Callable[..., str], image_64_blocks: Path, mode: str, boundary: int
) -> None:
    # A paced line, so that the transfer measures the round trip (pings) first.
    url = bridge_url(f"lose-reply={boundary}", baud="921600")
    request = UpdateRequest(
        port_url=url, image_path=image_64_blocks, mode=mode, baudrate=921600, policy=FAST_POLICY
    )
    result = UpdateEngine(request).run()
    assert result.ok, result.error
    # Locally, 2-8 are identity, join, status, UPDATE_BEGIN and the three pings: each lost
    # answer is a counted retry (HELLO is retried inside the handshake; a lost write answer
    # is covered by the next write's acknowledgement).
    if mode == "local" and 2 <= boundary <= 8:
        assert result.retries >= 1
