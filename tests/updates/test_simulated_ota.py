"""Simulated OTA: the workstation as OTA server, the bridge's own OTA client, virtual time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bridgelab.drivers.client import BridgeClient
from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.emulator.profiles import DEMO_MANUFACTURER_CODE
from bridgelab.firmware.keys import generate_key_files, load_private_key
from bridgelab.firmware.signing import sign_image
from bridgelab.updates import events as ev
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.request import UpdateRequest
from tests.updates.conftest import FAST_POLICY

URL = Callable[..., str]
NEWER = DEMO_IMAGES[0].path
BLOCKS = -(-NEWER.stat().st_size // 63)


def ota(
    url: str, image: Path = NEWER, policy=FAST_POLICY, **kw: object
) -> tuple[ev.UpdateResult, list[ev.UpdateEvent]]:  # type: ignore[no-untyped-def]
    seen: list[ev.UpdateEvent] = []
    request = UpdateRequest(url, image, mode="ota", policy=policy, **kw)  # type: ignore[arg-type]
    return UpdateEngine(request, subscribers=[seen.append]).run(), seen


def test_simulated_ota_predicts_and_reports_the_real_duration(bridge_url: URL) -> None:
    url = bridge_url()
    result, seen = ota(url)
    assert result.ok, result.error
    assert result.version_after == 0x01030000 and result.rejoined
    assert result.simulated_duration_s and result.predicted_ota_duration_s
    # 783 blocks at 0.25-0.85 s round trips: minutes of radio time, in about a second.
    assert 0.25 * BLOCKS < result.simulated_duration_s < 0.85 * BLOCKS + 60
    error = abs(result.predicted_ota_duration_s - result.simulated_duration_s)
    assert error / result.simulated_duration_s < 0.05
    assert result.duration_s * 50 < result.simulated_duration_s
    progress = [e for e in seen if isinstance(e, ev.Progress)]
    assert progress and all(e.simulated_s is not None and e.predicted_s for e in progress)
    assert result.to_dict()["simulated_duration_s"] == result.simulated_duration_s


@pytest.mark.parametrize(
    ("profile_faults", "profile", "cls"),
    [
        ("", "legacy", "not-ota-capable"),
        ("", "orphaned", "orphaned"),
        ("", "not-in-log", "not-joined"),
        ("tcso=0", None, "orphaned"),
    ],
)
def test_bridges_that_cannot_take_ota_are_refused_with_the_next_step(
    bridge_url: URL, profile_faults: str, profile: str | None, cls: str
) -> None:
    url = f"emu://{profile}" if profile else bridge_url(profile_faults)
    result, seen = ota(url)
    assert (result.result, result.failure_stage) == (cls, "validate")
    assert not any(isinstance(e, ev.StageStarted) and e.stage.value == "transfer" for e in seen)
    # What happened, then (once) what to do: update locally, or get it joined.
    assert result.error and result.error["action"]
    action = str(result.error["action"])
    assert "locally" in action or "join" in action.lower()
    assert action not in str(result.error["message"])


def test_wait_for_data_enforces_a_minimum_block_period(bridge_url: URL) -> None:
    policy = replace(FAST_POLICY, ota_min_block_period_ms=2000)
    result, _ = ota(bridge_url(), policy=policy)
    assert result.ok, result.error
    assert result.simulated_duration_s is not None
    assert result.simulated_duration_s >= 2.0 * (BLOCKS - 1)


def test_a_client_that_gives_up_is_a_classified_failure(bridge_url: URL) -> None:
    result, _ = ota(bridge_url("han-loss-rate=0.95"))
    assert not result.ok
    assert result.result in ("device-refused", "stalled") and result.failure_stage in (
        "transfer",
        "verify",
    )
    assert result.error and result.error["code"].startswith("ota-")


def test_cancel_sends_abort_and_the_old_image_keeps_running(bridge_url: URL) -> None:
    url = bridge_url()
    engine = UpdateEngine(UpdateRequest(url, NEWER, mode="ota", policy=FAST_POLICY))

    def cancel(event: ev.UpdateEvent) -> None:
        # The first progress report, mid-download: reports are throttled in wall time,
        # and a batched tunnel moves a small image faster than that.
        if isinstance(event, ev.Progress) and 0 < event.fraction < 1:
            engine.cancel()

    engine.subscribers.append(cancel)
    result = engine.run()
    assert result.result == "cancelled"
    with BridgeClient.connect(url) as client:
        assert client.identity().firmware_version == 0x01020000


@pytest.mark.parametrize("delay", [30, -1])
def test_upgrade_time_count_down_and_wait(bridge_url: URL, delay: int) -> None:
    result, _ = ota(bridge_url(), policy=replace(FAST_POLICY, ota_upgrade_delay_s=delay))
    assert result.ok, result.error
    assert result.version_after == 0x01030000


def test_the_bridges_own_check_refuses_an_image_it_does_not_trust(
    bridge_url: URL, tmp_path: Path
) -> None:
    # The workstation trusts a key the bridge does not hold: the bridge's OTA client must
    # refuse the image after downloading it (INVALID_IMAGE), and keep its old firmware.
    keys = generate_key_files(DEMO_MANUFACTURER_CODE, tmp_path / "keys", label="lab")
    image = tmp_path / "lab-signed.ota"
    image.write_bytes(sign_image(NEWER.read_bytes(), load_private_key(keys.private_key_path)))
    url = bridge_url()
    result, _ = ota(url, image, trust_dir=tmp_path / "keys")
    assert (result.result, result.failure_stage) == ("hash-mismatch", "verify")
    assert result.error and result.error["code"] == "ota-invalid-image"
    with BridgeClient.connect(url) as client:
        assert client.identity().firmware_version == 0x01020000
