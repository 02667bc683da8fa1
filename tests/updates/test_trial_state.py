"""The trial (unconfirmed) state: read from the bridge on every connect, shown by `info`
and `info --json` with its next step, and resumed by re-running the same update."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from bridgelab.cli import main
from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient
from bridgelab.drivers.diagnosis import diagnose
from bridgelab.drivers.trial import confirmed_version, read_update_status
from bridgelab.emulator import device as emulated
from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.emulator.urlhandler import protocol_emu
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.request import UpdateRequest
from tests.updates.conftest import FAST_POLICY

NEWER = DEMO_IMAGES[0].path  # 1.3.0
OLD, NEW = 0x01020000, 0x01030000


def trial_bridge(profile: str = "demo") -> str:
    """A bridge that restarted into 1.3.0 and was never confirmed (as a killed tool leaves it)."""
    url = f"emu://{profile}?id=trial-{uuid.uuid4().hex[:8]}"
    with BridgeClient.connect(url):
        pass
    bridge = protocol_emu._instances[url.split("id=")[1]].device
    bridge.flash.install(NEW, "", trial=True)
    return url


def test_the_trial_vectors_of_the_docs() -> None:
    body = p.UpdateStatusResponse(p.UpdateState.TRIAL, 0, 0, bytes(32)).encode()
    assert body.hex() == "04" + "00000000" + "00000000" + "00" * 32
    assert p.UpdateStatusResponse.decode(body).state is p.UpdateState.TRIAL
    frame = p.encode_response(p.Command.UPDATE_STATUS, 1, status=p.Status.UNKNOWN_COMMAND, text="x")
    assert frame.payload.hex() == "01" + "78"


def test_info_says_trial_and_the_next_step(capsys: pytest.CaptureFixture[str]) -> None:
    url = trial_bridge()
    assert main(["info", "--port", url, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["update"] == {"state": "trial", "trial": True, "rolls_back_to": OLD}
    first = info["diagnosis"][0]
    assert first["code"] == "trial-unconfirmed"
    assert first["message"] == (
        "Running 1.3.0 on trial: not yet confirmed; it rolls back to 1.2.0 at the next "
        "reboot unless confirmed. Run the same update again to confirm it."
    )
    assert main(["info", "--port", url]) == 0
    text = capsys.readouterr().out
    assert "1.3.0 (0x01030000) (on trial: not confirmed)" in text
    assert "rolls back to 1.2.0" in text


def test_a_confirmed_bridge_is_not_on_trial(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--port", "emu://demo", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["update"]["trial"] is False
    assert all(f["code"] != "trial-unconfirmed" for f in info["diagnosis"])


def test_an_old_bridge_without_update_status_is_unknown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A bridge from before UPDATE_STATUS answers it UNKNOWN_COMMAND.
    monkeypatch.delitem(emulated._HANDLERS, p.GetUpdateStatus)
    with BridgeClient.connect("emu://demo") as client:
        assert read_update_status(client) is None
        identity = client.identity()
    assert confirmed_version(identity, None) == identity.firmware_version
    assert main(["info", "--port", "emu://demo", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["update"] == {"state": None, "trial": None, "rolls_back_to": None}
    assert main(["info", "--port", "emu://demo"]) == 0
    assert "trial state unknown" in capsys.readouterr().out


def test_the_same_image_on_a_trial_bridge_resumes_at_the_health_check() -> None:
    url = trial_bridge()
    request = UpdateRequest(port_url=url, image_path=NEWER, policy=FAST_POLICY)
    engine = UpdateEngine(request)
    result = engine.run()
    assert result.ok, result.error
    assert engine.resume_at_confirm and result.bytes == 0  # nothing sent again
    assert any("resuming at the health check" in n for n in result.notices)
    bridge = protocol_emu._instances[url.split("id=")[1]].device
    assert not bridge.flash.state.trial and bridge.firmware_version == NEW
    with BridgeClient.connect(url) as client:
        status = read_update_status(client)
        findings = diagnose(client.identity(), client.join_status(), None, status)
    assert status is not None and status.state is p.UpdateState.IDLE
    assert all(f.code != "trial-unconfirmed" for f in findings)


def test_another_image_on_a_trial_bridge_is_refused(tmp_path: Path) -> None:
    url = trial_bridge()
    older = DEMO_IMAGES[1].path  # 1.1.0
    request = UpdateRequest(
        port_url=url,
        image_path=older,
        allow_downgrade=True,
        downgrade_reason="lab",
        policy=FAST_POLICY,
    )
    result = UpdateEngine(request).run()
    assert not result.ok and result.error and result.error["code"] == "trial-pending"
    assert result.failure_stage == "validate" and result.bytes == 0
    bridge = protocol_emu._instances[url.split("id=")[1]].device
    assert bridge.flash.state.trial  # left as it was: nothing sent


def test_an_ota_re_run_confirms_a_trial_too() -> None:
    url = trial_bridge()
    result = UpdateEngine(
        UpdateRequest(port_url=url, image_path=NEWER, mode="ota", policy=FAST_POLICY)
    ).run()
    assert result.ok, result.error
    assert not protocol_emu._instances[url.split("id=")[1]].device.flash.state.trial
