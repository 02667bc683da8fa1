"""Campaigns: a plan file, an explicit order, parallel lanes, retries and reports."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.updates.campaign import Campaign, PlanError, load_plan, sort_key
from bridgelab.updates.events import SessionFinished

NEWER = DEMO_IMAGES[0].path


def write_plan(
    folder: Path, body: str, *, lanes: int = 2, retries: int = 0, order: str = ""
) -> Path:
    (folder / "images").mkdir(exist_ok=True)
    (folder / "images" / "new.ota").write_bytes(NEWER.read_bytes())
    plan = folder / "plan.toml"
    head = (
        f'[campaign]\nname = "rack 3"\nlanes = {lanes}\nretries = {retries}\n'
        'healthy_s = 0.1\nreport_dir = "reports"\n'
    )
    if order:
        head += f"order = {order}\n"
    plan.write_text(head + body, encoding="utf-8")
    return plan


def job(port: str, **extra: object) -> str:
    lines = ["[[job]]", f'port = "{port}"', 'image = "images/new.ota"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def test_a_campaign_runs_every_job_and_writes_both_reports(tmp_path: Path) -> None:
    body = "".join(job(f"emu://demo?id=camp-{n}") for n in range(4))
    body += job("emu://legacy", mode="ota", label="legacy bridge")
    plan = load_plan(write_plan(tmp_path, body, lanes=3))
    summary = Campaign(plan).run()
    states = [j.state for j in summary.jobs]
    assert states == ["passed"] * 4 + ["failed"]
    assert summary.jobs[-1].last and summary.jobs[-1].last.result == "not-ota-capable"
    assert not summary.all_passed and summary.lanes == 3
    csv_path, json_path = summary.report_paths
    rows = list(csv.DictReader(csv_path.open()))
    assert [r["state"] for r in rows] == states
    assert json.loads(json_path.read_text())["passed"] == 4


def test_failed_jobs_are_retried_at_the_back_of_the_queue(tmp_path: Path) -> None:
    never = "emu://demo?id=camp-never&faults=refuse-activate=1"
    body = job(never) + job("emu://demo?id=camp-ok")
    plan = load_plan(write_plan(tmp_path, body, lanes=1, retries=2))
    finished: list[str] = []

    def watch(state, event) -> None:  # type: ignore[no-untyped-def]
        if isinstance(event, SessionFinished):
            finished.append(state.job.port)

    summary = Campaign(plan, on_job=watch).run()
    assert [j.state for j in summary.jobs] == ["failed", "passed"]
    assert summary.jobs[0].attempts == 3
    assert finished == [never, "emu://demo?id=camp-ok", never, never]


def test_the_order_policy_is_explicit(tmp_path: Path) -> None:
    body = job("emu://demo?id=o1", priority=5) + job("emu://demo?id=o2", security=True, priority=9)
    body += job("emu://demo?id=o3", priority=1)
    plan = load_plan(write_plan(tmp_path, body, order='["security", "priority", "plan"]'))
    order = [s.job.port for s in sorted(Campaign(plan).jobs, key=sort_key(plan.order))]
    assert order == ["emu://demo?id=o2", "emu://demo?id=o3", "emu://demo?id=o1"]
    plan = load_plan(write_plan(tmp_path, body, order='["plan"]'))
    order = [s.job.port for s in sorted(Campaign(plan).jobs, key=sort_key(plan.order))]
    assert order == ["emu://demo?id=o1", "emu://demo?id=o2", "emu://demo?id=o3"]


def test_lanes_run_in_parallel(tmp_path: Path) -> None:
    body = "".join(job(f"emu://demo?id=par-{n}&baud=460800") for n in range(4))
    plan = load_plan(write_plan(tmp_path, body, lanes=4))
    running: set[str] = set()
    most = 0
    lock = threading.Lock()

    def watch(state, event) -> None:  # type: ignore[no-untyped-def]
        nonlocal most
        with lock:
            if state.state == "running":
                running.add(state.job.port)
            else:
                running.discard(state.job.port)
            most = max(most, len(running))

    summary = Campaign(plan, on_job=watch).run()
    assert summary.all_passed and most == 4


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("", "lists no [[job]]"),
        ('[[job]]\nport = "emu://demo"\n', "job 1: has no `image`"),
        (
            '[[job]]\nport = "emu://demo"\nimage = "x.ota"\nmode = "usb"\n',
            "job 1 mode: is the text 'usb'. Give one of local, ota.",
        ),
    ],
)
def test_bad_plans_say_where(tmp_path: Path, body: str, words: str) -> None:
    with pytest.raises(PlanError) as refused:
        load_plan(write_plan(tmp_path, body))
    assert words in str(refused.value)


def test_bad_order_key(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as refused:
        load_plan(write_plan(tmp_path, job("emu://demo"), order='["newest"]'))
    assert "Use security, priority, version_gap, plan." in str(refused.value)


def test_campaign_cli(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, job("emu://demo?id=cli-1") + job("emu://orphaned", mode="ota"))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bridgelab",
            "campaign",
            str(plan),
            "--db",
            str(tmp_path / "c.db"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1  # one job failed
    summary = json.loads(out.stdout)
    assert (summary["passed"], summary["failed"]) == (1, 1)
    assert summary["jobs"][1]["result"] == "orphaned"
