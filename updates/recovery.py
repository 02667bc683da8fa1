"""Recovery through the radio's bootloader: a `.gbl` over XMODEM when the application is dead.

`RecoveryEngine` is the update engine (`updates.engine.UpdateEngine`: the same session,
stage events, failure classes, crash file, result and triage record: mode `local`,
driver `gecko-bootloader`, details `method: bootloader-xmodem`) with its own steps:

- identify: open the port with `drivers.factory.connect` (probing). A bridge whose
  application still answers is identified first (EUI-64, versions); a port that answers
  only as its Gecko Bootloader is recorded as such (`bootloader-found`).
- validate: the file is read with the firmware toolkit's GBL reader: a GBL (not an EBL),
  its tags whole and its end-tag CRC-32 right, and its ECDSA signature valid where it
  carries one and a key is trusted (a trusted key and an unsigned file is a refusal).
  Nothing is sent before this passes.
- transfer and activate: the `BootloaderUpload` strategy (`updates.bootloader_upload`).
- confirm: the service protocol again on the same port: the bridge must answer, be the
  same bridge (when it was known) and run the GBL's application version.

`RecoveryEngine.run()` blocks and never raises.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bridgelab.data.failures import FailureClass, Stage
from bridgelab.data.records import ImageInfo, SessionStart
from bridgelab.data.store import TriageStore
from bridgelab.drivers import xmodem as xm
from bridgelab.drivers.client import BridgeClient, probe_service
from bridgelab.drivers.errors import (
    NoAnswer,
    PortBusy,
    PortNotFound,
    PortPermissionDenied,
    UnknownUrlScheme,
)
from bridgelab.drivers.factory import connect
from bridgelab.drivers.gecko_bootloader import DRIVER_NAME, GeckoBootloader
from bridgelab.drivers.link import SerialPort
from bridgelab.drivers.versions import format_version
from bridgelab.errors import BridgeLabError
from bridgelab.firmware.errors import FirmwareError
from bridgelab.firmware.gbl import BootloaderFormat, load_bootloader_image
from bridgelab.firmware.gbl_signature import GblSignature, check_gbl_signature
from bridgelab.firmware.keys import load_public_key
from bridgelab.updates import events as ev
from bridgelab.updates.bootloader_upload import METHOD, BootloaderUpload, PreparedGbl
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.errors import UpdateFailed
from bridgelab.updates.request import UpdateRequest
from bridgelab.updates.strategy import TransferOutcome


@dataclass(frozen=True)
class RecoveryRequest(UpdateRequest):
    """An update request (port, image, baud, driver, operator, site, line rate) with what
    only a recovery needs. `driver` None: found by probing."""

    reset_sequence: str | None = None  # DTR/RTS into the bootloader first (drivers/reset_lines)
    trust_key: Path | None = None  # a PEM public key trusted for this radio's GBL files
    enter_bootloader_s: float = 10.0  # from ENTER_BOOTLOADER to the bootloader's menu
    confirm_s: float = 30.0  # from `run` to the application answering again
    answer_timeout_s: float = xm.ANSWER_TIMEOUT_S  # one XMODEM block's ACK, before a repeat


class RecoveryEngine(UpdateEngine):
    """One recovery session. `cancel()` may be called from any thread."""

    WHAT = "recovery"
    WHERE = "recovery"
    request: RecoveryRequest

    def __init__(
        self,
        request: RecoveryRequest,
        *,
        store: TriageStore | None = None,
        subscribers: Sequence[ev.Subscriber] = (),
    ) -> None:
        super().__init__(request, store=store, subscribers=subscribers)
        self.gbl: PreparedGbl | None = None  # what validate accepted

    def _session_start(self, image_size: int) -> SessionStart:
        start = super()._session_start(image_size)
        return replace(
            start, driver=DRIVER_NAME, details={**(start.details or {}), "method": METHOD}
        )

    def _image_version(self) -> int | None:
        app = self.gbl.image.application if self.gbl is not None else None
        return app.version if app is not None else None

    # ----------------------------------------------------------------- identify

    def _identify(self) -> None:
        request = self.request
        try:
            device = connect(
                request.port_url,
                request.driver,
                baudrate=request.baudrate,
                reset_sequence=request.reset_sequence,
            )
        except (PortNotFound, PortBusy, PortPermissionDenied, UnknownUrlScheme) as error:
            raise UpdateFailed.from_error(
                Stage.IDENTIFY, FailureClass.PORT_UNAVAILABLE, error
            ) from error
        except BridgeLabError as error:
            raise UpdateFailed.from_error(
                Stage.IDENTIFY, FailureClass.NO_RESPONSE, error
            ) from error
        self.log.update(details={"driver_found": device.driver_name})
        if not isinstance(device, (GeckoBootloader, BridgeClient)):
            device.close()
            raise UpdateFailed(
                Stage.IDENTIFY,
                FailureClass.DEVICE_REFUSED,
                f"The {device.driver_name} driver cannot reach a bootloader.",
                code="no-bootloader-path",
                action="Use --driver gecko-bootloader with the radio held in its bootloader.",
            )
        self.link.adopt(device)
        if isinstance(device, GeckoBootloader):
            by = f"reset sequence {request.reset_sequence}" if request.reset_sequence else "probing"
            self.log.event(
                "bootloader-found", {"name": device.menu.name, "version": device.version, "by": by}
            )
            self.context.emit(
                ev.DeviceIdentified(
                    self.clock.monotonic(),
                    0,
                    {"bootloader": f"{device.menu.name} v{device.version}"},
                    "not available through the bootloader",
                )
            )
            return
        identity = self.identity = device.identity()
        self.log.update(version_before=identity.firmware_version)
        self.context.identified(identity)

    # ----------------------------------------------------------------- validate

    def _refuse(self, message: str, code: str, action: str) -> UpdateFailed:
        return UpdateFailed(
            Stage.VALIDATE, FailureClass.IMAGE_REJECTED, message, code=code, action=action
        )

    def _validate(self) -> None:
        request = self.request
        name = request.image_path.name
        try:
            data, image = load_bootloader_image(request.image_path)
            image.require_valid_crc()
            key = load_public_key(request.trust_key) if request.trust_key else None
        except FirmwareError as error:
            raise UpdateFailed.from_error(
                Stage.VALIDATE, FailureClass.IMAGE_REJECTED, error
            ) from error
        if image.format != BootloaderFormat.GBL:
            raise self._refuse(
                f"{name} is an EBL file; the Gecko Bootloader takes GBL.",
                "not-a-gbl",
                "Use the .gbl build of this firmware (Simplicity Commander converts EBL).",
            )
        signature = check_gbl_signature(data, image, key)
        if signature == GblSignature.INVALID:
            raise self._refuse(
                f"The signature of {name} does not verify with the trusted key.",
                "gbl-signature-invalid",
                "Get the file again from its publisher, or check that the key is this radio's.",
            )
        if signature == GblSignature.UNSIGNED and key is not None:
            raise self._refuse(
                f"{name} is not signed, and a key is trusted for this radio.",
                "gbl-unsigned",
                "Use the signed build of this firmware.",
            )
        if signature == GblSignature.NOT_CHECKED:
            self.context.notice(
                "warning",
                "gbl-signature-not-checked",
                "The file is signed but no key is trusted for it (--trust-key): the signature "
                "was not checked here; the bootloader checks it if it holds a key.",
            )
        self.gbl = PreparedGbl(image, data)
        app = image.application
        self.log.image(
            ImageInfo(
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                file_name=name,
                body_form="gbl",
                file_version=app.version if app else None,
                signature_status=str(signature),
                details={"crc32": f"{image.crc_stored:08x}", "tags": len(image.tags)},
            )
        )

    # ----------------------------------------------------------------- transfer

    def _transfer(self) -> TransferOutcome:
        assert self.gbl is not None
        strategy = BootloaderUpload(
            enter_bootloader_s=self.request.enter_bootloader_s,
            answer_timeout_s=self.request.answer_timeout_s,
        )
        return strategy.run(self.context, self.gbl)

    # ----------------------------------------------------------------- confirm

    def _confirm(self) -> None:
        port = self.link.release()  # the application's now that the bootloader ran it
        try:
            client = self._service_client(port)
        except BaseException:
            with contextlib.suppress(OSError):
                port.close()
            raise
        self.link.adopt(client)
        identity = client.identity()
        self.version_after = identity.firmware_version
        self.log.update(version_after=identity.firmware_version)
        self.context.identified(identity)
        if self.identity is not None and identity.eui64 != self.identity.eui64:
            raise UpdateFailed(
                Stage.CONFIRM,
                FailureClass.WRONG_DEVICE,
                "Another bridge answers after the recovery.",
                code="wrong-device",
                action="Connect the bridge this recovery started with.",
            )
        expected = self._image_version()
        if expected is not None and identity.firmware_version != expected:
            raise UpdateFailed(
                Stage.CONFIRM,
                FailureClass.VERSION_UNCHANGED,
                f"The bridge runs {format_version(identity.firmware_version)}, not the "
                f"image's {format_version(expected)}.",
                code="version-unexpected",
            )
        self.log.event("confirmed", {"firmware_version": identity.firmware_version})

    def _service_client(self, port: SerialPort) -> BridgeClient:
        """The application on `port` in the service protocol, within `confirm_s`."""
        deadline = self.clock.monotonic() + self.request.confirm_s
        while True:
            self.context.check_cancel()
            if probe_service(port, tries=1):
                client = BridgeClient(port, self.request.port_url)
                try:
                    client.handshake()
                    return client
                except NoAnswer:
                    client.release()
            if self.clock.monotonic() > deadline:
                raise UpdateFailed(
                    Stage.CONFIRM,
                    FailureClass.NO_RESPONSE,
                    f"The application did not answer within {self.request.confirm_s:g} s of "
                    "being started.",
                    code="no-application-answer",
                    action="The image may be for another radio: check the bootloader menu "
                    "(`bridgelab info`) and recover with the right .gbl.",
                )
