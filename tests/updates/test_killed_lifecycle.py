"""Real processes: `bridgelab update` SIGKILLed at a stage, and the emulated bridge (its own
`bridgelab emulate` process with a state file) power-cycled by SIGKILL and restart. After a
re-run the bridge runs the new image confirmed, and still does after one more power cycle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridgelab.emulator.demo_material import DEMO_IMAGES
from tests.rig_processes import free_port, wait_listening
from tests.updates.test_killed_update import _reached

NEWER = DEMO_IMAGES[0].path
NEW, OLD = 0x01030000, 0x01020000


class EmulatedBridgeProcess:
    """`bridgelab emulate --tcp` with a state file: kill() and start() are a power cycle."""

    def __init__(self, folder: Path, profile: Path) -> None:
        self.state = folder / "bridge.json"
        self.port = free_port()
        self.profile = profile
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "bridgelab", "emulate", "--tcp", f"127.0.0.1:{self.port}",
                "--profile", str(self.profile), "--state", str(self.state), "--baud", "230400",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_listening(self.port, 20.0, self.process)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def power_cycle(self) -> None:
        self.kill()
        self.start()

    def info(self) -> dict[str, object]:
        out = subprocess.run(
            [sys.executable, "-m", "bridgelab", "info", "--port", self.url, "--json"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def bridge(tmp_path: Path, fast_profile: Path) -> Iterator[EmulatedBridgeProcess]:
    process = EmulatedBridgeProcess(tmp_path, fast_profile)
    process.start()
    yield process
    process.kill()


def update(bridge: EmulatedBridgeProcess, db: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "bridgelab", "update", "--port", bridge.url, str(NEWER),
            "--db", str(db), "--healthy-s", "1", "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def wait_stage(child: subprocess.Popen[bytes], db: Path, stage: str, then_s: float) -> None:
    deadline = time.monotonic() + 60
    while not _reached(db, stage):
        assert child.poll() is None, "the update ended before the interruption"
        assert time.monotonic() < deadline, f"the update never reached {stage}"
        time.sleep(0.01)
    time.sleep(then_s)


def rerun_until_done(bridge: EmulatedBridgeProcess, db: Path) -> list[str]:
    results = []
    for _ in range(3):
        child = update(bridge, db)
        out, _ = child.communicate(timeout=120)
        result = json.loads(out)
        results.append(result["result"])
        if result["result"] == "success":
            return results
        if (result.get("error") or {}).get("code") == "same-version":
            return results
    return results


def assert_confirmed_on_new(bridge: EmulatedBridgeProcess) -> None:
    info = bridge.info()
    assert info["identity"]["firmware_version"] == NEW  # type: ignore[index]
    assert info["update"]["trial"] is False  # type: ignore[index]
    bridge.power_cycle()  # never a rollback later
    info = bridge.info()
    assert info["identity"]["firmware_version"] == NEW  # type: ignore[index]
    assert info["update"]["trial"] is False  # type: ignore[index]


@pytest.mark.parametrize(
    ("stage", "then_s"), [("transfer", 0.5), ("activate", 0.0), ("confirm", 0.1), ("confirm", 0.6)]
)
def test_the_tool_killed_then_a_rerun_ends_confirmed(
    bridge: EmulatedBridgeProcess, tmp_path: Path, stage: str, then_s: float
) -> None:
    db = tmp_path / "triage.db"
    child = update(bridge, db)
    wait_stage(child, db, stage, then_s)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    results = rerun_until_done(bridge, db)
    assert results[-1] == "success" or results == ["image-rejected"], results
    assert_confirmed_on_new(bridge)


@pytest.mark.parametrize(("stage", "then_s"), [("transfer", 0.5), ("confirm", 0.2)])
def test_the_bridge_power_cycled_then_a_rerun_ends_confirmed(
    bridge: EmulatedBridgeProcess, tmp_path: Path, stage: str, then_s: float
) -> None:
    db = tmp_path / "triage.db"
    child = update(bridge, db)
    wait_stage(child, db, stage, then_s)
    bridge.power_cycle()  # the tool lives on: it reconnects, or fails with a class
    out, _ = child.communicate(timeout=180)
    first = json.loads(out)["result"]
    results = [first] if first == "success" else rerun_until_done(bridge, db)
    assert results[-1] in ("success", "image-rejected"), results
    assert_confirmed_on_new(bridge)
