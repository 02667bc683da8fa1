"""Every fault the emulated bridge injects, on every transport, seen through the driver."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import pytest

from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient
from bridgelab.drivers.errors import LinkError, NoAnswer
from bridgelab.drivers.join_state import JoinState
from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.emulator.faults import VALID_FAULTS, FaultSpecError, parse_faults
from tests.bridges import TRANSPORTS, emulator_url, push_image
from tests.test_emulator_conformance import Events

NEWER = DEMO_IMAGES[0].path.read_bytes()
HEADER = NEWER[: int.from_bytes(NEWER[6:8], "little")]


def _begin(client: BridgeClient) -> int:
    answer = client.call(p.UpdateBegin(len(NEWER), hashlib.sha256(NEWER).digest(), HEADER))
    return answer.resume_offset


def _write_blocks(client: BridgeClient, start: int, stop: int, block: int = 1024) -> int:
    offset = start
    while offset < stop:
        offset = client.call(p.UpdateWrite(offset, NEWER[offset : offset + block])).next_offset
    return offset


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_corrupt_bytes_are_never_delivered_as_data(transport: str) -> None:
    with emulator_url(transport, faults="corrupt-rate=0.002", seed=3) as url:
        client = BridgeClient.connect(url)
        with client:
            answered = failed = 0
            for index in range(60):
                data = bytes([index % 251 + 1]) * 100
                try:
                    client.ping(data, timeout_s=0.1)  # ping() checks the echoed bytes
                    answered += 1
                except NoAnswer:
                    failed += 1
            assert answered > 15 and failed > 0
            assert client.decoder_stats.crc_errors + client.decoder_stats.malformed > 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dropped_frames_cost_answers_not_correctness(transport: str) -> None:
    with (
        emulator_url(transport, faults="drop-rate=0.2", seed=5) as url,
        BridgeClient.connect(url) as client,
    ):
        results = []
        for _ in range(40):
            try:
                results.append(client.identity(timeout_s=0.1).serial_number)
            except NoAnswer:
                results.append(None)
        assert results.count(None) > 3
        assert {r for r in results if r is not None} == {"BLD-0001"}


def test_a_bridge_that_drops_everything_gives_no_answer_not_a_hang() -> None:
    with emulator_url("emu", faults="drop-rate=1") as url, pytest.raises(NoAnswer) as silent:
        BridgeClient.connect(url)
    assert "wrong baud" in silent.value.action or "cable" in silent.value.action


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_stall_at_offset(transport: str) -> None:
    with (
        emulator_url(transport, faults="stall-at=4096") as url,
        BridgeClient.connect(url) as client,
    ):
        _begin(client)
        assert _write_blocks(client, 0, 4096) == 4096
        with pytest.raises(NoAnswer):
            client.call(p.UpdateWrite(4096, NEWER[4096:5120]), 0.5)
        with pytest.raises(NoAnswer):
            client.ping(timeout_s=0.3)  # the whole device hangs, as a stalled one does


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_reboot_at_offset_keeps_what_reached_flash(transport: str) -> None:
    with (
        emulator_url(transport, faults="reboot-at=4096") as url,
        BridgeClient.connect(url) as client,
    ):
        events = Events(client)
        _begin(client)
        _write_blocks(client, 0, 4096)
        with pytest.raises(NoAnswer):
            client.call(p.UpdateWrite(4096, NEWER[4096:5120]), 0.2)
        rebooted = events.wait_for(p.Rebooted)
        assert isinstance(rebooted, p.Rebooted) and rebooted.reason == p.RebootReason.WATCHDOG
        assert _begin(client) == 5120  # the device reports where to resume
        assert push_image(client, NEWER) == 5120
        finish = client.call(p.UpdateFinish())
        assert finish.file_sha256 == hashlib.sha256(NEWER).digest()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_power_loss_at_offset_loses_the_block_in_flight(transport: str) -> None:
    with (
        emulator_url(transport, faults="power-loss-at=4096") as url,
        BridgeClient.connect(url) as client,
    ):
        events = Events(client)
        _begin(client)
        _write_blocks(client, 0, 4096)
        with pytest.raises(NoAnswer):
            client.call(p.UpdateWrite(4096, NEWER[4096:5120]), 0.2)
        rebooted = events.wait_for(p.Rebooted)
        assert isinstance(rebooted, p.Rebooted) and rebooted.reason == p.RebootReason.POWER_ON
        assert _begin(client) == 4096
        assert client.identity().firmware_version == 0x01020000  # the old image still runs


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_refuse_activate(transport: str) -> None:
    with (
        emulator_url(transport, faults="refuse-activate") as url,
        BridgeClient.connect(url) as client,
    ):
        push_image(client, NEWER)
        finish = client.call(p.UpdateFinish())
        with pytest.raises(p.DeviceStatusError) as refused:
            client.call_empty(p.UpdateActivate(finish.manufacturer_image_sha256))
        assert refused.value.status == p.Status.ACTIVATION_FAILED
        assert refused.value.code == "device-activation-failed"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_version_unchanged_after_activation(transport: str) -> None:
    with (
        emulator_url(transport, faults="version-unchanged=1") as url,
        BridgeClient.connect(url) as client,
    ):
        events = Events(client)
        push_image(client, NEWER)
        finish = client.call(p.UpdateFinish())
        client.call_empty(p.UpdateActivate(finish.manufacturer_image_sha256))
        rebooted = events.wait_for(p.Rebooted)
        assert isinstance(rebooted, p.Rebooted)
        assert rebooted.firmware_version == 0x01020000  # "100 %, but nothing changed"
        assert client.identity().firmware_version == 0x01020000


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("fault", "state"), [("leave-han-at", JoinState.LEFT), ("tcso", JoinState.ORPHANED)]
)
def test_han_faults_change_the_join_state(transport: str, fault: str, state: JoinState) -> None:
    with emulator_url(transport, faults=f"{fault}=0.2") as url, BridgeClient.connect(url) as client:
        events = Events(client)
        changed = events.wait_for(p.JoinChanged, timeout_s=3)
        assert isinstance(changed, p.JoinChanged) and changed.status.state == state
        assert client.join_status().state == state


@pytest.mark.parametrize(
    "spec",
    ["bogus=1", "drop-rate=2", "corrupt-rate=x", "stall-at=-5", "refuse-activate=maybe", "tcso=-1"],
)
def test_bad_fault_specs_are_refused_with_the_valid_list(spec: str) -> None:
    with pytest.raises(FaultSpecError) as refused:
        parse_faults(spec)
    assert all(name in refused.value.action for name in VALID_FAULTS)


def test_bad_fault_in_an_emu_url_is_a_clear_link_error() -> None:
    with pytest.raises(LinkError) as refused:
        BridgeClient.connect("emu://demo?drop-rat=0.1")
    assert "drop-rat" in str(refused.value)


def test_emulate_command_refuses_a_bad_fault_before_listening() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bridgelab", "emulate", "--faults", "stall-at=soon"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "listening" not in result.stdout
    assert "bad-fault-spec" in result.stderr and "reboot-at" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("fault", ["dup-rate=0.3", "reorder-rate=0.3"])
def test_duplicated_and_reordered_frames_never_change_an_answer(transport: str, fault: str) -> None:
    with emulator_url(transport, faults=fault, seed=9) as url, BridgeClient.connect(url) as client:
        answers = []
        for index in range(40):
            data = bytes([index + 1]) * 20
            try:
                client.ping(data, timeout_s=0.2)  # checks the echo matches this request
                answers.append(True)
            except NoAnswer:
                answers.append(False)
        assert sum(answers) >= 30


@pytest.mark.parametrize("transport", ["emu", "tcp"])
def test_unplug_drops_the_link_and_the_bridge_comes_back(transport: str) -> None:
    faults = "unplug-at=4096,replug-s=0.3"
    with emulator_url(transport, faults=faults) as url:
        url = url + ("&id=unplug-test" if transport == "emu" else "")
        client = BridgeClient.connect(url)
        _begin(client)
        _write_blocks(client, 0, 4096)
        with pytest.raises((NoAnswer, LinkError)):
            client.call(p.UpdateWrite(4096, NEWER[4096:5120]), 0.5)
            client.ping(timeout_s=0.5)
        client.close()
        if transport == "emu":
            with pytest.raises(LinkError):
                BridgeClient.connect(url)  # the cable is still out: no such port
            time.sleep(0.4)
        # Over TCP a connection made while the cable is out waits to be accepted.
        with BridgeClient.connect(url) as again:
            assert _begin(again) == 5120  # the block before the pull reached flash
