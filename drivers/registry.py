"""The driver registry: protocol implementations by name, found without if/elif chains.

Bridge Lab ships one driver, `bridgelab-service` (the bridge service protocol, which the
emulated bridge speaks). A vendor adds another by registering it here or, from a separate
package, through the `bridgelab.drivers` entry-point group (`name = "module:factory"`);
entry points are imported only when first needed. Each driver declares the USB vendor and
product ids it speaks for, so a plugged-in port picks its driver by VID:PID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from bridgelab.drivers.errors import DriverError

ENTRY_POINT_GROUP = "bridgelab.drivers"
DEFAULT_DRIVER = "bridgelab-service"


@dataclass(frozen=True)
class DriverInfo:
    name: str
    connect: Callable[..., Any]  # (url, *, baudrate) -> a connected client
    description: str
    usb_ids: tuple[tuple[int, int], ...] = field(default_factory=tuple)
    protocol_versions: tuple[int, ...] = (1,)


class UnknownDriver(DriverError):
    code = "unknown-driver"


_registry: dict[str, DriverInfo] = {}
_entry_points_loaded = False


def register_driver(info: DriverInfo) -> None:
    _registry[info.name] = info


def _builtin() -> None:
    if DEFAULT_DRIVER in _registry:
        return
    from bridgelab.drivers.client import BridgeClient

    register_driver(
        DriverInfo(
            DEFAULT_DRIVER,
            BridgeClient.connect,
            "Bridge Lab service protocol v1 (the emulated bridge and compatible devices)",
            # FTDI FT232R and Silicon Labs CP210x: the USB-serial chips of service cables.
            usb_ids=((0x0403, 0x6001), (0x10C4, 0xEA60)),
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
