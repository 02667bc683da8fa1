"""The Silicon Labs Gecko Bootloader (UART XMODEM) as a driver: probe, upload, run.

Public facts (UG266, UG489, AN1086): the bootloader talks 115200 8N1 without flow control;
it prints a menu ending in the prompt `BL > `, whose first line names it and its version
("Gecko Bootloader v2.4.2"); `1` uploads a `.gbl` with XMODEM-CRC (128-byte blocks; it
sends `C` until the first block comes), `2` runs the application, `3` ("ebl info")
prints the menu again. After the transfer it prints `Serial upload complete` or
`Serial upload aborted` and its menu. An image it refuses while it arrives is cancelled
with CAN. A bootloader whose application is missing or invalid stays in its menu after
`2` (it restarts into itself).

This driver can upload and leave the bootloader, nothing else: identity, versions, the
join state and the event log belong to the application, and outputs say so.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from serial.serialutil import SerialException

from bridgelab.drivers import xmodem as xm
from bridgelab.drivers.capabilities import Capability
from bridgelab.drivers.errors import DeviceRefused, DriverError, LinkError, LinkLost, NoAnswer
from bridgelab.drivers.link import DEFAULT_BAUD, SerialPort, open_link
from bridgelab.drivers.reset_lines import (
    ModemLinesUnavailable,
    ResetSequence,
    link_capabilities,
    modem_line_problem,
    play,
)

DRIVER_NAME = "gecko-bootloader"
PROMPT = b"BL > "
# End any upload left open, then a newline (what Ember-era bootloaders wait for) and "3"
# (ebl info), which makes the Gecko Bootloader print its menu. An upload whose sender was
# killed leaves the receiver inside a block (or one started by another probe's bytes),
# taking whatever comes as its payload and looking for CAN only between blocks: a block's
# worth of CAN fills that block (bad, NAKed) and the two after it cancel the upload. At a
# block boundary or in the menu the extra CANs are ignored.
PROBE_BYTES = bytes([xm.CAN]) * (xm.BLOCK_BYTES + 2) + b"\n3"
PROBE_TIMEOUT_S = 0.3
RESULT_TIMEOUT_S = 5.0
RUN_CHECK_S = 1.0  # a menu within this after `2` means no application started

_TITLE = re.compile(rb"([A-Za-z][\w ]*? Bootloader) v([^\r\n]+)\r\n")
_OPTION = re.compile(rb"(\d+)\. ([^\r\n]+)\r\n")
_RESULT = re.compile(rb"Serial upload (complete|aborted)\r\n([^\r\n]*)")


@dataclass(frozen=True)
class BootloaderMenu:
    name: str  # "Gecko Bootloader"
    version: str  # "2.4.2", as printed
    options: dict[str, str]  # "1" -> "upload gbl"

    @property
    def can_upload(self) -> bool:
        return any(text.startswith("upload") for text in self.options.values())


def parse_menu(text: bytes) -> BootloaderMenu | None:
    """The last complete menu in `text` (title line, numbered options, `BL > `), or None."""
    end = text.rfind(PROMPT)
    if end < 0:
        return None
    titles = list(_TITLE.finditer(text, 0, end))
    if not titles:
        return None
    title = titles[-1]
    options = {
        m.group(1).decode("ascii"): m.group(2).decode("ascii", "replace")
        for m in _OPTION.finditer(text, title.end(), end)
    }
    if "1" not in options or "2" not in options:
        return None
    return BootloaderMenu(
        title.group(1).decode("ascii", "replace"),
        title.group(2).decode("ascii", "replace").strip(),
        options,
    )


class BootloaderRejected(DeviceRefused):
    """The bootloader took the transfer but refused the image."""

    code = "bootloader-rejected"
    default_action = (
        "The radio's bootloader refused this .gbl: check it is built for this radio (and "
        "signed with its key if the bootloader checks signatures); the old state is kept."
    )


class NoApplication(DriverError):
    code = "no-application"
    default_action = "Upload a valid .gbl first (`bridgelab recover --port URL IMAGE.gbl`)."


def _read_until(port: SerialPort, done: Callable[[bytes], bool], timeout_s: float) -> bytes:
    deadline = time.monotonic() + timeout_s
    seen = bytearray()
    while time.monotonic() < deadline:
        try:
            chunk = port.read(max(1, port.in_waiting))
        except (SerialException, OSError) as error:
            raise LinkLost(f"The line broke while reading the bootloader ({error}).") from error
        if chunk:
            seen += chunk
            if done(bytes(seen)):
                break
    return bytes(seen)


def probe(port: SerialPort, timeout_s: float = PROBE_TIMEOUT_S) -> BootloaderMenu | None:
    """Ask for the menu; the menu if a Gecko-style bootloader printed one in time."""
    try:
        port.write(PROBE_BYTES)
    except (SerialException, OSError) as error:
        raise LinkLost(f"Writing to the port failed ({error}).") from error
    seen = _read_until(port, lambda text: parse_menu(text) is not None, timeout_s)
    return parse_menu(seen)


class GeckoBootloader:
    """An open port whose radio is in its Gecko Bootloader menu."""

    driver_name = DRIVER_NAME
    capabilities = frozenset({Capability.BOOTLOADER_UPLOAD, Capability.LEAVE_BOOTLOADER})
    reached_through = "the bootloader"

    def __init__(self, port: SerialPort, url: str, menu: BootloaderMenu) -> None:
        self.port = port
        self.url = url
        self.menu = menu
        self.capabilities = type(self).capabilities | link_capabilities(url, port)
        self._open = True

    @classmethod
    def connect(cls, url: str, *, baudrate: int = DEFAULT_BAUD) -> GeckoBootloader:
        port = open_link(url, baudrate=baudrate)
        try:
            return cls.attach(port, url)
        except BaseException:
            with contextlib.suppress(SerialException, OSError):
                port.close()
            raise

    @classmethod
    def reset_into(
        cls, url: str, sequence: ResetSequence, *, baudrate: int = DEFAULT_BAUD
    ) -> GeckoBootloader:
        """Open `url`, play `sequence` on its DTR/RTS and take the bootloader the radio
        restarts into. Raises ModemLinesUnavailable (the link has no lines), NoAnswer (no
        menu within the sequence's boot wait: lines not wired, or another board's
        sequence) and the link errors of `open_link`."""
        problem = modem_line_problem(url)  # what the URL alone tells, before opening
        if problem is not None:
            raise ModemLinesUnavailable(
                f"Cannot play the {sequence.name} reset sequence: {problem}."
            )
        try:
            port = open_link(url, baudrate=baudrate)
        except LinkError as error:
            # pyserial's rfc2217:// asserts DTR and RTS as it opens and waits for the server
            # to confirm; a server that cannot drive them never does.
            if "option 'control'" not in str(error.__cause__):
                raise
            raise ModemLinesUnavailable(
                f"{url}: the RFC 2217 server did not confirm the DTR/RTS change made as "
                "the port opens, so it cannot drive the lines (ser2net does not on a port "
                "without modem lines, such as a pty)."
            ) from error
        try:
            play(port, url, sequence)
            with contextlib.suppress(SerialException, OSError):
                port.reset_input_buffer()  # whatever the application said on its way down
            try:
                return cls.attach(port, url, wait_s=sequence.boot_wait_s)
            except NoAnswer as error:
                raise NoAnswer(
                    f"{url}: no Gecko Bootloader menu within {sequence.boot_wait_s:g} s of "
                    f"the {sequence.name} reset sequence.",
                    action="Check that this adapter's DTR and RTS are wired to the radio's "
                    "reset and bootloader pins and that the sequence is this board's; or "
                    "leave --reset-sequence out to ask a running application.",
                ) from error
        except BaseException:
            with contextlib.suppress(SerialException, OSError):
                port.close()
            raise

    @classmethod
    def attach(
        cls, port: SerialPort, url: str, *, wait_s: float = PROBE_TIMEOUT_S
    ) -> GeckoBootloader:
        """Take an open port whose radio should be in its bootloader (within `wait_s`:
        one that is restarting into it prints its menu when it is up)."""
        deadline = time.monotonic() + wait_s
        while True:
            menu = probe(port, min(PROBE_TIMEOUT_S, max(0.05, deadline - time.monotonic())))
            if menu is not None:
                return cls(port, url, menu)
            if time.monotonic() >= deadline:
                raise NoAnswer(f"{url}: no Gecko Bootloader menu within {wait_s:g} s.")

    @property
    def version(self) -> str:
        return self.menu.version

    def upload(
        self,
        image: bytes,
        *,
        on_progress: xm.Progress | None = None,
        on_retry: xm.Retry | None = None,
        should_stop: Callable[[], bool] | None = None,
        answer_timeout_s: float = xm.ANSWER_TIMEOUT_S,
    ) -> xm.SendResult:
        """Send `image` with option 1 and XMODEM-CRC; raises BootloaderRejected when the
        bootloader cancels or reports the upload aborted, XmodemError, NoAnswer, LinkLost."""
        with contextlib.suppress(SerialException, OSError):
            self.port.reset_input_buffer()
        self._write(b"1")
        sender = xm.XmodemSender(
            self.port,
            on_progress=on_progress,
            on_retry=on_retry,
            should_stop=should_stop,
            answer_timeout_s=answer_timeout_s,
            restart_marker=PROMPT,
        )
        try:
            result = sender.send(image)
        except xm.ReceiverCancelled as error:
            detail = self._result_text(RESULT_TIMEOUT_S)[1]
            raise BootloaderRejected(
                f"The bootloader cancelled the upload: {detail or 'the image was refused'}."
            ) from error
        except xm.ReceiverRestarted:
            raise
        except DriverError:
            sender.cancel()
            raise
        status, detail = self._result_text(RESULT_TIMEOUT_S)
        if status != "complete":
            raise BootloaderRejected(
                f"The bootloader reports the upload {status or 'unconfirmed'}"
                + (f": {detail}." if detail else ".")
            )
        return result

    def _result_text(self, timeout_s: float) -> tuple[str, str]:
        def done(text: bytes) -> bool:
            match = _RESULT.search(text)
            return match is not None and PROMPT in text[match.end() :]

        seen = _read_until(self.port, done, timeout_s)
        match = _RESULT.search(seen)
        if match is None:
            return "", ""
        return match.group(1).decode(), match.group(2).decode("ascii", "replace").strip()

    def run(self, check_s: float = RUN_CHECK_S) -> None:
        """Option 2: start the application. Raises NoApplication when the bootloader
        comes back to its menu instead."""
        with contextlib.suppress(SerialException, OSError):
            self.port.reset_input_buffer()
        self._write(b"2")
        seen = _read_until(self.port, lambda text: parse_menu(text) is not None, check_s)
        if parse_menu(seen) is not None:
            raise NoApplication("The bootloader has no valid application to run.")
        self._open = False  # the port now belongs to the application

    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (SerialException, OSError) as error:
            raise LinkLost(f"Writing to the bootloader failed ({error}).") from error

    def release(self) -> SerialPort:
        """Hand the open port on (to the application's driver after `run`)."""
        self._open = False
        return self.port

    def close(self) -> None:
        self._open = False
        with contextlib.suppress(SerialException, OSError):
            self.port.close()
