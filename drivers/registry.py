"""The driver registry: protocol implementations by name, found without if/elif chains.

Bridge Lab ships two drivers: `bridgelab-service` (the bridge service protocol, which the
emulated bridge speaks) and `gecko-bootloader` (the radio's Silicon Labs Gecko Bootloader,
the way in when the application is dead). A vendor adds another by registering it here or,
from a separate package, through the `bridgelab.drivers` entry-point group
(`name = "module:factory"`, where the object is a `DriverInfo` or a callable returning
one); entry points are imported only when first needed. Each driver declares the USB
vendor and product ids it speaks for, the URL schemes it owns, its capabilities and, if
it can be recognised on an open port, a short probe: `drivers.factory.connect()` uses them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from bridgelab.drivers.capabilities import Capability
from bridgelab.drivers.errors import DriverError
from bridgelab.drivers.link import SerialPort

ENTRY_POINT_GROUP = "bridgelab.drivers"
DEFAULT_DRIVER = "bridgelab-service"
GECKO_DRIVER = "gecko-bootloader"


# (open port) -> True when this driver's device answers on it; short (well under a second).
Probe = Callable[[SerialPort], bool]
# (open port that answered the probe, url) -> the open device
Attach = Callable[[SerialPort, str], Any]


@dataclass(frozen=True)
class DriverInfo:
    name: str
    connect: Callable[..., Any]  # (url, *, baudrate) -> a connected device
    description: str
    usb_ids: tuple[tuple[int, int], ...] = field(default_factory=tuple)
    protocol_versions: tuple[int, ...] = (1,)
    capabilities: frozenset[Capability] = frozenset()
    probe: Probe | None = None
    attach: Attach | None = None
    probe_cost: int = 100  # lower probes first: the cheapest question is asked first
    url_schemes: tuple[str, ...] = ()  # schemes only this driver opens (e.g. "acme")


class UnknownDriver(DriverError):
    code = "unknown-driver"


_registry: dict[str, DriverInfo] = {}
_entry_points_loaded = False


def register_driver(info: DriverInfo) -> None:
    _registry[info.name] = info


def _builtin() -> None:
    if DEFAULT_DRIVER in _registry:
        return
    from bridgelab.drivers import gecko_bootloader as gecko
    from bridgelab.drivers.client import BridgeClient, probe_service

    def attach_service(port: SerialPort, url: str) -> BridgeClient:
        client = BridgeClient(port, url)
        try:
            client.handshake()
        except BaseException:
            client.close()
            raise
        return client

    register_driver(
        DriverInfo(
            DEFAULT_DRIVER,
            BridgeClient.connect,
            "Bridge Lab service protocol v1/v2 (the emulated bridge and compatible devices)",
            # FTDI FT232R and Silicon Labs CP210x: the USB-serial chips of service cables.
            usb_ids=((0x0403, 0x6001), (0x10C4, 0xEA60)),
            protocol_versions=(1, 2),
            capabilities=BridgeClient.capabilities,
            probe=probe_service,
            attach=attach_service,
            probe_cost=10,  # one frame; what nearly every port answers
        )
    )
    register_driver(
        DriverInfo(
            GECKO_DRIVER,
            gecko.GeckoBootloader.connect,
            "Silicon Labs Gecko Bootloader, UART XMODEM (a radio whose application is dead)",
            # CP210x is also the Silicon Labs radios' own USB bridge.
            usb_ids=((0x10C4, 0xEA60),),
            capabilities=gecko.GeckoBootloader.capabilities,
            probe=lambda port: gecko.probe(port) is not None,
            attach=lambda port, url: gecko.GeckoBootloader.attach(port, url),
            probe_cost=20,
        )
    )


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in _registry:
            continue
        try:
            loaded = entry.load()
        except Exception as error:  # a broken plug-in must not stop the app
            register_driver(
                DriverInfo(entry.name, _broken(entry.name, error), f"failed to load: {error}")
            )
            continue
        info = loaded if isinstance(loaded, DriverInfo) else loaded()
        register_driver(info)


def _broken(name: str, error: BaseException) -> Callable[..., Any]:
    def connect(*_: Any, **__: Any) -> Any:
        raise UnknownDriver(
            f"Driver {name!r} failed to load ({error}).",
            action="Reinstall the package that provides it, or pick another driver.",
        )

    return connect


def available_drivers() -> dict[str, DriverInfo]:
    _builtin()
    _load_entry_points()
    return dict(_registry)


def get_driver(name: str | None = None) -> DriverInfo:
    drivers = available_drivers()
    chosen = drivers.get(name or DEFAULT_DRIVER)
    if chosen is None:
        raise UnknownDriver(
            f"No driver named {name!r}.",
            action="Known drivers: " + ", ".join(sorted(drivers)) + ".",
        )
    return chosen


def driver_for_usb(vid: int | None, pid: int | None) -> DriverInfo:
    """The driver that claims this VID:PID, or the default driver."""
    for info in available_drivers().values():
        if (vid, pid) in info.usb_ids and info.name != DEFAULT_DRIVER:
            return info
    return get_driver(DEFAULT_DRIVER)
