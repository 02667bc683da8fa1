"""The simulated OTA's tunnel: blocks carried ahead, the fastest line rate, old bridges.

What must not change: the simulated radio time (the same seed gives the same duration,
batched or frame by frame), and every check of the OTA (the client's offsets, its image
check at the end, the Upgrade End status: `test_simulated_ota.py` runs them all, batched by
default). What must change: far fewer service-protocol
exchanges, and the line at the fastest rate the bridge accepts, with a fallback when it
refuses or goes quiet at the new rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.emulator.urlhandler.protocol_emu import instance
from bridgelab.updates import events as ev
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.ota_line_rate import RATE_NOTICE
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.request import UpdateRequest
from tests.bridges import emulator_url
from tests.updates.conftest import FAST_POLICY

URL = Callable[..., str]
NEWER = DEMO_IMAGES[0].path
BLOCKS = -(-NEWER.stat().st_size // 63)
FRAME_BY_FRAME = replace(FAST_POLICY, ota_tunnel_ahead=0)


def ota(url: str, policy: UpdatePolicy = FAST_POLICY, image=NEWER):  # type: ignore[no-untyped-def]
    seen: list[ev.UpdateEvent] = []
    request = UpdateRequest(url, image, mode="ota", policy=policy)
    result = UpdateEngine(request, subscribers=[seen.append]).run()
    return result, seen


def requests_seen(url: str) -> int:
    endpoint = instance(url)
    assert endpoint is not None
    return endpoint.stats.rx_frames


def rate_notices(seen: list[ev.UpdateEvent]) -> list[ev.Notice]:
    return [e for e in seen if isinstance(e, ev.Notice) and e.code == RATE_NOTICE]


@pytest.mark.parametrize("loss", ["", "han-loss-rate=0.05"])
def test_batched_blocks_keep_the_radio_time_and_cut_the_exchanges(
    bridge_url: URL, loss: str
) -> None:
    batched_url, single_url = bridge_url(loss, seed="4"), bridge_url(loss, seed="4")
    batched, _ = ota(batched_url)
    single, _ = ota(single_url, FRAME_BY_FRAME)
    assert batched.ok and single.ok, (batched.error, single.error)
    assert batched.version_after == single.version_after == 0x01030000
    # The same radio: the same seed, the same simulated seconds to the millisecond.
    assert batched.simulated_duration_s == single.simulated_duration_s
    assert single.simulated_duration_s is not None
    assert single.simulated_duration_s > 0.25 * BLOCKS
    assert requests_seen(single_url) > BLOCKS
    assert requests_seen(batched_url) * 10 < BLOCKS


def test_an_old_bridge_gets_the_tunnel_frame_by_frame() -> None:
    with emulator_url("emu", "protocol-v1", seed=2) as url:
        result, _ = ota(url)
        assert result.ok, result.error
        assert result.version_after == 0x01030000


def test_a_legacy_bridge_is_still_told_apart() -> None:
    with emulator_url("emu", "legacy") as url:
        result, _ = ota(url)
    assert result.result == "not-ota-capable"


def _line_baud_during_transfer(url: str) -> Callable[[ev.UpdateEvent], None]:
    seen_bauds: list[int | None] = []

    def watch(event: ev.UpdateEvent) -> None:
        if isinstance(event, ev.Progress):
            endpoint = instance(url)
            assert endpoint is not None
            seen_bauds.append(endpoint.link.baud)

    watch.bauds = seen_bauds  # type: ignore[attr-defined]
    return watch


@pytest.mark.parametrize(
    ("faults", "during", "words"),
    [
        ("", 921600, "OTA tunnel at 921600 baud."),
        ("refuse-baud", 115200, "the bridge refused 921600 baud"),
        ("deaf-after-baud", 115200, "921600 baud did not answer, so the line fell back"),
    ],
)
def test_the_tunnel_runs_at_the_fastest_rate_the_bridge_takes(
    bridge_url: URL, faults: str, during: int, words: str
) -> None:
    url = bridge_url(faults, baud="115200", latency_ms="1")
    watch = _line_baud_during_transfer(url)
    seen: list[ev.UpdateEvent] = []
    request = UpdateRequest(url, NEWER, mode="ota", policy=FAST_POLICY)
    result = UpdateEngine(request, subscribers=[seen.append, watch]).run()
    assert result.ok, result.error
    notices = rate_notices(seen)
    assert len(notices) == 1 and words in notices[0].message
    assert notices[0].level == ("info" if not faults else "warning")
    bauds = watch.bauds  # type: ignore[attr-defined]
    assert bauds and set(bauds) == {during}
    endpoint = instance(url)
    assert endpoint is not None and endpoint.link.baud == 115200  # back for the restart


@pytest.mark.parametrize("faults", ["", "refuse-baud", "deaf-after-baud"])
def test_over_a_real_pty_the_switch_or_its_fallback_completes(faults: str) -> None:
    with emulator_url("pty", faults=faults, baud=115200, latency_ms=1.0) as url:
        result, seen = ota(url, replace(FAST_POLICY, healthy_s=0.0))
    assert result.ok, result.error
    (notice,) = rate_notices(seen)
    assert ("921600 baud." in notice.message) == (not faults)


def test_the_rate_switch_can_be_turned_off(bridge_url: URL) -> None:
    url = bridge_url(baud="115200", latency_ms="1")
    result, seen = ota(url, replace(FAST_POLICY, ota_fastest_line_rate=False))
    assert result.ok, result.error
    (notice,) = rate_notices(seen)
    assert notice.message == "OTA tunnel at 115200 baud."


def test_the_last_progress_report_is_the_whole_image_on_the_radio_clock(bridge_url: URL) -> None:
    # Reports are throttled in wall time and a batched tunnel moves this image in a
    # fraction of the interval: the end of the download is still reported, in radio time.
    result, seen = ota(bridge_url())
    assert result.ok, result.error
    progress = [e for e in seen if isinstance(e, ev.Progress)]
    last = progress[-1]
    assert (last.done, last.total) == (NEWER.stat().st_size, NEWER.stat().st_size)
    assert last.simulated_s is not None and last.simulated_s > 0.25 * BLOCKS
