"""How firmware versions are shown (the rule lives in `bridgelab.versions`, shared by
every layer: the firmware layer's messages say versions the same way)."""

from __future__ import annotations

from bridgelab.versions import NO_VERSION, display_version, format_version, version_text

__all__ = ["NO_VERSION", "display_version", "format_version", "version_text"]
