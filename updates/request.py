"""What an update is asked to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from bridgelab.data.records import Mode
from bridgelab.drivers.link import DEFAULT_BAUD
from bridgelab.updates.policy import UpdatePolicy

# The modes one bridge's update can take (a campaign is many of these).
MODES = (Mode.LOCAL.value, Mode.OTA.value)
# Links whose baud rate says nothing about the line: a raw TCP socket (ser2net's raw mode,
# or an emulator), a pseudo-terminal, the loopback.
UNKNOWN_RATE_PREFIXES = ("socket://", "loop://", "/dev/pts/", "/dev/ptmx")


@dataclass(frozen=True)
class UpdateRequest:
    port_url: str
    image_path: Path
    # LOCAL: the service port; OTA: the bridge's own OTA client. A string ("local", "ota")
    # is taken as the Mode it names.
    mode: Mode = Mode.LOCAL
    trust_dir: Path | None = None  # None: the demo key, and only for the Demo bridge
    allow_downgrade: bool = False
    downgrade_reason: str | None = None
    baudrate: int = DEFAULT_BAUD
    operator: str | None = None
    site_ref: str | None = None
    campaign_id: str | None = None
    driver: str | None = None  # None: found by probing (drivers.factory.connect)
    policy: UpdatePolicy = field(default_factory=UpdatePolicy)
    line_baud: int | None = None  # the line's rate, set by the user where the link cannot tell
    # How to read the image (bridgelab.firmware.image): None detects the body form; a
    # strict read refuses bytes after the image and files without exactly one upgrade image.
    image_form: str | None = None
    strict_image: bool = False
    # Free-form facts for the session's triage record (a campaign's labgrid place,
    # exporter and exporter host); strings only.
    session_details: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        object.__setattr__(self, "mode", Mode(self.mode))

    @property
    def line_rate_bps(self) -> float | None:
        """The line's payload rate (8N1) to size the transfer window by: the rate set by
        the user (`line_baud`), an `emu://` bridge's `baud` option, else `baudrate`
        (None for an in-process emulated bridge without a `baud` option). An assumption
        where the link cannot tell: never shown as a measurement (`known_line_rate_bps`)."""
        if self.line_baud:
            return self.line_baud / 10.0
        if self.port_url.lower().startswith("emu://"):
            query = dict(parse_qsl(urlsplit(self.port_url).query))
            baud = query.get("baud")
            return int(baud) / 10.0 if baud and baud.isdigit() and int(baud) else None
        return self.baudrate / 10.0

    @property
    def known_line_rate_bps(self) -> float | None:
        """The line rate that line efficiency is reported against, or None when nobody
        knows it.

        Known: a serial port (it runs at `baudrate`), an RFC 2217 rig (it sets the remote
        port to `baudrate`), an `emu://` bridge with a `baud` option, or a rate the user set
        (`line_baud`). Not known: a raw `socket://` link or a pseudo-terminal (an emulator
        process), where `baudrate` is the rate of no line: an efficiency against it would
        be invented, and reads far above 100 % on an unpaced link.
        """
        if not self.line_baud and self.port_url.lower().startswith(UNKNOWN_RATE_PREFIXES):
            return None
        return self.line_rate_bps
