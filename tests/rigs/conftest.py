"""Fixtures for remote rigs: an emulated bridge on a pty, served by a real ser2net."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bridges import emulator_url
from tests.rig_processes import (
    LabgridCoordinator,
    LabgridExporter,
    Process,
    Ser2Net,
    free_port,
    labgrid_bin,
    ser2net_config,
)

# The documented ser2net.yaml's two accepters: RFC 2217 and raw TCP.
DOC_RFC2217_PORT, DOC_RAW_PORT = 7001, 7101


@pytest.fixture(scope="session")
def fast_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bridge with a 50 ms boot and rejoin."""
    path = tmp_path_factory.mktemp("profiles") / "fast-demo.toml"
    path.write_text('base = "demo"\nboot_s = 0.05\nrejoin_s = 0.05\n', encoding="utf-8")
    return path


@dataclass
class Rig:
    """One emulated bridge on a pty behind ser2net (both accepters of the doc's config)."""

    pty: str
    ser2net: Ser2Net
    config: str
    folder: Path

    @property
    def rfc2217_url(self) -> str:
        return f"rfc2217://127.0.0.1:{self.ser2net.ports[0]}?ign_set_control"

    @property
    def socket_url(self) -> str:
        return f"socket://127.0.0.1:{self.ser2net.ports[1]}"

    def restart_ser2net(self) -> None:
        """ser2net killed (SIGKILL) and started again on the same ports."""
        self.ser2net.kill()
        self.ser2net = Ser2Net(self.config, self.ser2net.ports, self.folder).start()


@pytest.fixture
def rig(tmp_path: Path, fast_profile: Path) -> Iterator[Callable[..., Rig]]:
    """`rig(baud=115200)`: a fresh emulated bridge on a pty, exported by ser2net."""
    stack: list[tuple[Rig, object]] = []

    def make(baud: int = 115200, latency_ms: float = 1.0, profile: str = "") -> Rig:
        context = emulator_url(
            "pty", str(profile or fast_profile), baud=baud, latency_ms=latency_ms
        )
        pty = context.__enter__()
        ports = [free_port(), free_port()]
        config = ser2net_config(pty, {DOC_RFC2217_PORT: ports[0], DOC_RAW_PORT: ports[1]})
        folder = tmp_path / f"ser2net-{len(stack)}"
        try:
            served = Ser2Net(config, ports, folder).start()
        except BaseException:
            context.__exit__(None, None, None)
            raise
        made = Rig(pty, served, config, folder)
        stack.append((made, context))
        return made

    yield make
    for made, context in reversed(stack):
        made.ser2net.stop()
        context.__exit__(None, None, None)  # type: ignore[attr-defined]


@dataclass
class Lab:
    """A labgrid coordinator, exporters on 127.0.0.1, and emulated bridges as places."""

    coordinator: LabgridCoordinator
    exporters: dict[str, LabgridExporter]
    ptys: dict[str, str]  # place -> the pty of its emulated bridge
    folder: Path

    @property
    def address(self) -> str:
        return self.coordinator.address

    @property
    def places(self) -> list[str]:
        return sorted(self.ptys)

    def client(self, *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
        """labgrid's own client, as an engineer runs it (`user` sets LG_USERNAME)."""
        env = {**os.environ, "LG_COORDINATOR": self.address}
        if user:
            env["LG_USERNAME"] = user
        result = subprocess.run(
            [labgrid_bin("labgrid-client"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def holders(self) -> dict[str, str | None]:
        from bridgelab.updates.labgrid_places import Coordinator

        with Coordinator(self.address) as coordinator:
            return {info.name: info.acquired_by for info in coordinator.places()}


def _start_emulator(profile: Path, folder: Path, name: str) -> tuple[Process, str]:
    emulator = Process(
        [
            sys.executable,
            "-m",
            "bridgelab",
            "emulate",
            "--profile",
            str(profile),
            "--baud",
            "115200",
            "--adapter-latency-ms",
            "1",
        ],
        cwd=folder,
        log=folder / f"emulator-{name}.log",
    ).start()
    deadline = time.monotonic() + 30
    while "listening on " not in emulator.log():
        assert emulator.running, emulator.log()
        assert time.monotonic() < deadline, "the emulator did not start"
        time.sleep(0.05)
    first = emulator.log().split("listening on ", 1)[1].split()[0]
    return emulator, first


@pytest.fixture
def lab(tmp_path: Path, fast_profile: Path) -> Iterator[Callable[..., Lab]]:
    """`lab({"rig-a": ["rack3-1", "rack3-2"], ...})`: a running lab, stopped afterwards."""
    started: list[Process] = []

    def make(racks: dict[str, list[str]]) -> Lab:
        folder = tmp_path / "lab"
        folder.mkdir()
        coordinator = LabgridCoordinator(folder / "coordinator")
        started.append(coordinator)
        coordinator.start()
        ptys: dict[str, str] = {}
        exporters: dict[str, LabgridExporter] = {}
        for exporter_name, places in racks.items():
            served = {}
            for place in places:
                emulator, pty = _start_emulator(fast_profile, folder, place)
                started.append(emulator)
                served[place] = ptys[place] = pty
            exporter = LabgridExporter(exporter_name, coordinator.address, served, folder)
            started.append(exporter)
            exporters[exporter_name] = exporter.start()
        made = Lab(coordinator, exporters, ptys, folder)
        for exporter_name, places in racks.items():
            for place in places:
                made.client("-p", place, "create")
                made.client("-p", place, "add-match", f"{exporter_name}/{place}/NetworkSerialPort")
        _wait_published(made, racks)
        return made

    yield make
    problems = []
    for process in reversed(started):  # exporters (and their ser2net) before the rest
        try:
            process.stop()
        except AssertionError as error:
            problems.append(str(error))
    assert not problems, problems


def _wait_published(made: Lab, racks: dict[str, list[str]], timeout_s: float = 30.0) -> None:
    from bridgelab.updates.labgrid_places import Coordinator

    wanted = {place: (name,) for name, places in racks.items() for place in places}
    deadline = time.monotonic() + timeout_s
    with Coordinator(made.address) as coordinator:
        while True:
            seen = {info.name: info.exporters for info in coordinator.places()}
            if all(seen.get(place) == exporters for place, exporters in wanted.items()):
                return
            assert time.monotonic() < deadline, f"exporters not published: {seen}"
            time.sleep(0.1)
