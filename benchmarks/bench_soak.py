"""Soak: many unattended local updates over a noisy line.

    python -m benchmarks soak [--count 1000] [--error-rate 1e-4]

Each update goes to a fresh emulated bridge (in-process, 50 ms boot) whose line flips one
bit per 10,000 bytes on average, both ways (`corrupt-rate`), with a different seed each
time. Goals: >= 99 % of updates succeed with no one watching, and 100 % of failures carry
a failure class and stage. Also reported: retries per update and the wall time.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.emulators import table
from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.request import UpdateRequest

POLICY = UpdatePolicy(healthy_s=0.05)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks soak")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--error-rate", type=float, default=1e-4)
    args = parser.parse_args(argv)
    image = DEMO_IMAGES[0].path
    outcomes: collections.Counter[str] = collections.Counter()
    unclassified = 0
    retries: list[int] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as folder:
        profile = Path(folder) / "fast.toml"
        profile.write_text('base = "demo"\nboot_s = 0.05\nrejoin_s = 0.05\n', encoding="utf-8")
        for seed in range(args.count):
            url = f"emu://{profile}?corrupt-rate={args.error_rate}&seed={seed}"
            result = UpdateEngine(UpdateRequest(url, image, policy=POLICY)).run()
            outcomes[result.result] += 1
            retries.append(result.retries)
            if not result.ok and not (result.failure_stage and result.error):
                unclassified += 1
    wall = time.monotonic() - started
    success = outcomes["success"] / args.count
    failed = args.count - outcomes["success"]
    rows = [
        ("updates", str(args.count)),
        ("image", f"{image.stat().st_size:,} bytes"),
        ("per-byte error rate", f"{args.error_rate:g}"),
        ("succeeded unattended", f"{success:.1%} (goal >= 99 %)"),
        ("failures classified", f"{failed - unclassified}/{failed}"),
        ("outcomes", ", ".join(f"{k} {v}" for k, v in outcomes.most_common())),
        ("retries per update", f"mean {statistics.mean(retries):.1f}, max {max(retries)}"),
        ("wall time", f"{wall:.0f} s ({wall / args.count:.2f} s per update)"),
    ]
    print(table(rows, ("measure", "value")))
    return 0 if success >= 0.99 and unclassified == 0 else 1
