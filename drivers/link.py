"""Opening links: every port is a pyserial URL, and every failure says how to fix it.

`open_link()` accepts whatever `serial.serial_for_url()` does (`/dev/ttyUSB0`, `COM3`,
`socket://host:port`, `rfc2217://host:port`, `loop://`, `spy://...`) plus Bridge Lab's own
`emu://` scheme, and translates the OS's errors into the driver layer's classes.
"""

from __future__ import annotations

import errno
import os
import re
from typing import Protocol, cast

import serial
from serial.serialutil import SerialException

from bridgelab.drivers.errors import (
    LinkError,
    PortBusy,
    PortNotFound,
    PortPermissionDenied,
    UnknownUrlScheme,
)


class SerialPort(Protocol):
    """The part of pyserial's port interface that Bridge Lab uses."""

    port: str | None
    baudrate: int
    timeout: float | None

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def reset_input_buffer(self) -> None: ...

    def cancel_read(self) -> None: ...

    def close(self) -> None: ...


# By name only: pyserial imports the `emu://` handler when such a URL is opened, so the
# driver layer never imports the emulator package (it sits above drivers).
HANDLER_PACKAGE = "bridgelab.emulator.urlhandler"
DEFAULT_BAUD = 115200


def _register_handlers() -> None:
    if HANDLER_PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(HANDLER_PACKAGE)


def _errno_of(error: BaseException) -> int | None:
    code = getattr(error, "errno", None)
    if isinstance(code, int):
        return code
    match = re.search(r"\[Errno (\d+)\]|Error\((\d+),", str(error))
    if match:
        return int(match.group(1) or match.group(2))
    return None


def translate_open_error(url: str, error: BaseException) -> LinkError:
    """The driver-layer error for a failure to open `url`."""
    text = str(error)
    code = _errno_of(error)
    if "protocol" in text and "not known" in text:
        scheme = url.split("://", 1)[0]
        return UnknownUrlScheme(f"{url}: unknown URL scheme {scheme!r}.")
    if "exclusively lock" in text or code in (errno.EBUSY, errno.EAGAIN):
        return PortBusy(f"{url} is in use by another program.")
    if code in (errno.EACCES, errno.EPERM):
        if os.name == "nt":
            # Windows reports a port held by another program as "access denied".
            return PortBusy(f"{url}: access denied (another program probably holds it).")
        return PortPermissionDenied(f"No permission to open {url}.")
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or "FileNotFoundError" in text:
        return PortNotFound(f"{url} does not exist (unplugged, or a different name).")
    if code == errno.ECONNREFUSED or "refused" in text.lower():
        return LinkError(
            f"{url}: connection refused.",
            code="connection-refused",
            action="Check that the remote rig (ser2net, `bridgelab emulate --tcp`) is running "
            "and listening on that port.",
        )
    if "timed out" in text.lower():
        return LinkError(
            f"{url}: connection timed out.",
            code="connection-timeout",
            action="Check the host name, the network and any firewall between you and the rig.",
        )
    return LinkError(
        f"Could not open {url}: {text}",
        action="Check the port name or URL; `bridgelab ports` lists the ports seen here.",
    )


def fixed_rate_reason(url: str) -> str | None:
    """Why the host cannot set the line rate of the link at `url`, or None when it can.

    A raw TCP link (ser2net's raw mode, a terminal server) carries bytes only: pyserial
    takes a new rate and nothing reaches the far UART, so a bridge told to switch would
    leave the line until its own fallback. RFC 2217 carries the change; a local port and
    the emulator take it themselves."""
    if url.lower().startswith("socket://"):
        return (
            f"{url} is a raw TCP link: it carries bytes only, so the rate of the serial "
            "port at its far end cannot be set from here"
        )
    return None


def open_link(
    url: str, *, baudrate: int = DEFAULT_BAUD, timeout_s: float = 0.02, exclusive: bool = True
) -> SerialPort:
    """Open `url` exclusively (a second program cannot share the port) and return it.

    Raises PortNotFound, PortPermissionDenied, PortBusy, UnknownUrlScheme or LinkError.
    """
    _register_handlers()
    try:
        port = serial.serial_for_url(url, do_not_open=True, baudrate=baudrate, timeout=timeout_s)
        if exclusive and "://" not in url:
            port.exclusive = True
        port.open()
    except (SerialException, ValueError, OSError) as error:
        raise translate_open_error(url, error) from error
    return cast(SerialPort, port)
