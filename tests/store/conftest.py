"""Fixtures for the triage store's tests: real SQLite files in a temporary folder."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from bridgelab.data import DeviceInfo, ImageInfo, SessionStart, TriageStore
from bridgelab.data.schema import APPLICATION_ID

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


FROZEN_V1 = Path(__file__).resolve().parents[1] / "fixtures" / "triage_schema_v1.sql"
_V1_SESSION = "01900000-0000-7000-8000-000000000001"


def _build_v1(path: Path) -> str:
    """A log exactly as Bridge Lab schema 1 wrote it, with one failed session in it."""
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(FROZEN_V1.read_text(encoding="utf-8"))
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO devices (eui64, model, first_seen, last_seen) VALUES "
            "('00:12:4B:00:01:02:03:04', 'P2P-A1', '2024-06-01T10:00:00.000Z', "
            "'2024-06-01T10:00:00.000Z')"
        )
        conn.execute(
            "INSERT INTO sessions (id, mode, device_eui64, started_at, ended_at, final_state, "
            "failure_stage, failure_class, failure_code) VALUES (?, 'local', "
            "'00:12:4B:00:01:02:03:04', '2024-06-01T10:00:00.000Z', "
            "'2024-06-01T10:05:00.000Z', 'failed', 'transfer', 'stalled', 'no-block')",
            [_V1_SESSION],
        )
        conn.execute(
            "INSERT INTO events (session_id, seq, at, kind, data) VALUES "
            "(?, 0, '2024-06-01T10:00:00.000Z', 'session-started', '{}')",
            [_V1_SESSION],
        )
        conn.commit()
    return _V1_SESSION


@pytest.fixture
def build_v1() -> Callable[[Path], str]:
    """`build_v1(path)`: a log exactly as schema 1 wrote it, one failed session; its id."""
    return _build_v1


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
