"""Synthetic triage logs: realistic volumes quickly, for benchmarks, tests and demos.

`fill_synthetic` bulk-loads sessions with their devices, images and events straight into
a log with `executemany` (hundreds of thousands of rows a second), bypassing the writer
thread on purpose: it builds a history, it does not simulate updates. Everything is
derived from `seed` and the session index, so the same call always writes the same rows:
loading one seed into two files gives two copies of the same laptop's sessions.
"""

from __future__ import annotations

import json
import random
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from bridgelab.data.clock import iso_utc
from bridgelab.data.failures import FailureClass, Stage
from bridgelab.data.ids import uuid7_at
from bridgelab.eui64 import format_eui64

MODELS = ("P2P-A1", "P2P-A2", "P2P-B1", "P2P-B2")
SITES = tuple(f"SITE-{n:03d}" for n in range(30))
STAGES = tuple(Stage)
FAILURE_CLASSES = (
    FailureClass.STALLED, FailureClass.LINK_LOST, FailureClass.HASH_MISMATCH,
    FailureClass.VERSION_UNCHANGED, FailureClass.DEVICE_ERROR, FailureClass.NOT_JOINED,
    FailureClass.IMAGE_REJECTED, FailureClass.ACTIVATION_FAILED,
)  # fmt: skip
DEVICE_POOL = 2000
IMAGE_POOL = 40
# One year of history ending 2025-06-01T00:00:00Z unless the caller says otherwise.
DEFAULT_END_S = 1_748_736_000.0
YEAR_S = 365 * 86400.0


@dataclass(frozen=True)
class SyntheticCounts:
    sessions: int
    events: int


def device_eui64(index: int) -> str:
    return format_eui64(0x00124B0000000000 + index)


def image_sha(index: int) -> str:
    return f"{index:064x}"


def _session_rows(
    seed: int, index: int, events_per_session: int, end_s: float
) -> tuple[tuple[object, ...], list[tuple[object, ...]]]:
    rng = random.Random(seed * 1_000_003 + index)
    start_s = end_s - rng.random() * YEAR_S
    session_id = uuid7_at(int(start_s * 1000), rng.getrandbits(12), rng.getrandbits(62))
    device = rng.randrange(DEVICE_POOL)
    image = rng.randrange(IMAGE_POOL)
    roll = rng.random()
    state = (
        "success" if roll < 0.88 else "failed" if roll < 0.95 else
        "interrupted" if roll < 0.98 else "cancelled"
    )  # fmt: skip
    size = 150_000 + image * 5_000
    failure: tuple[object, ...] = (None, None, None, None)
    if state == "failed":
        cls = rng.choice(FAILURE_CLASSES)
        failure = (rng.choice(STAGES).value, cls.value, f"code-{rng.randrange(4)}", cls.title)
    elif state == "interrupted":
        failure = (Stage.TRANSFER.value, "interrupted", "writer-stopped", "Synthetic.")
    elif state == "cancelled":
        failure = (Stage.TRANSFER.value, "cancelled", None, None)
    duration_s = 30 + rng.random() * 600
    ended = iso_utc(start_s + duration_s)
    session = (
        session_id, rng.choice(("local", "ota", "campaign")), device_eui64(device),
        image_sha(image), f"emu://bench{device % 8}", "emulated", 115200, f"laptop-{seed % 7}",
        "engineer", SITES[device % len(SITES)], 0x01000000 + image - 1, 0x01000000 + image,
        iso_utc(start_s), ended, state, *failure, Stage.CONFIRM.value, size, size,
        size / duration_s, "0.1.0", "synthetic",
    )  # fmt: skip
    events: list[tuple[object, ...]] = []
    for seq in range(events_per_session):
        at = iso_utc(start_s + duration_s * seq / max(1, events_per_session))
        if seq == 0:
            kind, data = "session-started", {"mode": session[1]}
        elif seq == events_per_session - 1:
            kind, data = "session-ended", {"final_state": state}
        elif seq <= len(STAGES):
            kind, data = "stage", {"stage": STAGES[seq - 1].value}
        else:
            kind, data = "progress", {"offset": size * seq // events_per_session, "total": size}
        events.append((session_id, seq, at, kind, json.dumps(data, separators=(",", ":"))))
    return session, events


_SESSION_SQL = (
    "INSERT OR IGNORE INTO sessions (id, mode, device_eui64, image_sha256, port_url, driver, "
    "baud, host, operator, site_ref, version_before, version_after, started_at, ended_at, "
    "final_state, failure_stage, failure_class, failure_code, failure_message, last_stage, "
    "last_offset, image_size, throughput_bps, tool_version, platform) "
    "VALUES (" + ", ".join("?" * 25) + ")"
)


def fill_synthetic(
    path: Path,
    sessions: int,
    events_per_session: int = 10,
    *,
    seed: int = 0,
    end_s: float = DEFAULT_END_S,
    chunk: int = 20_000,
) -> SyntheticCounts:
    """Add `sessions` synthetic sessions (and their events) to the triage log at `path`.

    The log must exist with the current schema (open and close a `TriageStore` first).
    Rows already present (same seed and index) are left as they are.
    """
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA synchronous = OFF")  # a bulk load: rebuilt if it fails
        with conn:
            conn.executemany(
                "INSERT OR IGNORE INTO devices (eui64, model, hardware_version, first_seen, "
                "last_seen) VALUES (?, ?, ?, ?, ?)",
                [
                    (device_eui64(d), MODELS[d % len(MODELS)], 0x0100 + d % 3,
                     iso_utc(end_s - YEAR_S), iso_utc(end_s))
                    for d in range(DEVICE_POOL)
                ],
            )  # fmt: skip
            conn.executemany(
                "INSERT OR IGNORE INTO images (sha256, size, manufacturer_code, image_type, "
                "file_version, first_seen) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (image_sha(i), 150_000 + i * 5_000, 0x1234, 0x0001, 0x01000000 + i,
                     iso_utc(end_s - YEAR_S))
                    for i in range(IMAGE_POOL)
                ],
            )  # fmt: skip
        for first in range(0, sessions, chunk):
            session_rows: list[tuple[object, ...]] = []
            event_rows: list[tuple[object, ...]] = []
            for index in range(first, min(sessions, first + chunk)):
                session, events = _session_rows(seed, index, events_per_session, end_s)
                session_rows.append(session)
                event_rows.extend(events)
            with conn:
                conn.executemany(_SESSION_SQL, session_rows)
                conn.executemany(
                    "INSERT OR IGNORE INTO events (session_id, seq, at, kind, data) "
                    "VALUES (?, ?, ?, ?, ?)",
                    event_rows,
                )
    return SyntheticCounts(sessions, sessions * events_per_session)
