"""Reliability against the emulated bridge, fixed seeds: no bricks, no hangs, no lies.

Every run ends with the old image running or the new one verified and running; every
session ends in an explicit final state with a failure class; the next attempt resumes
from the offset the bridge reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bridgelab.data.store import TriageStore
from bridgelab.drivers.client import BridgeClient
from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.updates import events as ev
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.request import UpdateRequest
from tests.updates.conftest import BLOCK, FAST_POLICY

URL = Callable[..., str]
NEWER = DEMO_IMAGES[0].path
ONE_SHOT = replace(FAST_POLICY, max_retries=0)  # the first recovery ends the attempt


def update(
    url: str, image: Path, policy=FAST_POLICY, store: TriageStore | None = None
) -> ev.UpdateResult:  # type: ignore[no-untyped-def]
    return UpdateEngine(UpdateRequest(url, image, policy=policy), store=store).run()


def running_version(url: str) -> int:
    with BridgeClient.connect(url) as client:
        return client.identity().firmware_version


@pytest.mark.parametrize("block", range(64))
def test_power_loss_at_every_block_boundary(
    bridge_url: URL, image_64_blocks: Path, block: int
) -> None:
    url = bridge_url(f"power-loss-at={block * BLOCK}")
    policy = replace(ONE_SHOT, block_size=BLOCK)
    first = update(url, image_64_blocks, policy)
    assert first.result == "stalled" and first.failure_stage == "transfer"
    assert running_version(url) == 0x01020000  # not bricked: the old image runs
    second = update(url, image_64_blocks, replace(FAST_POLICY, block_size=BLOCK))
    assert second.ok, second.error
    assert second.resumed_from == block * BLOCK  # the bridge said where to go on from
    assert running_version(url) == 0x01030000


@pytest.mark.parametrize("fault", ["power-loss-at=20000", "reboot-at=20000"])
def test_a_reboot_mid_transfer_resumes_in_the_same_session(bridge_url: URL, fault: str) -> None:
    result = update(bridge_url(fault), NEWER)
    assert result.ok, result.error
    assert result.retries >= 1 and result.resumed_from == 0


@pytest.mark.parametrize("seed", range(6))
def test_corrupted_frames_are_never_written(bridge_url: URL, seed: int) -> None:
    # Single-bit flips on both directions; the bridge's own hash check at the end must
    # agree with the file's (the engine compares both hashes), so any undetected
    # corruption would fail the update as hash-mismatch.
    result = update(bridge_url("corrupt-rate=0.0002", seed=str(seed)), NEWER)
    assert result.ok, result.error
    assert result.retries > 0


@pytest.mark.parametrize(
    "faults",
    [
        "drop-rate=0.1",
        "dup-rate=0.2",
        "reorder-rate=0.2",
        "drop-rate=0.05,dup-rate=0.05,reorder-rate=0.05",
    ],
)
@pytest.mark.parametrize("seed", range(3))
def test_lost_duplicated_and_reordered_frames(bridge_url: URL, faults: str, seed: int) -> None:
    result = update(bridge_url(faults, seed=str(seed)), NEWER)
    assert result.ok, (faults, seed, result.error)


@pytest.mark.parametrize("another_port", [False, True])
def test_a_pulled_cable_that_comes_back(bridge_url: URL, another_port: bool) -> None:
    faults = "unplug-at=20000,replug-s=0.3" + (",replug-port=1" if another_port else "")
    url = bridge_url(faults)
    result = update(url, NEWER)
    assert result.ok, result.error
    assert result.retries >= 1
    if another_port:
        # The bridge is gone from its first port and was found, by EUI-64, on the next.
        assert running_version(url + "&port=1") == 0x01030000


def test_a_stalled_bridge_fails_within_the_stall_timeout(
    bridge_url: URL, store: TriageStore
) -> None:
    policy = replace(FAST_POLICY, timeouts=replace(FAST_POLICY.timeouts, stall_s=1.0))
    result = update(bridge_url("stall-at=20000"), NEWER, policy, store)
    assert (result.result, result.failure_stage) == ("stalled", "transfer")
    assert result.duration_s < 5
    record = store.get_session(result.session_id or "")
    assert record.final_state == "failed" and record.failure_class == "stalled"


def test_cancel_then_resume(bridge_url: URL, image_64_blocks: Path, store: TriageStore) -> None:
    url = bridge_url(baud="460800")
    engine = UpdateEngine(
        UpdateRequest(url, image_64_blocks, policy=replace(FAST_POLICY, block_size=BLOCK)),
        store=store,
    )

    def cancel_halfway(event: ev.UpdateEvent) -> None:
        if isinstance(event, ev.Progress) and event.fraction > 0.3:
            engine.cancel()

    engine.subscribers.append(cancel_halfway)
    first = engine.run()
    assert first.result == "cancelled" and first.failure_stage == "transfer"
    assert store.get_session(first.session_id or "").final_state == "cancelled"
    assert running_version(url) == 0x01020000
    second = update(url, image_64_blocks, replace(FAST_POLICY, block_size=BLOCK))
    assert second.ok and (second.resumed_from or 0) >= 0.3 * 64 * BLOCK


def test_every_failure_is_an_explicit_classified_record(
    bridge_url: URL, store: TriageStore
) -> None:
    policy = replace(FAST_POLICY, timeouts=replace(FAST_POLICY.timeouts, stall_s=1.0))
    for faults in ["stall-at=1000", "refuse-activate=1", "version-unchanged=1", "tcso=0"]:
        update(bridge_url(faults), NEWER, policy, store)
    update("nope://x", NEWER, policy, store)
    sessions = store.query_sessions(limit=10)
    assert len(sessions) == 5
    for session in sessions:
        assert session.final_state in ("success", "failed")
        if session.final_state == "failed":
            assert session.failure_class and session.failure_stage
