"""What the application remembers between runs, typed, on QSettings.

`Settings.user()` is the engineer's own store (the registry on Windows, a plist on macOS,
an INI file under ~/.config on Linux); `Settings.at(path)` keeps them in one INI file,
which the tests, the screenshot mode and `BRIDGELAB_SETTINGS` use so that nothing touches
the user's. Ports are stored as URLs (the house rule), never as an "is emulator" flag.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from bridgelab.drivers.link import DEFAULT_BAUD

ORGANISATION = "Bridge Lab"
APPLICATION = "Bridge Lab"
ENV_VAR = "BRIDGELAB_SETTINGS"


class Settings:
    """Typed accessors over one QSettings; every value has a default."""

    def __init__(self, store: QSettings) -> None:
        self.store = store

    @classmethod
    def user(cls) -> Settings:
        override = os.environ.get(ENV_VAR, "").strip()
        if override:
            return cls.at(Path(override))
        return cls(QSettings(ORGANISATION, APPLICATION))

    @classmethod
    def at(cls, path: Path) -> Settings:
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    # -- plumbing --------------------------------------------------------------------------

    def _text(self, key: str, default: str = "") -> str:
        value = self.store.value(key, default)
        return value if isinstance(value, str) else default

    def _number(self, key: str, default: float) -> float:
        value = self.store.value(key, default)
        try:
            return float(str(value))
        except ValueError:
            return default

    def _flag(self, key: str, default: bool) -> bool:
        value = self.store.value(key, default)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes")

    def sync(self) -> None:
        self.store.sync()

    # -- connection ------------------------------------------------------------------------

    @property
    def last_port(self) -> str:
        return self._text("connection/last_port")

    @last_port.setter
    def last_port(self, url: str) -> None:
        self.store.setValue("connection/last_port", url)

    @property
    def baud(self) -> int:
        return int(self._number("connection/baud", DEFAULT_BAUD))

    @baud.setter
    def baud(self, value: int) -> None:
        self.store.setValue("connection/baud", int(value))

    # -- update ----------------------------------------------------------------------------

    @property
    def trust_dir(self) -> str:
        """Folder of trusted manufacturer keys ("" = the demo key for the Demo bridge)."""
        return self._text("update/trust_dir")

    @trust_dir.setter
    def trust_dir(self, path: str) -> None:
        self.store.setValue("update/trust_dir", path)

    @property
    def last_image_dir(self) -> str:
        return self._text("update/last_image_dir")

    @last_image_dir.setter
    def last_image_dir(self, path: str) -> None:
        self.store.setValue("update/last_image_dir", path)

    @property
    def record_trace(self) -> bool:
        """Log every frame of an update (the raw trace in the triage view)."""
        return self._flag("update/record_trace", True)

    @record_trace.setter
    def record_trace(self, on: bool) -> None:
        self.store.setValue("update/record_trace", bool(on))

    @property
    def operator(self) -> str:
        return self._text("update/operator")

    @operator.setter
    def operator(self, name: str) -> None:
        self.store.setValue("update/operator", name)

    # -- window and first run ----------------------------------------------------------------

    @property
    def geometry(self) -> QByteArray | None:
        value = self.store.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self.store.setValue("window/geometry", value)

    @property
    def last_view(self) -> str:
        return self._text("window/last_view", "device")

    @last_view.setter
    def last_view(self, name: str) -> None:
        self.store.setValue("window/last_view", name)

    @property
    def demo_hint_dismissed(self) -> bool:
        return self._flag("window/demo_hint_dismissed", False)

    @demo_hint_dismissed.setter
    def demo_hint_dismissed(self, value: bool) -> None:
        self.store.setValue("window/demo_hint_dismissed", bool(value))

    # -- emulator ----------------------------------------------------------------------------

    @property
    def emulator_url(self) -> str:
        """The last emulated bridge configured in the emulator panel."""
        return self._text("emulator/url", "emu://demo?id=lab-1")

    @emulator_url.setter
    def emulator_url(self, url: str) -> None:
        self.store.setValue("emulator/url", url)
