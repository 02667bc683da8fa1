"""Fixtures for the triage store's tests: real SQLite files in a temporary folder."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bridgelab.data import DeviceInfo, ImageInfo, SessionStart, TriageStore

DEVICE = DeviceInfo(eui64=0x00124B0001020304, manufacturer_code=0x1234, model="P2P-A1",
                    hardware_version=0x0102, identity={"bootloader": "2.1"})  # fmt: skip
IMAGE = ImageInfo(sha256="ab" * 32, size=170_000, file_name="bridge-1.2.ota",
                  manufacturer_code=0x1234, image_type=0x0001, file_version=0x01020000,
                  signature_status="verified", signer="00:11:22:33:44:55:66:77")  # fmt: skip


def start_info(**overrides: object) -> SessionStart:
    values: dict[str, object] = dict(
        mode="local", port_url="emu://demo", driver="emulated", baud=115200, device=DEVICE,
        image=IMAGE, site_ref="SITE-042", version_before=0x01010000,
    )  # fmt: skip
    values.update(overrides)
    return SessionStart(**values)  # type: ignore[arg-type]


StartFactory = Callable[..., SessionStart]


@pytest.fixture
def make_start() -> StartFactory:
    """`make_start(**overrides)`: a SessionStart for the sample device and image."""
    return start_info


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "triage.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[TriageStore]:
    opened = TriageStore.open(db_path, batch_interval_s=0.05)
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def no_leaked_writer_threads() -> Iterator[None]:
    """Every test closes what it opens: no writer thread may outlive it."""
    yield
    leaked = [t.name for t in threading.enumerate() if t.name == "bridgelab-triage-writer"]
    assert not leaked, f"writer threads left running: {leaked}"
