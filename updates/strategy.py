"""The transfer strategy contract: how a validated image gets running on the bridge.

The engine's stages are fixed (identify, validate, then the strategy, then confirm);
what varies with the mode is how the image reaches the bridge and is switched to. A
strategy implements

    run(context: SessionContext, image: PreparedImage) -> TransferOutcome

and promises:

- It starts after VALIDATE (the image is checked against this bridge and nothing has been
  written) and ends when the bridge has restarted into the new image (before CONFIRM,
  which the engine runs for every strategy). It opens its own stages with
  `context.stage(Stage.TRANSFER | VERIFY | ACTIVATE, detail)`.
- It reports what it did only in its `TransferOutcome`; it never writes the engine's or
  the context's result. Progress goes out through `context.progress(...)` (as
  `events.Progress`), every recovery through `context.retry(...)`, and facts worth keeping through
  `context.log`.
- Every wait is bounded by `context.policy` and runs on `context.clock`; it checks
  `context.check_cancel()` between steps, so that a cancel ends the session promptly.
- It fails only by raising `UpdateFailed` (stage, failure class, code), `Cancelled`, or a
  driver error the engine classifies (`LinkLost`, `NoAnswer`).

`updates.local.LocalTransfer` (windowed writes over the service protocol) and
`updates.ota_server.SimulatedOta` (the ZCL OTA cluster over the tunnel) implement it for
a `PreparedImage`, and the engine picks one by `data.records.Mode`
(`updates.engine.STRATEGIES`); `updates.bootloader_upload.BootloaderUpload` (a `.gbl`
over XMODEM-CRC through the radio's Gecko Bootloader) implements it for a `PreparedGbl`,
and the recovery engine (`updates.recovery`) runs it. The image type is the contract's
parameter: what validate accepted is what the strategy is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from bridgelab.firmware.image import OtaImage

if TYPE_CHECKING:
    from bridgelab.updates.session import SessionContext


@dataclass(frozen=True)
class PreparedImage:
    """An image VALIDATE accepted for this bridge, with the digests it computed once."""

    image: OtaImage
    file_sha256: bytes
    manufacturer_image_sha256: bytes  # what the bridge must hash its copy to (activation)


@dataclass(frozen=True)
class TransferOutcome:
    """What a strategy did: the engine writes the session's result from it."""

    payload_bytes: int  # image bytes the bridge received
    seconds: float  # time spent moving them
    resumed_from: int | None = None  # the offset the bridge said it already held
    predicted_s: float | None = None  # a simulation's prediction of the real duration
    simulated_s: float | None = None  # a simulation's simulated duration


ImageT = TypeVar("ImageT", contravariant=True)


class TransferStrategy(Protocol[ImageT]):
    def run(self, context: SessionContext, image: ImageT) -> TransferOutcome: ...
