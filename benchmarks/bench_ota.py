"""Simulated OTA: virtual time over wall time, and the prediction against the simulation.

    python -m benchmarks ota        (make bench BENCH_ARGS=ota)

A 300 KiB image (a typical bridge firmware) through the bridge's own OTA client, 63-byte
blocks, on the default radio (0.25-0.85 s per block exchange). Each row is 3 runs (seeds
1, 2, 3, a fresh bridge each) and gives min / median / max of simulated duration / wall
time, the wall time being the whole `bridgelab update` session (identify to confirm):

* in this process over `emu://` (goal >= 2,000x), loss-free and at 5 % loss per exchange
  (`han-loss-rate=0.05`, with the policy told to expect it);
* through a separate `bridgelab emulate` process on a pty opened at 115200 baud with
  1 ms adapter latency, the session moving the line to the fastest rate the bridge offers
  for the OTA (goal >= 100x); the rate the tunnel actually ran at is printed (from the
  session's own notice);
* the same pty held at 115200 (rate switch off), 1 run: what the batched tunnel alone does.

The prediction (made before the start) against the simulated duration: within 5 %
loss-free, within 15 % at 5 % loss (worst of the runs). The simulated time is the radio
model's, unchanged by how the tunnel carries the frames.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.emulators import emulator_processes, signed_image, table
from bridgelab.updates import events as ev
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.ota_line_rate import RATE_NOTICE
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.request import UpdateRequest

SIZE = 300 * 1024
POLICY = UpdatePolicy(healthy_s=0.0)
SEEDS = (1, 2, 3)
IN_PROCESS_GOAL = 2000
SERIAL_GOAL = 100


@dataclass
class _Run:
    simulated_s: float
    predicted_s: float
    wall_s: float
    line: str

    @property
    def ratio(self) -> float:
        return self.simulated_s / self.wall_s

    @property
    def error(self) -> float:
        return abs(self.predicted_s - self.simulated_s) / self.simulated_s


def _ota(url: str, image: Path, policy: UpdatePolicy) -> _Run:
    notices: list[str] = []

    def listen(event: ev.UpdateEvent) -> None:
        if isinstance(event, ev.Notice) and event.code == RATE_NOTICE:
            notices.append(event.message.removeprefix("OTA tunnel at ").rstrip("."))

    request = UpdateRequest(url, image, mode="ota", policy=policy)
    result = UpdateEngine(request, subscribers=[listen]).run()
    if (
        not result.ok
        or result.simulated_duration_s is None
        or result.predicted_ota_duration_s is None
    ):
        raise RuntimeError(f"OTA failed: {result.error}")
    return _Run(
        result.simulated_duration_s,
        result.predicted_ota_duration_s,
        result.duration_s,
        "; ".join(notices) or "?",
    )


def _row(name: str, runs: list[_Run], goal: str) -> tuple[str, ...]:
    ratios = sorted(run.ratio for run in runs)
    spread = (
        f"{ratios[0]:,.0f} / {statistics.median(ratios):,.0f} / {ratios[-1]:,.0f}x"
        if len(ratios) > 1
        else f"{ratios[0]:,.0f}x"
    )
    lines = sorted({run.line for run in runs})
    simulated = statistics.mean(run.simulated_s for run in runs)
    worst = max(run.error for run in runs)
    return (name, spread, goal, " | ".join(lines), f"{simulated / 60:.1f} min", f"{worst:.1%}")


def main(argv: list[str]) -> int:
    del argv
    rows: list[tuple[str, ...]] = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="bench-ota-") as folder:
        image = signed_image(Path(folder) / "ota-300k.ota", SIZE)
        for loss, error_goal in ((0.0, 0.05), (0.05, 0.15)):
            policy = replace(POLICY, ota_loss_rate=loss)
            faults = f"&han-loss-rate={loss}" if loss else ""
            runs = [_ota(f"emu://demo?seed={seed}{faults}", image, policy) for seed in SEEDS]
            for run in runs:  # the host's port took the rate; an in-process line has none
                run.line = f"unpaced (switched to {run.line})"
            failures += max(run.error for run in runs) > error_goal
            failures += statistics.median(run.ratio for run in runs) < IN_PROCESS_GOAL
            rows.append(
                _row(
                    f"in-process emu://, loss {loss:.0%}",
                    runs,
                    f">= {IN_PROCESS_GOAL:,}x; error < {error_goal:.0%}",
                )
            )
        pty_args = ["--baud", "115200", "--adapter-latency-ms", "1"]
        with emulator_processes([[*pty_args, "--seed", str(seed)] for seed in SEEDS]) as urls:
            runs = [_ota(url, image, POLICY) for url in urls]
        failures += statistics.median(run.ratio for run in runs) < SERIAL_GOAL
        rows.append(_row("pty opened at 115200, 1 ms, fastest rate", runs, f">= {SERIAL_GOAL}x"))
        with emulator_processes([[*pty_args, "--seed", "1"]]) as (url,):
            held = _ota(url, image, replace(POLICY, ota_fastest_line_rate=False))
        rows.append(_row("pty held at 115200, 1 ms (1 run)", [held], ""))
    print(f"{SIZE // 1024} KiB image, 63-byte blocks, seeds {SEEDS}; wall = the whole session")
    print(
        table(
            rows,
            (
                "bridge",
                "simulated / wall (min / median / max)",
                "goal",
                "tunnel's line",
                "simulated",
                "prediction error (worst)",
            ),
        )
    )
    return 1 if failures else 0
