"""OTA_TUNNEL_BATCH on the emulated bridge: block answers carried ahead are handed to its
OTA client only when they answer the request it has out; anything else ends the batch.

Hostile batches (a wrong offset, a size the client would not take, a duplicated block, a
lost one) must never cost the client a timeout or a wrong byte: the batch stops there,
and the client's request comes back for the server to answer. zigpy, as an independent
decoder, reads the frames the client sends back.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Ota

from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient
from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.emulator.profiles import DEMO_IMAGE_TYPE, DEMO_MANUFACTURER_CODE
from bridgelab.zigbee.zcl_ota import (
    ImageBlockRequest,
    ImageBlockResponse,
    ImageNotify,
    QueryNextImageRequest,
    QueryNextImageResponse,
    ZclStatus,
    decode_frame,
    encode_frame,
)
from tests.bridges import emulator_url

IMAGE = DEMO_IMAGES[0].path.read_bytes()
VERSION = 0x01030000
BLOCK = 63


def block(offset: int, size: int = BLOCK, seq: int = 1) -> bytes:
    data = IMAGE[offset : offset + size]
    return encode_frame(
        ImageBlockResponse(DEMO_MANUFACTURER_CODE, DEMO_IMAGE_TYPE, VERSION, offset, data), seq
    )


def zigpy_block_request(frame: bytes) -> int:
    """The file offset of an Image Block Request, as zigpy reads the frame."""
    header, rest = foundation.ZCLHeader.deserialize(frame)
    command = Ota.server_commands[header.command_id]
    assert command.name == "image_block"
    request, extra = command.schema.deserialize(rest)
    assert extra == b""
    return int(request.file_offset)


@pytest.fixture
def downloading() -> Iterator[tuple[BridgeClient, ImageBlockRequest]]:
    """A bridge whose OTA client has asked for the first block of the demo image."""
    with emulator_url("emu") as url, BridgeClient.connect(url) as client:
        notify = ImageNotify(query_jitter=100)
        answer = client.call(p.OtaTunnel(encode_frame(notify, 1)))
        _, query = decode_frame(answer.frames[0])
        assert isinstance(query, QueryNextImageRequest)
        offer = QueryNextImageResponse(
            ZclStatus.SUCCESS, DEMO_MANUFACTURER_CODE, DEMO_IMAGE_TYPE, VERSION, len(IMAGE)
        )
        answer = client.call(p.OtaTunnel(encode_frame(offer, 2)))
        _, first = decode_frame(answer.frames[0])
        assert isinstance(first, ImageBlockRequest) and first.file_offset == 0
        yield client, first


def offsets_back(answer: p.OtaTunnelBatchResponse) -> list[int]:
    return [zigpy_block_request(frame) for frame in answer.frames]


def test_blocks_ahead_are_handed_over_in_one_exchange(
    downloading: tuple[BridgeClient, ImageBlockRequest],
) -> None:
    client, _ = downloading
    before = client.call(p.GetOtaStatus()).clock_ms
    ahead = tuple(block(BLOCK * k) for k in range(1, 9))
    answer = client.call(p.OtaTunnelBatch(block(0), ahead))
    assert answer.delivered == 8
    # One request per block, each for the block after the last: 9 blocks, 9 round trips
    # of simulated radio time (0.25-0.85 s each), none of them a timeout.
    assert offsets_back(answer) == [BLOCK * k for k in range(1, 10)]
    status = client.call(p.GetOtaStatus())
    assert status.file_offset == 9 * BLOCK
    assert 9 * 250 <= status.clock_ms - before <= 9 * 850


@pytest.mark.parametrize(
    ("name", "ahead", "delivered"),
    [
        ("wrong offset", (block(BLOCK), block(3 * BLOCK), block(2 * BLOCK)), 1),
        ("more data than asked for", (block(BLOCK), block(2 * BLOCK, size=BLOCK + 1)), 1),
        ("empty block", (block(BLOCK), block(2 * BLOCK, size=0)), 1),
        ("duplicated block", (block(BLOCK), block(BLOCK), block(2 * BLOCK)), 1),
        ("lost block", (block(2 * BLOCK), block(3 * BLOCK)), 0),
        ("another image", (block(BLOCK)[:6] + b"\xff\xff" + block(BLOCK)[8:],), 0),
        ("not a ZCL frame", (b"\x09",), 0),
    ],
)
def test_a_hostile_batch_stops_where_it_stops_answering(
    downloading: tuple[BridgeClient, ImageBlockRequest],
    name: str,
    ahead: tuple[bytes, ...],
    delivered: int,
) -> None:
    client, _ = downloading
    before = client.call(p.GetOtaStatus()).clock_ms
    answer = client.call(p.OtaTunnelBatch(block(0), ahead))
    assert answer.delivered == delivered, name
    expected = [BLOCK * k for k in range(1, delivered + 2)]
    assert offsets_back(answer) == expected, name  # the next block is asked for, not skipped
    status = client.call(p.GetOtaStatus())
    assert status.file_offset == (delivered + 1) * BLOCK
    # Only round trips: a frame the client was not handed cost it no timeout (2 s).
    assert status.clock_ms - before <= (delivered + 1) * 850, name
    # The server answers the request that came back, and the download carries on.
    resumed = client.call(p.OtaTunnel(block(status.file_offset)))
    assert offsets_back(resumed) == [status.file_offset + BLOCK]


def test_a_short_block_is_a_valid_answer_and_ends_the_batch(
    downloading: tuple[BridgeClient, ImageBlockRequest],
) -> None:
    # A server may send fewer bytes than asked; the client then asks from where that
    # block ended, and blocks cut at the old boundaries no longer answer it.
    client, _ = downloading
    answer = client.call(p.OtaTunnelBatch(block(0), (block(BLOCK, size=10), block(2 * BLOCK))))
    assert answer.delivered == 1
    assert offsets_back(answer) == [BLOCK, BLOCK + 10]


def test_firmware_without_the_command_says_so_unread() -> None:
    with emulator_url("emu", "protocol-v1") as url, BridgeClient.connect(url) as client:
        with pytest.raises(p.DeviceStatusError) as refused:
            client.call(p.OtaTunnelBatch(encode_frame(ImageNotify(query_jitter=100), 1), ()))
        assert refused.value.status == p.Status.UNKNOWN_COMMAND
        # Nothing reached its OTA client: the notify goes again, frame by frame.
        answer = client.call(p.OtaTunnel(encode_frame(ImageNotify(query_jitter=100), 2)))
        _, query = decode_frame(answer.frames[0])
        assert isinstance(query, QueryNextImageRequest)


def test_a_legacy_bridge_refuses_the_batch_as_it_refuses_the_tunnel() -> None:
    with emulator_url("emu", "legacy") as url, BridgeClient.connect(url) as client:
        with pytest.raises(p.DeviceStatusError) as refused:
            client.call(p.OtaTunnelBatch(encode_frame(ImageNotify(query_jitter=100), 1), ()))
        assert refused.value.status == p.Status.NOT_SUPPORTED
