"""Remote-rig processes for tests: real ser2net, a labgrid coordinator and exporters.

Everything listens on 127.0.0.1 on free ports, runs in its own process group (so killing
an "exporter machine" takes its ser2net children with it) and is stopped by the fixture
that started it; `assert_stopped` fails a test that would leak one. The configurations
come from docs/lab-rigs.md, so the documented ones are the ones tested.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LAB_RIGS_DOC = PROJECT_ROOT / "docs" / "lab-rigs.md"


def ser2net_binary() -> str:
    """The ser2net program, or a skip saying how to get it."""
    found = shutil.which("ser2net") or (
        "/usr/sbin/ser2net" if os.path.isfile("/usr/sbin/ser2net") else None
    )
    if found is None:
        pytest.skip("ser2net is not installed (apt-get install ser2net; .ci/run installs it)")
    return found


def labgrid_bin(name: str) -> str:
    """A labgrid program from this environment, or a skip saying how to get it."""
    pytest.importorskip("labgrid", reason="labgrid is not installed (pip install -e '.[dev]')")
    path = Path(sys.executable).parent / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            pytest.skip(f"{name} is not installed (it comes with labgrid)")
        return found
    return str(path)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(
    port: int, timeout_s: float = 10.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def doc_blocks(language: str) -> list[str]:
    """The fenced blocks of one language in docs/lab-rigs.md, in order."""
    text = LAB_RIGS_DOC.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def ser2net_config(device: str, ports: dict[int, int]) -> str:
    """The documented ser2net.yaml for one bridge, with the test's pty and free ports.

    The doc's accepters listen on all interfaces (`tcp,7001`); the test's on 127.0.0.1.
    """
    (block,) = [b for b in doc_blocks("yaml") if b.lstrip().startswith("%YAML")]
    text = block.replace("/dev/ttyUSB0", device)

    def local(match: re.Match[str]) -> str:
        return f"tcp,127.0.0.1,{ports[int(match.group(1))]}"

    return re.sub(r"tcp,(\d+)", local, text)


class Process:
    """One started program in its own process group, stopped for sure."""

    def __init__(self, args: list[str], *, cwd: Path, log: Path, env: dict[str, str] | None = None):
        self.args = args
        self.cwd = cwd
        self.log_path = log
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own group: kill() takes its children too
            env={**os.environ, **(self.env or {})},
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _signal_group(self, sig: int) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole group: a machine that died, not one shut down."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(timeout=10)
        self._signal_group(signal.SIGKILL)  # children that outlived their parent
        assert_group_gone(self.process.pid)


def assert_group_gone(pgid: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"process group {pgid} still has live processes")
        time.sleep(0.05)


class Ser2Net(Process):
    """ser2net on a config file; `start()` returns once every port listens."""

    def __init__(self, config: str, ports: list[int], folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "ser2net.yaml"
        path.write_text(config, encoding="utf-8")
        # -n: stay in the foreground; -u: no UUCP lock files in /var/lock; -P: a pid file
        # of its own (the default is shared by every ser2net on the machine).
        super().__init__(
            [ser2net_binary(), "-n", "-u", "-c", str(path), "-P", str(folder / "ser2net.pid")],
            cwd=folder,
            log=folder / "ser2net.log",
        )
        self.ports = ports

    def start(self) -> Ser2Net:
        super().start()
        for port in self.ports:
            wait_listening(port, process=self.process)
        return self


def exporter_config(ptys: dict[str, str]) -> str:
    """The documented exporter.yaml, for the test's places and ptys.

    The doc describes a rack of four bridges (groups rack3-1 ... rack3-4 on /dev/ttyUSB0
    ... /dev/ttyUSB3); the test keeps its shape and puts its own places and ptys in.
    """
    (block,) = [b for b in doc_blocks("yaml") if "RawSerialPort" in b]
    entry = re.search(r"^rack3-1:\n(?:[ #].*\n)+", block, flags=re.M)
    assert entry, "docs/lab-rigs.md: the exporter block has no rack3-1 group"
    template = entry.group(0)
    out = []
    for place, pty in ptys.items():
        out.append(template.replace("rack3-1", place).replace("/dev/ttyUSB0", pty))
    return "".join(out)


class LabgridCoordinator(Process):
    """`labgrid-coordinator` on 127.0.0.1 and a free port (its state files in `folder`)."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        super().__init__(
            [labgrid_bin("labgrid-coordinator"), "-l", self.address],
            cwd=folder,
            log=folder / "coordinator.log",
        )

    def start(self) -> LabgridCoordinator:
        super().start()
        wait_listening(self.port, process=self.process)
        return self


class LabgridExporter(Process):
    """`labgrid-exporter NAME` publishing `ptys` (place -> pty) as RawSerialPorts.

    It serves each through its own ser2net while the place is acquired; `kill()` takes
    the exporter and those ser2net processes down together (a rack machine that died).
    """

    def __init__(self, name: str, coordinator: str, ptys: dict[str, str], folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / f"exporter-{name}.yaml"
        config.write_text(exporter_config(ptys), encoding="utf-8")
        ser2net_binary()  # the exporter runs it: skip, saying why, when it is missing
        super().__init__(
            [
                labgrid_bin("labgrid-exporter"),
                "-c",
                coordinator,
                "-n",
                name,
                "--hostname",
                "127.0.0.1",
                str(config),
            ],
            cwd=folder,
            log=folder / f"exporter-{name}.log",
        )
        self.name = name
        self.places = list(ptys)
