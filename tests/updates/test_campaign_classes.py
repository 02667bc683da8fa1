"""Campaign retries and next steps follow the failure class; a campaign's sessions can be
listed; the shipped example plan runs as it is on emulated bridges."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from bridgelab.cli import main
from bridgelab.data.failures import FailureClass
from bridgelab.data.store import TriageStore
from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.updates.campaign import Campaign, load_plan

NEWER = DEMO_IMAGES[0].path
EXAMPLE = Path(__file__).parents[2] / "examples" / "emulated-rack.toml"


def plan_file(folder: Path, jobs: str, *, retries: int = 2, name: str = "classes") -> Path:
    plan = folder / f"{uuid.uuid4().hex[:6]}.toml"
    plan.write_text(
        f'[campaign]\nname = "{name}"\nlanes = 1\nretries = {retries}\nhealthy_s = 0.1\n\n' + jobs,
        encoding="utf-8",
    )
    return plan


def job(port: str, mode: str = "local") -> str:
    return f'[[job]]\nport = "{port}"\nimage = "{NEWER}"\nmode = "{mode}"\n\n'


def test_what_a_retry_cannot_fix_is_not_retried(tmp_path: Path) -> None:
    legacy = f"emu://legacy?id=cls-{uuid.uuid4().hex[:6]}"
    missing = str(tmp_path / "no-such-tty")
    plan = load_plan(plan_file(tmp_path, job(legacy, "ota") + job(missing)))
    summary = Campaign(plan).run()
    refused, unplugged = summary.jobs
    assert refused.failure_class is FailureClass.NOT_OTA_CAPABLE
    assert refused.attempts == 1, "refused at validate: it would fail the same way again"
    assert refused.retryable is False
    assert refused.next_step is not None and "locally" in refused.next_step
    assert "Retry" not in refused.next_step
    assert unplugged.failure_class is FailureClass.PORT_UNAVAILABLE
    assert unplugged.attempts == 3, "a port that may come back is retried (retries = 2)"
    assert unplugged.retryable is True
    text = summary.describe()
    assert "(not retried)" in text and "(a retry may fix it)" in text
    assert "attempt(s)" not in text and "1 attempt)" in text and "3 attempts)" in text


def test_retryable_follows_the_class() -> None:
    assert not FailureClass.IMAGE_REJECTED.retryable
    assert not FailureClass.ORPHANED.retryable
    assert not FailureClass.WRONG_DEVICE.retryable
    assert FailureClass.LINK_LOST.retryable and FailureClass.STALLED.retryable


def test_report_rows_have_versions_as_integer_and_text_and_ids_as_a_list(
    tmp_path: Path,
) -> None:
    plan = load_plan(plan_file(tmp_path, job(f"emu://demo?id=cls-{uuid.uuid4().hex[:6]}")))
    with TriageStore.open(tmp_path / "triage.db") as store:
        summary = Campaign(plan, store=store).run()
    row = summary.to_dict()["jobs"][0]
    assert row["version_before"] == 0x01020000 and row["version_before_text"] == "1.2.0"
    assert row["version_after_text"] == "1.3.0" and row["image_version_text"] == "1.3.0"
    assert isinstance(row["session_ids"], list) and len(row["session_ids"]) == 1
    assert row["next_step"] is None and row["retryable"] is None
    assert summary.campaign_id and summary.campaign_id.startswith("classes@")
    csv_text = summary.csv_text()
    assert row["session_ids"][0] in csv_text and "[" not in csv_text.splitlines()[1]


def test_log_list_selects_a_campaigns_sessions(tmp_path: Path, capsys: object) -> None:
    db = tmp_path / "triage.db"
    first = load_plan(
        plan_file(tmp_path, job(f"emu://demo?id=c1-{uuid.uuid4().hex[:6]}"), name="rack a")
    )
    second = load_plan(
        plan_file(tmp_path, job(f"emu://demo?id=c2-{uuid.uuid4().hex[:6]}"), name="rack b")
    )
    with TriageStore.open(db) as store:
        run_a = Campaign(first, store=store).run()
        Campaign(second, store=store).run()
    assert main(["update", "--port", f"emu://demo?id=solo-{uuid.uuid4().hex[:6]}",
                 "--db", str(db), "--healthy-s", "0.1", str(NEWER)]) == 0  # fmt: skip

    def listed(*args: str) -> list[str]:
        capsys.readouterr()  # type: ignore[attr-defined]
        assert main(["log", "list", "--db", str(db), "--json", *args]) == 0
        out = capsys.readouterr().out  # type: ignore[attr-defined]
        return [s["campaign_id"] for s in json.loads(out)["sessions"]]

    assert len(listed()) == 3
    assert listed("--campaign", str(run_a.campaign_id)) == [run_a.campaign_id]
    assert listed("--campaign", "rack a") == [run_a.campaign_id], "a name selects its runs"
    assert sorted(listed("--campaign", "all")) == sorted(
        [run_a.campaign_id, *listed("--campaign", "rack b")]
    )
    assert listed("--campaign", "rack") == [], "a name is matched whole, not as a prefix"


def test_the_example_plan_runs_as_it_is(tmp_path: Path) -> None:
    db = tmp_path / "example.db"
    out = subprocess.run(
        [sys.executable, "-m", "bridgelab", "campaign", str(EXAMPLE), "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["passed"] == 4 and summary["failed"] == 0
    orphaned = next(job for job in summary["jobs"] if "orphaned" in job["port"])
    assert orphaned["next_step"] and "supplier" in orphaned["next_step"]
    listed = subprocess.run(
        [sys.executable, "-m", "bridgelab", "log", "list", "--db", str(db), "--json",
         "--campaign", "emulated rack"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["total"] == 4
