"""The bootloader upload strategy: a verified `.gbl` through the radio's Gecko Bootloader.

One more `TransferStrategy` (`updates.strategy`), for a `PreparedGbl`:

- transfer: a bridge whose application still runs (the session's link holds its service
  client) is asked to restart into its bootloader (ENTER_BOOTLOADER), and the bootloader
  is found on the same port within `enter_bootloader_s`; then option 1 and XMODEM-CRC in
  128-byte blocks (`drivers/xmodem.py`), each block repeated after a NAK or
  `answer_timeout_s` of silence.
- activate: option 2 (run); a bootloader that shows its menu again has no valid
  application.

It ends with the link still holding the bootloader's port, which now belongs to the
application: the confirm step takes it on to the service protocol.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from bridgelab.data.failures import FailureClass, Stage
from bridgelab.drivers import xmodem as xm
from bridgelab.drivers.capabilities import Capability
from bridgelab.drivers.errors import NoAnswer
from bridgelab.drivers.gecko_bootloader import BootloaderRejected, GeckoBootloader, NoApplication
from bridgelab.firmware.gbl import BootloaderImage
from bridgelab.updates.errors import UpdateFailed
from bridgelab.updates.progress import ProgressMeter
from bridgelab.updates.session import SessionContext
from bridgelab.updates.strategy import TransferOutcome
from bridgelab.updates.transfer import Cancelled

METHOD = "bootloader-xmodem"


@dataclass(frozen=True)
class PreparedGbl:
    """A GBL file validate accepted: structure, CRC-32 and (where a key is trusted) its
    signature checked."""

    image: BootloaderImage
    data: bytes


class BootloaderUpload:
    """`TransferStrategy[PreparedGbl]`: XMODEM-CRC through the Gecko Bootloader, then run."""

    def __init__(
        self, *, enter_bootloader_s: float, answer_timeout_s: float = xm.ANSWER_TIMEOUT_S
    ) -> None:
        self.enter_bootloader_s = enter_bootloader_s  # ENTER_BOOTLOADER to the menu
        self.answer_timeout_s = answer_timeout_s  # one block's ACK, before a repeat

    def run(self, context: SessionContext, image: PreparedGbl) -> TransferOutcome:
        with context.stage(Stage.TRANSFER, METHOD):
            bootloader = self._reach_bootloader(context)
            result = self._upload(context, bootloader, image.data)
        with context.stage(Stage.ACTIVATE):
            try:
                bootloader.run()
            except NoApplication as error:
                raise UpdateFailed.from_error(
                    Stage.ACTIVATE, FailureClass.ACTIVATION_FAILED, error
                ) from error
            context.log.event("run", {})
        return TransferOutcome(result.payload_bytes, result.seconds)

    def _reach_bootloader(self, context: SessionContext) -> GeckoBootloader:
        link = context.link
        if link.bootloader is not None:  # found by probing at identify
            return link.bootloader
        if Capability.ENTER_BOOTLOADER not in link.current.capabilities:
            raise UpdateFailed(
                Stage.TRANSFER,
                FailureClass.DEVICE_REFUSED,
                "This bridge cannot be asked to restart into its bootloader.",
                code="no-enter-bootloader",
                action="Hold the radio in its bootloader (its reset line or button) and retry.",
            )
        link.current.enter_bootloader()
        context.log.event("enter-bootloader", {"via": "ENTER_BOOTLOADER"})
        port = link.release()
        try:
            bootloader = GeckoBootloader.attach(port, link.url, wait_s=self.enter_bootloader_s)
        except NoAnswer as error:
            with contextlib.suppress(OSError):
                port.close()
            raise UpdateFailed.from_error(
                Stage.TRANSFER, FailureClass.NO_RESPONSE, error
            ) from error
        link.adopt(bootloader)
        context.log.event("bootloader-found", {"version": bootloader.version, "by": "request"})
        return bootloader

    def _upload(
        self, context: SessionContext, bootloader: GeckoBootloader, data: bytes
    ) -> xm.SendResult:
        meter = ProgressMeter(len(data), context.request.known_line_rate_bps)

        def on_progress(done: int, size: int) -> None:
            if meter.update(done):
                context.progress(meter, done, size)

        def on_retry(block: int, reason: str) -> None:
            context.retry(Stage.TRANSFER, f"{reason} (block {block})")

        try:
            result = bootloader.upload(
                data,
                on_progress=on_progress,
                on_retry=on_retry,
                should_stop=context.cancel.cancelled,
                answer_timeout_s=self.answer_timeout_s,
            )
        except BootloaderRejected as error:
            raise UpdateFailed.from_error(
                Stage.TRANSFER, FailureClass.DEVICE_REFUSED, error
            ) from error
        except xm.ReceiverRestarted as error:
            raise UpdateFailed.from_error(
                Stage.TRANSFER, FailureClass.DEVICE_ERROR, error
            ) from error
        except xm.XmodemError as error:
            if error.code == "cancelled":
                raise Cancelled() from error
            raise UpdateFailed.from_error(Stage.TRANSFER, FailureClass.STALLED, error) from error
        except NoAnswer as error:
            raise UpdateFailed.from_error(Stage.TRANSFER, FailureClass.STALLED, error) from error
        context.log.event(
            "transfer",
            {
                "method": METHOD,
                "block_size": xm.BLOCK_SIZE,
                "blocks": result.blocks,
                "sent_bytes": result.sent_bytes,
                "seconds": round(result.seconds, 3),
            },
        )
        return result
