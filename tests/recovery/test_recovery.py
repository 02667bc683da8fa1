"""The recovery scenario end to end, and what goes wrong on the way.

Dead application -> bootloader found by probing -> verified GBL uploaded -> application
back -> identified -> confirmed -> logged in the triage store; on a real pty, through the
`bridgelab recover` command and through the library.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from bridgelab.data.failures import FailureClass
from bridgelab.data.store import TriageStore
from bridgelab.drivers.factory import BootloaderOnly, connect, connect_bridge
from bridgelab.drivers.gecko_bootloader import GeckoBootloader
from bridgelab.updates.recovery import RecoveryEngine, RecoveryRequest
from tests.gbl_files import TAG_END, application_bytes, build_gbl, tag
from tests.recovery.conftest import APP_ADDRESS, bridge_on_pty, bridgelab_cli


def test_dead_application_recovered_end_to_end_by_the_cli(
    gbl_file: Path, app_image: bytes, tmp_path: Path
) -> None:
    db = tmp_path / "triage.db"
    with bridge_on_pty(baud=115200, latency_ms=1) as bridge:
        assert bridge.device.in_bootloader  # the application is lost
        done = bridgelab_cli(
            "recover",
            "--port",
            bridge.path,
            str(gbl_file),
            "--db",
            str(db),
            "--line-rate",  # a pty does not tell its rate: the emulator's is 115200
            "115200",
            "--json",
        )
        assert done.returncode == 0, done.stderr + done.stdout
        result = json.loads(done.stdout)
        assert result["result"] == "success"
        assert result["version_after"] == 0x01030000 == result["image_version"]
        # Measured, so within what a line can do (its speed is benchmarks' business: a
        # floor here failed under load).
        assert 0 < result["line_efficiency"] <= 1
        # Timed by the update engine's own stages: the strategy's transfer and activate.
        assert list(result["stage_s"]) == [
            "identify",
            "validate",
            "transfer",
            "activate",
            "confirm",
        ]
        flash = bytes(bridge.device.bootloader.flash[APP_ADDRESS : APP_ADDRESS + len(app_image)])
        assert flash == app_image
        assert not bridge.device.in_bootloader
        # The bridge speaks the service protocol again, as the recovered version.
        with connect_bridge(bridge.path) as client:
            assert client.identity().firmware_version == 0x01030000
    with TriageStore.open(db) as store:
        session = store.get_session(result["session_id"])
        assert session.final_state == "success" and session.driver == "gecko-bootloader"
        assert session.device_eui64 == "00:12:4B:00:01:B1:D6:41"  # known after the confirm
        kinds = [e.kind for e in store.session_events(result["session_id"])]
    for kind in ("bootloader-found", "transfer", "run", "confirmed"):
        assert kind in kinds
    assert kinds.index("bootloader-found") < kinds.index("transfer") < kinds.index("confirmed")


def test_a_running_bridge_is_asked_into_its_bootloader(gbl_file: Path, store: TriageStore) -> None:
    with bridge_on_pty(profile="demo") as bridge:
        result = RecoveryEngine(RecoveryRequest(bridge.path, gbl_file), store=store).run()
        assert result.ok, result.error
        assert result.version_before == 0x01020000 and result.version_after == 0x01030000
    kinds = [e.kind for e in store.session_events(result.session_id)]
    assert "enter-bootloader" in kinds


def test_a_damaged_gbl_is_refused_before_the_first_block(
    tmp_path: Path, store: TriageStore
) -> None:
    good = build_gbl(application_bytes(5000))
    bad = tmp_path / "bad.gbl"
    bad.write_bytes(good[:-4] + bytes(4))  # wrong end-tag CRC-32
    with bridge_on_pty() as bridge:
        result = RecoveryEngine(RecoveryRequest(bridge.path, bad), store=store).run()
        assert result.result == FailureClass.IMAGE_REJECTED.value
        assert result.failure_stage == "validate" and result.error
        assert result.error["code"] == "gbl-bad-crc"
        assert bridge.device.bootloader.blocks_written == 0
        assert bridge.device.bootloader.upload is None  # option 1 was never chosen


def _signed_gbl(key: ec.EllipticCurvePrivateKey, application: bytes) -> bytes:
    body = build_gbl(application)
    unsigned = body[:-12]  # without the end tag
    der = key.sign(unsigned, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signed = unsigned + tag(0xF70A0AF7, r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    import struct
    import zlib

    signed += struct.pack("<II", TAG_END, 4)
    return signed + struct.pack("<I", zlib.crc32(signed))


def test_signature_checked_with_a_trusted_key(tmp_path: Path, store: TriageStore) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "radio.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    forged = tmp_path / "forged.gbl"
    forged.write_bytes(_signed_gbl(other, application_bytes(3000)))
    unsigned = tmp_path / "unsigned.gbl"
    unsigned.write_bytes(build_gbl(application_bytes(3000)))
    genuine = tmp_path / "genuine.gbl"
    genuine.write_bytes(_signed_gbl(key, application_bytes(3000)))
    with bridge_on_pty() as bridge:
        for path, code in (
            (forged, "gbl-signature-invalid"),
            (unsigned, "gbl-unsigned"),
        ):
            result = RecoveryEngine(
                RecoveryRequest(bridge.path, path, trust_key=pem), store=store
            ).run()
            assert result.error and result.error["code"] == code
            assert bridge.device.bootloader.blocks_written == 0
        result = RecoveryEngine(
            RecoveryRequest(bridge.path, genuine, trust_key=pem), store=store
        ).run()
        assert result.ok, result.error


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        ("drop-rate=0.02", "success"),
        ("corrupt-rate=0.0002", "success"),
        ("reboot-at=6000", FailureClass.DEVICE_ERROR.value),
        ("stall-at=6000", FailureClass.STALLED.value),
    ],
)
def test_faults_during_the_upload(
    tmp_path: Path, store: TriageStore, faults: str, expected: str
) -> None:
    path = tmp_path / "app.gbl"
    path.write_bytes(build_gbl(application_bytes(12_000)))
    with bridge_on_pty(faults=faults, seed=5) as bridge:
        request = RecoveryRequest(bridge.path, path, answer_timeout_s=0.5)
        result = RecoveryEngine(request, store=store).run()
        assert result.result == expected, result.error
        if expected == "success":
            assert result.retries > 0  # the faults happened and were ridden out
        else:
            assert result.failure_stage == "transfer"
            assert bridge.device.bootloader.app_valid is False
            if faults.startswith("reboot"):
                assert result.error and result.error["code"] == "receiver-restarted"
        if faults.startswith("reboot"):
            # The reset lost the upload; the bootloader is back at its menu: try again.
            again = RecoveryEngine(request, store=store).run()
            assert again.ok, again.error


def test_connect_finds_the_bootloader_by_probing_and_the_engine_is_told_why() -> None:
    with bridge_on_pty() as bridge:
        device = connect(bridge.path)
        try:
            assert isinstance(device, GeckoBootloader) and device.version == "3.0.1"
        finally:
            device.close()
        with pytest.raises(BootloaderOnly) as caught:
            connect_bridge(bridge.path)
        assert "bridgelab recover" in (caught.value.action or "")


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (None, "file-not-found"),
        (b"", "gbl-unknown-format"),
        (b"\x1e\xf1\xee\x0b" + bytes(200), "gbl-unknown-format"),  # an OTA file, not a GBL
        (build_gbl(application_bytes(500))[:-30], "gbl-no-end-tag"),  # cut short
    ],
)
def test_bad_input_is_refused_with_its_reason_and_nothing_sent(
    tmp_path: Path, store: TriageStore, content: bytes | None, code: str
) -> None:
    path = tmp_path / "image.gbl"
    if content is not None:
        path.write_bytes(content)
    with bridge_on_pty() as bridge:
        result = RecoveryEngine(RecoveryRequest(bridge.path, path), store=store).run()
        assert result.failure_stage == "validate" and result.error
        assert result.error["code"] in (code, "gbl-truncated"), result.error
        assert bridge.device.bootloader.upload is None and bridge.device.in_bootloader
    session = store.get_session(result.session_id or "")
    assert session.final_state == "failed"


def test_the_cli_says_what_a_bootloader_only_port_cannot_report(tmp_path: Path) -> None:
    with bridge_on_pty() as bridge:
        done = bridgelab_cli(
            "info",
            "--port",
            bridge.path,
            "--driver",
            "gecko-bootloader",
        )
    assert done.returncode == 0, done.stderr
    assert "Gecko Bootloader v3.0.1" in done.stdout
    assert "join status: not available through the bootloader" in done.stdout
    assert "bridgelab recover --port" in done.stdout


def test_an_update_on_a_dead_application_points_to_recover(tmp_path: Path) -> None:
    from bridgelab.emulator.demo_material import DEMO_DIR

    done = bridgelab_cli(
        "update",
        "--port",
        "emu://dead-app",
        str(DEMO_DIR / "bridge-demo-1.3.0.ota"),
        "--db",
        str(tmp_path / "t.db"),
        "--json",
    )
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["failure_stage"] == "identify"
    assert result["error"]["code"] == "bootloader-only"
    assert "only as its radio's bootloader" in result["error"]["message"]


def test_recovery_over_tcp_from_bridgelab_emulate(gbl_file: Path, store: TriageStore) -> None:
    from tests.bridges import emulator_url

    with emulator_url("tcp", "dead-app") as url:  # what `bridgelab emulate --tcp` serves
        result = RecoveryEngine(RecoveryRequest(url, gbl_file), store=store).run()
        assert result.ok, result.error
        with connect_bridge(url) as client:  # the bridge persists across connections
            assert client.identity().firmware_version == 0x01030000


def test_the_cli_says_a_refused_recovery_once_with_its_next_step(tmp_path: Path) -> None:
    bad = tmp_path / "bridge.gbl"
    bad.write_bytes(b"not a gbl")
    done = bridgelab_cli(
        "recover",
        "--port",
        "emu://dead-app",
        str(bad),
        "--db",
        str(tmp_path / "t.db"),
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("FAILED at validate [image-rejected]: ")
    assert lines[1].startswith("Next: ") and "GBL" in lines[1]
    assert lines[2].startswith("Time per stage: identify ")  # the one engine timed it
    assert lines[3].startswith("Logged as session ")


def test_a_recovery_killed_mid_block_is_taken_up_by_the_next_run(
    app_image: bytes, tmp_path: Path
) -> None:
    # SIGKILL in the middle of an upload leaves the bootloader receiving, taking the next
    # run's probe bytes as blocks: that run must still reach its menu (not "nothing
    # answered" until the receiver gives up on its own a minute later).
    import signal
    import subprocess
    import sys
    import time

    from bridgelab.emulator.gecko_bootloader import State

    big = tmp_path / "bridge-1.3.0.gbl"
    big.write_bytes(build_gbl(application_bytes(60_000), version=0x01030000, address=APP_ADDRESS))
    db = tmp_path / "triage.db"
    args = ["--line-rate", "115200", str(big), "--db", str(db), "--json"]
    with bridge_on_pty(baud=115200, latency_ms=1) as bridge:
        loader = bridge.device.bootloader
        killed = subprocess.Popen(
            [sys.executable, "-m", "bridgelab", "recover", "--port", bridge.path, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while loader.expected_block <= 20:  # mid-upload
            assert time.monotonic() < deadline and killed.poll() is None
            time.sleep(0.0005)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert loader.state == State.RECEIVING
        done = bridgelab_cli("recover", "--port", bridge.path, *args)
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["result"] == "success"
        assert not bridge.device.in_bootloader
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(db)) as conn:
        states = [row[0] for row in conn.execute("SELECT final_state FROM sessions")]
    assert len(states) == 2 and states.count("success") == 1  # both attempts logged
