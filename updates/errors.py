"""The update engine's one failure type: a classified reason for ending a session."""

from __future__ import annotations

from bridgelab.crash import write_crash_report
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

    def result_error(self) -> dict[str, str | None]:
        """The `error` of an `UpdateResult`: what happened and the precise next step."""
        return {"code": self.code, "message": self.message, "action": self.action or None}

    @classmethod
    def from_error(
        cls, stage: Stage, failure_class: FailureClass, error: BridgeLabError
    ) -> UpdateFailed:
        """Classify another layer's error, keeping its code, message and next step."""
        return cls(stage, failure_class, error.message, code=error.code, action=error.action)


def internal_failure(stage: Stage, error: BaseException, *, where: str) -> UpdateFailed:
    """A bug inside a session, as the session's failure: the traceback goes to a crash
    file (`bridgelab.crash`), never to the terminal, and the next step names that file."""
    crash = write_crash_report(error, where=f"{where}, {stage.value}")
    return UpdateFailed(
        stage,
        FailureClass.INTERNAL_ERROR,
        f"Internal error ({type(error).__name__}: {error}).",
        code="internal-error",
        action=f"This is a Bridge Lab bug: report it with {crash} and the defect bundle.",
    )
