"""`bridgelab emulate`, `info` and `ports` as a lab script runs them: separate processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest


def _bridgelab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridgelab", *args], capture_output=True, text=True, timeout=30
    )


@pytest.fixture
def emulate() -> Iterator[Callable[..., str]]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> str:
        process = subprocess.Popen(
            [sys.executable, "-m", "bridgelab", "emulate", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        assert first.startswith("listening on "), first + (
            process.stderr.read() if process.stderr else ""
        )
        return first.removeprefix("listening on ")

    yield start
    for process in started:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


def test_info_on_a_legacy_bridge_says_update_locally(emulate: Callable[..., str]) -> None:
    url = emulate("--profile", "legacy")
    assert url.startswith("/dev/")
    result = _bridgelab("info", "--port", url, "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["identity"]["ota_capable"] is False
    codes = [f["code"] for f in info["diagnosis"]]
    assert codes == ["not-ota-capable"]
    assert "update it locally" in info["diagnosis"][0]["message"].lower()


def test_info_after_a_swap_out_says_no_ota_possible(emulate: Callable[..., str]) -> None:
    url = emulate("--profile", "orphaned", "--tcp", "127.0.0.1:0")
    assert url.startswith("socket://127.0.0.1:")
    result = _bridgelab("info", "--port", url)
    assert result.returncode == 0, result.stderr
    assert "Orphaned after Comms Hub swap-out" in result.stdout
    assert "no OTA is possible" in result.stdout and "raise it with the supplier" in result.stdout


def test_tcso_fault_turns_a_joined_bridge_into_an_orphan(emulate: Callable[..., str]) -> None:
    url = emulate("--faults", "tcso=0")
    info = json.loads(_bridgelab("info", "--port", url, "--json").stdout)
    assert info["join"]["state"] == "orphaned"
    assert info["diagnosis"][0]["code"] == "orphaned-after-swap-out"


def test_several_emulators_at_once(emulate: Callable[..., str]) -> None:
    urls = [emulate("--profile", profile) for profile in ("demo", "legacy", "not-in-log")]
    assert len(set(urls)) == 3
    states = [
        json.loads(_bridgelab("info", "--port", u, "--json").stdout)["join"]["state"] for u in urls
    ]
    assert states == ["joined", "joined", "not-in-device-log"]


def test_ports_lists_the_demo_bridge() -> None:
    result = _bridgelab("ports", "--json")
    ports = json.loads(result.stdout)["ports"]
    assert ports[-1]["url"] == "emu://demo" and ports[-1]["emulated"] is True


def test_emulate_with_an_unknown_profile_fails_before_listening() -> None:
    result = _bridgelab("emulate", "--profile", "no-such-profile")
    assert result.returncode == 1 and "listening" not in result.stdout
    assert "demo, legacy, orphaned, not-in-log" in result.stderr
