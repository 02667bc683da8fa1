"""Transfer speed on an independent line, side by side with lrzsz ZMODEM and XMODEM.

    python -m benchmarks line          (BENCH_LINE_SEED=N repeats a run's bit errors)
    make bench BENCH_ARGS=line BENCH_LINE_RUNS=3 BENCH_LINE_COMPARE_RUNS=1   (the defaults)

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
off) with 256 KiB at 921600 / 16 ms, and the share of its time spent in the transfer: of
the whole command, and of the command less the emulated bridge's own boot and rejoin
(its profile's `boot_s` + `rejoin_s`, which no tool can shorten), with the time per stage.

Every Bridge Lab row and the whole command run BENCH_LINE_RUNS times (3), each run with its
own seeds, and print min / median / max; a goal is met on the median. The comparisons
(protocol 1, XMODEM, ZMODEM) run BENCH_LINE_COMPARE_RUNS times (1), except ZMODEM on the
1e-4 row, whose goal ("ahead of ZMODEM") is judged within each run.
"""

from __future__ import annotations

import json
import os
import random
import statistics
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
    LrzszRun,
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
RUNS = 3  # of Bridge Lab's rows and the whole command (BENCH_LINE_RUNS)
COMPARE_RUNS = 1  # of protocol 1, XMODEM and ZMODEM (BENCH_LINE_COMPARE_RUNS)


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


@dataclass
class WholeCommand:
    wall_s: float
    transfer_s: float  # payload bytes / the transfer's throughput (first write to last ack)
    ideal_s: float  # the payload at the line's 8N1 rate
    bridge_s: float  # the emulated bridge's own boot and rejoin, inside the command
    stages: dict[str, float]
    problem: str = ""

    @property
    def share(self) -> float:
        return self.transfer_s / self.wall_s if self.wall_s else 0.0

    @property
    def tool_share(self) -> float:
        """Transfer over the command's time less the bridge's own boot and rejoin: what
        the tool's own fixed cost leaves of the command."""
        rest = self.wall_s - self.bridge_s
        return self.transfer_s / rest if rest > 0 else 0.0

    @property
    def outside_s(self) -> float:
        return self.wall_s - sum(self.stages.values())


def _bridge_own_s() -> float:
    """Boot and rejoin of the bridge the benchmark runs (the default profile)."""
    from bridgelab.emulator.profiles import load_profile

    profile = load_profile("demo")
    return profile.boot_s + profile.rejoin_s


def _whole_command(seed: int, folder: Path) -> WholeCommand:
    """One `bridgelab update` process, start-up to exit."""
    line, size, _ = WHOLE_COMMAND
    image = signed_image(folder / f"image-{size}.ota", size)
    bridge_s = _bridge_own_s()
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
    ideal_s = size / line.bytes_per_s
    if done.returncode != 0:
        problem = f"failed: {done.stdout.strip()[-200:]} {done.stderr.strip()[-200:]}"
        return WholeCommand(wall, 0.0, ideal_s, bridge_s, {}, problem)
    result = json.loads(done.stdout)
    transfer_s = result["bytes"] / result["throughput_bps"]
    return WholeCommand(wall, transfer_s, ideal_s, bridge_s, result.get("stage_s") or {})


def spread(values: list[float], form: str = "{:.1%}") -> str:
    """min / median / max of a row's runs (one value as itself)."""
    if not values:
        return "-"
    if len(values) == 1:
        return form.format(values[0])
    low, mid, high = min(values), statistics.median(values), max(values)
    return " / ".join(form.format(v) for v in (low, mid, high))


def runs_setting(name: str, default: int) -> int:
    """How many runs the environment variable `name` asks for (`default` if unset)."""
    text = os.environ.get(name, "")
    try:
        return max(1, int(text)) if text else default
    except ValueError:
        print(f"{name}={text!r} is not a whole number: {default} used")
        return default


def main(argv: list[str]) -> int:
    del argv
    seed = int(os.environ.get("BENCH_LINE_SEED") or random.randrange(1, 1 << 30))
    runs = runs_setting("BENCH_LINE_RUNS", RUNS)
    compare_runs = min(runs, runs_setting("BENCH_LINE_COMPARE_RUNS", COMPARE_RUNS))
    started = time.monotonic()
    print(f"line seed {seed} (BENCH_LINE_SEED={seed} repeats these bit errors)")
    print(
        f"{runs} run(s) of Bridge Lab's rows and the whole command (BENCH_LINE_RUNS), "
        f"{compare_runs} of protocol 1, XMODEM and ZMODEM (BENCH_LINE_COMPARE_RUNS; ZMODEM "
        f"on the 1e-4 row every run, its goal compares within a run); run r uses seed "
        f"{seed} + 100 r + the row's index. Figures: min / median / max over the runs."
    )
    try:
        load = os.getloadavg()
        print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    except OSError:
        pass
    if not have_lrzsz():
        print("lrzsz (sz, rz) not installed: Debian package lrzsz; its rows are skipped")
    rows: list[tuple[str, ...]] = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="bench-line-") as name:
        folder = Path(name)
        for index, case in enumerate(CASES):
            line, size = case.line, case.size
            image = signed_image(folder / f"image-{size}.ota", size)
            label = f"{line.label()}, {size // KIB} KiB"
            ahead_of_zmodem = line.error_rate == 1e-4
            ours: list[float] = []
            before: list[float] = []
            notes: list[str] = []
            before_notes: list[str] = []
            variants: dict[str, list[LrzszRun]] = {v: [] for v in case.lrzsz}
            behind_zmodem = 0
            for run in range(runs):
                case_seed = seed + 100 * run + index
                value, note = _bridge_lab(case, case_seed, image)
                ours.append(value)
                notes.append(note)
                if run < compare_runs:
                    value, note = _bridge_lab(case, case_seed, image, WINDOWED)
                    before.append(value)
                    before_notes.append(note)
                if not have_lrzsz():
                    continue
                best_zmodem = 0.0
                ideal_s = size / line.bytes_per_s
                for variant in case.lrzsz:
                    is_zmodem = variant.startswith("ZMODEM")
                    if run >= compare_runs and not (ahead_of_zmodem and is_zmodem):
                        continue
                    lrz = lrzsz_variant(
                        variant, line, case_seed, image, folder, timeout_s=6 * ideal_s + 20
                    )
                    variants[variant].append(lrz)
                    if is_zmodem and lrz.finished:
                        best_zmodem = max(best_zmodem, lrz.efficiency(size, line))
                if ahead_of_zmodem and ours[-1] <= best_zmodem:
                    behind_zmodem += 1
            lines = [
                ("Bridge Lab (protocol 2, selective repeat)", spread(ours), "; ".join(notes)),
                (
                    "Bridge Lab, protocol 1 windowed (before)",
                    spread(before),
                    "; ".join(before_notes),
                ),
            ]
            for variant, done in variants.items():
                if not done:
                    continue
                values = [r.efficiency(size, line) for r in done]
                unfinished = [r for r in done if not r.finished]
                text = spread(values)
                state = ""
                if unfinished:
                    text = "< " + text if len(unfinished) == len(done) else text
                    state = ", ".join(
                        "file differs" if r.ended else "timed out" for r in unfinished
                    )
                    state = f"{len(unfinished)} of {len(done)} unfinished ({state})"
                lines.append((variant, text, state))
            goal_text = ""
            if case.goal is not None:
                goal_text = f">= {case.goal:.0%}"
                failures += statistics.median(ours) < case.goal
                if ahead_of_zmodem:
                    goal_text += ", ahead of ZMODEM"
                    failures += behind_zmodem > 0
                    lines[0] = (
                        *lines[0][:2],
                        f"{lines[0][2]}; behind ZMODEM in {behind_zmodem} of {runs} runs",
                    )
            print(f"  {label}: {spread(ours)} ({time.monotonic() - started:.0f} s)", flush=True)
            for n, (what, value, note) in enumerate(lines):
                first = n == 0
                rows.append((label if first else "", what, value, goal_text if first else "", note))
        wline, wsize, wgoal = WHOLE_COMMAND
        commands = [_whole_command(seed + 100 * run, folder) for run in range(runs)]
        problems = [c.problem for c in commands if c.problem]
        good = [c for c in commands if not c.problem]
        failures += bool(problems) or statistics.median(c.share for c in good) < wgoal
        wlabel = f"{wline.label()}, {wsize // KIB} KiB"
        stage_names = list(dict.fromkeys(n for c in good for n in c.stages))
        stage_text = ", ".join(
            f"{n} {spread([c.stages.get(n, 0.0) for c in good], '{:.2f}')}" for n in stage_names
        )
        bridge_s = good[0].bridge_s if good else _bridge_own_s()
        rows += [
            (
                wlabel,
                "whole command: transfer time / command time",
                spread([c.share for c in good]),
                f">= {wgoal:.0%}",
                "; ".join(problems),
            ),
            (
                "",
                f"  transfer / (command - the bridge's own boot and rejoin, {bridge_s:.2f} s)",
                spread([c.tool_share for c in good]),
                "",
                "the tool's own share",
            ),
            ("", "  command time (s)", spread([c.wall_s for c in good], "{:.2f}"), "", ""),
            (
                "",
                "  per stage (s)",
                f"start-up and exit {spread([c.outside_s for c in good], '{:.2f}')}",
                "",
                stage_text,
            ),
            (
                "",
                "  payload at line rate / command time",
                spread([c.ideal_s / c.wall_s for c in good]),
                "",
                "",
            ),
        ]
    print(table(rows, ("line", "transfer", "efficiency", "goal", "")))
    print(f"bench_line: {time.monotonic() - started:.0f} s for {runs} run(s)")
    return 1 if failures else 0
