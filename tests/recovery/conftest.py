"""Fixtures for the bootloader tests: an emulated dead-app bridge on a real pty, and GBLs."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tty
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridgelab.data.store import TriageStore
from bridgelab.emulator.channel import PtyChannel
from bridgelab.emulator.device import EmulatedBridge
from bridgelab.emulator.endpoint import Endpoint, LinkModel
from bridgelab.emulator.factory import EmulatorOptions, build_device
from bridgelab.emulator.faults import parse_faults
from tests.gbl_files import application_bytes, build_gbl

APP_ADDRESS = 0x4000


@dataclass
class PtyBridge:
    path: str
    device: EmulatedBridge
    endpoint: Endpoint


@contextlib.contextmanager
def bridge_on_pty(
    profile: str = "dead-app",
    faults: str = "",
    *,
    baud: int | None = None,
    latency_ms: float = 0.0,
    seed: int = 0,
) -> Iterator[PtyBridge]:
    """An emulated bridge served on a real pty, with its device model at hand."""
    options = EmulatorOptions(
        profile=profile, baud=baud, latency_ms=latency_ms, faults=parse_faults(faults), seed=seed
    )
    master, slave = os.openpty()
    tty.setraw(slave)
    device = build_device(options)
    endpoint = Endpoint(
        device, PtyChannel(master, slave), LinkModel(baud, latency_ms / 1000), seed=seed
    ).start()
    try:
        yield PtyBridge(os.ttyname(slave), device, endpoint)
    finally:
        endpoint.stop()
        endpoint.channel.close()


def bridgelab_cli(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """`bridgelab ARGS...` in a process of its own, as a field engineer runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bridgelab", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture
def app_image() -> bytes:
    return application_bytes(40_000)


@pytest.fixture
def gbl_file(tmp_path: Path, app_image: bytes) -> Path:
    path = tmp_path / "bridge-1.3.0.gbl"
    path.write_bytes(build_gbl(app_image, version=0x01030000, address=APP_ADDRESS))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TriageStore]:
    opened = TriageStore.open(tmp_path / "triage.db")
    try:
        yield opened
    finally:
        opened.close()
