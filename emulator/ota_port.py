"""The emulated bridge's side of the OTA tunnel: its ZigBee OTA client on a virtual clock.

The workstation, acting as OTA server, sends ZCL OTA frames through OTA_TUNNEL; the bridge
hands each to its `OtaClient` and answers with what the client sends back. The radio in
between is simulated (round trip, loss: `han-loss-rate`), so a one-to-two-hour OTA runs in
seconds while the virtual clock reports how long it would really take.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from bridgelab.drivers import protocol as p
from bridgelab.zigbee.ota_client import (
    OtaClient,
    OtaClientConfig,
    OtaDeviceIdentity,
)
from bridgelab.zigbee.zcl_ota import ImageUpgradeStatus, ZclDecodeError, decode_frame

PROGRESS_STEP = 4096  # bytes between OTA_PROGRESS events


class OtaPort:
    def __init__(
        self,
        identity: OtaDeviceIdentity,
        *,
        round_trip_s: tuple[float, float],
        minimum_block_period_ms: int,
        verify_time_s: float,
        han_loss_rate: float,
        seed: int,
        verify: Callable[[bytes], bool],
        activate: Callable[[bytes], None],
        emit: Callable[[p.Event], None],
    ) -> None:
        # Split the per-exchange loss evenly between request and response.
        one_way = 1.0 - math.sqrt(1.0 - han_loss_rate) if han_loss_rate else 0.0
        config = OtaClientConfig(
            round_trip_s=round_trip_s,
            request_loss_rate=one_way,
            response_loss_rate=one_way,
            verify_time_s=verify_time_s,
            minimum_block_period=minimum_block_period_ms,
            seed=seed,
        )
        self.client = OtaClient(identity, verify=verify, activate=activate, config=config)
        self._emit = emit
        self._last_reported = (ImageUpgradeStatus.NORMAL, 0)

    @property
    def clock_ms(self) -> int:
        return int(self.client.clock.now_s * 1000)

    def exchange(self, zcl_frame: bytes, running_version: int) -> p.OtaTunnelResponse:
        client = self.client
        if client.status == ImageUpgradeStatus.NORMAL and not client.awaiting_response:
            client.current_file_version = running_version  # a local update may have run
        if zcl_frame:
            frames = client.handle_server_frame(zcl_frame)
            if not frames and client.awaiting_response:
                frames = client.handle_timeout()  # the server's answer was unusable
        elif client.awaiting_response:
            frames = client.handle_timeout()
        else:
            frames = client.wait_for_next_query()
        self._report_progress()
        return p.OtaTunnelResponse(self.clock_ms, tuple(frames))

    def exchange_batch(
        self, zcl_frame: bytes, ahead: tuple[bytes, ...], running_version: int
    ) -> p.OtaTunnelBatchResponse:
        """OTA_TUNNEL_BATCH: `zcl_frame` as `exchange` hands it over, then each frame of
        `ahead` while it answers the block request the client has out (`takes_block`);
        the first that does not ends the batch, and it and the rest are dropped."""
        client = self.client
        sent = list(self.exchange(zcl_frame, running_version).frames)
        delivered = 0
        for frame in ahead:
            if not client.awaiting_response:
                break
            try:
                _, command = decode_frame(frame)
            except ZclDecodeError:
                break
            if not client.takes_block(command):
                break
            delivered += 1
            frames = client.handle_server_command(command)
            if not frames and client.awaiting_response:
                frames = client.handle_timeout()
            sent += frames
        self._report_progress()
        return p.OtaTunnelBatchResponse(self.clock_ms, delivered, tuple(sent))

    def status(self) -> p.OtaStatusResponse:
        client = self.client
        download = client.export_state()
        return p.OtaStatusResponse(
            upgrade_status=int(client.status),
            file_offset=client.file_offset,
            current_file_version=client.current_file_version,
            downloaded_file_version=download.file_version if download else p.NO_VERSION,
            clock_ms=self.clock_ms,
        )

    def _report_progress(self) -> None:
        client = self.client
        status, offset = client.status, client.file_offset
        last_status, last_offset = self._last_reported
        if status != last_status or offset - last_offset >= PROGRESS_STEP or offset < last_offset:
            download = client.export_state()
            size = download.image_size if download else 0
            self._emit(p.OtaProgress(int(status), offset, size))
            self._last_reported = (status, offset)
