"""Lab campaigns: many bridges, many images, N parallel lanes, in an explicit order.

A plan is a TOML file (format in docs/campaigns.md):

    [campaign]
    name = "rack 3 regression"
    lanes = 4                      # updates running at once
    retries = 1                    # extra attempts for a job that failed
    order = ["security", "priority", "version_gap", "plan"]
    mode = "local"                 # default for jobs: local or ota
    trust = "keys"                 # trust store folder (relative to the plan)
    healthy_s = 2.0
    report_dir = "reports"         # CSV and JSON summaries go here

    [[job]]
    port = "/dev/ttyUSB0"
    image = "images/bridge-1.3.0.ota"
    security = true                # a security fix: goes first under the default order
    priority = 1                   # lower runs earlier
    mode = "ota"                   # overrides the campaign's mode

The delivery order mirrors what SECMP0007 does for PPMIDs only loosely (the exact rule is
unconfirmed), so it is a policy, not a fact: `order` lists the keys to sort by, first key
first. `security` puts security fixes first; `priority` sorts by the job's number (lower
first); `version_gap` puts the images furthest ahead of the bridge first (known only once
each bridge has been read, so the campaign reads every bridge's version first);
`plan` keeps the plan's order. Retried jobs go to the back of the queue.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bridgelab.data.failures import FailureClass
from bridgelab.data.records import Mode
from bridgelab.data.store import TriageStore
from bridgelab.drivers.errors import DriverError
from bridgelab.drivers.factory import connect_bridge
from bridgelab.drivers.versions import NO_VERSION, display_version
from bridgelab.firmware.errors import FirmwareError
from bridgelab.firmware.image import load_image
from bridgelab.safe_output import (
    Guarded,
    check_output,
    check_output_folder,
    inputs,
    triage_log,
    write_bytes,
)
from bridgelab.text_safety import csv_safe
from bridgelab.updates import events as ev
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.plan import DEFAULT_ORDER, ORDER_KEYS, PlanError, check_plan
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.request import UpdateRequest

if TYPE_CHECKING:
    from bridgelab.updates.campaign_places import PlaceBooking


@dataclass(frozen=True)
class PlannedJob:
    index: int
    port: str
    image: Path
    mode: str = "local"
    security: bool = False
    priority: int = 100
    label: str = ""
    # A labgrid place (or a pattern, `rack3-*`) instead of a port: the campaign acquires
    # it and fills in `port` (docs/lab-rigs.md); `rig` then names place and exporter.
    place: str = ""
    rig: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CampaignPlan:
    name: str
    jobs: tuple[PlannedJob, ...]
    lanes: int = 1
    retries: int = 0
    order: tuple[str, ...] = DEFAULT_ORDER
    trust: Path | None = None
    healthy_s: float = 2.0
    report_dir: Path | None = None
    policy: UpdatePolicy = field(default_factory=UpdatePolicy)
    coordinator: str | None = None  # labgrid, for jobs on places (else LG_COORDINATOR)
    wait_s: float = 0.0  # how long to queue for a place someone else holds

    @property
    def uses_places(self) -> bool:
        return any(job.place for job in self.jobs)


def load_plan(path: Path) -> CampaignPlan:
    """Read and check a plan (`updates.plan`: every problem at once, before anything runs)."""
    checked = check_plan(path)
    head = checked.campaign
    jobs = tuple(
        PlannedJob(
            index=index,
            port=job["port"] or "",
            place=job["place"] or job["places"] or "",
            image=job["image"],
            mode=job["mode"],
            security=job["security"],
            priority=job["priority"],
            label=job["label"],
        )
        for index, job in enumerate(checked.jobs)
    )
    return CampaignPlan(
        name=head["name"] or path.stem,
        jobs=jobs,
        lanes=head["lanes"],
        retries=head["retries"],
        order=tuple(head["order"]),
        trust=head["trust"],
        healthy_s=head["healthy_s"],
        report_dir=head["report_dir"],
        policy=UpdatePolicy(healthy_s=head["healthy_s"]),
        coordinator=head["coordinator"],
        wait_s=head["wait_s"],
    )


@dataclass
class JobState:
    job: PlannedJob
    version_before: int | None = None
    image_version: int | None = None
    attempts: int = 0
    state: str = "queued"  # queued, running, passed, failed, cancelled
    results: list[ev.UpdateResult] = field(default_factory=list)
    progress: float = 0.0

    @property
    def last(self) -> ev.UpdateResult | None:
        return self.results[-1] if self.results else None

    @property
    def failure_class(self) -> FailureClass | None:
        """The class of the latest attempt's failure (None: passed, or not run)."""
        last = self.last
        if last is None or last.ok:
            return None
        try:
            return FailureClass(last.result)
        except ValueError:
            return None

    @property
    def retryable(self) -> bool | None:
        """Can running this job again succeed? None while it has not failed."""
        cls = self.failure_class
        return cls.retryable if cls is not None else None

    @property
    def next_step(self) -> str | None:
        """What to do next, as the update's verdict says it: for a failure its own next
        step (else its class's); for a success, only when something is left to do (a
        bridge that stays off the HAN)."""
        from bridgelab.updates.verdict import update_verdict

        last = self.last
        if last is None:
            return None
        return update_verdict(last).next_step or None

    def row(self) -> dict[str, Any]:
        """The job in a report (schema `bridgelab.campaign/1`, docs/cli-json.md): versions
        as the integer and as engineers write them, session ids as a list."""
        last = self.last
        versions: dict[str, int | None] = {
            "version_before": last.version_before if last else self.version_before,
            "version_after": last.version_after if last else None,
            "image_version": last.image_version if last and last.image_version else None,
        }
        if versions["image_version"] is None:
            versions["image_version"] = self.image_version
        out: dict[str, Any] = {
            "job": self.job.index + 1,
            "label": self.job.label,
            "port": self.job.port,
            "place": self.job.place,
            "image": str(self.job.image),
            "mode": self.job.mode,
            "state": self.state,
            "attempts": self.attempts,
            "result": last.result if last else None,
            "failure_stage": last.failure_stage if last else None,
            "failure_code": (last.error or {}).get("code") if last else None,
            "retryable": self.retryable,
            "next_step": self.next_step,
        }
        for name, value in versions.items():
            known = value is not None and value != NO_VERSION
            out[name] = value if known else None
            out[f"{name}_text"] = display_version(value) if known else None
        out["duration_s"] = round(sum(r.duration_s for r in self.results), 3)
        out["throughput_bps"] = (
            round(last.throughput_bps, 1) if last and last.throughput_bps else None
        )
        out["session_ids"] = [r.session_id for r in self.results if r.session_id]
        return out


def sort_key(order: tuple[str, ...]) -> Callable[[JobState], tuple[Any, ...]]:
    def key(state: JobState) -> tuple[Any, ...]:
        parts: list[Any] = []
        for name in order:
            if name == "security":
                parts.append(0 if state.job.security else 1)
            elif name == "priority":
                parts.append(state.job.priority)
            elif name == "version_gap":
                gap = 0
                if state.version_before is not None and state.image_version is not None:
                    gap = state.image_version - state.version_before
                parts.append(-gap)
            elif name == "plan":
                parts.append(state.job.index)
        return tuple(parts)

    return key


@dataclass
class CampaignSummary:
    name: str
    jobs: list[JobState]
    started: datetime
    duration_s: float
    lanes: int
    order: tuple[str, ...]
    report_paths: tuple[Path, ...] = ()
    campaign_id: str | None = None  # what `log list --campaign ID` selects

    @property
    def all_passed(self) -> bool:
        return all(job.state == "passed" for job in self.jobs)

    def to_dict(self) -> dict[str, Any]:
        passed = sum(job.state == "passed" for job in self.jobs)
        return {
            "campaign": self.name,
            "campaign_id": self.campaign_id,
            "started": self.started.isoformat(),
            "duration_s": round(self.duration_s, 3),
            "lanes": self.lanes,
            "order": list(self.order),
            "passed": passed,
            "failed": len(self.jobs) - passed,
            "jobs": [job.row() for job in self.jobs],
            "reports": [str(path) for path in self.report_paths],
        }

    def csv_text(self) -> str:
        buffer = io.StringIO()
        rows = [job.row() for job in self.jobs]
        for row in rows:  # a CSV cell holds one value: the ids space-separated
            row["session_ids"] = " ".join(row["session_ids"])
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        # Ports, labels and device messages must not run as spreadsheet formulas.
        writer.writerows({key: csv_safe(value) for key, value in row.items()} for row in rows)
        return buffer.getvalue()

    def describe(self) -> str:
        data = self.to_dict()
        lines = [
            f"Campaign {self.name}: {data['passed']} passed, {data['failed']} failed in "
            f"{self.duration_s:.1f} s ({self.lanes} lanes)."
        ]
        for row in data["jobs"]:
            attempts = row["attempts"]
            lines.append(
                f"  {row['job']:>3} {row['state']:<9} {row['place'] or row['port']:<28} "
                f"{row['result'] or '-':<18} {row['version_before_text'] or '-'} -> "
                f"{row['version_after_text'] or '-'} "
                f"({attempts} attempt{'s' if attempts != 1 else ''})"
            )
            if row["next_step"]:
                again = ""
                if row["retryable"] is not None:
                    again = " (a retry may fix it)" if row["retryable"] else " (not retried)"
                lines.append(f"      next: {row['next_step']}{again}")
        if self.campaign_id:
            lines.append(f"Sessions: bridgelab log list --campaign '{self.campaign_id}'")
        lines += [f"Report: {path}" for path in self.report_paths]
        return "\n".join(lines)

    def write_reports(
        self, folder: Path, guards: Iterable[Guarded] = (), *, force: bool = False
    ) -> tuple[Path, Path]:
        """Write the CSV and JSON reports into `folder` as safe outputs: never over one of
        `guards` (the log, the images, the trust folder), never over an existing report
        unless `force`, each complete or absent (`bridgelab.safe_output`)."""
        guard_list = list(guards)
        folder = check_output_folder(folder, guard_list, what="report folder")
        stamp = self.started.strftime("%Y%m%dT%H%M%SZ")
        stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in self.name)
        csv_path = folder / f"{stem}-{stamp}.csv"
        json_path = folder / f"{stem}-{stamp}.json"
        report = json.dumps(self.to_dict() | {"reports": [str(csv_path), str(json_path)]}, indent=2)
        for path in (csv_path, json_path):  # both refused before either is written
            check_output(path, guard_list, force=force, what="campaign report")
        write_bytes(csv_path, self.csv_text().encode(), guard_list, force=force)
        write_bytes(json_path, report.encode(), guard_list, force=force)
        self.report_paths = (csv_path, json_path)
        return csv_path, json_path


JobListener = Callable[[JobState, ev.UpdateEvent | None], None]


class Campaign:
    """Runs a plan; `cancel()` stops every lane (running updates end as cancelled)."""

    def __init__(
        self,
        plan: CampaignPlan,
        *,
        store: TriageStore | None = None,
        on_job: JobListener | None = None,
    ) -> None:
        self.plan = plan
        self.store = store
        self.on_job = on_job
        self.jobs = [JobState(job) for job in plan.jobs]
        self._queue: list[JobState] = []
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._engines: set[UpdateEngine] = set()
        self._booking: PlaceBooking | None = None  # the labgrid places, while they are held
        self.campaign_id = f"{plan.name}@{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"

    def cancel(self) -> None:
        self._cancel.set()
        with self._lock:
            for engine in self._engines:
                engine.cancel()

    def _notify(self, state: JobState, event: ev.UpdateEvent | None) -> None:
        if isinstance(event, ev.Progress):
            state.progress = event.fraction
        if self.on_job is not None:
            self.on_job(state, event)

    def _survey(self) -> None:
        """Read each image's version and, where the order needs it, each bridge's."""
        for state in self.jobs:
            try:
                state.image_version = load_image(state.job.image).header.file_version
            except FirmwareError:
                state.image_version = None  # the job's own validation will say why
        if "version_gap" not in self.plan.order:
            return
        for state in self.jobs:
            try:
                with connect_bridge(state.job.port) as client:
                    state.version_before = client.identity().firmware_version
            except DriverError:
                state.version_before = None

    def run(self) -> CampaignSummary:
        started = datetime.now(UTC)
        clock = time.monotonic()
        if self.plan.uses_places:
            from bridgelab.updates.campaign_places import PlaceBooking

            # Connect, acquire and resolve every place before anything runs (raises).
            self._booking = PlaceBooking.acquire(self.plan)
            self.jobs = [JobState(job) for job in self._booking.jobs]
        try:
            lanes = self._run_lanes()
        finally:
            if self._booking is not None:
                booking, self._booking = self._booking, None
                booking.release()  # success, failure, cancel and Ctrl+C alike
        summary = CampaignSummary(
            self.plan.name,
            self.jobs,
            started,
            time.monotonic() - clock,
            lanes,
            self.plan.order,
            campaign_id=self.campaign_id,
        )
        if self.plan.report_dir is not None:
            summary.write_reports(self.plan.report_dir, self._input_guards())
        return summary

    def _run_lanes(self) -> int:
        self._survey()
        self._queue = sorted(self.jobs, key=sort_key(self.plan.order))
        for state in self.jobs:
            self._notify(state, None)
        lanes = [
            threading.Thread(target=self._lane, name=f"campaign-lane-{n}", daemon=True)
            for n in range(min(self.plan.lanes, len(self.jobs)))
        ]
        for lane in lanes:
            lane.start()
        try:
            for lane in lanes:
                lane.join()
        except BaseException:  # Ctrl+C: every lane stops before its place is released
            self.cancel()
            for lane in lanes:
                lane.join(timeout=30)
            raise
        return len(lanes)

    def _input_guards(self) -> list[Guarded]:
        """What the reports must never overwrite: the log, the images, the trust folder."""
        guards = inputs([job.image for job in self.plan.jobs], "an image of the plan")
        if self.plan.trust is not None:
            guards.append(Guarded(self.plan.trust, "the trust folder", tree=True))
        if self.store is not None:
            guards += triage_log(self.store.path)
        return guards

    def _next(self) -> JobState | None:
        with self._lock:
            if self._cancel.is_set() or not self._queue:
                return None
            state = self._queue.pop(0)
            state.state = "running"
            return state

    def _lane(self) -> None:
        while (state := self._next()) is not None:
            state.attempts += 1
            request = UpdateRequest(
                port_url=state.job.port,
                image_path=state.job.image,
                mode=Mode(state.job.mode),
                trust_dir=self.plan.trust,
                campaign_id=self.campaign_id,
                policy=self.plan.policy,
                session_details=dict(state.job.rig),
            )
            engine = UpdateEngine(
                request, store=self.store, subscribers=[functools.partial(self._notify, state)]
            )
            with self._lock:
                self._engines.add(engine)
            if self._cancel.is_set():
                engine.cancel()
            if self._booking is not None:
                self._booking.watch(state.job, engine)
            result = engine.run()
            if self._booking is not None:
                self._booking.unwatch(engine)
            with self._lock:
                self._engines.discard(engine)
                state.results.append(result)
                if result.ok:
                    state.state = "passed"
                elif result.result == "cancelled" or self._cancel.is_set():
                    state.state = "cancelled"
                elif result.result == FailureClass.RIG_LOST:
                    state.state = "failed"  # its rig is gone: another attempt cannot help
                elif state.attempts <= self.plan.retries and state.retryable:
                    # Only what can succeed on a retry is retried: a job refused at
                    # validate, or a bridge without OTA, fails the same way every time.
                    state.state = "queued"
                    self._queue.append(state)  # retried lanes go to the back
                else:
                    state.state = "failed"
            self._notify(state, None)
        with self._lock:
            for state in self._queue:
                if self._cancel.is_set():
                    state.state = "cancelled"


def run_campaign(
    plan: CampaignPlan, *, store: TriageStore | None = None, progress: TextIO | None = None
) -> CampaignSummary:
    """Run `plan` to the end; with `progress`, print one line per finished attempt."""

    def report(state: JobState, event: ev.UpdateEvent | None) -> None:
        if progress is not None and isinstance(event, ev.SessionFinished):
            result = event.result
            print(
                f"job {state.job.index + 1} ({state.job.place or state.job.port}) "
                f"attempt {state.attempts}: "
                f"{result.result}",
                file=progress,
                flush=True,
            )

    return Campaign(plan, store=store, on_job=report).run()


__all__ = [
    "ORDER_KEYS",
    "Campaign",
    "CampaignPlan",
    "CampaignSummary",
    "JobState",
    "PlanError",
    "PlannedJob",
    "load_plan",
    "run_campaign",
]
