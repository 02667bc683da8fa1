"""Port discovery: what is plugged in, what changed, and which port a bridge is on now.

A USB bridge can come back on another port after a reboot or a re-plug (`ttyUSB0` becomes
`ttyUSB1`, `COM3` becomes `COM4`), so Bridge Lab recognises a bridge by its EUI-64, not by
its port: `find_bridge()` probes candidate ports for the one that answers with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from serial.tools import list_ports

from bridgelab.drivers.errors import DriverError

DEMO_URL = "emu://demo"


@dataclass(frozen=True)
class PortInfo:
    url: str
    description: str
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    manufacturer: str | None = None
    emulated: bool = False

    @property
    def usb_id(self) -> str:
        return (
            f"{self.vid:04X}:{self.pid:04X}"
            if self.vid is not None and self.pid is not None
            else ""
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["usb_id"] = self.usb_id
        return out


def scan_ports(*, include_demo: bool = True) -> list[PortInfo]:
    """Serial ports seen by the OS, sorted by name, then the Demo bridge."""
    found = [
        PortInfo(
            url=info.device,
            description=info.description if info.description != "n/a" else info.device,
            vid=info.vid,
            pid=info.pid,
            serial_number=info.serial_number,
            manufacturer=info.manufacturer,
        )
        for info in sorted(list_ports.comports(), key=lambda i: i.device)
    ]
    if include_demo:
        found.append(PortInfo(DEMO_URL, "Demo bridge (emulated)", emulated=True))
    return found


@dataclass(frozen=True)
class PortChanges:
    added: tuple[PortInfo, ...]
    removed: tuple[PortInfo, ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


class PortWatcher:
    """Re-scans on demand and reports what was plugged in or pulled out since last time."""

    def __init__(self, scan: Callable[[], list[PortInfo]] = scan_ports) -> None:
        self._scan = scan
        self.ports: list[PortInfo] = scan()

    def rescan(self) -> PortChanges:
        before = {p.url: p for p in self.ports}
        self.ports = self._scan()
        after = {p.url: p for p in self.ports}
        return PortChanges(
            added=tuple(p for url, p in after.items() if url not in before),
            removed=tuple(p for url, p in before.items() if url not in after),
        )


EMULATED_HUB_PORTS = 8


def reconnect_candidates(url: str) -> list[str]:
    """Where a bridge last seen on `url` may be now, `url` first.

    A device path may come back as any serial port the OS lists; an emulated bridge with
    an `id` may come back on another port of its emulated USB hub (`port=0..7`); a network
    URL stays where it is.
    """
    if "://" not in url:
        return [url] + [p.url for p in scan_ports(include_demo=False) if p.url != url]
    if urlsplit(url).scheme.lower() != "emu":
        return [url]
    base, _, raw_query = url.partition("?")
    query = dict(parse_qsl(raw_query, keep_blank_values=True))
    if "id" not in query:
        return [url]
    current = query.get("port", "0")
    others = [
        f"{base}?{urlencode({**query, 'port': str(index)})}"
        for index in range(EMULATED_HUB_PORTS)
        if str(index) != current
    ]
    return [url, *others]


def find_bridge(
    eui64: int,
    candidates: Iterable[str],
    identify: Callable[[str], int],
) -> str | None:
    """The first URL among `candidates` whose bridge reports `eui64` (None if none does).

    `identify(url)` connects and returns the EUI-64 there; ports that fail to open or do
    not answer are skipped, since the bridge may still be re-enumerating.
    """
    for url in candidates:
        try:
            if identify(url) == eui64:
                return url
        except DriverError:
            continue
    return None
