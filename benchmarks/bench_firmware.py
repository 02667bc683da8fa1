"""Firmware image checks: time to inspect + verify, and memory for the largest image.

Goals (docs/firmware-format.md, issue 2): inspect + verify of a 1 MiB signed image under
20 ms (median and p95 over 50 runs, file in the page cache); peak memory growth for a
16 MiB image under 3x the file size, measured as resident-set growth in a fresh process
(the kernel's high-water mark, so every allocation counts, not only Python's).

    python -m benchmarks firmware
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bridgelab.firmware.compat import DeviceIdentity
from bridgelab.firmware.files import DEFAULT_MAX_IMAGE_SIZE
from bridgelab.firmware.image import BodyForm, build_image, load_image
from bridgelab.firmware.keys import generate_private_key, save_public_key
from bridgelab.firmware.signing import sign_image
from bridgelab.firmware.trust import TrustStore
from bridgelab.firmware.verify import assess_image

MIB = 1024 * 1024
RUNS = 50
TIME_GOAL_MS = 20.0
MEMORY_GOAL_RATIO = 3.0
DEVICE = DeviceIdentity(0x121D, 0x0042, hardware_version=0x0101, file_version=1)
# gbcs header with a hardware range (60 bytes) + trailer (66 bytes) around the payload.
GBCS_OVERHEAD = 60 + 66

# Runs in a fresh interpreter: import and warm up everything first, then reset the
# kernel's peak-RSS mark (clear_refs "5") so the peak covers only load + verify.
_MEMORY_PROBE = r"""
import json, resource, sys
from bridgelab.firmware.image import load_image
from bridgelab.firmware.trust import TrustStore
from bridgelab.firmware.verify import assess_image
from bridgelab.firmware.compat import DeviceIdentity

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)

store = TrustStore.load(sys.argv[2])
device = DeviceIdentity(0x121D, 0x0042, hardware_version=0x0101, file_version=1)
assess_image(load_image(sys.argv[3]), store, device)  # warm-up on a small image
baseline = status("VmRSS")
try:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    method = "VmHWM after clear_refs"
except OSError:
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    method = "ru_maxrss (peak before the run not resettable)"
report = assess_image(load_image(sys.argv[1]), store, device)
assert report.ok, report.to_dict()
print(json.dumps({"baseline": baseline, "peak": status("VmHWM"), "method": method}))
"""


def _signed_image(payload_size: int, key: object) -> bytes:
    unsigned = build_image(
        manufacturer_code=0x121D,
        image_type=0x0042,
        file_version=2,
        manufacturer_image=os.urandom(payload_size),
        body_form=BodyForm.GBCS,
        min_hw_version=0x0100,
        max_hw_version=0x01FF,
    )
    return sign_image(unsigned, key)  # type: ignore[arg-type]


def _time_inspect_verify(path: Path, store: TrustStore) -> list[float]:
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        report = assess_image(load_image(path), store, DEVICE)
        timings.append((time.perf_counter() - started) * 1000)
        if not report.ok:
            raise RuntimeError(f"benchmark image refused: {report.to_dict()['findings']}")
    return timings


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _memory_growth(path: Path, trust: Path, small: Path) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(path), str(trust), str(small)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    measured = json.loads(result.stdout)
    return measured["peak"] - measured["baseline"], measured["method"]


def main(argv: list[str]) -> int:
    del argv
    key = generate_private_key()
    with tempfile.TemporaryDirectory(prefix="bench-firmware-") as folder:
        root = Path(folder)
        trust = root / "trust"
        trust.mkdir()
        save_public_key(key.public_key(), trust / "121D-bench.pem")
        store = TrustStore.load(trust)

        one_mib = root / "1mib.ota"
        one_mib.write_bytes(_signed_image(MIB - GBCS_OVERHEAD, key))
        small = root / "small.ota"
        small.write_bytes(_signed_image(1024, key))
        largest = root / "16mib.ota"
        largest.write_bytes(_signed_image(DEFAULT_MAX_IMAGE_SIZE - GBCS_OVERHEAD, key))
        largest_size = largest.stat().st_size

        timings = _time_inspect_verify(one_mib, store)
        median, p95 = statistics.median(timings), _percentile(timings, 0.95)
        growth, method = _memory_growth(largest, trust, small)
    ratio = growth / largest_size
    time_ok = p95 < TIME_GOAL_MS
    memory_ok = ratio < MEMORY_GOAL_RATIO
    rows = [
        ("inspect+verify 1 MiB, median", f"{median:.2f} ms", f"< {TIME_GOAL_MS:.0f} ms"),
        ("inspect+verify 1 MiB, p95", f"{p95:.2f} ms", f"< {TIME_GOAL_MS:.0f} ms"),
        ("16 MiB image, peak RSS growth", f"{growth / MIB:.1f} MiB", ""),
        ("  as a multiple of the file size", f"{ratio:.2f}x", f"< {MEMORY_GOAL_RATIO:.0f}x"),
    ]
    print(f"{'measure':<34}{'figure':>12}  goal")
    for name, figure, goal in rows:
        print(f"{name:<34}{figure:>12}  {goal}")
    print(f"({RUNS} runs; file {largest_size:,} bytes; memory by {method})")
    print("goals met" if time_ok and memory_ok else "GOAL MISSED")
    return 0 if time_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
