"""An emulated Silicon Labs Gecko Bootloader (UART XMODEM): menu, upload, run.

Sans-I/O like the bridge model: `feed(data, now)` takes bytes as they arrive and `poll(now)`
runs its timers; both return what the bootloader sends, each piece with the time it is
ready (after a flash write, say). The endpoint paces the line and applies line faults.

What it does, from UG266 / AN1086 and the public behaviour of the Gecko Bootloader:

- On entry, and for `3` ("ebl info"), it prints its menu and the `BL > ` prompt; other
  keys (a newline too) are ignored. `1` starts an upload: `begin upload`, then a `C`
  every second until the first block (and gives up after a minute). `2` runs the
  application when one is valid, and otherwise comes back to the menu.
- The upload is XMODEM-CRC with 128-byte blocks: a good block with the expected number is
  written and ACKed; a repeat of the previous block is ACKed again and not written; a bad
  CRC, a bad complement or a block cut short (one second without its next byte) is NAKed;
  a block out of sequence cancels the upload (CAN). Block numbers wrap from 255 to 0.
- The `.gbl` is parsed as it arrives (`GblStream`): the first bad tag cancels the upload
  with CAN; EOT is ACKed, and the result follows as `Serial upload complete` or
  `Serial upload aborted` with the parser's error, then the menu again.
- Faults (the bridge's `Faults`): `drop-rate` loses whole blocks and answers, `stall-at`
  stops answering once that many file bytes arrived, `reboot-at` and `power-loss-at` reset
  it mid-upload (it comes back with its menu and the upload is gone).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass

from bridgelab.drivers import xmodem as xm
from bridgelab.emulator.faults import Faults
from bridgelab.emulator.gbl_stream import GblStream

MENU_TEMPLATE = "\r\nGecko Bootloader v{version}\r\n1. upload gbl\r\n2. run\r\n3. ebl info\r\nBL > "
BEGIN_UPLOAD = b"\r\nbegin upload\r\n"
UPLOAD_COMPLETE = b"\r\nSerial upload complete\r\n"
UPLOAD_ABORTED = b"\r\nSerial upload aborted\r\n"
C_PERIOD_S = 1.0
FIRST_BLOCK_TIMEOUT_S = 60.0
BYTE_TIMEOUT_S = 1.0  # a block whose next byte does not come within this is NAKed
IDLE_TIMEOUT_S = 60.0  # no block at all for this long: the upload is aborted


class State(enum.Enum):
    MENU = "menu"
    WAIT_FIRST = "waiting for the first block"
    RECEIVING = "receiving"
    DOWN = "resetting"
    RUNNING = "application running"


@dataclass(frozen=True)
class Output:
    at: float  # when the bytes are ready to go on the line
    data: bytes


# (application version from the GBL, or None when the flash already held it) -> started?
RunApplication = Callable[[int | None], bool]


class EmulatedGeckoBootloader:
    """The bootloader of one radio. Not thread-safe: the endpoint calls it from one thread."""

    def __init__(
        self,
        *,
        version: str = "2.4.2",
        flash_size: int = 512 * 1024,
        write_s_per_block: float = 0.0,
        boot_s: float = 0.05,
        require_signature: bool = False,
        faults: Faults | None = None,
        seed: int = 0,
        app_valid: bool = False,
        on_run: RunApplication | None = None,
    ) -> None:
        self.version = version
        self.flash = bytearray(b"\xff" * flash_size)
        self.write_s_per_block = write_s_per_block
        self.boot_s = boot_s
        self.require_signature = require_signature
        self.faults = faults or Faults()
        self.rng = random.Random(seed ^ 0xB007)
        self.app_valid = app_valid
        self.app_version: int | None = None
        self.on_run = on_run
        self.state = State.RUNNING
        self.upload: GblStream | None = None
        self.last_upload: GblStream | None = None  # the last complete, accepted one
        self.received_stream = bytearray()  # every accepted block's bytes, padding included
        self.expected_block = 1
        self.blocks_written = 0
        self.duplicates = 0
        self.naks = 0
        self.dropped = 0  # blocks and answers lost to `drop-rate`
        self._block = bytearray()
        self._last_byte_at = 0.0
        self._next_c_at: float | None = None
        self._give_up_at: float | None = None
        self._up_at: float | None = None
        self._cans_in_row = 0
        self._stalled = False

    # ----------------------------------------------------------------- lifecycle

    @property
    def menu(self) -> bytes:
        return MENU_TEMPLATE.format(version=self.version).encode("ascii")

    @property
    def active(self) -> bool:
        """True while the bootloader (not the application) owns the UART."""
        return self.state != State.RUNNING

    def enter(self, now: float) -> list[Output]:
        """Reset into the bootloader (no valid application, or asked to)."""
        self.state = State.DOWN
        self._up_at = now + self.boot_s
        self._reset_upload()
        return []

    def hold_in_reset(self) -> None:
        """The radio's reset pin is held: silent until released, and any upload is gone."""
        self.state = State.DOWN
        self._up_at = None
        self._reset_upload()

    def start_application(self) -> bool:
        """Out of reset with the activation pin released: the application starts when it
        is valid (True); otherwise the caller enters the bootloader."""
        if not self.app_valid:
            return False
        self._reset_upload()
        self.state = State.RUNNING
        return True

    def _reset_upload(self) -> None:
        self.upload = None
        self._block.clear()
        self.expected_block = 1
        self._next_c_at = None
        self._give_up_at = None
        self._cans_in_row = 0
        self._stalled = False

    def next_deadline(self) -> float | None:
        times = [t for t in (self._up_at, self._next_c_at, self._give_up_at) if t is not None]
        if self.state == State.RECEIVING and self._block:
            times.append(self._last_byte_at + BYTE_TIMEOUT_S)
        return min(times) if times else None

    def poll(self, now: float) -> list[Output]:
        out: list[Output] = []
        if self.state == State.DOWN and self._up_at is not None and now >= self._up_at:
            self._up_at = None
            self.state = State.MENU
            out.append(Output(now, self.menu))
        if self._stalled:
            return out
        if self.state == State.WAIT_FIRST:
            if self._give_up_at is not None and now >= self._give_up_at:
                out += self._abort(now, "no upload started", cancel=False)
            elif self._next_c_at is not None and now >= self._next_c_at:
                self._next_c_at = now + C_PERIOD_S
                out.append(Output(now, bytes([xm.CRC_START])))
        elif self.state == State.RECEIVING:
            if self._block and now >= self._last_byte_at + BYTE_TIMEOUT_S:
                self._block.clear()
                self.naks += 1
                out.append(Output(now, bytes([xm.NAK])))
            if self._give_up_at is not None and now >= self._give_up_at:
                out += self._abort(now, "the sender went silent", cancel=True)
        return out

    # ----------------------------------------------------------------- input

    def feed(self, data: bytes, now: float) -> list[Output]:
        out: list[Output] = []
        index, size = 0, len(data)
        while index < size:
            if self._block and self.state == State.RECEIVING and not self._stalled:
                # Inside a block every byte is taken as it comes: the rest of it in one
                # slice, not 132 calls (the sender writes a block in one piece).
                need = xm.BLOCK_BYTES - len(self._block)
                piece = data[index : index + need]
                index += len(piece)
                self._block += piece
                self._last_byte_at = now
                if len(self._block) == xm.BLOCK_BYTES:
                    out += self._block_complete(now)
                continue
            out += self._byte(data[index], now)
            index += 1
        return out

    def _byte(self, byte: int, now: float) -> list[Output]:
        if self.state in (State.DOWN, State.RUNNING) or self._stalled:
            return []
        if self.state == State.MENU:
            return self._menu_key(byte, now)
        if self.state == State.WAIT_FIRST and byte == xm.SOH:
            self.state = State.RECEIVING
        if self.state == State.WAIT_FIRST:
            if byte == xm.CAN:
                return self._sender_cancel(now)
            return []
        return self._receive(byte, now)

    def _menu_key(self, byte: int, now: float) -> list[Output]:
        if byte == ord("1"):
            self.state = State.WAIT_FIRST
            self.upload = GblStream(len(self.flash), self.require_signature)
            self.received_stream = bytearray()
            self.expected_block = 1
            self._next_c_at = now + C_PERIOD_S
            self._give_up_at = now + FIRST_BLOCK_TIMEOUT_S
            return [Output(now, BEGIN_UPLOAD + bytes([xm.CRC_START]))]
        if byte == ord("2"):
            return self._run(now)
        if byte == ord("3"):
            return [Output(now, self.menu)]
        return []

    def _run(self, now: float) -> list[Output]:
        if not self.app_valid:
            # No valid application: it resets straight back into the bootloader.
            return self.enter(now)
        version = self.app_version
        started = self.on_run(version) if self.on_run is not None else True
        if started:
            self.state = State.RUNNING
            return []
        return self.enter(now)

    def _sender_cancel(self, now: float) -> list[Output]:
        self._cans_in_row += 1
        if self._cans_in_row >= 2:
            return self._abort(now, "cancelled by the sender", cancel=False)
        return []

    def _receive(self, byte: int, now: float) -> list[Output]:
        if not self._block:
            if byte == xm.EOT:
                return self._end_of_transfer(now)
            if byte == xm.CAN:
                return self._sender_cancel(now)
            if byte != xm.SOH:
                return []  # noise between blocks
        self._cans_in_row = 0
        self._block.append(byte)
        self._last_byte_at = now
        self._next_c_at = None
        if len(self._block) < xm.BLOCK_BYTES:
            return []
        return self._block_complete(now)

    def _block_complete(self, now: float) -> list[Output]:
        block, self._block = bytes(self._block), bytearray()
        self._give_up_at = now + IDLE_TIMEOUT_S
        if self._chance(self.faults.drop_rate):
            self.dropped += 1
            return []  # lost on the line: the sender times out and repeats it
        return self._block_done(block, now)

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def _block_done(self, block: bytes, now: float) -> list[Output]:
        number, complement, payload = block[1], block[2], block[3:-2]
        crc = int.from_bytes(block[-2:], "big")
        if number != 0xFF - complement or xm.crc16(payload) != crc:
            self.naks += 1
            return self._answer(now, xm.NAK)
        if number == (self.expected_block - 1) & 0xFF:
            self.duplicates += 1  # its ACK was lost: acknowledge again, write nothing
            return self._answer(now, xm.ACK)
        if number != self.expected_block:
            return self._abort(now, f"block {number} out of sequence", cancel=True)
        assert self.upload is not None
        offset = len(self.received_stream)
        end = offset + len(payload)
        faults = self.faults
        if faults.stall_at is not None and end > faults.stall_at:
            self._stalled = True  # silent until it is reset
            return []
        for name in ("reboot_at", "power_loss_at"):
            limit = getattr(faults, name)
            if limit is not None and end > limit:
                setattr(faults, name, None)  # once, as the bridge does: the block is lost
                return self.enter(now)
        self.received_stream += payload
        self.upload.feed(payload)
        if self.upload.error is not None:
            return self._abort(now, self.upload.error_text, cancel=True)
        self.expected_block = (self.expected_block + 1) & 0xFF
        self.blocks_written += 1
        return self._answer(now + self.write_s_per_block, xm.ACK)

    def _answer(self, at: float, byte: int) -> list[Output]:
        if self._chance(self.faults.drop_rate):
            self.dropped += 1
            return []
        return [Output(at, bytes([byte]))]

    def _end_of_transfer(self, now: float) -> list[Output]:
        assert self.upload is not None
        upload = self.upload
        upload.finish()
        out = [Output(now, bytes([xm.ACK]))]
        if upload.error is not None:
            return out + self._report_abort(now, upload.error_text, upload.error)
        for address, data in upload.writes:
            self.flash[address : address + len(data)] = data
        self.app_valid = True
        self.app_version = upload.app_version
        self.last_upload = upload
        self._reset_upload()
        self.state = State.MENU
        return [*out, Output(now, UPLOAD_COMPLETE + self.menu)]

    def _abort(self, now: float, reason: str, *, cancel: bool) -> list[Output]:
        code = self.upload.error if self.upload is not None else None
        out = [Output(now, bytes([xm.CAN] * 3))] if cancel else []
        return out + self._report_abort(now, reason, code)

    def _report_abort(self, now: float, reason: str, code: int | None) -> list[Output]:
        self._reset_upload()
        self.state = State.MENU
        status = f"error 0x{code:02x}: {reason}\r\n" if code is not None else f"{reason}\r\n"
        return [Output(now, UPLOAD_ABORTED + status.encode("ascii") + self.menu)]
