"""The emulated bridge's flash: two firmware slots and the download in progress.

With a state file the flash survives a restart of the emulator process (a power cycle):
slot metadata lives in the JSON file and the download's bytes in `<state>.download`, so
the resume offset after a power loss is simply how many bytes reached flash. Without a
state file the same object lives in memory for the life of the process, which already
covers reboots, since a reboot does not lose flash.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bridgelab.drivers.versions import NO_VERSION


@dataclass
class Slot:
    version: int = NO_VERSION
    manufacturer_image_sha256: str = ""


@dataclass
class Download:
    size: int = 0
    file_sha256: str = ""
    header_hex: str = ""
    verified: bool = False
    file_version: int = NO_VERSION
    manufacturer_image_sha256: str = ""


@dataclass
class FlashState:
    slots: list[Slot] = field(default_factory=lambda: [Slot(), Slot()])
    running: int = 0
    trial: bool = False  # running slot not yet confirmed: the next reboot rolls back
    download: Download | None = None


class Flash:
    def __init__(self, state: FlashState, path: Path | None) -> None:
        self.state = state
        self._path = path
        self._data = bytearray()
        if path is not None and self._download_path.exists():
            self._data = bytearray(self._download_path.read_bytes())

    @classmethod
    def open(cls, path: Path | None, running_version: int, inactive_version: int) -> Flash:
        """Load the state file if it exists, else start from the profile's versions."""
        if path is not None and path.exists():
            raw = json.loads(path.read_text(encoding="utf-8"))
            download = raw.get("download")
            state = FlashState(
                slots=[Slot(**s) for s in raw["slots"]],
                running=int(raw["running"]),
                trial=bool(raw["trial"]),
                download=Download(**download) if download else None,
            )
            return cls(state, path)
        state = FlashState(slots=[Slot(running_version), Slot(inactive_version)])
        flash = cls(state, path)
        flash.save()
        return flash

    @property
    def _download_path(self) -> Path:
        assert self._path is not None
        return self._path.with_name(self._path.name + ".download")

    @property
    def running_slot(self) -> Slot:
        return self.state.slots[self.state.running]

    @property
    def inactive_slot(self) -> Slot:
        return self.state.slots[1 - self.state.running]

    @property
    def offset(self) -> int:
        return len(self._data)

    @property
    def data(self) -> bytes:
        return bytes(self._data)

    def save(self) -> None:
        if self._path is None:
            return
        raw: dict[str, Any] = asdict(self.state)
        tmp = self._path.with_name(self._path.name + ".tmp")
        tmp.write_text(json.dumps(raw, indent=2), encoding="utf-8")
        os.replace(tmp, self._path)

    def begin(self, download: Download) -> None:
        """Erase the inactive slot for a new image."""
        self.state.download = download
        self._data.clear()
        if self._path is not None:
            self._download_path.write_bytes(b"")
        self.save()

    def write(self, data: bytes) -> None:
        self._data += data
        if self._path is not None:
            with self._download_path.open("ab") as handle:
                handle.write(data)
                handle.flush()

    def file_sha256(self) -> str:
        return hashlib.sha256(self._data).hexdigest()

    def discard(self) -> None:
        self.state.download = None
        self._data.clear()
        if self._path is not None and self._download_path.exists():
            self._download_path.unlink()
        self.save()

    def install(self, version: int, manufacturer_image_sha256: str, *, trial: bool) -> None:
        """Make the verified download the inactive slot's image and switch to it."""
        self.state.slots[1 - self.state.running] = Slot(version, manufacturer_image_sha256)
        self.state.running = 1 - self.state.running
        self.state.trial = trial
        self.state.download = None
        self._data.clear()
        if self._path is not None and self._download_path.exists():
            self._download_path.unlink()
        self.save()

    def switch_back(self) -> None:
        self.state.running = 1 - self.state.running
        self.state.trial = False
        self.save()

    def recovered(self, version: int) -> None:
        """The radio's bootloader wrote a whole new application over the running slot:
        no trial (nothing to roll back to), no download in progress."""
        self.state.slots[self.state.running] = Slot(version, "")
        self.state.trial = False
        self.state.download = None
        self._data.clear()
        self.save()
