"""Reading real vendor OTA files: Bridge Lab's full read beside zigpy's parse, in one run.

For each file in ../shared/fixtures/ota-real/ (skipped when absent): the median of 30
runs of `parse_image` + `assess_image` (form detection, container, trailing bytes, inner
GBL/EBL walk and CRC-32, hashes) and of zigpy's `parse_ota_image` (a test-time reference,
dev extra only), and their ratio. Goal: every file read in under 20 ms (the budget of
issue 2 for inspect + verify of a 1 MiB image).

    python -m benchmarks vendor_files
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from bridgelab.firmware.image import parse_image
from bridgelab.firmware.verify import assess_image

RUNS = 30
GOAL_MS = 20.0
FOLDER = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "ota-real"


def _median_ms(action: object, data: bytes) -> float:
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action(data)  # type: ignore[operator]
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _ours(data: bytes) -> None:
    assess_image(parse_image(data), None)


def main(argv: list[str]) -> int:
    del argv
    if not (FOLDER / "MANIFEST.tsv").is_file():
        print(f"skipped: no vendor files in {FOLDER}")
        return 0
    try:
        from zigpy.ota.image import parse_ota_image
    except ImportError:
        parse_ota_image = None
    names = [line.split("\t")[0] for line in (FOLDER / "MANIFEST.tsv").read_text().splitlines()]
    worst = 0.0
    print(f"{'file':<44}{'bytes':>9}{'ours ms':>9}{'zigpy ms':>10}{'ratio':>7}")
    for name in names[1:]:
        data = (FOLDER / name).read_bytes()
        ours = _median_ms(_ours, data)
        theirs = _median_ms(parse_ota_image, data) if parse_ota_image else float("nan")
        worst = max(worst, ours)
        print(f"{name[:43]:<44}{len(data):>9,}{ours:>9.2f}{theirs:>10.2f}{ours / theirs:>7.2f}")
    print(f"({RUNS} runs each, medians; worst {worst:.2f} ms, goal < {GOAL_MS:.0f} ms)")
    print("goals met" if worst < GOAL_MS else "GOAL MISSED")
    return 0 if worst < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
