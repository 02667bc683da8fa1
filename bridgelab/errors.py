"""The root of every layer's exception tree.

Each layer (firmware, drivers, updates, data) derives its own tree from `BridgeLabError`.
Every error carries a stable `code` (kebab-case, stored in the triage log and used by
scripts), a `message` saying what happened, and an `action` saying what to do next; the
CLI and the GUI show both, so no caller has to invent wording of its own.
"""

from __future__ import annotations

from typing import Any


class BridgeLabError(Exception):
    """Base class: `code` is stable across releases, `message` and `action` are for people."""

    code: str = "error"
    default_action: str = ""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        action: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.action = action if action is not None else self.default_action
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return f"{self.message} {self.action}".strip() if self.action else self.message

    def to_dict(self) -> dict[str, Any]:
        """The error as the CLI's `--json` output and the triage log store it."""
        out: dict[str, Any] = {"code": self.code, "message": str(self)}
        if self.action:
            out["action"] = self.action
        if self.details:
            out["details"] = self.details
        return out


class UsageError(BridgeLabError):
    """A command line or setting that cannot be acted on."""

    code = "usage"
