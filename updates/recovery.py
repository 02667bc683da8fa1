"""Recovery through the radio's bootloader: a `.gbl` over XMODEM when the application is dead.

The same stages as any update, and the same triage record (mode `local`, driver
`gecko-bootloader`, details `method: bootloader-xmodem`):

- identify: open the port with `drivers.factory.connect` (probing). A bridge whose
  application still answers is identified first (EUI-64, versions); a port that answers
  only as its Gecko Bootloader is recorded as such.
- validate: the file is read with the firmware toolkit's GBL reader: a GBL (not an EBL),
  its tags whole and its end-tag CRC-32 right, and its ECDSA signature valid where it
  carries one and a key is trusted (a trusted key and an unsigned file is a refusal).
  Nothing is sent before this passes.
- transfer: a running application is asked to restart into its bootloader
  (ENTER_BOOTLOADER); then option 1 and XMODEM-CRC.
- activate: option 2 (run); a bootloader that stays in its menu has no valid application.
- confirm: the service protocol again on the same port: the bridge must answer, be the
  same bridge (when it was known) and run the GBL's application version.

Written as one pipeline of its own until the engine's transfer strategies exist; each
stage is a method so that the upload can become one strategy of that contract.
`RecoveryEngine.run()` blocks and never raises.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bridgelab.data.errors import StoreError
from bridgelab.data.failures import FailureClass, FinalState, Stage
from bridgelab.data.records import DeviceInfo, ImageInfo, SessionStart
from bridgelab.data.store import TriageStore
from bridgelab.drivers import xmodem as xm
from bridgelab.drivers.capabilities import Capability, Device
from bridgelab.drivers.client import BridgeClient, probe_service
from bridgelab.drivers.errors import (
    DriverError,
    LinkLost,
    NoAnswer,
    PortBusy,
    PortNotFound,
    PortPermissionDenied,
    UnknownUrlScheme,
)
from bridgelab.drivers.factory import connect
from bridgelab.drivers.gecko_bootloader import (
    DRIVER_NAME,
    BootloaderRejected,
    GeckoBootloader,
    NoApplication,
)
from bridgelab.drivers.link import DEFAULT_BAUD
from bridgelab.drivers.protocol import IdentityResponse
from bridgelab.drivers.versions import format_version
from bridgelab.errors import BridgeLabError
from bridgelab.firmware.errors import FirmwareError
from bridgelab.firmware.gbl import BootloaderFormat, BootloaderImage, load_bootloader_image
from bridgelab.firmware.gbl_signature import GblSignature, check_gbl_signature
from bridgelab.firmware.keys import load_public_key
from bridgelab.updates import events as ev
from bridgelab.updates.errors import UpdateFailed, internal_failure
from bridgelab.updates.progress import ProgressMeter
from bridgelab.updates.recorder import SessionLog

METHOD = "bootloader-xmodem"


@dataclass(frozen=True)
class RecoveryRequest:
    port_url: str
    image_path: Path
    baudrate: int = DEFAULT_BAUD
    driver: str | None = None  # None: found by probing
    reset_sequence: str | None = None  # DTR/RTS into the bootloader first (drivers/reset_lines)
    trust_key: Path | None = None  # a PEM public key trusted for this radio's GBL files
    operator: str | None = None
    site_ref: str | None = None
    enter_bootloader_s: float = 10.0  # from ENTER_BOOTLOADER to the bootloader's menu
    confirm_s: float = 30.0  # from `run` to the application answering again
    answer_timeout_s: float = xm.ANSWER_TIMEOUT_S  # one XMODEM block's ACK, before a repeat

    line_baud: int | None = None  # the line's rate, set by the user where the link cannot tell

    @property
    def line_rate_bps(self) -> float | None:
        """As for an update: the known 8N1 byte rate, or None where nobody knows it (an
        unpaced emulated line, a raw socket, a pty: `UpdateRequest.known_line_rate_bps`)."""
        from bridgelab.updates.request import UpdateRequest

        request = UpdateRequest(
            self.port_url, self.image_path, baudrate=self.baudrate, line_baud=self.line_baud
        )
        return request.known_line_rate_bps


class RecoveryEngine:
    """One recovery session. `cancel()` may be called from any thread."""

    def __init__(
        self,
        request: RecoveryRequest,
        *,
        store: TriageStore | None = None,
        subscribers: Sequence[ev.Subscriber] = (),
    ) -> None:
        self.request = request
        self.log = SessionLog(store)
        self.subscribers = list(subscribers)
        self._cancel = threading.Event()
        self.current_stage = Stage.IDENTIFY
        self.device: Device | None = None
        self.identity_before: IdentityResponse | None = None
        self.bootloader_version: str | None = None
        self.image: BootloaderImage | None = None
        self.data = b""
        self.version_after: int | None = None
        self.retries = 0
        self.transferred = 0
        self.transfer_seconds = 0.0
        self.notices: list[str] = []

    # ----------------------------------------------------------------- plumbing

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def emit(self, event: ev.UpdateEvent) -> None:
        for subscriber in self.subscribers:
            subscriber(event)

    def notice(self, level: str, code: str, message: str) -> None:
        self.notices.append(message)
        self.log.event("notice", {"level": level, "code": code, "message": message})
        self.emit(ev.Notice(time.monotonic(), level, code, message))

    @contextlib.contextmanager
    def stage(self, stage: Stage, detail: str = "") -> Iterator[None]:
        started = time.monotonic()
        self.current_stage = stage
        self.log.stage(stage, {"detail": detail} if detail else None)
        self.emit(ev.StageStarted(started, stage, detail))
        ok = False
        try:
            yield
            ok = True
        finally:
            self.emit(ev.StageFinished(time.monotonic(), stage, ok, "", time.monotonic() - started))

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise UpdateFailed(
                self.current_stage,
                FailureClass.CANCELLED,
                "Cancelled by the user.",
                code="cancelled",
            )

    # ----------------------------------------------------------------- the session

    def run(self) -> ev.UpdateResult:
        started = time.monotonic()
        request = self.request
        size = request.image_path.stat().st_size if request.image_path.is_file() else 0
        try:
            self.log.begin(
                SessionStart(
                    mode="local",
                    port_url=request.port_url,
                    driver=DRIVER_NAME,
                    baud=request.baudrate,
                    site_ref=request.site_ref,
                    operator=request.operator,
                    image_size=size,
                    details={"image_file": str(request.image_path), "method": METHOD},
                )
            )
        except StoreError as error:
            refused = UpdateFailed(
                Stage.IDENTIFY,
                FailureClass.INTERNAL_ERROR,
                f"The triage log cannot record this recovery: {error.message}",
                code=error.code,
                action=f"{error.action} Nothing was sent to the radio.",
            )
            return self._finish(started, FinalState.FAILED, refused)
        self.emit(
            ev.SessionStarted(started, "local", request.port_url, str(request.image_path), size)
        )
        failure: UpdateFailed | None = None
        state = FinalState.SUCCESS
        try:
            self._run_stages()
        except UpdateFailed as error:
            failure = error
            state = (
                FinalState.CANCELLED
                if error.failure.cls == FailureClass.CANCELLED
                else FinalState.FAILED
            )
        except DriverError as error:
            cls = (
                FailureClass.LINK_LOST if isinstance(error, LinkLost) else FailureClass.NO_RESPONSE
            )
            failure, state = (
                UpdateFailed.from_error(self.current_stage, cls, error),
                FinalState.FAILED,
            )
        except Exception as error:  # the session must end in a record, whatever happened
            failure = internal_failure(self.current_stage, error, where="recovery")
            state = FinalState.FAILED
        finally:
            if self.device is not None:
                self.device.close()
        return self._finish(started, state, failure)

    def _run_stages(self) -> None:
        with self.stage(Stage.IDENTIFY, self.request.port_url):
            self._identify()
        with self.stage(Stage.VALIDATE, str(self.request.image_path)):
            self._validate()
        self._check_cancel()
        with self.stage(Stage.TRANSFER, METHOD):
            bootloader = self._reach_bootloader()
            self._upload(bootloader)
        with self.stage(Stage.ACTIVATE):
            self._activate(bootloader)
        with self.stage(Stage.CONFIRM):
            self._confirm(bootloader)

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
        self.device = device
        self.log.update(details={"driver_found": device.driver_name})
        if isinstance(device, GeckoBootloader):
            self.bootloader_version = device.version
            self.log.event(
                "bootloader-found",
                {
                    "name": device.menu.name,
                    "version": device.version,
                    "by": f"reset sequence {request.reset_sequence}"
                    if request.reset_sequence
                    else "probing",
                },
            )
            self.emit(
                ev.DeviceIdentified(
                    time.monotonic(),
                    0,
                    {"bootloader": f"{device.menu.name} v{device.version}"},
                    "not available through the bootloader",
                )
            )
            return
        if not isinstance(device, BridgeClient):
            raise UpdateFailed(
                Stage.IDENTIFY,
                FailureClass.DEVICE_REFUSED,
                f"The {device.driver_name} driver cannot reach a bootloader.",
                code="no-bootloader-path",
                action="Use --driver gecko-bootloader with the radio held in its bootloader.",
            )
        identity = device.identity()
        self.identity_before = identity
        self._record_device(identity)
        self.log.update(version_before=identity.firmware_version)
        self.emit(ev.DeviceIdentified(time.monotonic(), identity.eui64, identity.to_dict(), ""))

    def _record_device(self, identity: IdentityResponse) -> None:
        self.log.device(
            DeviceInfo(
                eui64=identity.eui64,
                manufacturer_code=identity.manufacturer_code,
                model=identity.model,
                hardware_version=identity.hardware_version,
                serial_number=identity.serial_number,
                identity=identity.to_dict(),
            )
        )

    # ----------------------------------------------------------------- validate

    def _refuse(self, message: str, code: str, action: str) -> UpdateFailed:
        return UpdateFailed(
            Stage.VALIDATE, FailureClass.IMAGE_REJECTED, message, code=code, action=action
        )

    def _validate(self) -> None:
        request = self.request
        try:
            data, image = load_bootloader_image(request.image_path)
            image.require_valid_crc()
        except FirmwareError as error:
            raise UpdateFailed.from_error(
                Stage.VALIDATE, FailureClass.IMAGE_REJECTED, error
            ) from error
        if image.format != BootloaderFormat.GBL:
            raise self._refuse(
                f"{request.image_path.name} is an EBL file; the Gecko Bootloader takes GBL.",
                "not-a-gbl",
                "Use the .gbl build of this firmware (Simplicity Commander converts EBL).",
            )
        key = None
        if request.trust_key is not None:
            try:
                key = load_public_key(request.trust_key)
            except FirmwareError as error:
                raise UpdateFailed.from_error(
                    Stage.VALIDATE, FailureClass.IMAGE_REJECTED, error
                ) from error
        signature = check_gbl_signature(data, image, key)
        if signature == GblSignature.INVALID:
            raise self._refuse(
                f"The signature of {request.image_path.name} does not verify with the trusted key.",
                "gbl-signature-invalid",
                "Get the file again from its publisher, or check that the key is this radio's.",
            )
        if signature == GblSignature.UNSIGNED and key is not None:
            raise self._refuse(
                f"{request.image_path.name} is not signed, and a key is trusted for this radio.",
                "gbl-unsigned",
                "Use the signed build of this firmware.",
            )
        if signature == GblSignature.NOT_CHECKED:
            self.notice(
                "warning",
                "gbl-signature-not-checked",
                "The file is signed but no key is trusted for it (--trust-key): the signature "
                "was not checked here; the bootloader checks it if it holds a key.",
            )
        self.image, self.data = image, data
        app = image.application
        self.log.image(
            ImageInfo(
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                file_name=request.image_path.name,
                body_form="gbl",
                file_version=app.version if app else None,
                signature_status=str(signature),
                details={"crc32": f"{image.crc_stored:08x}", "tags": len(image.tags)},
            )
        )

    # ----------------------------------------------------------------- transfer

    def _reach_bootloader(self) -> GeckoBootloader:
        device = self.device
        if isinstance(device, GeckoBootloader):
            return device
        assert isinstance(device, BridgeClient)
        if Capability.ENTER_BOOTLOADER not in device.capabilities:
            raise UpdateFailed(
                Stage.TRANSFER,
                FailureClass.DEVICE_REFUSED,
                "This bridge cannot be asked to restart into its bootloader.",
                code="no-enter-bootloader",
                action="Hold the radio in its bootloader (its reset line or button) and retry.",
            )
        device.enter_bootloader()
        self.log.event("enter-bootloader", {"via": "ENTER_BOOTLOADER"})
        port = device.release()
        self.device = None
        try:
            bootloader = GeckoBootloader.attach(
                port, self.request.port_url, wait_s=self.request.enter_bootloader_s
            )
        except NoAnswer as error:
            with contextlib.suppress(OSError):
                port.close()
            raise UpdateFailed.from_error(
                Stage.TRANSFER, FailureClass.NO_RESPONSE, error
            ) from error
        self.device = bootloader
        self.bootloader_version = bootloader.version
        self.log.event("bootloader-found", {"version": bootloader.version, "by": "request"})
        return bootloader

    def _upload(self, bootloader: GeckoBootloader) -> None:
        total = len(self.data)
        meter = ProgressMeter(total, self.request.line_rate_bps)

        def on_progress(done: int, size: int) -> None:
            if meter.update(done):
                self.log.progress(done, size, rate_bps=round(meter.rate_bps, 1))
                self.emit(
                    ev.Progress(
                        time.monotonic(),
                        done,
                        size,
                        meter.rate_bps,
                        meter.eta_s,
                        meter.efficiency,
                    )
                )

        def on_retry(block: int, reason: str) -> None:
            self.retries += 1
            self.log.event("retry", {"stage": "transfer", "reason": reason, "block": block})
            self.emit(ev.Retry(time.monotonic(), Stage.TRANSFER, self.retries, reason))

        try:
            result = bootloader.upload(
                self.data,
                on_progress=on_progress,
                on_retry=on_retry,
                should_stop=self.cancelled,
                answer_timeout_s=self.request.answer_timeout_s,
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
                raise UpdateFailed(
                    Stage.TRANSFER,
                    FailureClass.CANCELLED,
                    "Cancelled by the user.",
                    code="cancelled",
                ) from error
            raise UpdateFailed.from_error(Stage.TRANSFER, FailureClass.STALLED, error) from error
        except NoAnswer as error:
            raise UpdateFailed.from_error(Stage.TRANSFER, FailureClass.STALLED, error) from error
        self.transferred = result.payload_bytes
        self.transfer_seconds = result.seconds
        self.log.event(
            "transfer",
            {
                "method": METHOD,
                "block_size": xm.BLOCK_SIZE,
                "blocks": result.blocks,
                "sent_bytes": result.sent_bytes,
                "seconds": round(result.seconds, 3),
            },
        )

    # ----------------------------------------------------------------- activate, confirm

    def _activate(self, bootloader: GeckoBootloader) -> None:
        try:
            bootloader.run()
        except NoApplication as error:
            raise UpdateFailed.from_error(
                Stage.ACTIVATE, FailureClass.ACTIVATION_FAILED, error
            ) from error
        self.log.event("run", {})

    def _confirm(self, bootloader: GeckoBootloader) -> None:
        assert self.image is not None
        port = bootloader.release()
        self.device = None
        deadline = time.monotonic() + self.request.confirm_s
        client: BridgeClient | None = None
        while client is None:
            self._check_cancel()
            if probe_service(port, tries=1):
                client = BridgeClient(port, self.request.port_url)
                try:
                    client.handshake()
                except NoAnswer:
                    client.release()
                    client = None
            if client is None and time.monotonic() > deadline:
                with contextlib.suppress(OSError):
                    port.close()
                raise UpdateFailed(
                    Stage.CONFIRM,
                    FailureClass.NO_RESPONSE,
                    f"The application did not answer within {self.request.confirm_s:g} s of "
                    "being started.",
                    code="no-application-answer",
                    action="The image may be for another radio: check the bootloader menu "
                    "(`bridgelab info`) and recover with the right .gbl.",
                )
        self.device = client
        identity = client.identity()
        self._record_device(identity)
        self.version_after = identity.firmware_version
        self.log.update(version_after=identity.firmware_version)
        before = self.identity_before
        if before is not None and identity.eui64 != before.eui64:
            raise UpdateFailed(
                Stage.CONFIRM,
                FailureClass.WRONG_DEVICE,
                "Another bridge answers after the recovery.",
                code="wrong-device",
                action="Connect the bridge this recovery started with.",
            )
        app = self.image.application
        if app is not None and identity.firmware_version != app.version:
            raise UpdateFailed(
                Stage.CONFIRM,
                FailureClass.VERSION_UNCHANGED,
                f"The bridge runs {format_version(identity.firmware_version)}, not the "
                f"image's {format_version(app.version)}.",
                code="version-unexpected",
            )
        self.emit(ev.DeviceIdentified(time.monotonic(), identity.eui64, identity.to_dict(), ""))
        self.log.event("confirmed", {"firmware_version": identity.firmware_version})

    # ----------------------------------------------------------------- ending

    def _finish(
        self, started: float, state: FinalState, failure: UpdateFailed | None
    ) -> ev.UpdateResult:
        throughput = self.transferred / self.transfer_seconds if self.transfer_seconds else None
        line = self.request.line_rate_bps
        app = self.image.application if self.image is not None else None
        result = ev.UpdateResult(
            result="success" if failure is None else failure.failure.cls.value,
            session_id=self.log.session_id,
            mode="local",
            version_before=self.identity_before.firmware_version if self.identity_before else None,
            version_after=self.version_after,
            image_version=app.version if app else None,
            bytes=self.transferred,
            duration_s=time.monotonic() - started,
            throughput_bps=throughput,
            line_efficiency=throughput / line if throughput is not None and line else None,
            retries=self.retries,
            resumed_from=None,
            failure_stage=failure.failure.stage.value if failure else None,
            error=failure.result_error() if failure else None,
            notices=tuple(self.notices),
        )
        self.log.finish(
            state,
            failure.failure if failure else None,
            version_after=self.version_after,
            throughput_bps=throughput,
            retries=self.retries,
        )
        self.emit(ev.SessionFinished(time.monotonic(), result))
        return result
