"""The one pre-flight (updates/preflight.py) against real emulated bridges and real images.

The same verdict is what the engine's validate stage refuses on, what the GUI's Start
button follows and what `image verify` prints: these tests read a real bridge, assess the
shipped demo images, and check the engine refuses exactly what the assessment refuses,
with the same code and failure class.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bridgelab.data.failures import FailureClass
from bridgelab.drivers.client import BridgeClient
from bridgelab.drivers.join_state import JoinState
from bridgelab.emulator.demo_material import DEMO_DIR
from bridgelab.firmware.compat import DowngradeOverride
from bridgelab.firmware.errors import FirmwareError
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.preflight import BridgeFacts, assess
from bridgelab.updates.request import UpdateRequest
from bridgelab.updates.verdict import update_verdict
from tests.updates.conftest import FAST_POLICY

NEWER = DEMO_DIR / "bridge-demo-1.3.0.ota"
OLDER = DEMO_DIR / "bridge-demo-1.1.0.ota"
TAMPERED = DEMO_DIR / "bridge-demo-1.3.0-tampered.ota"
WRONG_TYPE = DEMO_DIR / "bridge-demo-wrong-type.ota"


def url(profile: str) -> str:
    return f"emu://{profile}?id=preflight-{uuid.uuid4().hex[:8]}"


def read_bridge(port: str) -> BridgeFacts:
    with BridgeClient.connect(port) as client:
        return BridgeFacts.read(client.identity(), client.join_status().state)


def test_demo_bridge_takes_a_newer_image_both_ways() -> None:
    preflight = assess(NEWER, read_bridge(url("demo")), trust_dir=None)
    assert preflight.allowed("local") and preflight.allowed("ota")
    assert preflight.verdict("ota").reasons == ()
    assert preflight.trust_source.startswith("the shipped demo key")


def test_legacy_bridge_refuses_ota_only() -> None:
    preflight = assess(NEWER, read_bridge(url("legacy")), trust_dir=None)
    assert preflight.allowed("local")
    ota = preflight.verdict("ota")
    assert not ota.allowed
    assert ota.refusal is ota.mode_refusal, "the refusal is about the mode, not the image"
    assert ota.refusal is not None
    assert ota.refusal.code == "not-ota-capable"
    assert ota.refusal.failure is FailureClass.NOT_OTA_CAPABLE
    assert "locally" in ota.refusal.action
    assert ota.refusal.action not in ota.refusal.message, "the next step is said once"


@pytest.mark.parametrize(
    ("profile", "code", "cls"),
    [
        ("orphaned", "orphaned-after-swap-out", FailureClass.ORPHANED),
        ("not-in-log", "not-joined-not-in-device-log", FailureClass.NOT_JOINED),
    ],
)
def test_off_han_bridge_refuses_ota_and_warns_for_local(
    profile: str, code: str, cls: FailureClass
) -> None:
    preflight = assess(NEWER, read_bridge(url(profile)), trust_dir=None)
    ota = preflight.verdict("ota").refusal
    assert ota is not None and ota.code == code and ota.failure is cls
    local = preflight.verdict("local")
    assert local.allowed
    assert [w.code for w in local.warnings] == ["stays-off-han"]
    if profile == "orphaned":
        assert "supplier" in local.warnings[0].action


@pytest.mark.parametrize(
    ("image", "code"),
    [(TAMPERED, "signature-invalid"), (WRONG_TYPE, "wrong-image-type"), (OLDER, "downgrade")],
)
def test_an_image_refusal_refuses_every_mode(image: Path, code: str) -> None:
    preflight = assess(image, read_bridge(url("demo")), trust_dir=None)
    for mode in ("local", "ota"):
        verdict = preflight.verdict(mode)
        assert verdict.refusal is not None and verdict.refusal.code == code
        assert verdict.refusal.failure is FailureClass.IMAGE_REJECTED
        assert verdict.mode_refusal is None


def test_downgrade_needs_a_reason_then_passes_with_a_warning() -> None:
    bridge = read_bridge(url("demo"))
    assert assess(OLDER, bridge, trust_dir=None).needs_downgrade_reason
    blank = assess(OLDER, bridge, trust_dir=None, override=DowngradeOverride("  "))
    refusal = blank.verdict("local").refusal
    assert refusal is not None and refusal.code == "downgrade-needs-reason"
    allowed = assess(OLDER, bridge, trust_dir=None, override=DowngradeOverride("field fix"))
    assert allowed.allowed("local")
    assert [w.code for w in allowed.verdict("local").warnings] == ["downgrade-allowed"]


def test_no_bridge_and_no_trust_store_are_refusals_with_a_next_step() -> None:
    unchecked = assess(NEWER, None, trust_dir=None)
    assert unchecked.image_ok, "the image itself is fine (the demo key signs it)"
    refusal = unchecked.verdict("local").refusal
    assert refusal is not None and refusal.code == "no-bridge" and refusal.action

    foreign = BridgeFacts(
        read_bridge(url("demo")).device.__class__(
            manufacturer_code=0x1234, image_type=1, hardware_version=1, file_version=1
        )
    )
    untrusted = assess(NEWER, foreign, trust_dir=None)
    first = untrusted.verdict("local").refusal
    assert first is not None and first.code == "no-trust-store"
    assert "--trust" in first.action
    codes = [r.code for r in untrusted.verdict("local").reasons]
    assert "signature-not-checked" not in codes, "the trust problem is said once"


def test_unknown_ota_eligibility_is_a_warning_not_a_pass_in_silence() -> None:
    device = read_bridge(url("demo")).device
    preflight = assess(NEWER, BridgeFacts(device), trust_dir=None)
    ota = preflight.verdict("ota")
    assert ota.allowed
    assert [w.code for w in ota.warnings] == ["ota-eligibility-not-checked"]


def test_not_an_image_raises_the_firmware_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ota"
    junk.write_bytes(b"not an image at all" * 10)
    with pytest.raises(FirmwareError):
        assess(junk, None, trust_dir=None)


@pytest.mark.parametrize(
    ("profile", "image", "mode"),
    [
        ("legacy", NEWER, "ota"),
        ("orphaned", NEWER, "ota"),
        ("demo", WRONG_TYPE, "local"),
        ("demo", TAMPERED, "ota"),
    ],
)
def test_engine_refuses_exactly_what_the_preflight_refuses(
    profile: str, image: Path, mode: str
) -> None:
    port = url(profile)
    verdict = assess(image, read_bridge(port), trust_dir=None).verdict(mode)
    assert verdict.refusal is not None
    result = UpdateEngine(UpdateRequest(port, image, mode=mode, policy=FAST_POLICY)).run()
    assert result.failure_stage == "validate"
    assert result.result == (verdict.refusal.failure or FailureClass.IMAGE_REJECTED).value
    assert result.error is not None and result.error["code"] == verdict.refusal.code
    assert result.bytes == 0


def test_engine_tells_a_local_update_of_an_orphaned_bridge_stays_off_the_han() -> None:
    port = url("orphaned")
    facts = read_bridge(port)
    assert facts.join_state is JoinState.ORPHANED
    result = UpdateEngine(UpdateRequest(port, NEWER, policy=FAST_POLICY)).run()
    assert result.ok
    assert any("stays off the HAN" in notice for notice in result.notices)
    verdict = update_verdict(result)
    assert "still off the HAN (orphaned" in verdict.headline
    assert "supplier" in verdict.next_step
