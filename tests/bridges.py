"""Test helpers: emulated bridges on each transport, and a plain stop-and-wait transfer."""

from __future__ import annotations

import contextlib
import hashlib
import io
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient
from bridgelab.emulator.factory import EmulatorOptions
from bridgelab.emulator.faults import parse_faults
from bridgelab.emulator.serve import serve_pty, serve_tcp

TRANSPORTS = ("emu", "pty", "tcp")  # and "rfc2217": TCP speaking RFC 2217 (modem lines)


@contextlib.contextmanager
def emulator_url(
    transport: str,
    profile: str = "demo",
    faults: str = "",
    *,
    baud: int | None = None,
    latency_ms: float = 0.0,
    state: Path | None = None,
    seed: int = 0,
) -> Iterator[str]:
    """A URL that reaches a fresh emulated bridge over `transport` (emu, pty, tcp or
    rfc2217)."""
    if transport == "emu":
        query = [f"seed={seed}"]
        if faults:
            query.append(f"faults={faults}")
        if baud:
            query.append(f"baud={baud}&latency_ms={latency_ms}")
        if state:
            query.append(f"state={state}")
        yield f"emu://{profile}?" + "&".join(query)
        return
    options = EmulatorOptions(
        profile=profile,
        baud=baud,
        latency_ms=latency_ms,
        faults=parse_faults(faults),
        seed=seed,
        state=state,
    )
    stop = threading.Event()
    urls: queue.Queue[str] = queue.Queue()
    rfc2217 = transport == "rfc2217"

    def target() -> None:
        if transport == "pty":
            serve_pty(options, stop, io.StringIO(), urls.put)
        else:
            serve_tcp(options, "127.0.0.1", 0, stop, io.StringIO(), urls.put, rfc2217=rfc2217)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield urls.get(timeout=5)
    finally:
        stop.set()
        thread.join(timeout=5)
        assert not thread.is_alive(), "emulator thread did not stop"


def push_image(client: BridgeClient, image: bytes, *, start_at: int | None = None) -> int:
    """Stop-and-wait transfer of `image`; returns the offset the bridge resumed from."""
    header_length = int.from_bytes(image[6:8], "little")
    begin = client.call(
        p.UpdateBegin(len(image), hashlib.sha256(image).digest(), image[:header_length]),
        timeout_s=5,
    )
    offset = begin.resume_offset if start_at is None else start_at
    resumed = begin.resume_offset
    block = min(begin.max_write, 1024)
    while offset < len(image):
        answer = client.call(p.UpdateWrite(offset, image[offset : offset + block]))
        offset = answer.next_offset
    return resumed
