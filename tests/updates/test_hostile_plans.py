"""Hostile and clumsy campaign plans: every one is refused before anything runs, with the
file, the key or job, and the fix; none crashes, none hangs, none runs a job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.updates.campaign import load_plan
from bridgelab.updates.plan import CAMPAIGN_KEYS, JOB_KEYS, PlanError
from tests.unprivileged import Unprivileged

NEWER = DEMO_IMAGES[0].path
GOOD_JOB = '[[job]]\nport = "emu://demo?id=p1"\nimage = "new.ota"\n'


def plan_file(folder: Path, text: str) -> Path:
    (folder / "new.ota").write_bytes(NEWER.read_bytes())
    (folder / "keys").mkdir(exist_ok=True)
    path = folder / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(folder: Path, text: str) -> PlanError:
    path = plan_file(folder, text)
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    error = caught.value
    assert error.code == "bad-campaign-plan"
    assert str(path) in error.message  # names the file
    return error


# (plan text, words the refusal must carry: the place and the fix)
CASES: list[tuple[str, str, tuple[str, ...]]] = [
    ("lanes-text", "[campaign]\nlanes = 'four'\n" + GOOD_JOB, ("[campaign] lanes", "from 1 to")),
    ("lanes-zero", "[campaign]\nlanes = 0\n" + GOOD_JOB, ("[campaign] lanes", "is 0")),
    ("lanes-float", "[campaign]\nlanes = 1.5\n" + GOOD_JOB, ("[campaign] lanes", "whole number")),
    ("lanes-flag", "[campaign]\nlanes = true\n" + GOOD_JOB, ("[campaign] lanes", "flag true")),
    ("lanes-huge", "[campaign]\nlanes = 100000\n" + GOOD_JOB, ("[campaign] lanes", "out of range")),
    ("retries-neg", "[campaign]\nretries = -1\n" + GOOD_JOB, ("[campaign] retries", "0 to")),
    ("healthy-inf", "[campaign]\nhealthy_s = inf\n" + GOOD_JOB, ("healthy_s", "not a finite")),
    ("healthy-ninf", "[campaign]\nhealthy_s = -inf\n" + GOOD_JOB, ("healthy_s", "finite")),
    ("healthy-nan", "[campaign]\nhealthy_s = nan\n" + GOOD_JOB, ("healthy_s", "finite")),
    ("healthy-neg", "[campaign]\nhealthy_s = -2.0\n" + GOOD_JOB, ("healthy_s", "out of range")),
    ("healthy-huge", "[campaign]\nhealthy_s = 1e12\n" + GOOD_JOB, ("healthy_s", "out of range")),
    ("healthy-text", "[campaign]\nhealthy_s = '2'\n" + GOOD_JOB, ("healthy_s", "seconds")),
    ("job-ints", "job = [1, 2]\n", ("job: is not a list of [[job]] tables",)),
    ("job-table", "[job]\nport = 'x'\n", ("job: is not a list",)),
    ("no-jobs", "[campaign]\nname = 'x'\n", ("lists no [[job]]",)),
    ("campaign-int", "campaign = 5\n" + GOOD_JOB, ("campaign: is int 5, not a table",)),
    ("misspelt-lanes", "[campaign]\nlane = 2\n" + GOOD_JOB, ("lane", "Did you mean `lanes`?")),
    ("misspelt-healthy", "[campaign]\nheathy_s = 2\n" + GOOD_JOB, ("Did you mean `healthy_s`?",)),
    (
        "misspelt-report",
        "[campaign]\nreports_dir = 'r'\n" + GOOD_JOB,
        ("Did you mean `report_dir`?",),
    ),
    (
        "misspelt-image",
        "[[job]]\nport = 'emu://demo'\nimgae = 'new.ota'\n",
        ("job 1 imgae", "`image`"),
    ),
    ("misspelt-table", "[campain]\nlanes = 2\n" + GOOD_JOB, ("[campain]", "`campaign`")),
    ("wild-key", "[campaign]\nzzzzzz = 1\n" + GOOD_JOB, ("zzzzzz", "Known keys: name, lanes")),
    (
        "dup-ports",
        GOOD_JOB + '[[job]]\nport = "emu://demo?id=p1"\nimage = "new.ota"\n',
        ("job 2 port", "port of job 1", "?id=NAME"),
    ),
    (
        "dup-ports-spaces",
        GOOD_JOB + '[[job]]\nport = " emu://demo?id=p1 "\nimage = "new.ota"\n',
        ("job 2 port", "port of job 1"),
    ),
    (
        "image-missing",
        "[[job]]\nport = 'emu://demo'\nimage = 'nope.ota'\n",
        ("job 1 image", "does not exist"),
    ),
    ("image-folder", "[[job]]\nport = 'emu://demo'\nimage = 'keys'\n", ("job 1 image", "folder")),
    ("image-int", "[[job]]\nport = 'emu://demo'\nimage = 3\n", ("job 1 image", "not text")),
    ("no-port", "[[job]]\nimage = 'new.ota'\n", ("job 1: has no `port`", "Add `port = ...`")),
    ("port-blank", "[[job]]\nport = '  '\nimage = 'new.ota'\n", ("job 1 port", "blank")),
    (
        "port-nul",
        "[[job]]\nport = \"emu://de\\u0000mo\"\nimage = 'new.ota'\n",
        ("job 1 port", "NUL"),
    ),
    ("port-list", "[[job]]\nport = ['a']\nimage = 'new.ota'\n", ("job 1 port", "a list")),
    (
        "trust-missing",
        "[campaign]\ntrust = 'nokeys'\n" + GOOD_JOB,
        ("[campaign] trust", "does not exist"),
    ),
    (
        "trust-file",
        "[campaign]\ntrust = 'new.ota'\n" + GOOD_JOB,
        ("[campaign] trust", "not a folder"),
    ),
    (
        "report-under-file",
        "[campaign]\nreport_dir = 'new.ota/reports'\n" + GOOD_JOB,
        ("[campaign] report_dir", "not a folder"),
    ),
    (
        "order-text",
        "[campaign]\norder = 'security'\n" + GOOD_JOB,
        ("[campaign] order", "not a list"),
    ),
    ("order-dup", "[campaign]\norder = ['plan', 'plan']\n" + GOOD_JOB, ("names a key twice",)),
    ("order-unknown", "[campaign]\norder = ['newest']\n" + GOOD_JOB, ("unknown entries",)),
    ("order-ints", "[campaign]\norder = [1]\n" + GOOD_JOB, ("unknown entries",)),
    ("mode-bad", "[campaign]\nmode = 'usb'\n" + GOOD_JOB, ("[campaign] mode", "local, ota")),
    ("job-mode-bad", GOOD_JOB + "mode = 'OTA'\n", ("job 1 mode", "local, ota")),
    ("security-text", GOOD_JOB + "security = 'yes'\n", ("job 1 security", "true or false")),
    ("priority-text", GOOD_JOB + "priority = '1'\n", ("job 1 priority", "whole number")),
    ("priority-huge", GOOD_JOB + "priority = 9999999999999\n", ("job 1 priority", "out of range")),
    ("label-table", GOOD_JOB + "label = {a = 1}\n", ("job 1 label", "a table")),
    (
        "name-long",
        "[campaign]\nname = '" + "x" * 2000 + "'\n" + GOOD_JOB,
        ("[campaign] name", "characters"),
    ),
    ("bad-toml", "[campaign\nlanes = 2\n", ("not valid TOML", "line")),
    ("empty", "", ("lists no [[job]]",)),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_plan_is_refused_naming_the_place_and_the_fix(
    tmp_path: Path, text: str, words: tuple[str, ...]
) -> None:
    error = refused(tmp_path, text)
    for word in words:
        assert word in error.message, error.message
    assert error.details["problems"]


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = (
        "[campaign]\nlanes = 'four'\nhealthy_s = inf\nlane = 3\n"
        "[[job]]\nport = 'a'\nimage = 'nope.ota'\n[[job]]\nport = 'a'\nimage = 'new.ota'\n"
    )
    error = refused(tmp_path, text)
    assert "has 5 problems" in error.message
    assert len(error.details["problems"]) == 5


def test_an_unwritable_report_folder_is_refused(unprivileged: Unprivileged) -> None:
    """A report folder under one the user cannot write is refused by the CLI before any
    bridge is touched, naming the plan, the key and the folder; nothing is created. Runs
    as a user the permissions bind (nobody, when the tests run as root)."""
    home = unprivileged.home
    locked = home / "locked"
    locked.mkdir()
    path = plan_file(home, "[campaign]\nreport_dir = 'locked/reports'\n" + GOOD_JOB)
    db = home / "lab.db"
    with unprivileged.locked(locked):
        done = unprivileged.run("campaign", str(path), "--db", str(db), "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "bad-campaign-plan"
    assert str(path) in error["message"]  # names the file
    assert "cannot be written" in error["message"]
    assert "report_dir" in error["message"] and str(locked) in error["message"]
    assert len(error["details"]["problems"]) == 1, error  # the folder, nothing else
    assert list(locked.iterdir()) == []
    assert not db.exists()  # nothing ran, so nothing was logged


def test_plan_paths_that_are_not_plans(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="No plan file"):
        load_plan(tmp_path / "missing.toml")
    with pytest.raises(PlanError, match="is a folder"):
        load_plan(tmp_path)
    binary = tmp_path / "plan.toml"
    binary.write_bytes(b"\xff\xfe\x00lanes = 2")
    with pytest.raises(PlanError, match="not UTF-8"):
        load_plan(binary)


def test_the_check_creates_nothing(tmp_path: Path) -> None:
    """A refused plan (or an accepted one) leaves no report folder behind: the check reads."""
    plan = load_plan(plan_file(tmp_path, "[campaign]\nreport_dir = 'out/a/b'\n" + GOOD_JOB))
    assert plan.report_dir == tmp_path / "out/a/b"
    assert not (tmp_path / "out").exists()


def test_a_good_plan_keeps_its_defaults(tmp_path: Path) -> None:
    plan = load_plan(plan_file(tmp_path, "[campaign]\nmode = 'ota'\n" + GOOD_JOB))
    assert (plan.lanes, plan.retries, plan.healthy_s, plan.name) == (1, 0, 2.0, "plan")
    assert plan.jobs[0].mode == "ota" and plan.jobs[0].priority == 100
    assert plan.policy.healthy_s == 2.0


def test_the_schema_documents_every_key() -> None:
    """docs/campaigns.md lists every key of the schema: the table is the truth."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "campaigns.md").read_text()
    for name in [*CAMPAIGN_KEYS, *JOB_KEYS]:
        assert f"\n{name} = " in doc or f"`{name}`" in doc, name


def test_the_cli_refuses_a_bad_plan_before_any_bridge_is_touched(tmp_path: Path) -> None:
    path = plan_file(tmp_path, "[campaign]\nhealthy_s = inf\n" + GOOD_JOB)
    db = tmp_path / "lab.db"
    out = subprocess.run(
        [sys.executable, "-m", "bridgelab", "campaign", str(path), "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    error = json.loads(out.stdout)["error"]
    assert error["code"] == "bad-campaign-plan"
    assert "healthy_s" in error["message"]
    assert not db.exists()  # nothing ran, so nothing was logged
