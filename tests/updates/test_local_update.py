"""Local updates against the emulated bridge: the happy path, policy refusals, the log."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bridgelab.data.failures import FailureClass, FinalState
from bridgelab.data.store import TriageStore
from bridgelab.drivers.client import BridgeClient
from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.updates import events as ev
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.request import UpdateRequest
from tests.updates.conftest import FAST_POLICY

NEWER, OLDER, WRONG_TYPE, TAMPERED = (spec.path for spec in DEMO_IMAGES)
URL = Callable[..., str]


def run(
    url: str, image: Path, store: TriageStore | None = None, **kw: object
) -> tuple[ev.UpdateResult, list[ev.UpdateEvent]]:
    seen: list[ev.UpdateEvent] = []
    request = UpdateRequest(url, image, policy=kw.pop("policy", FAST_POLICY), **kw)  # type: ignore[arg-type]
    result = UpdateEngine(request, store=store, subscribers=[seen.append]).run()
    return result, seen


def test_a_local_update_goes_through_every_stage_and_is_logged(
    bridge_url: URL, store: TriageStore
) -> None:
    url = bridge_url()
    result, seen = run(url, NEWER, store)
    assert result.ok, result.error
    assert (result.version_before, result.version_after) == (0x01020000, 0x01030000)
    assert result.rejoined is True and result.bytes == NEWER.stat().st_size
    stages = [e.stage.value for e in seen if isinstance(e, ev.StageFinished) and e.ok]
    assert stages == ["identify", "validate", "transfer", "verify", "activate", "confirm"]
    assert isinstance(seen[-1], ev.SessionFinished)
    with BridgeClient.connect(url) as client:
        identity = client.identity()
    assert (identity.firmware_version, identity.inactive_firmware_version) == (
        0x01030000,
        0x01020000,
    )
    record = store.get_session(result.session_id or "")
    assert record.final_state == FinalState.SUCCESS
    assert (record.version_before, record.version_after) == (0x01020000, 0x01030000)
    kinds = [e.kind for e in store.session_events(record.id)]
    assert kinds.count("stage") == 6 and "confirmed" in kinds and "rejoined" in kinds


@pytest.mark.parametrize(
    ("image", "code"),
    [
        (OLDER, "downgrade"),
        (WRONG_TYPE, "wrong-image-type"),
        (TAMPERED, "signature-invalid"),
    ],
)
def test_bad_images_are_refused_before_a_byte_is_sent(
    bridge_url: URL, store: TriageStore, image: Path, code: str
) -> None:
    url = bridge_url()
    result, seen = run(url, image, store)
    assert result.result == FailureClass.IMAGE_REJECTED.value
    assert result.failure_stage == "validate" and result.error and result.error["code"] == code
    assert not any(isinstance(e, ev.StageStarted) and e.stage.value == "transfer" for e in seen)
    with BridgeClient.connect(url) as client:
        status = client.update_status()
    assert status.offset == 0 and status.image_size == 0  # the bridge never saw a write
    record = store.get_session(result.session_id or "")
    assert (record.final_state, record.failure_class, record.failure_code) == (
        "failed",
        "image-rejected",
        code,
    )


def test_a_downgrade_needs_the_override_and_records_the_reason(
    bridge_url: URL, store: TriageStore
) -> None:
    result, seen = run(
        bridge_url(),
        OLDER,
        store,
        allow_downgrade=True,
        downgrade_reason="field defect 4711 in 1.2",
    )
    assert result.ok, result.error
    assert result.version_after == 0x01010000
    warnings = [e for e in seen if isinstance(e, ev.Notice) and e.code == "downgrade-allowed"]
    assert warnings and "field defect 4711" in warnings[0].message
    events = store.session_events(result.session_id or "")
    assert any(e.kind == "notice" and "field defect 4711" in json.dumps(e.data) for e in events)


def test_without_a_trust_store_only_the_demo_bridge_trusts_the_demo_key(
    bridge_url: URL, tmp_path: Path
) -> None:
    other = tmp_path / "other-vendor.toml"
    other.write_text('base = "demo"\nmanufacturer_code = 0x1234\nboot_s = 0.05\n', encoding="utf-8")
    result, _ = run(f"emu://{other}", NEWER)
    assert (
        result.result == "image-rejected"
        and result.error
        and result.error["code"] == "no-trust-store"
    )
    assert "--trust" in str(result.error["action"]), "the next step names the option"


def test_a_bridge_whose_version_does_not_change_fails_as_such(
    bridge_url: URL, store: TriageStore
) -> None:
    result, _ = run(bridge_url("version-unchanged=1"), NEWER, store)
    assert result.result == FailureClass.VERSION_UNCHANGED.value
    assert result.failure_stage == "confirm" and result.version_after == 0x01020000
    assert store.get_session(result.session_id or "").failure_class == "version-unchanged"


def test_refused_activation_leaves_the_old_image(bridge_url: URL) -> None:
    url = bridge_url("refuse-activate=1")
    result, _ = run(url, NEWER)
    assert (
        result.result == FailureClass.ACTIVATION_FAILED.value and result.failure_stage == "activate"
    )
    with BridgeClient.connect(url) as client:
        assert client.identity().firmware_version == 0x01020000


def test_a_bridge_that_leaves_the_han_fails_the_health_check(bridge_url: URL) -> None:
    # The update itself takes well under a second here; the bridge leaves 2.5 s after it
    # started, inside the 5 s health check.
    policy = replace(FAST_POLICY, healthy_s=5.0)
    result, _ = run(bridge_url("leave-han-at=2.5"), NEWER, policy=policy)
    assert result.result == FailureClass.UNHEALTHY.value
    assert result.error and result.error["code"] == "left-han-after-update"


def test_missing_port_and_silent_bridge(store: TriageStore) -> None:
    result, _ = run("/dev/ttyBRIDGELAB-missing", NEWER, store)
    assert (result.result, result.failure_stage) == ("port-unavailable", "identify")
    policy = replace(FAST_POLICY, timeouts=replace(FAST_POLICY.timeouts, identify_s=0.5))
    result, _ = run("emu://demo?drop-rate=1", NEWER, store, policy=policy)
    assert (result.result, result.failure_stage) == ("no-response", "identify")
    assert store.count_sessions() == 2


def update_cli(
    port: str, image: Path, db: Path, *extra: str, preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    """`bridgelab update` as a lab script runs it: a process of its own."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bridgelab",
            "update",
            "--port",
            port,
            str(image),
            "--db",
            str(db),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=preexec_fn,
    )


def test_update_cli_json_contract(bridge_url: URL, tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    out = update_cli(bridge_url(), NEWER, db, "--json", "--healthy-s", "0.1")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for key in (
        "result",
        "session_id",
        "version_before",
        "version_after",
        "bytes",
        "duration_s",
        "throughput_bps",
        "line_efficiency",
        "retries",
        "resumed_from",
    ):
        assert key in result
    assert result["result"] == "success" and result["version_after"] == 0x01030000
    refused = update_cli(bridge_url(), OLDER, db, "--json")
    assert refused.returncode == 1
    payload = json.loads(refused.stdout)
    assert payload["result"] == "image-rejected" and payload["error"]["code"] == "downgrade"
    usage = update_cli("emu://demo", OLDER, db, "--allow-downgrade")
    assert usage.returncode == 1 and "needs --reason" in usage.stderr


def _limited(limit_bytes: int) -> Callable[[], None]:
    """A child whose files may not grow past `limit_bytes`: a disk that fills up."""
    import resource
    import signal

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return limit


def test_a_full_disk_before_the_update_stops_it_before_the_bridge(tmp_path: Path) -> None:
    out = update_cli("emu://demo", NEWER, tmp_path / "triage.db", preexec_fn=_limited(20_000))
    assert out.returncode == 1
    assert "Nothing was sent to any bridge" in out.stderr and "disk space" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_disk_that_fills_during_the_update_costs_the_log_not_the_update(tmp_path: Path) -> None:
    db = tmp_path / "triage.db"
    assert update_cli("emu://demo", NEWER, db, "--healthy-s", "0.1").returncode == 0
    # The raw trace (--trace) needs far more room than is left.
    out = update_cli(
        "emu://demo",
        NEWER,
        db,
        "--healthy-s",
        "0.1",
        "--trace",
        preexec_fn=_limited(db.stat().st_size + 150_000),
    )
    assert out.returncode == 0, out.stderr
    assert "Updated 1.2.0 -> 1.3.0" in out.stdout
    assert "could not record all of this session" in out.stderr
