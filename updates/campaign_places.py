"""A campaign's labgrid places: acquired before anything runs, watched, always released.

`PlaceBooking.acquire(plan)` connects to the coordinator (a coordinator that cannot be
reached stops the campaign before anything runs), expands place patterns into one job per
matching place, acquires every place (all or none: a place someone else holds releases
what was taken and raises PlaceBusy naming the holder, after waiting at most the plan's
`wait_s`), and resolves each one to the RFC 2217 URL its exporter serves. While the
campaign runs, a watcher thread asks the coordinator every `WATCH_S` whether each running
job's rig is still there and stops a job whose exporter vanished as `rig-lost`; the
other jobs carry on. `release()` unlocks every place, whatever happened.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, replace

from bridgelab.updates.campaign import CampaignPlan, PlanError, PlannedJob
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.labgrid_places import Coordinator, RigError, SerialEndpoint

WATCH_S = 0.2
PATTERN_CHARS = "*?["


def is_pattern(place: str) -> bool:
    return any(char in place for char in PATTERN_CHARS)


@dataclass
class _Watched:
    place: str
    engine: UpdateEngine


class PlaceBooking:
    """The places one campaign holds; build with `acquire()`, end with `release()`."""

    def __init__(
        self,
        coordinator: Coordinator,
        jobs: list[PlannedJob],
        endpoints: dict[str, SerialEndpoint],
    ) -> None:
        self.coordinator = coordinator
        self.jobs = jobs
        self.endpoints = endpoints
        self._lock = threading.Lock()
        self._watched: dict[int, _Watched] = {}  # id(engine) -> what it runs on
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch_loop, name="rig-watch", daemon=True)
        self._thread.start()

    @classmethod
    def acquire(cls, plan: CampaignPlan) -> PlaceBooking:
        coordinator = Coordinator(plan.coordinator)
        held: list[str] = []
        try:
            wanted = _expand(plan, coordinator)
            deadline = time.monotonic() + plan.wait_s
            for place in dict.fromkeys(place for _job, place in wanted if place):
                remaining = max(0.0, deadline - time.monotonic()) if plan.wait_s else 0.0
                coordinator.acquire(place, wait_s=remaining)
                held.append(place)
            endpoints = {place: coordinator.endpoint(place) for place in held}
        except BaseException:
            for place in held:
                # The error that stopped the booking is the one to report.
                with contextlib.suppress(RigError):
                    coordinator.release(place)
            coordinator.close()
            raise
        jobs = []
        for index, (job, place) in enumerate(wanted):
            if not place:
                jobs.append(replace(job, index=index))
                continue
            endpoint = endpoints[place]
            rig = (
                ("place", place),
                ("exporter", endpoint.exporter),
                ("exporter_host", endpoint.host),
                ("coordinator", coordinator.address),
            )
            jobs.append(
                replace(
                    job,
                    index=index,
                    port=endpoint.url,
                    place=place,
                    label=job.label or place,
                    rig=rig,
                )
            )
        return cls(coordinator, jobs, endpoints)

    # ------------------------------------------------------------- watching

    def watch(self, job: PlannedJob, engine: UpdateEngine) -> None:
        """Watch `engine`'s rig while it runs; a rig already gone stops it at once."""
        if not job.place:
            return
        with self._lock:
            self._watched[id(engine)] = _Watched(job.place, engine)
        self._check(job.place, engine)

    def unwatch(self, engine: UpdateEngine) -> None:
        with self._lock:
            self._watched.pop(id(engine), None)

    def _check(self, place: str, engine: UpdateEngine) -> None:
        try:
            reason = self.coordinator.lost(place)
        except RigError:
            return  # the coordinator did not answer: that says nothing about the rig
        if reason is not None:
            engine.rig_lost(reason)

    def _watch_loop(self) -> None:
        while not self._stop.wait(WATCH_S):
            with self._lock:
                watched = list(self._watched.values())
            for item in watched:
                self._check(item.place, item.engine)

    # ------------------------------------------------------------- the end

    def release(self) -> None:
        """Unlock every place (each attempted even when one fails), then disconnect."""
        self._stop.set()
        self._thread.join(timeout=5)
        problems: list[RigError] = []
        for place in self.endpoints:
            try:
                self.coordinator.release(place)
            except RigError as error:
                problems.append(error)
        self.coordinator.close()
        if problems:
            raise problems[0]


def _expand(plan: CampaignPlan, coordinator: Coordinator) -> list[tuple[PlannedJob, str]]:
    """One (job, place) per job on a port (place ""), a place, or each place of a pattern."""
    wanted: list[tuple[PlannedJob, str]] = []
    seen: dict[str, int] = {}
    for job in plan.jobs:
        if not job.place:
            wanted.append((job, ""))
            continue
        places = coordinator.match(job.place) if is_pattern(job.place) else [job.place]
        for place in places:
            if not is_pattern(job.place):
                coordinator.holder(place)  # PlaceUnknown for a name the coordinator lacks
            if place in seen:
                raise PlanError(
                    f"The labgrid place {place} is named by job {seen[place]} and job "
                    f"{job.index + 1}: one bridge cannot take two updates at once.",
                    action="Name each place once (patterns included).",
                )
            seen[place] = job.index + 1
            wanted.append((job, place))
    return wanted


__all__ = ["PlaceBooking", "is_pattern"]
