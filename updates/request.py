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
    policy: UpdatePolicy = field(default_factory=UpdatePolicy)
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
        """Payload bytes per second the line can carry (8N1), or None when it has no rate
        (an in-process emulated bridge without a `baud` option)."""
        if self.port_url.lower().startswith("emu://"):
            query = dict(parse_qsl(urlsplit(self.port_url).query))
            baud = query.get("baud")
            return int(baud) / 10.0 if baud and baud.isdigit() and int(baud) else None
        return self.baudrate / 10.0
