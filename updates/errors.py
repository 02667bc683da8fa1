"""The update engine's one failure type: a classified reason for ending a session."""

from __future__ import annotations

from bridgelab.data.failures import Failure, FailureClass, Stage
from bridgelab.errors import BridgeLabError


class UpdateFailed(BridgeLabError):
    """An update ended without success. `failure` holds the stage, class and code the
    triage log stores; `code` is the precise reason (e.g. `signature-invalid`)."""

    def __init__(
        self,
        stage: Stage,
        cls: FailureClass,
        message: str,
        *,
        code: str | None = None,
        action: str | None = None,
    ) -> None:
        super().__init__(
            message, code=code or cls.value, action=cls.action if action is None else action
        )
        self.failure = Failure(stage, cls, self.code, str(self))

    @classmethod
    def from_error(
        cls, stage: Stage, failure_class: FailureClass, error: BridgeLabError
    ) -> UpdateFailed:
        """Classify another layer's error, keeping its code, message and next step."""
        return cls(stage, failure_class, error.message, code=error.code, action=error.action)
