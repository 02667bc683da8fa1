"""The emulated bridge's device model: requests in, responses and events out.

The model is sans-I/O: `handle()` takes a decoded request and returns the response frame
and how long the device is busy with it (flash erase or write, hashing); `poll()` runs
timers (reboots, rejoins, delayed activation, scheduled faults). The endpoint owns the
link, its pacing and the faults that act on bytes and frames.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bridgelab.drivers import protocol as p
from bridgelab.drivers.framing import Frame
from bridgelab.drivers.join_state import JoinState
from bridgelab.drivers.versions import NO_VERSION, format_version
from bridgelab.emulator.faults import Faults
from bridgelab.emulator.flash import Download, Flash
from bridgelab.emulator.gecko_bootloader import EmulatedGeckoBootloader
from bridgelab.emulator.ota_port import OtaPort
from bridgelab.emulator.profiles import Profile
from bridgelab.emulator.reset_circuit import Boot, ResetCircuit
from bridgelab.zigbee.install_code import derive_link_key, parse_install_code
from bridgelab.zigbee.ota_client import OtaDeviceIdentity


@dataclass(frozen=True)
class ImageCheck:
    """What the device's own image check concluded."""

    ok: bool
    reason: str = ""
    file_version: int = NO_VERSION
    manufacturer_image_sha256: bytes = b""


# (file bytes, device facts) -> verdict; the firmware toolkit provides the real one.
ImageChecker = Callable[[bytes, "EmulatedBridge"], ImageCheck]


@dataclass
class Reply:
    frame: Frame | None  # None: the device does not answer (down, stalled, lost power)
    busy_s: float = 0.0


class EmulatedBridge:
    """One emulated bridge. Not thread-safe: the endpoint calls it from one thread."""

    def __init__(
        self,
        profile: Profile,
        faults: Faults | None = None,
        *,
        image_checker: ImageChecker,
        state_path: Path | None = None,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profile = profile
        self.faults = faults or Faults()
        self.rng = random.Random(seed)
        self._check_image = image_checker
        self._clock = clock
        self.flash = Flash.open(
            state_path, profile.firmware_version, profile.inactive_firmware_version
        )
        # Starting from a state file is a power-on: an unconfirmed (trial) image it left
        # falls back, as after any reboot the bridge did not ask for.
        self.rolled_back_at_power_on = self.flash.state.trial
        if self.flash.state.trial:
            self.flash.switch_back()
        self.join_state = profile.join_state
        # The install code on the label, and the link key the Comms Hub derives from it:
        # the bridge keeps the key to itself (it never goes on the service port).
        install_code = parse_install_code(profile.install_code)
        install_code.require_crc_ok()
        self._link_key = derive_link_key(install_code)
        self.last_failure_code = profile.last_failure_code
        self.started_at = clock()
        self.uptime_origin = self.started_at
        self.log: list[p.LogEntry] = []
        self._events: list[p.Event] = []
        self._down_until: float | None = None
        self._boot_reason = p.RebootReason.POWER_ON
        self._stalled = False
        self._rejoin_at: float | None = None
        self._activate_at: float | None = None
        self._leave_pending = self.faults.leave_han_at is not None
        self._tcso_pending = self.faults.tcso is not None
        self._activate_on_reboot = False
        self._seed = seed
        self._ota: OtaPort | None = None
        # The cable, for emulated USB bridges: which "port" it is on and when it is out.
        self.port_index = 0
        self.unplugged_until = 0.0
        self.unplug_pending = False
        self.requests_handled = 0  # message boundaries, for the boundary faults
        # The radio's Gecko Bootloader shares the service port; while it runs, the endpoint
        # hands it raw bytes instead of frames.
        self.bootloader = EmulatedGeckoBootloader(
            version=gecko_version_text(profile.bootloader_version),
            write_s_per_block=profile.write_ms_per_kib / 8000.0,
            boot_s=min(profile.boot_s, 0.1),
            require_signature=profile.bootloader_requires_signature,
            faults=self.faults,
            seed=seed,
            app_valid=profile.app_valid,
            on_run=self._run_from_bootloader,
        )
        self._enter_bootloader_pending = False
        # DTR/RTS to the radio's reset and bootloader pins, reached only where the host's
        # link carries modem lines (`bridgelab emulate --tcp ... --rfc2217`).
        self.reset_circuit = ResetCircuit()
        # The service protocol version agreed at the last HELLO (RAM: a reboot forgets it),
        # the segments held out of order in a version-2 transfer (RAM too), and what the
        # current transfer received, for tests that count frames on the bridge's side.
        self.session_version = 1
        self._pieces: dict[int, bytes] = {}
        self.received_writes: list[tuple[str, int, int]] = []  # (command, offset, length)
        if not profile.app_valid:
            self.bootloader.enter(clock())
            self._note(0x0003, "power on: no valid application, the bootloader runs")
        else:
            self._note(0x0001, f"power on, running {format_version(self.firmware_version)}")

    # ----------------------------------------------------------------- facts

    @property
    def firmware_version(self) -> int:
        return self.flash.running_slot.version

    @property
    def inactive_firmware_version(self) -> int:
        return self.flash.inactive_slot.version

    @property
    def is_down(self) -> bool:
        return self._down_until is not None or self._stalled

    def identity(self) -> p.IdentityResponse:
        pr = self.profile
        return p.IdentityResponse(
            manufacturer_code=pr.manufacturer_code,
            image_type=pr.image_type,
            hardware_version=pr.hardware_version,
            firmware_version=self.firmware_version,
            inactive_firmware_version=self.inactive_firmware_version,
            bootloader_version=pr.bootloader_version,
            eui64=pr.eui64,
            ota_capable=pr.ota_capable,
            serial_number=pr.serial_number,
            model=pr.model,
        )

    def join_status(self) -> p.JoinStatusResponse:
        pr = self.profile
        on_han = self.join_state == JoinState.JOINED
        return p.JoinStatusResponse(
            state=self.join_state,
            ch_eui64=pr.ch_eui64,
            channel=pr.channel,
            pan_id=pr.pan_id,
            lqi=pr.lqi if on_han else 0,
            rssi=pr.rssi if on_han else -128,
            device_type=pr.device_type,
            last_failure_code=self.last_failure_code,
        )

    # ----------------------------------------------------------------- events and timers

    def unplug(self) -> None:
        """The cable is pulled: the bridge keeps running; the link comes back later,
        maybe as another port."""
        self.unplug_pending = False
        self.unplugged_until = self._clock() + self.faults.replug_s
        if self.faults.replug_port:
            self.port_index += 1
        self._note(0x0040, "service cable unplugged")

    def is_plugged(self, port_index: int) -> bool:
        return port_index == self.port_index and self._clock() >= self.unplugged_until

    def drain_events(self) -> list[p.Event]:
        events, self._events = self._events, []
        return events

    def _note(self, code: int, text: str) -> None:
        uptime = int(self._clock() - self.uptime_origin)
        entry = p.LogEntry(uptime, code, text)
        self.log.append(entry)
        del self.log[:-500]  # a ring buffer, like the device's
        self._events.append(p.LogEntryEvent(entry))

    def _set_join(self, state: JoinState) -> None:
        if state != self.join_state:
            self.join_state = state
            self._note(0x0010, f"HAN join state: {state.label}")
            self._events.append(p.JoinChanged(self.join_status()))

    @property
    def in_bootloader(self) -> bool:
        return self.bootloader.active

    def _run_from_bootloader(self, version: int | None) -> bool:
        """The bootloader starts the application: a recovered image, or the one it had."""
        if version is not None:
            self.flash.recovered(version)
        self.reboot(p.RebootReason.POWER_ON)
        return True

    def take_bootloader_request(self, now: float) -> None:
        """After ENTER_BOOTLOADER's answer has gone out: restart into the bootloader."""
        if self._enter_bootloader_pending:
            self._enter_bootloader_pending = False
            self._note(0x0004, "restarting into the bootloader")
            self.bootloader.enter(now)

    def set_reset_lines(self, dtr: bool, rts: bool) -> None:
        """The host's DTR/RTS as they are now (True: asserted), through the board's reset
        circuit: a reset holds the whole radio silent until it is released."""
        now = self._clock()
        if self.reset_circuit.set_lines(dtr, rts, now):
            self._note(0x0005, "reset pin held by the host (RTS)")
            self.power_cycle()  # RAM is lost as in any reset; flash stays
            self._down_until = math.inf  # until released and started (`_poll_reset`)
            self.bootloader.hold_in_reset()

    def _poll_reset(self, now: float) -> None:
        boot = self.reset_circuit.poll(now)
        if boot is None:
            return
        if boot is Boot.APPLICATION and self.bootloader.start_application():
            self.reboot(p.RebootReason.POWER_ON)
            return
        pin = "held" if boot is Boot.BOOTLOADER else "released, no valid application"
        self._note(0x0006, f"out of reset, bootloader pin {pin}: the bootloader runs")
        self.bootloader.enter(now)

    def next_deadline(self) -> float | None:
        times = [t for t in (self._down_until, self._rejoin_at, self._activate_at) if t]
        reset_deadline = self.reset_circuit.next_deadline()
        if reset_deadline is not None:
            times.append(reset_deadline)
        bootloader_deadline = self.bootloader.next_deadline()
        if bootloader_deadline is not None:
            times.append(bootloader_deadline)
        if self._leave_pending and self.faults.leave_han_at is not None:
            times.append(self.started_at + self.faults.leave_han_at)
        if self._tcso_pending and self.faults.tcso is not None:
            times.append(self.started_at + self.faults.tcso)
        return min(times) if times else None

    def poll(self) -> None:
        now = self._clock()
        self._poll_reset(now)
        if self._down_until is not None and now >= self._down_until:
            self._boot()
        if self._activate_at is not None and now >= self._activate_at and not self.is_down:
            self._activate_at = None
            self._activate_now()
        if self._rejoin_at is not None and now >= self._rejoin_at and not self.is_down:
            self._rejoin_at = None
            if self.join_state == JoinState.JOINING:
                self._set_join(JoinState.JOINED)
        if (
            self._leave_pending
            and self.faults.leave_han_at is not None
            and now >= self.started_at + self.faults.leave_han_at
        ):
            self._leave_pending = False
            self._set_join(JoinState.LEFT)
        if (
            self._tcso_pending
            and self.faults.tcso is not None
            and now >= self.started_at + self.faults.tcso
        ):
            self._tcso_pending = False
            self._note(0x0011, "trust centre swap-out: the new Comms Hub does not know us")
            self._set_join(JoinState.ORPHANED)

    def reboot(self, reason: p.RebootReason) -> None:
        """Go silent for the boot time; RAM state (not flash) is lost."""
        self._down_until = self._clock() + self.profile.boot_s
        self._boot_reason = reason
        self._activate_at = None
        self._rejoin_at = None
        self.session_version = 1
        self._pieces.clear()

    def power_cycle(self) -> None:
        """Power lost and back: like a reboot, and RAM-only state goes too (a deferred
        activation, the OTA client's session, a hang from a stall fault that fired); flash
        (slots, trial flag, download) stays."""
        self._stalled = False
        self._activate_on_reboot = False
        self._ota = None
        self.reboot(p.RebootReason.POWER_ON)

    def _boot(self) -> None:
        self._down_until = None
        self.uptime_origin = self._clock()
        reason = self._boot_reason
        if self._activate_on_reboot:
            self._activate_on_reboot = False
            if self._install_download():
                reason = p.RebootReason.ACTIVATION
        if self.flash.state.trial and reason != p.RebootReason.ACTIVATION:
            # An unconfirmed trial image rolls back on any reboot it did not ask for.
            self.flash.switch_back()
            reason = p.RebootReason.ROLLBACK
        self._note(
            0x0002, f"boot ({reason.name.lower()}), running {format_version(self.firmware_version)}"
        )
        self._events.append(p.Rebooted(reason, self.firmware_version))
        if self.join_state in (JoinState.JOINED, JoinState.JOINING, JoinState.AWAITING_JOIN):
            self._set_join(JoinState.JOINING)
            self._rejoin_at = self._clock() + self.profile.rejoin_s

    # ----------------------------------------------------------------- requests

    def handle(self, request: p.AnyRequest, seq: int) -> Reply:
        """Answer one request. While down or stalled the device says nothing."""
        self.poll()
        if self.is_down:
            return Reply(None)
        self.requests_handled += 1
        handler = _HANDLERS.get(type(request))
        if handler is None:
            return self._refuse(request, seq, p.Status.UNKNOWN_COMMAND, "command not supported")
        return handler(self, request, seq)

    def _ok(
        self, request: p.AnyRequest, seq: int, body: p.Message | None = None, busy_s: float = 0.0
    ) -> Reply:
        return Reply(p.encode_response(request.COMMAND, seq, body), busy_s)

    def _refuse(self, request: p.AnyRequest, seq: int, status: p.Status, text: str) -> Reply:
        return Reply(p.encode_response(request.COMMAND, seq, status=status, text=text))

    def _hello(self, request: p.AnyRequest, seq: int) -> Reply:
        assert isinstance(request, p.Hello)
        pr = self.profile
        body = p.HelloResponse(
            protocol_version=min(request.protocol_version, pr.protocol_version),
            max_payload=min(request.max_payload, pr.max_payload),
            window=min(request.window, pr.window),
            baud_rates=pr.baud_rates,
            model=pr.model,
        )
        self.session_version = body.protocol_version
        return self._ok(request, seq, body)

    def _ping(self, request: p.AnyRequest, seq: int) -> Reply:
        assert isinstance(request, p.Ping)
        return self._ok(request, seq, p.PingResponse(request.data))

    def _set_baud(self, request: p.AnyRequest, seq: int) -> Reply:
        assert isinstance(request, p.SetBaud)
        if self.faults.refuse_baud:
            return self._refuse(request, seq, p.Status.NOT_SUPPORTED, "rate switching is off")
        if request.baud not in self.profile.baud_rates:
            rates = ", ".join(str(b) for b in self.profile.baud_rates)
            return self._refuse(request, seq, p.Status.NOT_SUPPORTED, f"supported: {rates}")
        return self._ok(request, seq)

    def _identity(self, request: p.AnyRequest, seq: int) -> Reply:
        return self._ok(request, seq, self.identity())

    def _join(self, request: p.AnyRequest, seq: int) -> Reply:
        return self._ok(request, seq, self.join_status())

    def _p2p(self, request: p.AnyRequest, seq: int) -> Reply:
        pr = self.profile
        body = p.P2PLinkResponse(p.LinkState.UP, pr.partner_eui64, pr.p2p_lqi, pr.p2p_rssi)
        return self._ok(request, seq, body)

    def _event_log(self, request: p.AnyRequest, seq: int) -> Reply:
        assert isinstance(request, p.ReadEventLog)
        chosen: list[p.LogEntry] = []
        size = 6
        for entry in self.log[request.start : request.start + request.max_entries]:
            size += len(entry.pack())
            if size > self.profile.max_payload - 16:
                break
            chosen.append(entry)
        body = p.EventLogResponse(len(self.log), request.start, tuple(chosen))
        return self._ok(request, seq, body)

    def _reboot(self, request: p.AnyRequest, seq: int) -> Reply:
        reply = self._ok(request, seq)
        self.reboot(p.RebootReason.REQUESTED)
        return reply

    def _enter_bootloader(self, request: p.AnyRequest, seq: int) -> Reply:
        self._enter_bootloader_pending = True
        return self._ok(request, seq)

    # local update

    def _update_begin(self, request: p.AnyRequest, seq: int) -> Reply:
        assert isinstance(request, p.UpdateBegin)
        download = self.flash.state.download
        digest = request.file_sha256.hex()
        max_write = self.profile.max_payload - 8
        if request.image_size > 16 * 1024 * 1024:
            return self._refuse(request, seq, p.Status.TOO_LARGE, "image larger than the slot")
        # Out-of-order segments are dropped on every (re)open: the host resends from the
        # resume offset, which is what reached flash.
        self._pieces.clear()
        window = (
            self.profile.reassembly_bytes
            if self.session_version >= p.SELECTIVE_REPEAT_VERSION
            and self.profile.protocol_version >= p.SELECTIVE_REPEAT_VERSION
            else None
        )
        if download and download.file_sha256 == digest and download.size == request.image_size:
            self._note(0x0020, f"update resumed at {self.flash.offset}")
            body = p.UpdateBeginResponse(self.flash.offset, max_write, window)
            return self._ok(request, seq, body)
        self.flash.begin(Download(request.image_size, digest, request.header.hex()))
        self.received_writes.clear()
        self._note(0x0020, f"update begin, {request.image_size} bytes")
        erase_s = self.profile.erase_ms_per_kib * request.image_size / 1024 / 1000
        body = p.UpdateBeginResponse(0, max_write, window)
        return self._ok(request, seq, body, busy_s=erase_s)

    def _update_write(self, request: p.AnyRequest, seq: int) -> Reply:
        assert isinstance(request, p.UpdateWrite)
        download = self.flash.state.download
        if download is None or download.verified:
            return self._refuse(request, seq, p.Status.NOT_ALLOWED, "no transfer open")
        self.received_writes.append(("write", request.offset, len(request.data)))
        expected = self.flash.offset
        if request.offset != expected:
            return Reply(p.encode_wrong_offset(request.COMMAND, seq, expected))
        end = request.offset + len(request.data)
        if end > download.size:
            return self._refuse(request, seq, p.Status.TOO_LARGE, "write past the image size")
        silent = self._write_to_flash([request.data], end)
        if silent is not None:
            return silent
        busy = self.profile.write_ms_per_kib * len(request.data) / 1024 / 1000
        return self._ok(request, seq, p.UpdateWriteResponse(end), busy_s=busy)

    def _write_to_flash(self, chunks: list[bytes], end: int) -> Reply | None:
        """Append `chunks` (ending at image offset `end`) to flash, through the transfer
        faults; a Reply (no answer) when a fault silenced the bridge."""
        faults = self.faults
        if faults.stall_at is not None and end > faults.stall_at:
            faults.stall_at = None
            self._stalled = True
            return Reply(None)
        if faults.power_loss_at is not None and end > faults.power_loss_at:
            faults.power_loss_at = None  # the block in flight never reaches flash
            self.reboot(p.RebootReason.POWER_ON)
            return Reply(None)
        for chunk in chunks:
            self.flash.write(chunk)
        if faults.unplug_at is not None and end > faults.unplug_at:
            faults.unplug_at = None  # the block reached flash; its answer is lost with the cable
            self.unplug_pending = True
            return Reply(None)
        if faults.reboot_at is not None and end > faults.reboot_at:
            faults.reboot_at = None
            self.reboot(p.RebootReason.WATCHDOG)
            return Reply(None)
        return None

    def _update_segment(self, request: p.AnyRequest, seq: int) -> Reply:
        """Version 2: keep the segment (out of order if need be), write what became
        contiguous, and answer with what is held."""
        assert isinstance(request, p.UpdateSegment)
        if self.profile.protocol_version < p.SELECTIVE_REPEAT_VERSION:
            return self._refuse(request, seq, p.Status.UNKNOWN_COMMAND, "command not supported")
        download = self.flash.state.download
        if download is None or download.verified:
            return self._refuse(request, seq, p.Status.NOT_ALLOWED, "no transfer open")
        start, data = request.offset, request.data
        if start + len(data) > download.size:
            return self._refuse(request, seq, p.Status.TOO_LARGE, "write past the image size")
        self.received_writes.append(("segment", start, len(data)))
        contiguous = self.flash.offset
        window_end = contiguous + self.profile.reassembly_bytes
        low, high = max(start, contiguous), min(start + len(data), window_end)
        if low < high and len(self._pieces.get(low, b"")) < high - low:
            self._pieces[low] = data[low - start : high - start]
        chunks, end = self._contiguous_chunks(contiguous)
        busy = 0.0
        if chunks:
            silent = self._write_to_flash(chunks, end)
            if silent is not None:
                return silent
            busy = self.profile.write_ms_per_kib * (end - contiguous) / 1024 / 1000
        return self._ok(request, seq, self._segment_report(), busy_s=busy)

    def _contiguous_chunks(self, offset: int) -> tuple[list[bytes], int]:
        """Take the held pieces that continue the flash from `offset`, in order."""
        chunks: list[bytes] = []
        progressed = True
        while progressed:
            progressed = False
            for start in sorted(self._pieces):
                piece = self._pieces[start]
                if start + len(piece) <= offset:
                    del self._pieces[start]  # already held
                elif start <= offset:
                    del self._pieces[start]
                    chunks.append(piece[offset - start :])
                    offset = start + len(piece)
                    progressed = True
                else:
                    break
        return chunks, offset

    def _segment_report(self) -> p.UpdateSegmentResponse:
        ranges: list[list[int]] = []
        for start in sorted(self._pieces):
            end = start + len(self._pieces[start])
            if ranges and start <= ranges[-1][1]:
                ranges[-1][1] = max(ranges[-1][1], end)
            else:
                ranges.append([start, end])
        held = tuple(p.HeldRange(s, e - s) for s, e in ranges[: p.MAX_HELD_RANGES])
        contiguous = self.flash.offset
        return p.UpdateSegmentResponse(contiguous, contiguous + self.profile.reassembly_bytes, held)

    def _update_finish(self, request: p.AnyRequest, seq: int) -> Reply:
        download = self.flash.state.download
        if download is None:
            return self._refuse(request, seq, p.Status.NO_IMAGE, "no transfer open")
        if self.flash.offset != download.size:
            text = f"incomplete: {self.flash.offset} of {download.size} bytes"
            return self._refuse(request, seq, p.Status.NOT_ALLOWED, text)
        busy = self.profile.verify_ms / 1000
        if self.flash.file_sha256() != download.file_sha256:
            self._note(0x0021, "update hash mismatch: image discarded")
            self.flash.discard()
            return self._refuse(request, seq, p.Status.HASH_MISMATCH, "file hash differs")
        verdict = self._check_image(self.flash.data, self)
        if not verdict.ok:
            self._note(0x0022, f"image rejected: {verdict.reason}")
            self.flash.discard()
            return self._refuse(request, seq, p.Status.IMAGE_REJECTED, verdict.reason)
        download.verified = True
        download.file_version = verdict.file_version
        download.manufacturer_image_sha256 = verdict.manufacturer_image_sha256.hex()
        self.flash.save()
        self._note(0x0023, f"image {format_version(verdict.file_version)} verified")
        body = p.UpdateFinishResponse(
            bytes.fromhex(download.file_sha256),
            verdict.manufacturer_image_sha256,
            verdict.file_version,
        )
        return self._ok(request, seq, body, busy_s=busy)

    def _update_activate(self, request: p.AnyRequest, seq: int) -> Reply:
        assert isinstance(request, p.UpdateActivate)
        download = self.flash.state.download
        if download is None or not download.verified:
            return self._refuse(request, seq, p.Status.NO_IMAGE, "no verified image held")
        if request.manufacturer_image_sha256.hex() != download.manufacturer_image_sha256:
            return self._refuse(request, seq, p.Status.HASH_MISMATCH, "activation hash differs")
        if self.faults.refuse_activate:
            self._note(0x0024, "activation failed")
            return self._refuse(request, seq, p.Status.ACTIVATION_FAILED, "bootloader refused")
        if request.delay_s == p.ACTIVATE_ON_NEXT_REBOOT:
            self._note(0x0024, "activation deferred to the next reboot")
            self._activate_on_reboot = True
        else:
            self._activate_at = self._clock() + request.delay_s
        return self._ok(request, seq)

    def _activate_now(self) -> None:
        if self._install_download():
            self._note(0x0025, "activating new image")
            self.reboot(p.RebootReason.ACTIVATION)

    def _install_download(self) -> bool:
        """Switch slots to the verified download (as a trial). False if there is none."""
        download = self.flash.state.download
        if download is None or not download.verified:
            return False
        if self.faults.version_unchanged:
            # The bootloader silently keeps the old image: what "100 % but the version
            # never changed" looks like from the outside.
            self.flash.discard()
        else:
            self.flash.install(
                download.file_version, download.manufacturer_image_sha256, trial=True
            )
        return True

    def _update_confirm(self, request: p.AnyRequest, seq: int) -> Reply:
        if not self.flash.state.trial:
            return self._refuse(request, seq, p.Status.NOT_ALLOWED, "no trial image running")
        self.flash.state.trial = False
        self.flash.save()
        self._note(0x0026, f"image {format_version(self.firmware_version)} confirmed")
        return self._ok(request, seq)

    def _update_rollback(self, request: p.AnyRequest, seq: int) -> Reply:
        if self.flash.state.trial:
            reply = self._ok(request, seq)
            self.flash.state.trial = False
            self.flash.switch_back()
            self.reboot(p.RebootReason.ROLLBACK)
            return reply
        if self.flash.state.download is not None:
            self.flash.discard()
            self._note(0x0027, "download discarded")
            return self._ok(request, seq)
        return self._refuse(request, seq, p.Status.NOT_ALLOWED, "nothing to roll back")

    # OTA tunnel

    def _ota_refusal(self, request: p.AnyRequest, seq: int) -> Reply | None:
        if not self.profile.ota_capable:
            text = "this bridge has no OTA client (legacy): update it locally"
            return self._refuse(request, seq, p.Status.NOT_SUPPORTED, text)
        if self.join_state != JoinState.JOINED:
            text = f"not on the HAN ({self.join_state.label}): OTA frames cannot reach it"
            return self._refuse(request, seq, p.Status.NOT_ALLOWED, text)
        return None

    @property
    def ota(self) -> OtaPort:
        if self._ota is None:
            pr = self.profile
            identity = OtaDeviceIdentity(
                manufacturer_code=pr.manufacturer_code,
                image_type=pr.image_type,
                current_file_version=self.firmware_version,
                eui64=pr.eui64,
                hardware_version=pr.hardware_version,
            )
            self._ota = OtaPort(
                identity,
                round_trip_s=pr.ota_block_rtt_s,
                minimum_block_period_ms=pr.ota_min_block_period_ms,
                verify_time_s=pr.ota_verify_s,
                han_loss_rate=self.faults.han_loss_rate,
                seed=self._seed,
                verify=self._ota_verify,
                activate=self._ota_activate,
                emit=self._events.append,
            )
        return self._ota

    def _ota_verify(self, image: bytes) -> bool:
        verdict = self._check_image(image, self)
        if not verdict.ok:
            self._note(0x0030, f"OTA image rejected: {verdict.reason}")
        return verdict.ok

    def _ota_activate(self, image: bytes) -> None:
        """The OTA client's Upgrade End: install the image for good and reboot into it."""
        verdict = self._check_image(image, self)
        if self.faults.version_unchanged or not verdict.ok:
            self._note(0x0031, "OTA activation: the bootloader kept the old image")
        else:
            self.flash.install(
                verdict.file_version, verdict.manufacturer_image_sha256.hex(), trial=False
            )
            self._note(0x0031, f"OTA activation of {format_version(verdict.file_version)}")
        self.reboot(p.RebootReason.ACTIVATION)

    def _ota_tunnel(self, request: p.AnyRequest, seq: int) -> Reply:
        assert isinstance(request, p.OtaTunnel)
        refusal = self._ota_refusal(request, seq)
        if refusal is not None:
            return refusal
        return self._ok(request, seq, self.ota.exchange(request.zcl_frame, self.firmware_version))

    def _ota_tunnel_batch(self, request: p.AnyRequest, seq: int) -> Reply:
        assert isinstance(request, p.OtaTunnelBatch)
        if not self.profile.ota_tunnel_batch:
            return self._refuse(request, seq, p.Status.UNKNOWN_COMMAND, "command not supported")
        refusal = self._ota_refusal(request, seq)
        if refusal is not None:
            return refusal
        body = self.ota.exchange_batch(request.zcl_frame, request.ahead, self.firmware_version)
        return self._ok(request, seq, body)

    def _ota_status(self, request: p.AnyRequest, seq: int) -> Reply:
        if not self.profile.ota_capable:
            return self._refuse(request, seq, p.Status.NOT_SUPPORTED, "no OTA client")
        return self._ok(request, seq, self.ota.status())

    def _update_status(self, request: p.AnyRequest, seq: int) -> Reply:
        download = self.flash.state.download
        if self.flash.state.trial:
            state = p.UpdateState.TRIAL
        elif download is None:
            state = p.UpdateState.IDLE
        elif download.verified:
            pending = self._activate_at is not None
            state = p.UpdateState.ACTIVATION_PENDING if pending else p.UpdateState.VERIFIED
        else:
            state = p.UpdateState.RECEIVING
        size = download.size if download else 0
        digest = bytes.fromhex(download.file_sha256) if download else bytes(32)
        body = p.UpdateStatusResponse(state, self.flash.offset, size, digest)
        return self._ok(request, seq, body)


_HANDLERS: dict[type[p.AnyRequest], Callable[[EmulatedBridge, p.AnyRequest, int], Reply]] = {
    p.Hello: EmulatedBridge._hello,
    p.Ping: EmulatedBridge._ping,
    p.SetBaud: EmulatedBridge._set_baud,
    p.GetIdentity: EmulatedBridge._identity,
    p.GetJoinStatus: EmulatedBridge._join,
    p.GetP2PLink: EmulatedBridge._p2p,
    p.ReadEventLog: EmulatedBridge._event_log,
    p.Reboot: EmulatedBridge._reboot,
    p.EnterBootloader: EmulatedBridge._enter_bootloader,
    p.UpdateBegin: EmulatedBridge._update_begin,
    p.UpdateWrite: EmulatedBridge._update_write,
    p.UpdateFinish: EmulatedBridge._update_finish,
    p.UpdateActivate: EmulatedBridge._update_activate,
    p.UpdateConfirm: EmulatedBridge._update_confirm,
    p.UpdateRollback: EmulatedBridge._update_rollback,
    p.GetUpdateStatus: EmulatedBridge._update_status,
    p.UpdateSegment: EmulatedBridge._update_segment,
    p.OtaTunnel: EmulatedBridge._ota_tunnel,
    p.OtaTunnelBatch: EmulatedBridge._ota_tunnel_batch,
    p.GetOtaStatus: EmulatedBridge._ota_status,
}


def gecko_version_text(version: int) -> str:
    """The bootloader version as its menu prints it: 0x00020402 -> "2.4.2"."""
    return f"{(version >> 16) & 0xFF}.{(version >> 8) & 0xFF}.{version & 0xFF}"
