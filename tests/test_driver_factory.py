"""One factory opens every device: by name, by URL scheme or by probing; plug-ins included."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bridgelab.drivers.capabilities import Capability, not_available
from bridgelab.drivers.client import BridgeClient
from bridgelab.drivers.factory import connect, probe_order
from bridgelab.drivers.gecko_bootloader import GeckoBootloader, parse_menu
from bridgelab.drivers.registry import UnknownDriver, available_drivers
from tests.conftest import PROJECT_ROOT

PLUGIN = """
from bridgelab.drivers.capabilities import Capability
from bridgelab.drivers.link import open_link
from bridgelab.drivers.registry import DriverInfo


class AcmeDevice:
    driver_name = "acme-test"
    capabilities = frozenset({Capability.IDENTIFY, Capability.REBOOT})
    reached_through = "the Acme test protocol"

    def __init__(self, port, url):
        self.port, self.url = port, url

    def close(self):
        self.port.close()


def _connect(url, *, baudrate=115200):
    return AcmeDevice(open_link(url.replace("acme://", "loop://"), baudrate=baudrate), url)


def _probe(port):
    port.write(b"ACME?")
    return port.read(5) == b"ACME?"  # loop:// echoes: "an Acme device answered"


def info():
    return DriverInfo(
        "acme-test", _connect, "Acme test driver", capabilities=AcmeDevice.capabilities,
        probe=_probe, attach=lambda port, url: AcmeDevice(port, url), probe_cost=5,
        url_schemes=("acme",),
    )
"""


def _plugin_dir(tmp_path: Path) -> Path:
    """A real installed distribution on sys.path: a package plus its dist-info with an
    entry point in the `bridgelab.drivers` group."""
    site = tmp_path / "site"
    (site / "acme_bridge_driver").mkdir(parents=True)
    (site / "acme_bridge_driver" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    dist = site / "acme_bridge_driver-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-bridge-driver\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        "[bridgelab.drivers]\nacme-test = acme_bridge_driver:info\n", encoding="utf-8"
    )
    return site


def _run(site: Path, code: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_driver_registered_through_the_entry_point_is_found(tmp_path: Path) -> None:
    site = _plugin_dir(tmp_path)
    found = _run(
        site,
        """
        import json
        from bridgelab.drivers.factory import connect, probe_order
        from bridgelab.drivers.registry import available_drivers
        names = sorted(available_drivers())
        by_scheme = connect("acme://bench-7")
        by_probe = connect("loop://")
        print(json.dumps({
            "names": names,
            "order": [d.name for d in probe_order("loop://")],
            "by_scheme": by_scheme.driver_name,
            "by_probe": by_probe.driver_name,
        }))
        """,
    )
    assert found["names"] == ["acme-test", "bridgelab-service", "gecko-bootloader"]
    assert found["order"] == ["acme-test", "bridgelab-service", "gecko-bootloader"]
    assert found["by_scheme"] == found["by_probe"] == "acme-test"
    # And the CLI opens it by name, saying plainly what it cannot report.
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bridgelab",
            "info",
            "--port",
            "acme://x",
            "--driver",
            "acme-test",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["driver"] == "acme-test"
    assert "join status: not available through the Acme test protocol" in info["not_available"]


def test_builtin_drivers_declare_capabilities_and_probe_cheapest_first() -> None:
    drivers = available_drivers()
    assert drivers["bridgelab-service"].capabilities == BridgeClient.capabilities
    assert Capability.ENTER_BOOTLOADER in BridgeClient.capabilities
    assert GeckoBootloader.capabilities == {
        Capability.BOOTLOADER_UPLOAD,
        Capability.LEAVE_BOOTLOADER,
    }
    assert [d.name for d in probe_order("emu://demo")][:2] == [
        "bridgelab-service",
        "gecko-bootloader",
    ]


def test_connect_by_probing_by_name_and_a_bad_name() -> None:
    with connect("emu://demo") as device:  # type: ignore[attr-defined]
        assert isinstance(device, BridgeClient)
    device = connect("emu://dead-app")
    try:
        assert isinstance(device, GeckoBootloader)
        assert not_available(device, Capability.JOIN_STATUS) == (
            "join status: not available through the bootloader"
        )
    finally:
        device.close()
    with pytest.raises(UnknownDriver) as caught:
        connect("emu://demo", "no-such-driver")
    assert "bridgelab-service" in (caught.value.action or "")


def test_a_port_that_answers_nothing_names_what_was_tried() -> None:
    from bridgelab.drivers.errors import NoAnswer

    with pytest.raises(NoAnswer) as caught:
        connect("emu://demo?faults=stall-at=0,drop-rate=1")
    assert "service protocol" in caught.value.message and "Gecko" in caught.value.message


def test_menu_parsing() -> None:
    menu = parse_menu(
        b"junk\r\nGecko Bootloader v2.4.2\r\n1. upload gbl\r\n2. run\r\n3. ebl info\r\nBL > "
    )
    assert menu is not None and menu.version == "2.4.2" and menu.can_upload
    assert parse_menu(b"\r\nGecko Bootloader v2.4.2\r\n1. upload gbl\r\n") is None  # no prompt
    assert parse_menu(b"BL > ") is None


def test_no_direct_bridgeclient_connect_outside_the_driver_package() -> None:
    """The factory is the only way a device is opened: the CLI, the GUI, campaigns and the
    engine go through `drivers.factory`, so every driver (and probing) reaches them."""
    offenders = []
    pattern = re.compile(r"BridgeClient\.connect\b")
    for folder in ("bridgelab", "gui", "updates", "data", "firmware"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert offenders == []
    assert pattern.search("client = BridgeClient.connect(url)")  # the pattern does match


def test_update_with_a_named_driver(tmp_path: Path) -> None:
    from bridgelab.emulator.demo_material import DEMO_DIR

    image = str(DEMO_DIR / "bridge-demo-1.3.0.ota")
    base = [sys.executable, "-m", "bridgelab", "update", "--port", "emu://demo", image]
    base += ["--db", str(tmp_path / "t.db"), "--json", "--healthy-s", "0.1"]
    wrong = subprocess.run(
        [*base, "--driver", "gecko-bootloader"], capture_output=True, text=True, timeout=60
    )
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["failure_stage"] == "identify"
    right = subprocess.run(
        [*base, "--driver", "bridgelab-service"], capture_output=True, text=True, timeout=60
    )
    assert right.returncode == 0, right.stdout + right.stderr
