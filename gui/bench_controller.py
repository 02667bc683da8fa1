"""The lab bench's controller: a campaign over many bridges, lane by lane, with retries.

A plan comes from a TOML file (`updates.campaign.load_plan`) or is the built-in demo rack
(emulated bridges, one of them legacy, one that loses power mid-transfer). `start()` runs
`Campaign.run()` on a long-job worker; each lane's job changes arrive as `laneChanged`
rows on the GUI thread. `retry_failed()` runs the failed jobs again (their attempts add
up), and `save_report()` writes the CSV and JSON summary of the latest attempt of every job.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from bridgelab.drivers.versions import display_version
from bridgelab.errors import BridgeLabError
from bridgelab.gui.formatting import ARROW
from bridgelab.gui.store_holder import StoreHolder
from bridgelab.gui.tasks import TaskRunner
from bridgelab.updates import events as ev
from bridgelab.updates.campaign import (
    Campaign,
    CampaignPlan,
    CampaignSummary,
    JobState,
    PlannedJob,
    load_plan,
)
from bridgelab.updates.emulated import DEMO_DIR
from bridgelab.updates.policy import UpdatePolicy

DEMO_IMAGE = DEMO_DIR / "bridge-demo-1.3.0.ota"


@dataclass(frozen=True)
class LaneRow:
    """One job as the bench table shows it."""

    index: int
    bridge: str
    image: str
    mode: str
    state: str
    attempts: int
    progress: float
    result: str
    versions: str
    message: str

    def cells(self) -> tuple[str, ...]:
        return (
            str(self.index + 1),
            self.bridge,
            self.image,
            self.mode,
            self.state,
            str(self.attempts),
            f"{100 * self.progress:.0f} %",
            self.result,
            self.versions,
            self.message,
        )


LANE_HEADERS = ("#", "Bridge", "Image", "Mode", "State", "Tries", "Progress", "Result",
                "Versions", "Why")  # fmt: skip
PROGRESS_COLUMN = 6
STATE_COLUMN = 4


def lane_row(state: JobState, attempts_before: int = 0) -> LaneRow:
    """A snapshot of a (possibly running) job; safe to send to another thread."""
    job, last = state.job, state.last
    versions = ""
    message = ""
    if last is not None:
        versions = f"{display_version(last.version_before)} {ARROW} "
        versions += display_version(last.version_after) if last.version_after else "-"
        if last.error:
            message = str(last.error.get("message") or "")
    label = f"{job.label}: {job.port}" if job.label else job.port
    return LaneRow(
        index=job.index,
        bridge=label,
        image=job.image.name,
        mode=job.mode,
        state=state.state,
        attempts=attempts_before + state.attempts,
        progress=1.0 if state.state == "passed" else state.progress,
        result=last.result if last else "",
        versions=versions,
        message=message,
    )


def demo_rack_plan(*, lanes: int = 2, policy: UpdatePolicy | None = None) -> CampaignPlan:
    """Four emulated bridges for training and demos: two pass, one loses power mid-transfer
    and recovers, one is a legacy bridge whose OTA is refused. Fresh bridges every call."""
    token = secrets.token_hex(3)

    def port(profile: str, n: int, extra: str = "") -> str:
        return f"emu://{profile}?id=rack-{token}-{n}{extra}"

    jobs = (
        PlannedJob(0, port("demo", 1), DEMO_IMAGE, "local", label="Bridge A"),
        PlannedJob(1, port("demo", 2), DEMO_IMAGE, "ota", label="Bridge B"),
        PlannedJob(2, port("legacy", 3), DEMO_IMAGE, "ota", label="Legacy bridge"),
        PlannedJob(3, port("demo", 4, "&faults=power-loss-at=20000"), DEMO_IMAGE, "local",
                   label="Power cut"),
    )  # fmt: skip
    chosen = policy or UpdatePolicy()
    return CampaignPlan(
        name="demo rack",
        jobs=jobs,
        lanes=lanes,
        retries=0,
        order=("plan",),
        healthy_s=chosen.healthy_s,
        policy=chosen,
    )


class BenchController(QObject):
    planChanged = Signal(object)  # CampaignPlan
    laneChanged = Signal(object)  # LaneRow
    runningChanged = Signal()  # read `.running`
    finished = Signal(object)  # CampaignSummary of every job's latest attempt
    failed = Signal(object)  # BridgeLabError
    reportWritten = Signal(object)  # tuple of paths
    _fromLane = Signal(object)  # LaneRow, emitted on a lane's thread

    def __init__(
        self,
        runner: TaskRunner,
        store: StoreHolder,
        *,
        policy: UpdatePolicy | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.store = store
        self.policy = policy
        self.plan: CampaignPlan | None = None
        self.campaign: Campaign | None = None
        self.summary: CampaignSummary | None = None
        self.jobs: dict[int, JobState] = {}
        self.campaign_ids: list[str] = []  # one per run (a retry is a run), as logged
        self._started: datetime | None = None
        self._duration_s = 0.0
        self._fromLane.connect(self._on_lane)

    @property
    def running(self) -> bool:
        return self.campaign is not None

    @property
    def can_start(self) -> bool:
        """A plan is loaded, nothing runs, and the triage log has opened (or failed to)."""
        return self.plan is not None and not self.running and self.store.settled

    # -- plans ------------------------------------------------------------------------------

    def use_plan(self, plan: CampaignPlan) -> None:
        if self.policy is not None:  # the app's policy (tests: a short health check)
            plan = replace(plan, policy=replace(self.policy, healthy_s=plan.policy.healthy_s))
        self.plan = plan
        self.summary = None
        self.jobs = {job.index: JobState(job) for job in plan.jobs}
        self.campaign_ids = []
        self._started, self._duration_s = None, 0.0
        self.planChanged.emit(plan)

    def use_demo_rack(self) -> None:
        policy = self.policy or UpdatePolicy()
        self.use_plan(demo_rack_plan(policy=policy))

    def load_plan(self, path: Path) -> None:
        self.runner.submit(lambda: load_plan(path), self.use_plan, self.failed.emit)

    def rows(self) -> list[LaneRow]:
        return [lane_row(state) for state in self.jobs.values()]

    # -- running ----------------------------------------------------------------------------

    def start(self) -> None:
        """Run every job of the plan (from the first attempt)."""
        if self.plan is None:
            raise BridgeLabError("No plan loaded.", code="no-plan", action="Open a plan first.")
        self.use_plan(self.plan)
        self._run(self.plan, {})

    def retryable_jobs(self) -> list[JobState]:
        """Failed or cancelled jobs that can succeed if run again: not those refused at
        validate or by a bridge that cannot take the mode (they fail the same way)."""
        return [s for s in self.jobs.values() if s.state in ("failed", "cancelled") and s.retryable]

    def retry_failed(self) -> None:
        """Run again the failed jobs that a retry can fix (`retryable_jobs`)."""
        if self.plan is None:
            return
        failed = [s.job for s in self.retryable_jobs()]
        if not failed:
            return
        attempts = {job.index: self.jobs[job.index].attempts for job in failed}
        self._run(replace(self.plan, jobs=tuple(failed)), attempts)

    def cancel(self) -> None:
        if self.campaign is not None:
            self.campaign.cancel()

    def _run(self, plan: CampaignPlan, attempts_before: dict[int, int]) -> None:
        if self.running:
            raise BridgeLabError("A campaign is already running.", code="campaign-running")

        def on_job(state: JobState, event: ev.UpdateEvent | None) -> None:  # on a lane
            before = attempts_before.get(state.job.index, 0)
            self._fromLane.emit(lane_row(state, before))

        campaign = Campaign(plan, store=self.store.store, on_job=on_job)
        self.campaign = campaign
        self.campaign_ids.append(campaign.campaign_id)
        self._started = self._started or datetime.now(UTC)
        self.runningChanged.emit()
        self.runner.submit(
            campaign.run,
            lambda summary: self._done(summary, attempts_before),
            self._crashed,
            long=True,
        )

    @Slot(object)
    def _on_lane(self, row: LaneRow) -> None:
        self.laneChanged.emit(row)

    def _done(self, summary: CampaignSummary, attempts_before: dict[int, int]) -> None:
        self.campaign = None
        self._duration_s += summary.duration_s
        for state in summary.jobs:
            previous = self.jobs.get(state.job.index)
            if previous is not None and state.job.index in attempts_before:
                state.results[:0] = previous.results
                state.attempts += previous.attempts
            self.jobs[state.job.index] = state
        self.summary = self.combined_summary()
        self.runningChanged.emit()
        self.store.changed.emit()
        for state in self.jobs.values():
            self.laneChanged.emit(lane_row(state))
        self.finished.emit(self.summary)

    def _crashed(self, error: BridgeLabError) -> None:
        self.campaign = None
        self.runningChanged.emit()
        self.failed.emit(error)

    def combined_summary(self) -> CampaignSummary:
        assert self.plan is not None
        return CampaignSummary(
            self.plan.name,
            [self.jobs[job.index] for job in self.plan.jobs],
            self._started or datetime.now(UTC),
            self._duration_s,
            self.plan.lanes,
            self.plan.order,
            campaign_id=self.campaign_ids[-1] if self.campaign_ids else None,
        )

    def save_report(self, folder: Path) -> None:
        summary = self.summary
        if summary is None:
            return
        self.runner.submit(
            lambda: summary.write_reports(folder), self.reportWritten.emit, self.failed.emit
        )


def summary_words(summary: CampaignSummary) -> str:
    data = summary.to_dict()
    text = (
        f"{data['passed']} passed, {data['failed']} failed in {summary.duration_s:.1f} s "
        f"({summary.lanes} lane{'s' if summary.lanes != 1 else ''})."
    )
    return text
