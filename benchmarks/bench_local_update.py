"""Local update efficiency: payload bytes per second over the line's 8N1 byte rate.

    python -m benchmarks local_update

Against `bridgelab emulate` processes on real ptys (the emulator paces the line at its
baud and adds the USB adapter's latency each way, plus flash erase/write time), the same
image is sent, in one run, by:

* Bridge Lab's windowed transfer (the default policy),
* stop-and-wait with the same write size (window 1), and
* stop-and-wait with 128-byte writes, like XMODEM,

at 115200 baud with 1 ms adapter latency and at 921600 baud with 16 ms (an FTDI chip's
default latency timer). Goals: >= 95 % and >= 93 % for the windowed transfer. A last row
repeats the windowed run with the triage store attached (every stage durable, progress
batched) to show logging does not slow the transfer (goal: ratio >= 0.98).
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from benchmarks.emulators import emulator_processes, signed_image, table
from bridgelab.data.store import TriageStore
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.request import UpdateRequest

CASES = ((115200, 1.0, 128 * 1024), (921600, 16.0, 512 * 1024))
POLICY = UpdatePolicy(healthy_s=0.0)
VARIANTS = {
    "windowed (Bridge Lab)": POLICY,
    "stop-and-wait, same writes": replace(POLICY, max_window=1, selective_repeat=False),
    "stop-and-wait, 128 B (XMODEM-like)": replace(
        POLICY, max_window=1, block_size=128, selective_repeat=False
    ),
}


def _run(
    url: str, image: Path, baud: int, policy: UpdatePolicy, store: TriageStore | None
) -> float:
    result = UpdateEngine(
        UpdateRequest(url, image, baudrate=baud, line_baud=baud, policy=policy), store=store
    ).run()
    if not result.ok or result.line_efficiency is None:
        raise RuntimeError(f"update failed: {result.error}")
    return result.line_efficiency


def main(argv: list[str]) -> int:
    del argv
    rows: list[tuple[str, ...]] = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="bench-local-") as folder:
        root = Path(folder)
        for baud, latency_ms, size in CASES:
            image = signed_image(root / f"image-{size}.ota", size)
            args = ["--baud", str(baud), "--adapter-latency-ms", str(latency_ms)]
            # One fresh bridge (running 1.2.0) per run: each run installs 1.3.0 on it.
            runs = [*VARIANTS.items(), ("attached", POLICY), ("detached", POLICY)]
            with emulator_processes([args] * len(runs)) as urls:
                efficiencies = {}
                for url, (name, policy) in zip(urls, runs, strict=True):
                    if name == "attached":
                        with TriageStore.open(root / "triage.db") as store:
                            efficiencies[name] = _run(url, image, baud, policy, store)
                    else:
                        efficiencies[name] = _run(url, image, baud, policy, None)
            attached, detached = efficiencies.pop("attached"), efficiencies.pop("detached")
            goal = 0.95 if baud == 115200 else 0.93
            windowed = efficiencies["windowed (Bridge Lab)"]
            failures += windowed < goal
            label = f"{baud} baud, {latency_ms:g} ms, {size // 1024} KiB"
            for name, value in efficiencies.items():
                goal_text = f">= {goal:.0%}" if name.startswith("windowed") else ""
                rows.append((label, name, f"{value:.1%}", goal_text))
            rows.append(
                (
                    label,
                    "windowed, store attached / detached",
                    f"{attached / detached:.3f}",
                    ">= 0.98",
                )
            )
            failures += attached / detached < 0.98
    print(table(rows, ("line", "transfer", "efficiency", "goal")))
    return 1 if failures else 0
