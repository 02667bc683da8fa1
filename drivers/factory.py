"""`connect(url, driver=None)`: the one way the CLI, the GUI, campaigns and the engine open
a device.

The driver is, in order: the one named (`--driver NAME`); the one that owns the URL's
scheme; else the port is opened once and each driver that can probe asks its short
question on it, cheapest first (drivers that claim the port's USB VID:PID go before the
others at equal cost), and the first that is answered takes the open port. A port that
answers nothing raises NoAnswer naming what was tried.

With `reset_sequence` (a name from `drivers/reset_lines.py`), the port's DTR/RTS play that
sequence first and the radio's Gecko Bootloader is taken as the device (no probing): the
way into a radio whose application cannot be asked.

`connect_bridge()` is the same for callers that need the service protocol itself (the
update engine, campaigns): a radio that answers only as its bootloader is refused with
`BootloaderOnly`, whose action is the recovery command.
"""

from __future__ import annotations

import contextlib

from serial.serialutil import SerialException

from bridgelab.drivers.capabilities import Device
from bridgelab.drivers.client import BridgeClient
from bridgelab.drivers.errors import DriverError, NoAnswer
from bridgelab.drivers.link import DEFAULT_BAUD, SerialPort, open_link
from bridgelab.drivers.registry import DEFAULT_DRIVER, DriverInfo, available_drivers, get_driver


class BootloaderOnly(DriverError):
    """The port answers, but only as the radio's bootloader: the application is not running."""

    code = "bootloader-only"

    def __init__(self, url: str, version: str) -> None:
        super().__init__(
            f"{url} answers only as its radio's bootloader (Gecko Bootloader v{version}): "
            "the bridge application is not running.",
            action=f"Recover it: `bridgelab recover --port {url} IMAGE.gbl` (or Recover "
            "through the bootloader in the app).",
        )
        self.version = version


def _usb_id(url: str) -> tuple[int, int] | None:
    if "://" in url:
        return None
    from bridgelab.drivers.ports import scan_ports

    for port in scan_ports(include_demo=False):
        if port.url == url and port.vid is not None and port.pid is not None:
            return (port.vid, port.pid)
    return None


def probe_order(url: str, drivers: dict[str, DriverInfo] | None = None) -> list[DriverInfo]:
    """The drivers that can probe, in the order `connect()` asks them."""
    known = drivers if drivers is not None else available_drivers()
    usb = _usb_id(url)
    probing = [d for d in known.values() if d.probe is not None and d.attach is not None]
    return sorted(probing, key=lambda d: (d.probe_cost, usb is None or usb not in d.usb_ids))


def connect(
    url: str,
    driver: str | None = None,
    *,
    baudrate: int = DEFAULT_BAUD,
    reset_sequence: str | None = None,
) -> Device:
    """Open `url` with the named driver, the URL's own driver, or the first that answers;
    or, with `reset_sequence`, reset the radio into its bootloader and take that.

    Raises the link errors of `open_link`, UnknownDriver for a bad name, NoAnswer, and
    for a reset sequence UnknownResetSequence or ModemLinesUnavailable.
    """
    if reset_sequence:
        return _reset_into_bootloader(url, driver, reset_sequence, baudrate)
    drivers = available_drivers()
    if driver:
        opened: Device = get_driver(driver).connect(url, baudrate=baudrate)
        return opened
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    for info in drivers.values():
        if scheme and scheme in info.url_schemes:
            owned: Device = info.connect(url, baudrate=baudrate)
            return owned
    port = open_link(url, baudrate=baudrate)
    with contextlib.suppress(SerialException, OSError):
        port.reset_input_buffer()
    try:
        return attach_first(port, url, probe_order(url, drivers))
    except BaseException:
        with contextlib.suppress(SerialException, OSError):
            port.close()
        raise


def _reset_into_bootloader(url: str, driver: str | None, name: str, baudrate: int) -> Device:
    from bridgelab.drivers.gecko_bootloader import DRIVER_NAME, GeckoBootloader
    from bridgelab.drivers.reset_lines import get_sequence

    sequence = get_sequence(name)
    if driver and driver != DRIVER_NAME:
        raise DriverError(
            f"A reset sequence starts the radio's bootloader, which the {driver} driver "
            "does not speak.",
            code="wrong-driver",
            action=f"Leave --driver out (or use --driver {DRIVER_NAME}) with --reset-sequence.",
        )
    return GeckoBootloader.reset_into(url, sequence, baudrate=baudrate)


def attach_first(port: SerialPort, url: str, order: list[DriverInfo]) -> Device:
    """The first driver of `order` whose probe is answered on `port` takes it."""
    for info in order:
        assert info.probe is not None and info.attach is not None
        if info.probe(port):
            attached: Device = info.attach(port, url)
            return attached
    tried = ", ".join(info.description.split(" (")[0] for info in order)
    raise NoAnswer(f"{url}: nothing answered (tried: {tried}).")


def connect_bridge(
    url: str, *, baudrate: int = DEFAULT_BAUD, driver: str | None = None
) -> BridgeClient:
    """A device that speaks the service protocol, or BootloaderOnly / NoAnswer."""
    device = connect(url, driver, baudrate=baudrate)
    if isinstance(device, BridgeClient):
        return device
    from bridgelab.drivers.gecko_bootloader import GeckoBootloader

    version = device.version if isinstance(device, GeckoBootloader) else "?"
    device.close()
    if isinstance(device, GeckoBootloader):
        raise BootloaderOnly(url, version)
    raise DriverError(
        f"{url}: the {device.driver_name} driver does not speak the service protocol.",
        code="wrong-driver",
        action=f"Use --driver {DEFAULT_DRIVER}, or a command this driver supports.",
    )
