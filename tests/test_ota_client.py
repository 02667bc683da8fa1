"""The OTA client model driven through whole flows by the minimal image server.

Time checks use a fixed round trip (0.5 s) so the simulated seconds follow exactly from
what happened: exchanges x round trip + timeouts + waits + verify + count-down.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from bridgelab.virtual_clock import VirtualClock
from bridgelab.zigbee.ota_client import (
    DownloadState,
    OtaClient,
    OtaClientConfig,
    OtaClientError,
    OtaClientStateError,
    OtaDeviceIdentity,
    OtaOutcome,
)
from bridgelab.zigbee.ota_timing import OtaModelSettingError
from bridgelab.zigbee.zcl_ota import (
    ImageBlockAbort,
    ImageBlockRequest,
    ImageBlockResponse,
    ImageBlockWaitForData,
    ImageNotify,
    ImageUpgradeStatus,
    OtaCommand,
    QueryNextImageRequest,
    UpgradeEndRequest,
    UpgradeEndResponse,
    ZclStatus,
    decode_frame,
    encode_frame,
)
from tests.ota_image_server import (
    ImageOtaServer,
    Intercept,
    run_exchange,
    simulate_upgrade,
)

MFR, TYPE, OLD, NEW = 0x117C, 0x2101, 0x12214572, 0x12214573
EUI = 0x00124B0001020304
IMAGE = random.Random(7).randbytes(4_000)
FIXED_RTT = 0.5
VERIFY_S = 5.0
TIMEOUT_S = 3.0
BLOCKS = math.ceil(len(IMAGE) / 63)  # 64 blocks of up to 63 bytes


class Bench:
    """One client, one server and what the client activated."""

    def __init__(
        self,
        *,
        intercept: Intercept | None = None,
        verify: Callable[[bytes], bool] | None = None,
        clock: VirtualClock | None = None,
        server_args: dict[str, Any] | None = None,
        **config: Any,
    ) -> None:
        settings: dict[str, Any] = {
            "round_trip_s": (FIXED_RTT, FIXED_RTT),
            "verify_time_s": VERIFY_S,
            "request_timeout_s": TIMEOUT_S,
        }
        settings.update(config)
        self.activated: list[bytes] = []
        self.verified: list[bytes] = []

        def check(image: bytes) -> bool:
            self.verified.append(image)
            return verify(image) if verify is not None else image == IMAGE

        self.client = OtaClient(
            OtaDeviceIdentity(MFR, TYPE, OLD, EUI, hardware_version=0x0102),
            verify=check,
            activate=self.activated.append,
            config=OtaClientConfig(**settings),
            clock=clock,
        )
        serving: dict[str, Any] = {
            "manufacturer_code": MFR,
            "image_type": TYPE,
            "file_version": NEW,
        }
        serving.update(server_args or {})
        self.server = ImageOtaServer(IMAGE, intercept=intercept, **serving)

    def run(self, frames: list[bytes] | None = None) -> None:
        run_exchange(self.client, self.server, self.client.start() if frames is None else frames)

    def requests(self, kind: type[OtaCommand]) -> list[Any]:
        return [r for r in self.server.requests if isinstance(r, kind)]

    def block_offsets(self) -> list[int]:
        return [r.file_offset for r in self.requests(ImageBlockRequest)]


def once_at(offset: int, answers: list[OtaCommand]) -> Intercept:
    """An intercept that replaces the answer to the first block request at `offset`."""
    used: list[bool] = []

    def intercept(request: OtaCommand) -> list[OtaCommand] | None:
        if isinstance(request, ImageBlockRequest) and request.file_offset == offset and not used:
            used.append(True)
            return answers
        return None

    return intercept


def assert_upgraded(bench: Bench) -> None:
    client = bench.client
    assert client.outcome is OtaOutcome.UPGRADED
    assert bench.activated == [IMAGE]
    assert client.current_file_version == NEW
    assert client.status is ImageUpgradeStatus.NORMAL
    assert client.export_state() is None


def test_whole_flow_without_loss() -> None:
    bench = Bench()
    bench.run()
    assert_upgraded(bench)
    query = bench.server.requests[0]
    assert query == QueryNextImageRequest(MFR, TYPE, OLD, 0x0102)
    assert bench.block_offsets() == list(range(0, len(IMAGE), 63))
    assert bench.server.requests[-1] == UpgradeEndRequest(ZclStatus.SUCCESS, MFR, TYPE, NEW)
    stats = bench.client.stats
    assert (stats.blocks, stats.bytes_received, stats.retries) == (BLOCKS, len(IMAGE), 0)
    # query + blocks + upgrade end, each one round trip, plus the verify time
    assert stats.simulated_s == pytest.approx((BLOCKS + 2) * FIXED_RTT + VERIFY_S)
    assert bench.client.clock.now_s == pytest.approx(stats.simulated_s)


def test_optional_block_request_fields_and_server_block_cap() -> None:
    bench = Bench(request_eui64=True, send_block_period=True, server_args={"block_size": 40})
    bench.run()
    assert_upgraded(bench)
    first = bench.requests(ImageBlockRequest)[0]
    assert (first.request_node_eui64, first.minimum_block_period, first.max_data_size) == (
        EUI,
        0,
        63,
    )
    assert bench.client.stats.blocks == math.ceil(len(IMAGE) / 40)


def test_image_notify_starts_a_query() -> None:
    bench = Bench()
    frames = bench.client.handle_server_frame(encode_frame(ImageNotify(100, MFR, TYPE, NEW), 9))
    assert [type(decode_frame(f)[1]) for f in frames] == [QueryNextImageRequest]
    bench.run(frames)
    assert_upgraded(bench)


@pytest.mark.parametrize(
    "notify",
    [
        ImageNotify(100, 0x1234),  # another manufacturer
        ImageNotify(100, MFR, 0x0001),  # another image type
        ImageNotify(100, MFR, TYPE, OLD),  # the version it already runs
    ],
)
def test_image_notify_not_for_this_device_is_ignored(notify: ImageNotify) -> None:
    bench = Bench()
    assert bench.client.handle_server_frame(encode_frame(notify, 1)) == []
    assert not bench.client.awaiting_response


def test_query_jitter_spreads_answers() -> None:
    answered = sum(
        bool(Bench(seed=seed).client.handle_server_frame(encode_frame(ImageNotify(25), 1)))
        for seed in range(400)
    )
    assert 60 <= answered <= 140  # about a quarter answer


def test_image_notify_mid_download_changes_nothing() -> None:
    bench = Bench()
    frames = bench.client.start()
    frames = bench.client.handle_server_frame(bench.server.handle(frames[0])[0])
    assert bench.client.status is ImageUpgradeStatus.DOWNLOAD_IN_PROGRESS
    assert bench.client.handle_server_frame(encode_frame(ImageNotify(100), 2)) == []
    bench.run(frames)
    assert_upgraded(bench)


def test_no_image_available() -> None:
    bench = Bench(server_args={"file_version": OLD})
    bench.run()
    assert bench.client.outcome is OtaOutcome.NO_IMAGE
    assert bench.client.status is ImageUpgradeStatus.NORMAL
    assert bench.requests(ImageBlockRequest) == [] and bench.activated == []


def test_lossy_radio_resends_and_server_sees_duplicates() -> None:
    bench = Bench(request_loss_rate=0.2, response_loss_rate=0.2, seed=3)
    bench.run()
    assert_upgraded(bench)
    stats = bench.client.stats
    assert stats.requests_lost > 0 and stats.responses_lost > 0
    # A lost request never reached the server; every other transmission did.
    assert len(bench.server.requests) == stats.requests_sent - stats.requests_lost
    offsets = bench.block_offsets()
    assert len(offsets) - len(set(offsets)) > 0  # lost responses: same offset asked twice
    assert stats.retries == stats.requests_lost + stats.responses_lost
    # Every failure cost exactly one timeout instead of a round trip.
    expected = (BLOCKS + 2) * FIXED_RTT + stats.retries * TIMEOUT_S + VERIFY_S
    assert stats.simulated_s == pytest.approx(expected)


def test_same_seed_same_run() -> None:
    runs = []
    for _ in range(2):
        bench = Bench(request_loss_rate=0.1, response_loss_rate=0.1, round_trip_s=(0.25, 0.85))
        bench.run()
        runs.append(bench.client.stats)
    assert runs[0] == runs[1]


def test_wait_for_data_waits_then_honours_the_new_block_period() -> None:
    wait = ImageBlockWaitForData(current_time=100, request_time=130, minimum_block_period=1000)
    at = 63 * 10
    bench = Bench(intercept=once_at(at, [wait]), send_block_period=True)
    bench.run()
    assert_upgraded(bench)
    assert bench.client.minimum_block_period == 1000 and bench.client.block_period_s == 1.0
    offsets = bench.block_offsets()
    assert offsets.count(at) == 2
    later = bench.requests(ImageBlockRequest)[offsets.index(at) + 1 :]
    assert {r.minimum_block_period for r in later} == {1000}
    stats = bench.client.stats
    assert stats.wait_for_data == 1
    # 30 s wait, then 1 s before the repeated request and between each later block.
    blocks_after = BLOCKS - 10
    expected = (BLOCKS + 3) * FIXED_RTT + 30 + blocks_after * 1.0 + VERIFY_S
    assert stats.simulated_s == pytest.approx(expected)


def test_block_period_in_seconds_for_revision_2() -> None:
    bench = Bench(minimum_block_period=2, block_period_unit_s=1.0)
    bench.run()
    assert_upgraded(bench)
    expected = (BLOCKS + 2) * FIXED_RTT + (BLOCKS - 1) * 2.0 + VERIFY_S
    assert bench.client.stats.simulated_s == pytest.approx(expected)


def test_abort_stops_and_discards() -> None:
    bench = Bench(intercept=once_at(63 * 5, [ImageBlockAbort()]))
    bench.run()
    client = bench.client
    assert client.outcome is OtaOutcome.ABORTED
    assert client.status is ImageUpgradeStatus.NORMAL
    assert client.downloaded == b"" and client.export_state() is None
    assert bench.activated == [] and client.current_file_version == OLD
    assert bench.requests(UpgradeEndRequest) == []


@pytest.mark.parametrize(
    "wrong",
    [
        ImageBlockResponse(MFR, TYPE, NEW, 63 * 4 + 1, IMAGE[63 * 4 + 1 : 63 * 5 + 1]),  # offset
        ImageBlockResponse(MFR, TYPE, NEW + 1, 63 * 4, IMAGE[63 * 4 : 63 * 5]),  # other image
        ImageBlockResponse(MFR, TYPE, NEW, 63 * 4, bytes(64)),  # more than asked for
    ],
)
def test_unusable_block_is_dropped_and_requested_again(wrong: ImageBlockResponse) -> None:
    bench = Bench(intercept=once_at(63 * 4, [wrong]))
    bench.run()
    assert_upgraded(bench)
    stats = bench.client.stats
    assert (stats.responses_dropped, stats.retries) == (1, 1)
    assert bench.block_offsets().count(63 * 4) == 2
    expected = (BLOCKS + 2) * FIXED_RTT + TIMEOUT_S + VERIFY_S
    assert stats.simulated_s == pytest.approx(expected)


def test_malformed_server_frame_is_counted_and_dropped() -> None:
    bench = Bench()
    bench.server.handle(bench.client.start()[0])  # its real answer is replaced by garbage
    assert bench.client.handle_server_frame(b"\x09\x01\x02\x42") == []
    assert bench.client.stats.malformed_frames == 1
    assert bench.client.last_decode_error is not None
    assert bench.client.last_decode_error.code == "zcl-bad-field"
    bench.run(bench.client.handle_timeout())
    assert_upgraded(bench)


def test_silent_server_makes_the_client_give_up_and_keep_its_bytes() -> None:
    stop_at = 63 * 20

    def silent(request: OtaCommand) -> list[OtaCommand] | None:
        if isinstance(request, ImageBlockRequest) and request.file_offset >= stop_at:
            return []
        return None

    bench = Bench(intercept=silent, max_retries=4)
    bench.run()
    client = bench.client
    assert client.outcome is OtaOutcome.GAVE_UP
    assert client.status is ImageUpgradeStatus.NORMAL
    assert client.file_offset == stop_at
    assert bench.block_offsets().count(stop_at) == 5  # first try + 4 retries
    assert bench.server.requests[-1] == UpgradeEndRequest(ZclStatus.ABORT, MFR, TYPE, NEW)
    expected = (1 + 20) * FIXED_RTT + 5 * TIMEOUT_S
    assert client.stats.simulated_s == pytest.approx(expected)


def test_resume_after_power_cycle_from_exported_state() -> None:
    stop_at = 63 * 30

    def power_cut(request: OtaCommand) -> list[OtaCommand] | None:
        cut = isinstance(request, ImageBlockRequest) and request.file_offset >= stop_at
        return [] if cut else None

    bench = Bench(intercept=power_cut, max_retries=0)
    bench.run()
    state = bench.client.export_state()
    assert state is not None and state.file_offset == stop_at
    saved = json.loads(json.dumps(state.to_dict()))  # what a device would persist

    # Power cycle: a new client on the same clock, and a server that answers everything.
    clock = bench.client.clock
    restarted = Bench(clock=clock)
    restarted.client.import_state(DownloadState.from_dict(saved))
    assert restarted.client.file_offset == stop_at
    restarted.run()
    assert_upgraded(restarted)
    assert restarted.block_offsets()[0] == stop_at
    assert restarted.client.stats.blocks == BLOCKS - 30


def test_offer_of_another_image_restarts_from_zero() -> None:
    bench = Bench()
    bench.client.import_state(DownloadState(MFR, TYPE, NEW - 5, 9_999, IMAGE[:500]))
    bench.run()
    assert_upgraded(bench)
    assert bench.block_offsets()[0] == 0


def test_verify_failure_reports_invalid_image() -> None:
    bench = Bench(verify=lambda image: False)
    bench.run()
    client = bench.client
    assert bench.verified == [IMAGE]
    assert client.outcome is OtaOutcome.INVALID_IMAGE
    assert bench.server.requests[-1] == UpgradeEndRequest(ZclStatus.INVALID_IMAGE, MFR, TYPE, NEW)
    assert bench.activated == [] and client.current_file_version == OLD
    assert client.status is ImageUpgradeStatus.NORMAL and client.downloaded == b""
    assert client.stats.simulated_s == pytest.approx((BLOCKS + 1) * FIXED_RTT + VERIFY_S)


def test_upgrade_end_response_counts_down() -> None:
    statuses: list[ImageUpgradeStatus] = []
    bench = Bench(server_args={"current_time": 1_000, "upgrade_time": 1_060})
    bench.client._activate = lambda image: statuses.append(bench.client.status)  # type: ignore[method-assign]
    bench.run()
    assert statuses == [ImageUpgradeStatus.COUNT_DOWN]
    assert bench.client.current_file_version == NEW
    expected = (BLOCKS + 2) * FIXED_RTT + VERIFY_S + 60
    assert bench.client.stats.simulated_s == pytest.approx(expected)


def test_upgrade_time_in_the_past_means_now() -> None:
    bench = Bench(server_args={"current_time": 500, "upgrade_time": 100})
    bench.run()
    assert_upgraded(bench)
    assert bench.client.stats.simulated_s == pytest.approx((BLOCKS + 2) * FIXED_RTT + VERIFY_S)


def test_wait_for_a_later_upgrade_end_response() -> None:
    bench = Bench(server_args={"upgrade_time": 0xFFFFFFFF})
    bench.run()
    client = bench.client
    assert client.status is ImageUpgradeStatus.WAITING_TO_UPGRADE
    assert bench.activated == [] and client.outcome is None
    before = client.clock.now_s
    # The server's later, unsolicited Upgrade End Response: activate now.
    later = encode_frame(UpgradeEndResponse(0xFFFF, 0xFFFF, 0xFFFFFFFF, 0, 0), 77)
    assert client.handle_server_frame(later) == []
    assert_upgraded(bench)
    assert client.clock.now_s == before


def test_waiting_client_asks_again_after_its_requery_wait() -> None:
    bench = Bench(server_args={"upgrade_time": 0xFFFFFFFF}, max_requery_wait_s=3600)
    bench.run()
    before = bench.client.clock.now_s
    bench.server.upgrade_time = 0  # the server now says: upgrade now
    bench.run(bench.client.wait_for_next_query())
    assert_upgraded(bench)
    assert len(bench.requests(UpgradeEndRequest)) == 2
    assert bench.client.clock.now_s == pytest.approx(before + 3600 + FIXED_RTT)


def test_upgrade_end_response_for_another_image_is_dropped() -> None:
    def wrong_end(request: OtaCommand) -> list[OtaCommand] | None:
        if isinstance(request, UpgradeEndRequest):
            return [UpgradeEndResponse(MFR, TYPE, NEW + 1, 0, 0)]
        return None

    bench = Bench(intercept=wrong_end, max_retries=1)
    bench.run()
    assert bench.activated == [] and bench.client.outcome is OtaOutcome.GAVE_UP
    assert bench.client.stats.responses_dropped == 2
    # It kept the verified image: the next query goes straight to verify and end.
    bench.server.intercept = None
    bench.run()
    assert_upgraded(bench)


def test_import_while_busy_is_refused() -> None:
    bench = Bench()
    bench.client.start()
    with pytest.raises(OtaClientError) as caught:
        bench.client.import_state(DownloadState(MFR, TYPE, NEW, 10))
    assert caught.value.code == "ota-client-busy"


@pytest.mark.parametrize(
    "saved",
    [
        {},
        {"manufacturer_code": MFR, "image_type": TYPE, "file_version": NEW, "image_size": -1},
        {
            "manufacturer_code": MFR,
            "image_type": TYPE,
            "file_version": NEW,
            "image_size": 2,
            "data_hex": "zz",
        },
        {
            "manufacturer_code": MFR,
            "image_type": TYPE,
            "file_version": NEW,
            "image_size": 1,
            "data_hex": "0102",
        },
    ],
)
def test_bad_saved_state_is_refused(saved: dict[str, Any]) -> None:
    with pytest.raises(OtaClientStateError):
        DownloadState.from_dict(saved)


@pytest.mark.parametrize(
    "setting",
    [
        {"max_data_size": 64},
        {"max_data_size": 0},
        {"request_loss_rate": 1.0},
        {"round_trip_s": (0.9, 0.2)},
        {"request_timeout_s": 0.5, "round_trip_s": (0.25, 0.85)},
        {"max_retries": -1},
    ],
)
def test_impossible_settings_are_refused(setting: dict[str, Any]) -> None:
    with pytest.raises(OtaModelSettingError):
        OtaClientConfig(**setting)


def test_three_hundred_kilobytes_take_one_to_two_simulated_hours() -> None:
    # Default radio model; the server caps blocks at 40 bytes as common servers do
    # (zigpy's, for one), so about 7,500 exchanges of 0.25-0.85 s.
    image = random.Random(1).randbytes(300 * 1024)
    client, _ = simulate_upgrade(image, block_size=40)
    assert client.outcome is OtaOutcome.UPGRADED
    assert 3600 <= client.clock.now_s <= 7200


def test_impossible_identity_is_refused() -> None:
    with pytest.raises(OtaModelSettingError, match="manufacturer_code"):
        OtaDeviceIdentity(0x10000, TYPE, OLD, EUI)
    with pytest.raises(OtaModelSettingError, match="eui64"):
        OtaDeviceIdentity(MFR, TYPE, OLD, -1)
