"""A bug inside a session (update or recovery) ends as a classified failure whose next
step names a crash file; the traceback goes into that file, not onto the terminal."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from bridgelab.data.failures import FailureClass
from bridgelab.updates.recovery import RecoveryEngine, RecoveryRequest
from tests.recovery.conftest import bridge_on_pty


class Bug(RuntimeError):
    pass


def test_a_bug_during_recovery_writes_a_crash_file_not_a_traceback(
    gbl_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the crash folder's parent

    def broken_validate(self: RecoveryEngine) -> None:
        raise Bug("a deliberate defect")

    monkeypatch.setattr(RecoveryEngine, "_validate", broken_validate)
    with bridge_on_pty(baud=115200, latency_ms=1) as bridge:
        result = RecoveryEngine(RecoveryRequest(bridge.path, gbl_file)).run()
    assert result.result == FailureClass.INTERNAL_ERROR.value
    assert result.error is not None and result.error["code"] == "internal-error"
    crashes = list((tmp_path / "bridgelab-crashes").glob("bridgelab-crash-*.txt"))
    assert len(crashes) == 1
    report = crashes[0].read_text(encoding="utf-8")
    assert "a deliberate defect" in report and "Where: recovery, validate" in report
    assert str(crashes[0]) in (result.error["action"] or "")
    assert "Traceback" not in capsys.readouterr().err
