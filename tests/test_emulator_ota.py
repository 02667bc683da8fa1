"""The OTA tunnel: real ZCL OTA frames through the driver to the bridge's own OTA client."""

from __future__ import annotations

import pytest

from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient
from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.zigbee.zcl_ota import (
    ImageBlockRequest,
    ImageNotify,
    ImageUpgradeStatus,
    QueryNextImageRequest,
    UpgradeEndRequest,
    ZclStatus,
    decode_frame,
    encode_frame,
)
from tests.bridges import TRANSPORTS, emulator_url
from tests.ota_image_server import ImageOtaServer
from tests.test_emulator_conformance import Events

NEWER = DEMO_IMAGES[0].path.read_bytes()


def _serve(client: BridgeClient, server: ImageOtaServer, max_exchanges: int = 5000) -> int:
    """Drive the bridge's OTA client with `server` until it goes quiet; returns clock ms."""
    answer = client.call(p.OtaTunnel(encode_frame(ImageNotify(query_jitter=100), 1)))
    outgoing = list(answer.frames)
    clock_ms = answer.clock_ms
    for _ in range(max_exchanges):
        if not outgoing:
            return clock_ms
        replies = [reply for frame in outgoing for reply in server.handle(frame)]
        outgoing = []
        for reply in replies:  # a server with nothing to say ends the exchange
            answer = client.call(p.OtaTunnel(reply), timeout_s=5)
            outgoing += answer.frames
            clock_ms = answer.clock_ms
    raise AssertionError("the OTA exchange did not finish")


def _server(block_size: int = 63) -> ImageOtaServer:
    return ImageOtaServer(
        NEWER,
        manufacturer_code=0xB1D6,
        image_type=0x0105,
        file_version=0x01030000,
        block_size=block_size,
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_whole_ota_upgrade_through_the_tunnel(transport: str) -> None:
    with emulator_url(transport) as url, BridgeClient.connect(url) as client:
        events = Events(client)
        server = _server()
        clock_ms = _serve(client, server)
        rebooted = events.wait_for(p.Rebooted)
        assert isinstance(rebooted, p.Rebooted) and rebooted.reason == p.RebootReason.ACTIVATION
        blocks = [r for r in server.requests if isinstance(r, ImageBlockRequest)]
        assert len(blocks) == -(-len(NEWER) // 63)
        # 780 blocks at 0.25-0.85 s each: the simulated radio time, not the wall time.
        assert 0.25 * len(blocks) * 1000 <= clock_ms <= 0.85 * len(blocks) * 1000 + 60_000
        assert client.identity().firmware_version == 0x01030000
        status = client.call(p.GetOtaStatus())
        assert status.upgrade_status == ImageUpgradeStatus.NORMAL
        assert status.current_file_version == 0x01030000


def test_the_first_answer_to_image_notify_is_a_real_query_next_image_request() -> None:
    with emulator_url("emu") as url, BridgeClient.connect(url) as client:
        answer = client.call(p.OtaTunnel(encode_frame(ImageNotify(query_jitter=100), 7)))
        assert len(answer.frames) == 1
        _, request = decode_frame(answer.frames[0])
        assert isinstance(request, QueryNextImageRequest)
        assert (request.manufacturer_code, request.image_type) == (0xB1D6, 0x0105)
        assert request.current_file_version == 0x01020000


def test_han_loss_costs_retries_and_time_but_not_the_image() -> None:
    with (
        emulator_url("emu", faults="han-loss-rate=0.05", seed=11) as url,
        BridgeClient.connect(url) as client,
    ):
        events = Events(client)
        server = _server()
        clock_ms = _serve(client, server)
        events.wait_for(p.Rebooted)
        blocks = [r for r in server.requests if isinstance(r, ImageBlockRequest)]
        offsets = [b.file_offset for b in blocks]
        assert len(offsets) > len(set(offsets))  # lost responses: the server saw repeats
        assert client.identity().firmware_version == 0x01030000
        assert clock_ms > 0.25 * len(set(offsets)) * 1000


@pytest.mark.parametrize(
    ("profile", "status", "words"),
    [
        ("legacy", p.Status.NOT_SUPPORTED, "no OTA client"),
        ("orphaned", p.Status.NOT_ALLOWED, "not on the HAN (orphaned)"),
        ("not-in-log", p.Status.NOT_ALLOWED, "not-in-device-log"),
    ],
)
def test_bridges_that_cannot_take_ota_say_why(profile: str, status: int, words: str) -> None:
    with emulator_url("emu", profile) as url, BridgeClient.connect(url) as client:
        with pytest.raises(p.DeviceStatusError) as refused:
            client.call(p.OtaTunnel(encode_frame(ImageNotify(query_jitter=100), 1)))
        assert refused.value.status == status and words in refused.value.text


def test_a_tampered_image_is_refused_by_the_ota_client() -> None:
    tampered = DEMO_IMAGES[3].path.read_bytes()
    with emulator_url("emu") as url, BridgeClient.connect(url) as client:
        server = ImageOtaServer(
            tampered, manufacturer_code=0xB1D6, image_type=0x0105, file_version=0x01030000
        )
        _serve(client, server)
        ends = [r for r in server.requests if isinstance(r, UpgradeEndRequest)]
        assert [e.status for e in ends] == [ZclStatus.INVALID_IMAGE]
        assert client.identity().firmware_version == 0x01020000
        assert any("OTA image rejected: signature-invalid" in e.text for e in client.event_log())
