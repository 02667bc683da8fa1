"""Shared fixtures: the project's paths and the DCC sample images beside the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


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
