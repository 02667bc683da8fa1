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


def test_a_bug_in_the_upload_strategy_ends_in_the_engine_as_a_bug_in_a_local_update_does(
    gbl_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bridgelab.updates import events as ev
    from bridgelab.updates.bootloader_upload import BootloaderUpload

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def broken_upload(*_: object) -> None:
        raise Bug("a defect in the strategy")

    monkeypatch.setattr(BootloaderUpload, "_upload", broken_upload)
    finished: list[ev.StageFinished] = []

    def on_event(event: ev.UpdateEvent) -> None:
        if isinstance(event, ev.StageFinished):
            finished.append(event)

    with bridge_on_pty() as bridge:
        engine = RecoveryEngine(RecoveryRequest(bridge.path, gbl_file), subscribers=[on_event])
        result = engine.run()
        assert bridge.device.in_bootloader  # nothing was run
    assert (result.result, result.failure_stage) == ("internal-error", "transfer")
    assert [(e.stage.value, e.ok) for e in finished][-1] == ("transfer", False)
    (crash,) = (tmp_path / "bridgelab-crashes").glob("bridgelab-crash-*.txt")
    assert "Where: recovery, transfer" in crash.read_text(encoding="utf-8")
