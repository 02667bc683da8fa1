"""Fixtures for update-engine tests: fast emulated bridges, signed images, a temp log."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridgelab.data.store import TriageStore
from bridgelab.emulator.demo_material import DEMO_PRIVATE_KEY
from bridgelab.emulator.profiles import (
    DEMO_HARDWARE_VERSION,
    DEMO_IMAGE_TYPE,
    DEMO_MANUFACTURER_CODE,
)
from bridgelab.firmware.image import build_image
from bridgelab.firmware.keys import load_private_key
from bridgelab.firmware.signing import sign_image
from bridgelab.updates.policy import StageTimeouts, UpdatePolicy

BLOCK = 1024
_ids = itertools.count()

# Quick enough for tests, still every stage and every wait of the real thing.
FAST_POLICY = UpdatePolicy(
    timeouts=StageTimeouts(stall_s=3.0, reconnect_s=5.0, activate_s=5.0, rejoin_s=5.0),
    healthy_s=0.1,
    request_timeout_s=0.2,
)


def signed_demo_image(total_size: int, file_version: int = 0x01030000) -> bytes:
    """A demo-signed GBCS image of exactly `total_size` bytes (header 60, trailer 66)."""
    unsigned = build_image(
        manufacturer_code=DEMO_MANUFACTURER_CODE,
        image_type=DEMO_IMAGE_TYPE,
        file_version=file_version,
        manufacturer_image=bytes((i * 7 + 3) % 251 for i in range(total_size - 60 - 66)),
        header_string="test image",
        min_hw_version=DEMO_HARDWARE_VERSION & 0xFF00,
        max_hw_version=DEMO_HARDWARE_VERSION | 0x00FF,
    )
    signed = sign_image(unsigned, load_private_key(DEMO_PRIVATE_KEY))
    assert len(signed) == total_size
    return signed


@pytest.fixture(scope="session")
def image_64_blocks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("images") / "bridge-64-blocks.ota"
    path.write_bytes(signed_demo_image(64 * BLOCK))
    return path


@pytest.fixture(scope="session")
def fast_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bridge with a 50 ms boot and rejoin."""
    path = tmp_path_factory.mktemp("profiles") / "fast-demo.toml"
    path.write_text('base = "demo"\nboot_s = 0.05\nrejoin_s = 0.05\n', encoding="utf-8")
    return path


@pytest.fixture
def bridge_url(fast_profile: Path) -> Iterator[object]:
    """`bridge_url("reboot-at=4096")`: a fresh fast emulated bridge with its own id."""

    # The engines and bridges of one test share one skipping clock (bridgelab.clock): the
    # health check, boots and rejoins keep their order but cost no real seconds. One per
    # test, so that a thread another test left behind cannot move this test's time.
    clock = f"update-test-{next(_ids)}"

    def make(faults: str = "", **options: str) -> str:
        query = [f"id=test-{next(_ids)}", f"clock={clock}"]
        if faults:
            query.append(f"faults={faults}")
        query += [f"{key}={value}" for key, value in options.items()]
        return f"emu://{fast_profile}?" + "&".join(query)

    yield make


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TriageStore]:
    with TriageStore.open(tmp_path / "triage.db") as opened:
        yield opened
