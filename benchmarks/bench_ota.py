"""Simulated OTA: virtual time over wall time, and the prediction against the simulation.

    python -m benchmarks ota

A 300 KB image (a typical bridge firmware) through the bridge's own OTA client, 63-byte
blocks, on the default radio (0.25-0.85 s per block exchange), in this process over
`emu://` and through a separate `bridgelab emulate` process on a pty (115200 baud, 1 ms):

* simulated duration / wall time (goal >= 1000x, on emu://);
* predicted duration (before the start) against the simulated one: within 5 % on a
  loss-free radio, within 15 % at 5 % loss per exchange (`han-loss-rate=0.05`, with the
  policy told to expect it), over several seeds.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

from benchmarks.emulators import emulator_processes, signed_image, table
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.request import UpdateRequest

SIZE = 300 * 1024
POLICY = UpdatePolicy(healthy_s=0.0)
SEEDS = (1, 2, 3)


def _ota(url: str, image: Path, policy: UpdatePolicy) -> tuple[float, float, float]:
    result = UpdateEngine(UpdateRequest(url, image, mode="ota", policy=policy)).run()
    if (
        not result.ok
        or result.simulated_duration_s is None
        or result.predicted_ota_duration_s is None
    ):
        raise RuntimeError(f"OTA failed: {result.error}")
    return result.simulated_duration_s, result.predicted_ota_duration_s, result.duration_s


def main(argv: list[str]) -> int:
    del argv
    rows: list[tuple[str, ...]] = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="bench-ota-") as folder:
        image = signed_image(Path(folder) / "ota-300k.ota", SIZE)
        for loss, goal in ((0.0, 0.05), (0.05, 0.15)):
            policy = replace(POLICY, ota_loss_rate=loss)
            errors, ratios = [], []
            for seed in SEEDS:
                faults = f"&han-loss-rate={loss}" if loss else ""
                simulated, predicted, wall = _ota(f"emu://demo?seed={seed}{faults}", image, policy)
                errors.append(abs(predicted - simulated) / simulated)
                ratios.append(simulated / wall)
            worst = max(errors)
            failures += worst > goal
            rows.append(
                (
                    f"emu://, loss {loss:.0%}",
                    f"{statistics.mean(ratios):,.0f}x",
                    f"{simulated / 60:.1f} min",
                    f"{worst:.1%} (goal < {goal:.0%})",
                )
            )
            failures += min(ratios) < 1000
        with emulator_processes([["--baud", "115200", "--adapter-latency-ms", "1"]]) as (url,):
            simulated, predicted, wall = _ota(url, image, POLICY)
        rows.append(
            (
                "pty 115200 baud, 1 ms",
                f"{simulated / wall:,.0f}x",
                f"{simulated / 60:.1f} min",
                f"{abs(predicted - simulated) / simulated:.1%}",
            )
        )
    print(f"{SIZE // 1024} KiB image, 63-byte blocks, seeds {SEEDS}")
    print(table(rows, ("bridge", "simulated / wall", "simulated", "prediction error (worst)")))
    return 1 if failures else 0
