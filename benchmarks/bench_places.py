"""labgrid places: the time a campaign takes to acquire and release 16 places.

    python -m benchmarks places

A real `labgrid-coordinator` and one `labgrid-exporter` on 127.0.0.1 publish 16 ptys as
the places rack-01 ... rack-16. One round is what a campaign over `places = "rack-*"` does
before its first update and after its last: `PlaceBooking.acquire` (connect, expand the
pattern, acquire each place, wait until the exporter has started its ser2net and
published the RFC 2217 port) and `PlaceBooking.release`. Median and worst of 3 rounds.
Most of it is labgrid's: the exporter starts one ser2net per place and waits 0.5 s to see
it did not exit at once.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.emulators import table

PLACES, ROUNDS = 16, 3


def main(argv: list[str]) -> int:
    del argv
    import pytest

    try:
        from tests.rig_processes import LabgridCoordinator, LabgridExporter, labgrid_bin
    except ImportError as error:  # run from the repository root: `make bench`
        print(f"skipped: {error}")
        return 0
    from bridgelab.updates.campaign import CampaignPlan, PlannedJob
    from bridgelab.updates.campaign_places import PlaceBooking
    from bridgelab.updates.labgrid_places import Coordinator

    names = [f"rack-{n:02d}" for n in range(1, PLACES + 1)]
    ptys = []  # the ptys stay open (both ends) for the whole run: the ports exist
    for _ in names:
        master, slave = os.openpty()
        ptys.append((master, slave))
    started = []
    acquire_s: list[float] = []
    release_s: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-places-") as folder:
            root = Path(folder)
            try:
                coordinator = LabgridCoordinator(root / "coordinator")
                served = {
                    name: os.ttyname(slave) for name, (_, slave) in zip(names, ptys, strict=True)
                }
                exporter = LabgridExporter("rack", coordinator.address, served, root)
                client = labgrid_bin("labgrid-client")
            except pytest.skip.Exception as skipped:
                print(f"skipped: {skipped}")
                return 0
            started += [coordinator.start(), exporter.start()]
            env = {**os.environ, "LG_COORDINATOR": coordinator.address}
            for name in names:
                for args in (["create"], ["add-match", f"rack/{name}/NetworkSerialPort"]):
                    subprocess.run(
                        [client, "-p", name, *args], check=True, env=env, capture_output=True
                    )
            with Coordinator(coordinator.address) as session:
                deadline = time.monotonic() + 60
                while not all(info.exporters for info in session.places()):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the exporter did not publish its ports")
                    time.sleep(0.1)
            plan = CampaignPlan(
                "bench",
                (PlannedJob(0, "", root / "unused.ota", place="rack-*"),),
                coordinator=coordinator.address,
            )
            for _ in range(ROUNDS):
                clock = time.perf_counter()
                booking = PlaceBooking.acquire(plan)
                acquire_s.append(time.perf_counter() - clock)
                if len(booking.jobs) != PLACES:
                    raise RuntimeError(f"booked {len(booking.jobs)} places")
                clock = time.perf_counter()
                booking.release()
                release_s.append(time.perf_counter() - clock)
    finally:
        for process in reversed(started):
            process.stop()
        for master, slave in ptys:
            os.close(master)
            os.close(slave)
    rows = [
        (
            f"acquire {PLACES} places (and resolve their RFC 2217 URLs)",
            f"{statistics.median(acquire_s):.2f} s",
            f"{max(acquire_s):.2f} s",
            f"{statistics.median(acquire_s) / PLACES * 1000:.0f} ms",
        ),
        (
            f"release {PLACES} places",
            f"{statistics.median(release_s):.2f} s",
            f"{max(release_s):.2f} s",
            f"{statistics.median(release_s) / PLACES * 1000:.0f} ms",
        ),
    ]
    print(f"labgrid coordinator and one exporter on 127.0.0.1, {ROUNDS} rounds")
    print(table(rows, ("what", "median", "worst", "per place")))
    return 0
