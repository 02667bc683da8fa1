"""Entering the Gecko Bootloader by a DTR/RTS reset sequence, for real: pyserial's own
`rfc2217://` client over a real TCP socket to the emulated board, whose reset circuit
sees every line change the client makes (`emulator/reset_circuit.py`); and what a link
without modem lines (a pty, a raw socket, ser2net in front of a pty) says instead."""

from __future__ import annotations

import contextlib
import io
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import serial

from bridgelab.data.store import TriageStore
from bridgelab.drivers.capabilities import Capability, describe
from bridgelab.drivers.client import BridgeClient
from bridgelab.drivers.errors import NoAnswer
from bridgelab.drivers.factory import connect
from bridgelab.drivers.gecko_bootloader import GeckoBootloader
from bridgelab.drivers.reset_lines import (
    RTS_DTR,
    LineStep,
    ModemLinesUnavailable,
    ResetSequence,
    UnknownResetSequence,
    get_sequence,
    modem_line_problem,
    play,
)
from bridgelab.emulator.device import EmulatedBridge
from bridgelab.emulator.factory import EmulatorOptions, build_device
from bridgelab.emulator.reset_circuit import PIN_READ_S, Boot, ResetCircuit
from bridgelab.emulator.serve import serve_tcp
from bridgelab.updates.recovery import RecoveryEngine, RecoveryRequest
from tests.recovery.conftest import APP_ADDRESS, bridge_on_pty


@dataclass
class Rfc2217Bridge:
    url: str
    device: EmulatedBridge


@contextlib.contextmanager
def bridge_on_rfc2217(profile: str = "demo") -> Iterator[Rfc2217Bridge]:
    """`bridgelab emulate --tcp 127.0.0.1:0 --rfc2217`'s server, its device at hand."""
    options = EmulatorOptions(profile=profile)
    device = build_device(options)
    stop = threading.Event()
    urls: queue.Queue[str] = queue.Queue()

    def serve() -> None:
        serve_tcp(
            options, "127.0.0.1", 0, stop, io.StringIO(), urls.put, rfc2217=True, device=device
        )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Rfc2217Bridge(urls.get(timeout=5), device)
    finally:
        stop.set()
        thread.join(timeout=5)
        assert not thread.is_alive(), "emulator thread did not stop"


def _wait_until_up(device: EmulatedBridge) -> None:
    """The radio's start after a reset is its own time: wait for it, not a fixed sleep."""
    deadline = time.monotonic() + 10
    while device.is_down and not device.in_bootloader and time.monotonic() < deadline:
        time.sleep(0.02)


# ------------------------------------------------------------------ the board's circuit


def test_the_circuit_holds_reset_only_with_rts_alone_and_reads_the_pin_after_release() -> None:
    circuit = ResetCircuit()
    assert not circuit.set_lines(True, True, 0.0)  # what opening a port does: nothing
    assert not circuit.set_lines(False, False, 0.1) and circuit.poll(9.0) is None
    assert not circuit.set_lines(True, False, 0.2)  # the pin alone: no reset, nothing
    assert circuit.poll(9.0) is None and circuit.resets == 0
    # The documented sequence: RTS alone, DTR alone (reset released, pin held), released.
    assert circuit.set_lines(False, True, 1.0) and circuit.in_reset
    assert not circuit.set_lines(True, True, 1.1)  # on the way: released, pin not yet held
    assert not circuit.set_lines(True, False, 1.15)
    assert circuit.poll(1.1 + PIN_READ_S - 0.01) is None
    assert circuit.poll(1.1 + PIN_READ_S) is Boot.BOOTLOADER
    assert circuit.poll(99.0) is None  # once per reset
    # Reset alone (the pin never held when it is read): the application starts.
    assert circuit.set_lines(False, True, 2.0)
    assert not circuit.set_lines(False, False, 2.1)
    assert circuit.poll(2.1 + PIN_READ_S) is Boot.APPLICATION
    assert circuit.resets == 2


# ------------------------------------------------------------------ through RFC 2217


def test_the_rts_dtr_sequence_enters_the_bootloader_through_real_rfc2217() -> None:
    with bridge_on_rfc2217("demo") as bridge:
        assert not bridge.device.in_bootloader  # the application runs and answers
        with connect(bridge.url) as client:
            assert isinstance(client, BridgeClient)
            assert Capability.RESET_LINES in client.capabilities
        device = connect(bridge.url, reset_sequence="rts-dtr")
        try:
            assert isinstance(device, GeckoBootloader) and device.version == "3.0.1"
            assert Capability.RESET_LINES in device.capabilities
            assert bridge.device.in_bootloader and bridge.device.reset_circuit.resets == 1
            device.run()  # option 2: the application it had starts again
            device.release().close()
        finally:
            device.close()
        _wait_until_up(bridge.device)
        with connect(bridge.url) as client:
            assert isinstance(client, BridgeClient)
            assert client.identity().firmware_version == 0x01020000


WRONG_SEQUENCES = {
    # The right steps in the wrong order: the pin is released when it is read.
    "reversed": (
        ResetSequence(
            "reversed",
            "",
            (
                LineStep(dtr=True, rts=False, hold_s=0.5),
                LineStep(dtr=False, rts=True, hold_s=0.1),
                LineStep(dtr=False, rts=False, hold_s=0.0),
            ),
            boot_wait_s=1.0,
        ),
        1,
    ),
    # A reset pulse on RTS alone: a plain restart of the application.
    "reset only": (
        ResetSequence(
            "reset-only",
            "",
            (LineStep(False, True, 0.1), LineStep(False, False, 0.0)),
            boot_wait_s=1.0,
        ),
        1,
    ),
    # DTR toggled alone (what a terminal program does): no reset at all.
    "dtr toggles": (
        ResetSequence(
            "dtr-toggles",
            "",
            (LineStep(True, False, 0.2), LineStep(False, False, 0.2), LineStep(True, False, 0.2)),
            boot_wait_s=1.0,
        ),
        0,
    ),
}


@pytest.mark.parametrize("name", list(WRONG_SEQUENCES))
def test_other_toggles_do_not_enter_the_bootloader(name: str) -> None:
    sequence, resets = WRONG_SEQUENCES[name]
    with bridge_on_rfc2217("demo") as bridge:
        with pytest.raises(NoAnswer) as caught:
            GeckoBootloader.reset_into(bridge.url, sequence)
        assert "no Gecko Bootloader menu" in caught.value.message
        assert "wired" in (caught.value.action or "")
        assert not bridge.device.in_bootloader
        assert bridge.device.reset_circuit.resets == resets
        _wait_until_up(bridge.device)
        with connect(bridge.url) as client:  # the application answers, as before
            assert isinstance(client, BridgeClient)
            assert client.identity().firmware_version == 0x01020000


def test_every_line_change_of_the_client_reaches_the_board() -> None:
    """The player sets each line as the sequence says, through pyserial's client."""
    with bridge_on_rfc2217("demo") as bridge:
        seen: list[tuple[bool, bool]] = []
        original = bridge.device.set_reset_lines

        def record(dtr: bool, rts: bool) -> None:
            seen.append((dtr, rts))
            original(dtr, rts)

        bridge.device.set_reset_lines = record  # type: ignore[method-assign]
        with serial.serial_for_url(bridge.url, 115200, timeout=0.1) as port:
            assert seen == [(True, False), (True, True)]  # pyserial asserts DTR, then RTS
            play(port, bridge.url, RTS_DTR, sleep=lambda _s: None)
            # Each step sets DTR, then RTS: one confirmed RFC 2217 command each.
            assert seen[2:] == [
                (False, True),
                (False, True),  # reset held
                (True, True),
                (True, False),  # out of reset, the bootloader pin held
                (False, False),
                (False, False),  # both released
            ]


def test_recover_resets_a_running_bridge_into_its_bootloader_from_the_cli(
    gbl_file: Path, app_image: bytes, tmp_path: Path
) -> None:
    db = tmp_path / "triage.db"
    with bridge_on_rfc2217("demo") as bridge:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bridgelab",
                "recover",
                "--port",
                bridge.url,
                "--reset-sequence",
                "rts-dtr",
                str(gbl_file),
                "--db",
                str(db),
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        result = json.loads(done.stdout)
        assert result["result"] == "success" and result["version_after"] == 0x01030000
        flash = bridge.device.bootloader.flash[APP_ADDRESS : APP_ADDRESS + len(app_image)]
        assert bytes(flash) == app_image
        assert bridge.device.reset_circuit.resets == 1  # no ENTER_BOOTLOADER was needed
    with TriageStore.open(db) as store:
        events = store.session_events(result["session_id"])
    found = [e for e in events if e.kind == "bootloader-found"]
    assert found and found[0].data["by"] == "reset sequence rts-dtr"
    assert "enter-bootloader" not in [e.kind for e in events]


# ------------------------------------------------------------------ links without lines


def test_a_pty_cannot_drive_the_lines_and_says_what_to_do_instead(
    gbl_file: Path, store: TriageStore
) -> None:
    with bridge_on_pty(profile="demo") as bridge:
        with connect(bridge.path) as client:
            assert Capability.RESET_LINES not in client.capabilities
            assert (
                "reset lines (DTR/RTS): not available on this link"
                in describe(client)["not_available"]
            )  # type: ignore[operator]
        with pytest.raises(ModemLinesUnavailable) as caught:
            connect(bridge.path, reset_sequence="rts-dtr")
        error = caught.value
        assert "pseudo-terminal" in error.message and error.code == "no-modem-lines"
        assert "application" in (error.action or "") and "wired" in (error.action or "")
        # Through the recovery engine: refused at identify, nothing sent, the app runs.
        request = RecoveryRequest(bridge.path, gbl_file, reset_sequence="rts-dtr")
        result = RecoveryEngine(request, store=store).run()
        assert not result.ok and result.failure_stage == "identify"
        assert result.error and result.error["code"] == "no-modem-lines"
        assert not bridge.device.in_bootloader and bridge.device.reset_circuit.resets == 0


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("socket://127.0.0.1:7101", "raw TCP"),
        ("rfc2217://127.0.0.1:7001?ign_set_control", "ign_set_control"),
        ("emu://demo", "--rfc2217"),
        ("loop://", "no modem lines"),
    ],
)
def test_links_without_lines_are_named_before_anything_is_played(url: str, words: str) -> None:
    problem = modem_line_problem(url)
    assert problem is not None and words in problem
    assert modem_line_problem("rfc2217://127.0.0.1:7001") is None
    assert modem_line_problem("rfc2217://127.0.0.1:7001?timeout=5") is None


def test_an_unknown_sequence_is_refused_with_the_names_there_are(tmp_path: Path) -> None:
    assert get_sequence("rts_dtr") is RTS_DTR  # universal-silabs-flasher's spellings
    assert get_sequence("sonoff") is RTS_DTR
    with pytest.raises(UnknownResetSequence) as caught:
        get_sequence("esp32")
    assert "rts-dtr" in (caught.value.action or "")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bridgelab",
            "recover",
            "--port",
            "emu://demo",
            "--reset-sequence",
            "esp32",
            str(tmp_path / "x.gbl"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "esp32" in done.stderr and "rts-dtr" in done.stderr


def test_a_reset_pulse_mid_upload_is_told_as_a_restart_and_nothing_is_written(
    gbl_file: Path, app_image: bytes
) -> None:
    """RTS pulsed while blocks flow (a terminal program opening the port, a flaky
    adapter): the radio restarts into its bootloader (no valid application), the sender
    sees the menu instead of an ACK and says the upload is gone."""
    from bridgelab.drivers.xmodem import ReceiverRestarted

    with bridge_on_rfc2217("dead-app") as bridge:
        bootloader = connect(bridge.url)
        assert isinstance(bootloader, GeckoBootloader)
        port = bootloader.port

        def pulse_at_block_ten(done: int, _total: int) -> None:
            if done == 10 * 128:
                port.dtr = False  # type: ignore[attr-defined]
                port.rts = True  # type: ignore[attr-defined]
                port.rts = False  # type: ignore[attr-defined]

        try:
            with pytest.raises(ReceiverRestarted):
                bootloader.upload(gbl_file.read_bytes(), on_progress=pulse_at_block_ten)
        finally:
            bootloader.close()
        assert bridge.device.reset_circuit.resets == 1
        assert bridge.device.in_bootloader and bridge.device.bootloader.upload is None
        flash = bridge.device.bootloader.flash[APP_ADDRESS : APP_ADDRESS + len(app_image)]
        assert bytes(flash) != app_image  # a GBL is written only once it is whole
