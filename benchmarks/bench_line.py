"""Transfer speed on an independent line, side by side with lrzsz ZMODEM and XMODEM.

    python -m benchmarks line          (BENCH_LINE_SEED=N repeats a run's bit errors)

The line is a separate process (`benchmarks/line.py`: 8N1 byte timing, a USB adapter's
latency timer and 62-byte packets on the host's receive side, seeded per-byte bit
errors both ways); the emulated bridge behind it runs unpaced, keeping only its flash
erase/write/verify times. On the same line model, in the same run:

* Bridge Lab's transfer phase (payload bytes over its time, against the 8N1 byte rate),
  with protocol 2 (selective repeat) and, for comparison, protocol 1's windowed writes,
* ZMODEM from lrzsz (streaming, its default; and with a 4 KiB window, which wastes less
  of what sits in the tty buffers when a frame is lost), and XMODEM (128-byte blocks,
  CRC), each timed from `sz`'s start to its exit (the file acknowledged whole),

at 115200 baud with a 1 ms latency timer, clean and at 1e-5, 1e-4 and 1e-3 errors per
byte, and at 921600 baud with 16 ms (an FTDI chip's default) clean. Then the whole
command: `bridgelab update` as a process (start-up to exit, triage log on, health check
off) with 256 KiB at 921600 / 16 ms, and the share of its time spent in the transfer.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.emulators import signed_image, table
from benchmarks.line_runs import (
    LRZSZ_VARIANTS,
    Line,
    bridge_on_line,
    have_lrzsz,
    lrzsz_variant,
)
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.request import UpdateRequest

POLICY = UpdatePolicy(healthy_s=0.0)
WINDOWED = replace(POLICY, selective_repeat=False)  # what protocol 1 does, for comparison
KIB = 1024
LAYERS = ("drivers", "zigbee", "emulator", "firmware", "updates", "data")


@dataclass(frozen=True)
class Case:
    line: Line
    size: int
    goal: float | None  # Bridge Lab's transfer efficiency
    lrzsz: tuple[str, ...]


ZMODEMS = tuple(name for name in LRZSZ_VARIANTS if name.startswith("ZMODEM"))
ALL = tuple(LRZSZ_VARIANTS)
CASES = (
    Case(Line(115200, 1.0), 128 * KIB, None, ALL),
    Case(Line(115200, 1.0, 1e-5), 256 * KIB, 0.95, ALL),
    Case(Line(115200, 1.0, 1e-4), 128 * KIB, 0.85, ALL),
    Case(Line(115200, 1.0, 1e-3), 64 * KIB, 0.60, ALL),
    Case(Line(921600, 16.0), 512 * KIB, None, ZMODEMS),
)
WHOLE_COMMAND = (Line(921600, 16.0), 256 * KIB, 0.85)


def _bridge_lab(
    case: Case, seed: int, image: Path, policy: UpdatePolicy = POLICY
) -> tuple[float, str]:
    line = case.line
    with bridge_on_line(line, seed) as ends:
        request = UpdateRequest(
            ends.host, image, baudrate=line.baud, line_baud=line.baud, policy=policy
        )
        result = UpdateEngine(request).run()
    if not result.ok or result.line_efficiency is None:
        return 0.0, f"failed: {result.error}"
    return result.line_efficiency, f"{result.retries} retries"


def _whole_command(seed: int, folder: Path) -> tuple[float, float, str]:
    """(transfer share, line share, note) of one `bridgelab update` process."""
    line, size, _ = WHOLE_COMMAND
    image = signed_image(folder / f"image-{size}.ota", size)
    with bridge_on_line(line, seed) as ends:
        command = [
            sys.executable,
            "-m",
            "bridgelab",
            "update",
            "--port",
            ends.host,
            "--baud",
            str(line.baud),
            "--line-rate",
            str(line.baud),
            "--healthy-s",
            "0",
            "--db",
            str(folder / "triage.db"),
            "--json",
            str(image),
        ]
        # As installed: bytecode compiled once and cached, as the bundle and a pip install
        # have it (this machine's environment sets PYTHONDONTWRITEBYTECODE).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        root = Path(__file__).resolve().parent.parent
        layers = [str(root / name) for name in ("bridgelab", *LAYERS)]
        compile_all = [sys.executable, "-m", "compileall", "-q", *layers]
        subprocess.run(compile_all, env=env, capture_output=True, timeout=120)
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
        wall = time.monotonic() - started
    if done.returncode != 0:
        return 0.0, 0.0, f"failed: {done.stdout.strip()[-200:]} {done.stderr.strip()[-200:]}"
    result = json.loads(done.stdout)
    transfer_s = result["bytes"] / result["throughput_bps"]
    ideal_s = size / line.bytes_per_s
    stages = result.get("stage_s") or {}
    outside = wall - sum(stages.values())
    parts = ", ".join(f"{name} {s:.2f}" for name, s in stages.items())
    note = f"{wall:.2f} s in all: start-up and exit {outside:.2f}, {parts}"
    return transfer_s / wall, ideal_s / wall, note


def main(argv: list[str]) -> int:
    del argv
    seed = int(os.environ.get("BENCH_LINE_SEED") or random.randrange(1, 1 << 30))
    print(f"line seed {seed} (BENCH_LINE_SEED={seed} repeats these bit errors)")
    if not have_lrzsz():
        print("lrzsz (sz, rz) not installed: Debian package lrzsz; its rows are skipped")
    rows: list[tuple[str, ...]] = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="bench-line-") as name:
        folder = Path(name)
        for index, case in enumerate(CASES):
            line, size = case.line, case.size
            case_seed = seed + index
            image = signed_image(folder / f"image-{size}.ota", size)
            label = f"{line.label()}, {size // KIB} KiB"
            ours, note = _bridge_lab(case, case_seed, image)
            before, before_note = _bridge_lab(case, case_seed, image, WINDOWED)
            best_zmodem = 0.0
            lines = [
                ("Bridge Lab (protocol 2, selective repeat)", f"{ours:.1%}", note),
                ("Bridge Lab, protocol 1 windowed (before)", f"{before:.1%}", before_note),
            ]
            if have_lrzsz():
                ideal_s = size / line.bytes_per_s
                for variant in case.lrzsz:
                    run = lrzsz_variant(
                        variant, line, case_seed, image, folder, timeout_s=6 * ideal_s + 20
                    )
                    value = run.efficiency(size, line)
                    if variant.startswith("ZMODEM") and run.finished:
                        best_zmodem = max(best_zmodem, value)
                    text = f"{value:.1%}" if run.finished else f"< {value:.1%}"
                    state = "" if run.finished else "file differs" if run.ended else "timed out"
                    lines.append((variant, text, state))
            goal_text = ""
            if case.goal is not None:
                goal_text = f">= {case.goal:.0%}"
                failures += ours < case.goal
                if line.error_rate == 1e-4:
                    goal_text += ", ahead of ZMODEM"
                    failures += ours <= best_zmodem
            for n, (what, value, note) in enumerate(lines):
                first = n == 0
                rows.append((label if first else "", what, value, goal_text if first else "", note))
        transfer_share, line_share, note = _whole_command(seed, folder)
        wline, wsize, wgoal = WHOLE_COMMAND
        failures += transfer_share < wgoal
        rows.append(
            (
                f"{wline.label()}, {wsize // KIB} KiB",
                "whole command: transfer time / command time",
                f"{transfer_share:.1%}",
                f">= {wgoal:.0%}",
                f"{note}; payload at line rate / command time {line_share:.1%}",
            )
        )
    print(table(rows, ("line", "transfer", "efficiency", "goal", "")))
    return 1 if failures else 0
