"""The emulated bridge through the real driver code, on every transport.

emu:// runs in-process; pty is a real pseudo-terminal opened by pyserial's native port
class; tcp is a real socket:// connection. The same assertions hold on all three.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient
from bridgelab.drivers.errors import LineRateFixed
from bridgelab.drivers.join_state import JoinState
from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.emulator.profiles import SHIPPED
from bridgelab.firmware.image import parse_image
from tests.bridges import TRANSPORTS, emulator_url, push_image

NEWER, OLDER, WRONG_TYPE, TAMPERED = (spec.path.read_bytes() for spec in DEMO_IMAGES)


def _mfr_hash(image: bytes) -> bytes:
    parsed = parse_image(image)
    return hashlib.sha256(parsed.manufacturer_image).digest()


class Events:
    """Collects a bridge's events and lets a test wait for one."""

    def __init__(self, client: BridgeClient) -> None:
        self.items: list[p.Event] = []
        self._changed = threading.Condition()
        client.add_event_listener(self._on_event)

    def _on_event(self, event: p.Event) -> None:
        with self._changed:
            self.items.append(event)
            self._changed.notify_all()

    def wait_for(self, kind: type[p.Event], timeout_s: float = 5.0) -> p.Event:
        with self._changed:
            found = self._changed.wait_for(
                lambda: any(isinstance(e, kind) for e in self.items), timeout_s
            )
            assert found, f"no {kind.__name__} within {timeout_s} s: {self.items}"
            event = next(e for e in self.items if isinstance(e, kind))
            self.items.remove(event)
            return event


@pytest.mark.parametrize("transport", TRANSPORTS)
# dead-app answers only as its radio's bootloader: tests/recovery covers it.
@pytest.mark.parametrize("profile", sorted(n for n, p in SHIPPED.items() if p.app_valid))
def test_identity_and_join_state_per_profile(transport: str, profile: str) -> None:
    expected = SHIPPED[profile]
    with emulator_url(transport, profile) as url, BridgeClient.connect(url) as client:
        assert client.session is not None and client.session.max_payload >= 1024
        identity = client.identity()
        assert identity.eui64 == expected.eui64
        assert identity.firmware_version == expected.firmware_version
        assert identity.ota_capable == expected.ota_capable
        assert client.join_status().state == expected.join_state
        assert client.p2p_link().partner_eui64 == expected.partner_eui64


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_command_over_the_transport(transport: str) -> None:
    with emulator_url(transport) as url, BridgeClient.connect(url) as client:
        events = Events(client)
        assert client.ping(b"\x00\x01\x02" * 100) >= 0
        assert client.event_log()[0].text.startswith("power on")
        with pytest.raises(p.DeviceStatusError) as refused:
            client.call_empty(p.SetBaud(12345))
        assert refused.value.status == p.Status.NOT_SUPPORTED
        if transport == "tcp":
            # Raw TCP cannot carry a rate change to a far UART: the driver refuses it
            # before SET_BAUD is sent (drivers/link.py `fixed_rate_reason`).
            with pytest.raises(LineRateFixed):
                client.set_baud(921600)
        else:
            assert client.set_baud(921600) is True

        # A whole local update: begin, write, finish, activate, reboot, confirm.
        assert client.update_status().state == p.UpdateState.IDLE
        assert push_image(client, NEWER) == 0
        status = client.update_status()
        assert (status.state, status.offset) == (p.UpdateState.RECEIVING, len(NEWER))
        finish = client.call(p.UpdateFinish(), timeout_s=5)
        assert finish.file_sha256 == hashlib.sha256(NEWER).digest()
        assert finish.manufacturer_image_sha256 == _mfr_hash(NEWER)
        assert finish.file_version == 0x01030000
        client.call_empty(p.UpdateActivate(finish.manufacturer_image_sha256))
        rebooted = events.wait_for(p.Rebooted)
        assert isinstance(rebooted, p.Rebooted)
        assert rebooted.reason == p.RebootReason.ACTIVATION
        assert rebooted.firmware_version == 0x01030000
        assert client.update_status().state == p.UpdateState.TRIAL
        joined = events.wait_for(p.JoinChanged)
        assert isinstance(joined, p.JoinChanged) and joined.status.state == JoinState.JOINING
        client.call_empty(p.UpdateConfirm())
        identity = client.identity()
        assert (identity.firmware_version, identity.inactive_firmware_version) == (
            0x01030000,
            0x01020000,
        )

        # A requested reboot keeps the confirmed image and rejoins the HAN.
        client.reboot()
        assert isinstance(events.wait_for(p.Rebooted), p.Rebooted)
        assert client.identity().firmware_version == 0x01030000


def test_a_write_at_the_wrong_offset_is_answered_with_the_expected_one() -> None:
    with emulator_url("emu") as url, BridgeClient.connect(url) as client:
        header_length = int.from_bytes(NEWER[6:8], "little")
        client.call(
            p.UpdateBegin(len(NEWER), hashlib.sha256(NEWER).digest(), NEWER[:header_length]),
        )
        client.call(p.UpdateWrite(0, NEWER[:1000]))
        with pytest.raises(p.DeviceStatusError) as wrong:
            client.call(p.UpdateWrite(2000, NEWER[2000:3000]))
        assert wrong.value.expected_offset == 1000
        with pytest.raises(p.DeviceStatusError) as early:
            client.call(p.UpdateFinish())
        assert early.value.status == p.Status.NOT_ALLOWED and "1000 of" in early.value.text


@pytest.mark.parametrize(
    ("image", "status", "why"),
    [
        (TAMPERED, p.Status.IMAGE_REJECTED, "signature-invalid"),
        (WRONG_TYPE, p.Status.IMAGE_REJECTED, "wrong-image-type"),
    ],
)
def test_the_bridge_checks_images_itself(image: bytes, status: int, why: str) -> None:
    with emulator_url("emu") as url, BridgeClient.connect(url) as client:
        push_image(client, image)
        with pytest.raises(p.DeviceStatusError) as refused:
            client.call(p.UpdateFinish())
        assert refused.value.status == status and why in refused.value.text
        assert client.update_status().state == p.UpdateState.IDLE  # the download is gone


def test_a_file_that_differs_from_its_announced_hash_is_discarded() -> None:
    with emulator_url("emu") as url, BridgeClient.connect(url) as client:
        header_length = int.from_bytes(NEWER[6:8], "little")
        client.call(p.UpdateBegin(len(NEWER), b"\x11" * 32, NEWER[:header_length]))
        offset = 0
        while offset < len(NEWER):
            offset = client.call(p.UpdateWrite(offset, NEWER[offset : offset + 4000])).next_offset
        with pytest.raises(p.DeviceStatusError) as refused:
            client.call(p.UpdateFinish())
        assert refused.value.status == p.Status.HASH_MISMATCH


def test_an_unconfirmed_image_rolls_back_on_the_next_reboot() -> None:
    with emulator_url("emu") as url, BridgeClient.connect(url) as client:
        events = Events(client)
        push_image(client, NEWER)
        finish = client.call(p.UpdateFinish())
        client.call_empty(p.UpdateActivate(finish.manufacturer_image_sha256))
        events.wait_for(p.Rebooted)
        client.reboot()
        rolled = events.wait_for(p.Rebooted)
        assert isinstance(rolled, p.Rebooted) and rolled.reason == p.RebootReason.ROLLBACK
        assert client.identity().firmware_version == 0x01020000


def test_activation_hash_must_match() -> None:
    with emulator_url("emu") as url, BridgeClient.connect(url) as client:
        push_image(client, NEWER)
        client.call(p.UpdateFinish())
        with pytest.raises(p.DeviceStatusError) as refused:
            client.call_empty(p.UpdateActivate(b"\x00" * 32))
        assert refused.value.status == p.Status.HASH_MISMATCH


def test_deferred_activation_happens_at_the_next_reboot() -> None:
    with emulator_url("emu") as url, BridgeClient.connect(url) as client:
        events = Events(client)
        push_image(client, NEWER)
        finish = client.call(p.UpdateFinish())
        client.call_empty(
            p.UpdateActivate(finish.manufacturer_image_sha256, p.ACTIVATE_ON_NEXT_REBOOT)
        )
        assert client.identity().firmware_version == 0x01020000
        client.reboot()
        rebooted = events.wait_for(p.Rebooted)
        assert isinstance(rebooted, p.Rebooted)
        assert (rebooted.reason, rebooted.firmware_version) == (
            p.RebootReason.ACTIVATION,
            0x01030000,
        )


def test_flash_survives_an_emulator_restart_with_a_state_file(tmp_path: Path) -> None:
    state = tmp_path / "bridge.json"
    with emulator_url("emu", state=state) as url, BridgeClient.connect(url) as client:
        header_length = int.from_bytes(NEWER[6:8], "little")
        client.call(
            p.UpdateBegin(len(NEWER), hashlib.sha256(NEWER).digest(), NEWER[:header_length]),
        )
        client.call(p.UpdateWrite(0, NEWER[:3000]))
    # A new process (here: a new emulator instance) on the same state file resumes at 3000.
    with emulator_url("pty", state=state) as url, BridgeClient.connect(url) as client:
        assert push_image(client, NEWER) == 3000
        finish = client.call(p.UpdateFinish())
        assert finish.file_sha256 == hashlib.sha256(NEWER).digest()


def test_an_unknown_command_is_refused_not_ignored() -> None:
    from bridgelab.drivers.framing import Frame, FrameDecoder, FrameKind, encode_frame

    with emulator_url("emu") as url, BridgeClient.connect(url) as client:
        received: list[Frame] = []

        def trace(direction: str, raw: bytes, _t: float) -> None:
            if direction == "rx":
                received.extend(FrameDecoder().feed(raw))

        client.add_trace_listener(trace)
        client.port.write(encode_frame(Frame(FrameKind.REQUEST, 200, 0x7E, b"")))
        client.ping()  # answered after the unknown command, so its refusal has arrived
        refusals = [f for f in received if f.command == 0x7E and f.kind == FrameKind.RESPONSE]
        assert len(refusals) == 1
        assert refusals[0].payload[0] == p.Status.UNKNOWN_COMMAND


def test_the_link_key_never_goes_on_the_wire() -> None:
    from bridgelab.zigbee.install_code import derive_link_key, parse_install_code

    key = bytes(derive_link_key(parse_install_code(SHIPPED["demo"].install_code)))
    seen = bytearray()
    with emulator_url("emu") as url, BridgeClient.connect(url) as client:
        client.add_trace_listener(lambda _d, raw, _t: seen.extend(raw))
        client.identity()
        client.join_status()
        client.p2p_link()
        client.event_log()
        client.call(p.GetUpdateStatus())
    assert len(seen) > 200 and key not in bytes(seen)


def test_a_profile_with_a_bad_install_code_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    profile = tmp_path / "bad.toml"
    profile.write_text('install_code = "1122334455667788FFFF"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bridgelab", "emulate", "--profile", str(profile)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and "install-code-bad-crc" in result.stderr
    assert "listening" not in result.stdout
