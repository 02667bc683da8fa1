"""Campaign scaling: 32 emulated bridges at 115200 baud in parallel lanes.

    python -m benchmarks campaign

Each bridge is a separate `bridgelab emulate` process on its own pty (paced at 115200
baud, 1 ms adapter latency). In one run: a single bridge alone, then a 32-lane campaign
over 32 bridges, the same 64 KiB image each. Reported: the aggregate transfer throughput
over 32 x the single bridge's, the whole-campaign time ratio (the single bridge's campaign
time over the 32-lane campaign's: 1.0 when 32 take no longer than one; goal >= 0.95), and
the tool's own CPU time (all its threads; the emulator processes are not the tool) over
the campaign's wall time (goal < 0.5 core). BENCH_CAMPAIGN_RUNS runs (3, about 20 s each)
give min / median / max; the goals are judged on the medians.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench_line import runs_setting, spread
from benchmarks.emulators import emulator_processes, signed_image, table
from bridgelab.updates.campaign import CampaignPlan, PlannedJob, run_campaign
from bridgelab.updates.policy import UpdatePolicy

LANES = 32
SIZE = 64 * 1024
ARGS = ["--baud", "115200", "--adapter-latency-ms", "1"]
RUNS = 3  # BENCH_CAMPAIGN_RUNS


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _plan(urls: list[str], image: Path) -> CampaignPlan:
    jobs = tuple(PlannedJob(index=n, port=url, image=image) for n, url in enumerate(urls))
    return CampaignPlan(
        name="bench",
        jobs=jobs,
        lanes=len(urls),
        policy=UpdatePolicy(healthy_s=0.0),
        order=("plan",),
    )


@dataclass
class CampaignRun:
    single_bps: float
    single_s: float
    aggregate_bps: float
    lanes_s: float
    cores: float
    passed: int

    @property
    def throughput_ratio(self) -> float:
        return self.aggregate_bps / (LANES * self.single_bps)

    @property
    def time_ratio(self) -> float:
        return self.single_s / self.lanes_s


def _one_run(image: Path) -> CampaignRun:
    with emulator_processes([ARGS]) as urls:
        single = run_campaign(_plan(urls, image))
    single_result = single.jobs[0].last
    assert single_result is not None and single_result.throughput_bps
    with emulator_processes([ARGS] * LANES) as urls:
        cpu_before, wall_before = _cpu_s(), time.monotonic()
        summary = run_campaign(_plan(urls, image))
        cpu, wall = _cpu_s() - cpu_before, time.monotonic() - wall_before
    results = [job.last for job in summary.jobs]
    passed = sum(1 for r in results if r is not None and r.ok)
    throughputs = [r.throughput_bps for r in results if r is not None and r.throughput_bps]
    return CampaignRun(
        single_result.throughput_bps,
        single.duration_s,
        sum(throughputs),
        summary.duration_s,
        cpu / wall,
        passed,
    )


def main(argv: list[str]) -> int:
    del argv
    runs = runs_setting("BENCH_CAMPAIGN_RUNS", RUNS)
    print(f"{runs} run(s) (BENCH_CAMPAIGN_RUNS); figures: min / median / max over the runs")
    with tempfile.TemporaryDirectory(prefix="bench-campaign-") as folder:
        image = signed_image(Path(folder) / "campaign.ota", SIZE)
        done = [_one_run(image) for _ in range(runs)]
    passed = min(r.passed for r in done)
    rows = [
        (
            "single bridge",
            spread([r.single_bps for r in done], "{:,.0f}") + " B/s",
            "",
            spread([r.single_s for r in done], "{:.2f}") + " s",
            "",
        ),
        (
            f"{LANES} lanes ({passed}/{LANES} passed, worst run)",
            spread([r.aggregate_bps for r in done], "{:,.0f}") + " B/s",
            spread([r.throughput_ratio for r in done], "{:.3f}"),
            spread([r.lanes_s for r in done], "{:.2f}")
            + " s: "
            + spread([r.time_ratio for r in done], "{:.3f}")
            + " (goal >= 0.95)",
            spread([r.cores for r in done], "{:.2f}") + " cores (goal < 0.5)",
        ),
    ]
    header = ("run", "transfer throughput", f"vs {LANES} x single", "campaign time", "tool CPU")
    print(table(rows, header))
    time_ratio = statistics.median(r.time_ratio for r in done)
    cores = statistics.median(r.cores for r in done)
    return 0 if time_ratio >= 0.95 and cores < 0.5 and passed == LANES else 1
