"""Opening links: each way it can fail gets its own error and a fix, never a traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tty

import pytest
from serial.serialutil import SerialException

from bridgelab.drivers.client import BridgeClient
from bridgelab.drivers.errors import (
    NoAnswer,
    PortBusy,
    PortNotFound,
    PortPermissionDenied,
    UnknownUrlScheme,
)
from bridgelab.drivers.link import open_link, translate_open_error
from bridgelab.drivers.ports import PortInfo, PortWatcher, find_bridge, scan_ports
from bridgelab.drivers.registry import (
    DEFAULT_DRIVER,
    DriverInfo,
    UnknownDriver,
    available_drivers,
    driver_for_usb,
    get_driver,
    register_driver,
)


@pytest.fixture
def silent_pty() -> tuple[str, int]:
    """A real pty whose other end nobody serves: a device that says nothing."""
    master, slave = os.openpty()
    tty.setraw(slave)
    yield os.ttyname(slave), master
    os.close(master)
    os.close(slave)


def test_unknown_url_scheme() -> None:
    with pytest.raises(UnknownUrlScheme) as refused:
        open_link("bogus://somewhere")
    assert "socket://" in refused.value.action and "emu://" in refused.value.action


def test_missing_port() -> None:
    with pytest.raises(PortNotFound) as refused:
        open_link("/dev/ttyBRIDGELAB-missing")
    assert "bridgelab ports" in refused.value.action


def test_busy_port_is_detected_by_exclusive_open(silent_pty: tuple[str, int]) -> None:
    path, _ = silent_pty
    first = open_link(path)
    try:
        with pytest.raises(PortBusy) as refused:
            open_link(path)
        assert "ModemManager" in refused.value.action
    finally:
        first.close()


def test_silent_device_gives_no_answer_with_the_likely_causes(silent_pty: tuple[str, int]) -> None:
    path, _ = silent_pty
    with pytest.raises(NoAnswer) as refused:
        BridgeClient.connect(path)
    assert "baud rate" in refused.value.action and "bootloader" in refused.value.action


def test_garbage_on_the_line_is_no_answer_not_a_crash(silent_pty: tuple[str, int]) -> None:
    path, master = silent_pty
    os.write(master, os.urandom(2000))
    with pytest.raises(NoAnswer):
        BridgeClient.connect(path)


def test_refused_tcp_connection() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Exception) as refused:
        open_link(f"socket://127.0.0.1:{port}")
    assert getattr(refused.value, "code", "") == "connection-refused"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        # Root cannot be refused a device node here, so the OS errors are fed in directly.
        (
            SerialException(
                errno.EACCES, "could not open port /dev/ttyUSB0: [Errno 13] Permission denied"
            ),
            PortPermissionDenied,
        ),
        (
            SerialException(
                errno.EBUSY, "could not open port /dev/ttyUSB0: [Errno 16] Device or resource busy"
            ),
            PortBusy,
        ),
        (
            SerialException(
                errno.ENOENT, "could not open port /dev/ttyUSB0: [Errno 2] No such file"
            ),
            PortNotFound,
        ),
        (
            SerialException(
                "could not open port 'COM7': FileNotFoundError(2, 'The system cannot find "
                "the file specified.', None, 2)"
            ),
            PortNotFound,
        ),
    ],
)
def test_os_errors_are_translated(error: SerialException, expected: type[Exception]) -> None:
    translated = translate_open_error("/dev/ttyUSB0", error)
    assert isinstance(translated, expected)
    if expected is PortPermissionDenied:
        assert "dialout" in translated.action


def test_the_demo_bridge_is_always_offered() -> None:
    ports = scan_ports()
    assert ports[-1] == PortInfo("emu://demo", "Demo bridge (emulated)", emulated=True)
    assert all(p.url != "emu://demo" for p in ports[:-1])


def test_port_watcher_reports_plug_and_unplug() -> None:
    seen = [[PortInfo("/dev/ttyUSB0", "A")], [PortInfo("/dev/ttyUSB1", "B")]]
    watcher = PortWatcher(lambda: seen[0])
    seen.pop(0)
    changes = watcher.rescan()
    assert [p.url for p in changes.added] == ["/dev/ttyUSB1"]
    assert [p.url for p in changes.removed] == ["/dev/ttyUSB0"]
    assert not watcher.rescan()


def test_a_bridge_is_found_again_by_its_eui64_on_another_port() -> None:
    def identify(url: str) -> int:
        with BridgeClient.connect(url) as client:
            return client.identity().eui64

    candidates = ["/dev/ttyBRIDGELAB-gone", "emu://legacy", "emu://demo"]
    assert find_bridge(0x00124B0001B1D601, candidates, identify) == "emu://demo"
    assert find_bridge(0x1234, candidates, identify) is None


def test_driver_registry() -> None:
    assert DEFAULT_DRIVER in available_drivers()
    assert get_driver().name == DEFAULT_DRIVER
    with pytest.raises(UnknownDriver) as refused:
        get_driver("no-such-driver")
    assert DEFAULT_DRIVER in refused.value.action

    def vendor_connect(url: str, **_: object) -> str:
        return f"vendor:{url}"

    register_driver(
        DriverInfo("acme-bootloader", vendor_connect, "ACME", usb_ids=((0x1234, 0x5678),))
    )
    assert driver_for_usb(0x1234, 0x5678).connect("COM3") == "vendor:COM3"
    assert driver_for_usb(0x0403, 0x6001).name == DEFAULT_DRIVER
    assert driver_for_usb(None, None).name == DEFAULT_DRIVER


def _bridgelab(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridgelab", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    ("port", "code"),
    [
        ("/dev/ttyBRIDGELAB-missing", "port-not-found"),
        ("nope://x", "unknown-url-scheme"),
        ("emu://demo?drop-rate=1", "no-answer"),
    ],
)
def test_info_failures_are_one_clear_line(port: str, code: str) -> None:
    result = _bridgelab("info", "--port", port)
    assert result.returncode == 1
    assert f"error [{code}]" in result.stderr
    assert "Traceback" not in result.stderr
    json_result = _bridgelab("info", "--port", port, "--json")
    assert f'"code": "{code}"' in json_result.stdout


def test_a_raw_tcp_link_refuses_a_rate_switch_before_sending_it() -> None:
    # Over raw TCP the bridge would switch and the far UART could not follow: the line
    # would be cut until the bridge's own fallback. The driver refuses before SET_BAUD.
    from bridgelab.drivers.errors import LineRateFixed
    from bridgelab.drivers.factory import connect_bridge
    from tests.bridges import emulator_url

    with emulator_url("tcp", baud=115200) as url:
        client = connect_bridge(url, baudrate=115200)
        try:
            with pytest.raises(LineRateFixed) as refused:
                client.set_baud(921600)
            assert "raw TCP link" in refused.value.message
            assert "RFC 2217" in (refused.value.action or "")
            assert client.port.baudrate == 115200
            client.ping(timeout_s=0.2)  # at once: the bridge was never told to switch
        finally:
            client.close()
