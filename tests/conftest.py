"""Shared fixtures: the project's paths, the DCC sample images beside the project, and a
place where file permissions bind even as root."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import reaper
from tests.unprivileged import Unprivileged, unprivileged_place

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def pytest_sessionstart(session: pytest.Session) -> None:
    # A run killed from outside left its emulators and relays running: end them first,
    # then mark what this run starts (see tests/reaper.py).
    killed = reaper.reap()
    if killed:
        print(f"reaped {len(killed)} process(es) left by a killed test run: {killed}")
    reaper.mark_this_run()


def _dcc_dir() -> Path:
    override = os.environ.get("BRIDGELAB_DCC_FIXTURES")
    return Path(override) if override else PROJECT_ROOT.parent / "shared" / "fixtures" / "dcc"


@pytest.fixture(scope="session")
def dcc_dir() -> Path:
    """The DCC's published sample firmware images (read in place, never copied)."""
    folder = _dcc_dir()
    if not (folder / "sr11.1-esme-update-firmware.ota").is_file():
        pytest.skip(f"DCC sample images not found in {folder} (shared/fixtures/dcc absent)")
    return folder


def _ota_real_dir() -> Path:
    override = os.environ.get("BRIDGELAB_OTA_REAL_FIXTURES")
    return Path(override) if override else PROJECT_ROOT.parent / "shared" / "fixtures" / "ota-real"


@pytest.fixture(scope="session")
def ota_real_dir() -> Path:
    """Real vendor ZigBee OTA files (read in place, never copied; see its MANIFEST.tsv)."""
    folder = _ota_real_dir()
    if not (folder / "MANIFEST.tsv").is_file():
        pytest.skip(f"Real vendor OTA files not found in {folder} (fixtures/ota-real absent)")
    return folder


@pytest.fixture
def unprivileged() -> Iterator[Unprivileged]:
    """A world-readable folder and a way to run the CLI there that permissions bind, also
    as root (see tests/unprivileged.py)."""
    with unprivileged_place() as place:
        yield place
