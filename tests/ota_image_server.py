"""A minimal OTA server that answers from one image, and a loop that drives a client with it.

This is the counterpart the OTA client model is exercised against in tests and
benchmarks: it answers each request once, immediately, with what the specification
prescribes. It is not the product's OTA server (that one, with its stall timer,
campaigns and events, lives in `bridgelab.updates`). `intercept` lets a test replace any
answer (WAIT_FOR_DATA, ABORT, a block at the wrong offset, silence) without subclassing.
"""

from __future__ import annotations

from collections.abc import Callable

from bridgelab.errors import BridgeLabError
from bridgelab.zigbee.ota_client import OtaClient, OtaClientConfig, OtaDeviceIdentity
from bridgelab.zigbee.zcl_ota import (
    ImageBlockAbort,
    ImageBlockRequest,
    ImageBlockResponse,
    OtaCommand,
    QueryNextImageRequest,
    QueryNextImageResponse,
    UpgradeEndRequest,
    UpgradeEndResponse,
    ZclStatus,
    decode_frame,
    encode_frame,
)

# Given a client request, return the answers to send instead of the default ones, or None
# to let the server answer normally.
Intercept = Callable[[OtaCommand], list[OtaCommand] | None]


class OtaLoopError(BridgeLabError):
    code = "ota-loop-runaway"
    default_action = "The server and client keep exchanging frames; check the test's intercept."


class ImageOtaServer:
    """Serves one OTA file to any client whose manufacturer and image type match.

    It offers the image when the client's current file version differs from it, sends
    blocks of at most `block_size` bytes (capped by what the client asks for), and answers
    an Upgrade End Request (SUCCESS) with `current_time`/`upgrade_time`. It answers nothing
    to an Upgrade End Request with another status (a real server sends a ZCL Default
    Response, which this codec does not carry). Every decoded request is kept in `requests`.
    """

    def __init__(
        self,
        image: bytes,
        *,
        manufacturer_code: int,
        image_type: int,
        file_version: int,
        block_size: int = 63,
        current_time: int = 0,
        upgrade_time: int = 0,
        intercept: Intercept | None = None,
    ) -> None:
        self.image = bytes(image)
        self.manufacturer_code = manufacturer_code
        self.image_type = image_type
        self.file_version = file_version
        self.block_size = block_size
        self.current_time = current_time
        self.upgrade_time = upgrade_time
        self.intercept = intercept
        self.requests: list[OtaCommand] = []

    def handle(self, frame: bytes) -> list[bytes]:
        """Answer one client frame; raises `ZclDecodeError` for a malformed one."""
        header, request = decode_frame(frame)
        self.requests.append(request)
        answers = self.intercept(request) if self.intercept is not None else None
        if answers is None:
            answers = self.answer(request)
        return [encode_frame(answer, header.seq) for answer in answers]

    def answer(self, request: OtaCommand) -> list[OtaCommand]:
        """The specification's answer to `request`."""
        image_id = (self.manufacturer_code, self.image_type, self.file_version)
        if isinstance(request, QueryNextImageRequest):
            if (request.manufacturer_code, request.image_type) != image_id[:2] or (
                request.current_file_version == self.file_version
            ):
                return [QueryNextImageResponse(ZclStatus.NO_IMAGE_AVAILABLE)]
            return [QueryNextImageResponse(ZclStatus.SUCCESS, *image_id, len(self.image))]
        if isinstance(request, ImageBlockRequest):
            asked = (request.manufacturer_code, request.image_type, request.file_version)
            if asked != image_id or request.file_offset >= len(self.image):
                return [ImageBlockAbort()]
            size = min(request.max_data_size, self.block_size)
            data = self.image[request.file_offset : request.file_offset + size]
            return [ImageBlockResponse(*image_id, request.file_offset, data)]
        if isinstance(request, UpgradeEndRequest) and request.status is ZclStatus.SUCCESS:
            return [UpgradeEndResponse(*image_id, self.current_time, self.upgrade_time)]
        return []


def run_exchange(
    client: OtaClient, server: ImageOtaServer, frames: list[bytes], *, max_frames: int = 10_000_000
) -> int:
    """Carry frames between `client` and `server` until the client has nothing to send.

    When the server's answers leave the client still waiting, the client's timeout fires
    (`handle_timeout`). Returns how many client frames the server handled; raises
    `OtaLoopError` past `max_frames`.
    """
    handled = 0
    while frames:
        replies: list[bytes] = []
        for frame in frames:
            replies += server.handle(frame)
        handled += len(frames)
        if handled > max_frames:
            raise OtaLoopError(f"More than {max_frames} frames without the exchange ending.")
        frames = []
        for reply in replies:
            frames += client.handle_server_frame(reply)
        if not frames and client.awaiting_response:
            frames = client.handle_timeout()
    return handled


# The identity `simulate_upgrade` gives its device and image (any would do).
SIMULATED_MANUFACTURER_CODE = 0x117C
SIMULATED_IMAGE_TYPE = 0x2101
SIMULATED_EUI64 = 0x00124B0001020304


def simulate_upgrade(
    image: bytes,
    *,
    config: OtaClientConfig | None = None,
    block_size: int = 63,
    server_type: type[ImageOtaServer] = ImageOtaServer,
) -> tuple[OtaClient, ImageOtaServer]:
    """One whole simulated upgrade of a device at file version 1 to `image` (version 2).

    The device's verify check accepts exactly `image`; the server sends blocks of at most
    `block_size` bytes. Returns the client (its `clock.now_s` is the simulated duration,
    `outcome` how it ended) and the server (the requests it saw).
    """
    client = OtaClient(
        OtaDeviceIdentity(SIMULATED_MANUFACTURER_CODE, SIMULATED_IMAGE_TYPE, 1, SIMULATED_EUI64),
        verify=lambda data: data == image,
        activate=lambda data: None,
        config=config,
    )
    server = server_type(
        image,
        manufacturer_code=SIMULATED_MANUFACTURER_CODE,
        image_type=SIMULATED_IMAGE_TYPE,
        file_version=2,
        block_size=block_size,
    )
    run_exchange(client, server, client.start())
    return client, server
