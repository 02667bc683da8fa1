"""labgrid places as campaign lanes, against a real coordinator, exporters and ser2net.

Every test starts its own `labgrid-coordinator` and `labgrid-exporter`s on 127.0.0.1 (the
exporters serve emulated bridges on ptys through their own ser2net), and stops them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bridgelab.data.store import TriageStore
from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.updates import events as ev
from bridgelab.updates.campaign import Campaign, JobState, PlanError, load_plan
from bridgelab.updates.labgrid_places import Coordinator, CoordinatorUnreachable, PlaceBusy
from tests.rig_processes import doc_blocks, free_port
from tests.rigs.conftest import Lab
from tests.updates.conftest import signed_demo_image

pytest.importorskip("labgrid", reason="labgrid is not installed (pip install -e '.[dev]')")

NEWER = DEMO_IMAGES[0].path
RACKS = {"rig-a": ["rack3-1", "rack3-2"], "rig-b": ["rack3-3", "rack3-4"]}
ONE_RACK = {"rig-a": ["rack3-1", "rack3-2"]}


def write_plan(
    folder: Path, coordinator: str, jobs: str, image: bytes = b"", **head: object
) -> Path:
    (folder / "images").mkdir(exist_ok=True)
    (folder / "images" / "new.ota").write_bytes(image or NEWER.read_bytes())
    lines = ["[campaign]", 'name = "rack 3"', f'coordinator = "{coordinator}"', "healthy_s = 0.1"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in head.items()]
    plan = folder / "plan.toml"
    plan.write_text("\n".join(lines) + "\n" + jobs, encoding="utf-8")
    return plan


def places_job(pattern: str) -> str:
    return f'[[job]]\nplaces = "{pattern}"\nimage = "images/new.ota"\n'


def bridgelab(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridgelab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def sessions(db: Path) -> list[object]:
    if not db.exists():
        return []
    with TriageStore.open(db) as store:
        return list(store.query_sessions(limit=None))


@pytest.mark.slow
def test_a_campaign_over_four_places(lab: Callable[..., Lab], tmp_path: Path) -> None:
    rack = lab(RACKS)
    plan = load_plan(write_plan(tmp_path, rack.address, places_job("rack3-*"), lanes=4))
    with TriageStore.open(tmp_path / "triage.db") as store:
        summary = Campaign(plan, store=store).run()
        records = store.query_sessions(limit=None)
    assert [job.state for job in summary.jobs] == ["passed"] * 4, summary.describe()
    assert [job.job.place for job in summary.jobs] == rack.places
    assert all(job.job.port.startswith("rfc2217://127.0.0.1:") for job in summary.jobs)
    # Every triage session says which place, exporter and exporter host it ran on.
    by_place = {record.details["place"]: record for record in records}
    assert sorted(by_place) == rack.places
    for place, record in by_place.items():
        exporter = "rig-a" if place in RACKS["rig-a"] else "rig-b"
        assert record.details["exporter"] == exporter
        assert record.details["exporter_host"] == "127.0.0.1"
        assert record.final_state == "success"
    assert summary.to_dict()["jobs"][0]["place"] == "rack3-1"
    assert rack.holders() == dict.fromkeys(rack.places)  # all released


@pytest.mark.slow
def test_a_second_campaign_on_held_places_is_refused_or_queued(
    lab: Callable[..., Lab], tmp_path: Path
) -> None:
    rack = lab(ONE_RACK)
    first_dir, refused_dir, queued_dir = (tmp_path / n for n in ("first", "refused", "queued"))
    for folder in (first_dir, refused_dir, queued_dir):
        folder.mkdir()
    first = load_plan(write_plan(first_dir, rack.address, places_job("rack3-*"), lanes=2))
    held, proceed = threading.Event(), threading.Event()

    def on_job(state: JobState, event: ev.UpdateEvent | None) -> None:
        # The first campaign pauses mid-transfer, holding its places, until the others
        # have tried: no race with it finishing first.
        if isinstance(event, ev.Progress) and not held.is_set():
            held.set()
            proceed.wait(120)

    summaries = []
    runner = threading.Thread(target=lambda: summaries.append(Campaign(first, on_job=on_job).run()))
    runner.start()
    try:
        assert held.wait(60), "the first campaign never started sending"
        owner = rack.holders()["rack3-1"]
        assert owner and owner.count("/") == 1
        # Queued: with a bound long enough it waits for the first campaign, then runs
        # (the next version: the first campaign's is on the bridges by then).
        next_image = signed_demo_image(32 * 1024, file_version=0x01040000)
        plan = write_plan(
            queued_dir, rack.address, places_job("rack3-*"), image=next_image, wait_s=120
        )
        queued = subprocess.Popen(
            [sys.executable, "-m", "bridgelab", "campaign", str(plan), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Refused, naming the holder, after a bounded wait (1 s), and nothing ran.
        plan = write_plan(refused_dir, rack.address, places_job("rack3-*"), wait_s=1)
        db = refused_dir / "triage.db"
        refused = bridgelab("campaign", str(plan), "--db", str(db), "--json")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        error = json.loads(refused.stdout)["error"]
        assert error["code"] == "place-busy", error
        assert owner in error["message"] and "after waiting 1 s" in error["message"]
        assert sessions(db) == []
        assert queued.poll() is None, "the queued campaign did not wait"
    finally:
        proceed.set()
        runner.join(timeout=120)
    assert summaries and summaries[0].all_passed, summaries and summaries[0].describe()
    out, err = queued.communicate(timeout=300)
    assert queued.returncode == 0, out + err
    assert json.loads(out)["passed"] == 2
    assert rack.holders() == dict.fromkeys(rack.places)


def test_a_place_held_by_someone_else_names_its_holder(lab: Callable[..., Lab]) -> None:
    rack = lab({"rig-a": ["rack3-1"]})
    rack.client("-p", "rack3-1", "acquire", user="alice")
    with Coordinator(rack.address) as coordinator:
        with pytest.raises(PlaceBusy) as refused:
            coordinator.acquire("rack3-1")
        assert "/alice" in refused.value.message
        assert refused.value.details["holder"].endswith("/alice")
        # A bounded wait for a place that is released meanwhile gets it.
        threading.Timer(1.0, rack.client, ("-p", "rack3-1", "release"), {"user": "alice"}).start()
        coordinator.acquire("rack3-1", wait_s=60)
        assert coordinator.holder("rack3-1") == coordinator.identity
        endpoint = coordinator.endpoint("rack3-1")
        assert endpoint.url.startswith("rfc2217://127.0.0.1:") and endpoint.exporter == "rig-a"
        info = bridgelab("info", "--port", endpoint.url, "--json")
        assert info.returncode == 0, info.stderr
        coordinator.release("rack3-1")
        assert coordinator.holder("rack3-1") is None


@pytest.mark.slow
def test_an_exporter_killed_mid_campaign_fails_only_its_jobs(
    lab: Callable[..., Lab], tmp_path: Path
) -> None:
    rack = lab(RACKS)
    plan = load_plan(write_plan(tmp_path, rack.address, places_job("rack3-*"), lanes=4))
    killed = threading.Event()

    def on_job(state: JobState, event: ev.UpdateEvent | None) -> None:
        if (
            isinstance(event, ev.Progress)
            and state.job.place in RACKS["rig-a"]
            and event.done > event.total // 4
            and not killed.is_set()
        ):
            killed.set()
            rack.exporters["rig-a"].kill()  # the exporter and its ser2net, as if unplugged

    with TriageStore.open(tmp_path / "triage.db") as store:
        summary = Campaign(plan, store=store, on_job=on_job).run()
        records = {r.details["place"]: r for r in store.query_sessions(limit=None)}
    assert killed.is_set()
    states = {
        job.job.place: (job.state, job.last.result if job.last else "") for job in summary.jobs
    }
    assert states == {
        "rack3-1": ("failed", "rig-lost"),
        "rack3-2": ("failed", "rig-lost"),
        "rack3-3": ("passed", "success"),
        "rack3-4": ("passed", "success"),
    }, summary.describe()
    for place in RACKS["rig-a"]:
        assert records[place].failure_class == "rig-lost"
        assert "rig-a" in (records[place].failure_message or "")
    assert rack.holders() == dict.fromkeys(rack.places)


def test_an_unreachable_coordinator_is_a_coded_error_before_anything_runs(
    tmp_path: Path,
) -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    plan = write_plan(tmp_path, address, places_job("rack3-*"))
    db = tmp_path / "triage.db"
    result = bridgelab("campaign", str(plan), "--db", str(db), "--json", timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "labgrid-unreachable"
    said = f"{error['message']} {error['action'] or ''}"  # what happened, then what to do
    assert address in error["message"] and "Nothing was run" in said
    assert sessions(db) == []
    with pytest.raises(CoordinatorUnreachable):
        Coordinator(address)


@pytest.mark.slow
def test_ctrl_c_releases_every_place(lab: Callable[..., Lab], tmp_path: Path) -> None:
    rack = lab(ONE_RACK)
    plan = write_plan(tmp_path, rack.address, places_job("rack3-*"), lanes=2)
    process = subprocess.Popen(
        [sys.executable, "-m", "bridgelab", "campaign", str(plan), "--db", str(tmp_path / "t.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not all(rack.holders().values()):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr
        time.sleep(0.1)
    time.sleep(1.0)  # the updates are under way
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert rack.holders() == dict.fromkeys(rack.places)
    with TriageStore.open(tmp_path / "t.db") as store:
        ended = {r.final_state for r in store.query_sessions(limit=None)}
    assert ended <= {"cancelled", "success"}, ended


def test_ports_labgrid_lists_places_and_holders(lab: Callable[..., Lab]) -> None:
    rack = lab({"rig-a": ["rack3-1", "rack3-2"]})
    rack.client("-p", "rack3-2", "acquire", user="alice")
    env = {"LG_COORDINATOR": rack.address}
    listed = bridgelab("ports", "--labgrid", "--json", env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    places = {p["place"]: p for p in json.loads(listed.stdout)["places"]}
    assert places["rack3-1"]["acquired_by"] is None
    assert places["rack3-2"]["acquired_by"].endswith("/alice")
    assert places["rack3-1"]["exporters"] == ["rig-a"]
    text = bridgelab("ports", "--labgrid", env=env, timeout=60)
    assert text.returncode == 0, text.stderr
    assert "rack3-1" in text.stdout and "free" in text.stdout and "/alice" in text.stdout
    rack.client("-p", "rack3-2", "release", user="alice")


def test_ports_labgrid_without_a_coordinator_is_a_coded_error() -> None:
    env = {"LG_COORDINATOR": f"127.0.0.1:{free_port()}"}
    result = bridgelab("ports", "--labgrid", "--json", env=env, timeout=60)
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["code"] == "labgrid-unreachable"


# ------------------------------------------------------------------ plans and docs


def test_a_job_names_exactly_one_of_port_place_places(tmp_path: Path) -> None:
    both = '[[job]]\nport = "emu://demo"\nplace = "rack3-1"\nimage = "images/new.ota"\n'
    with pytest.raises(PlanError, match=r"names `port` and `place`: a job runs on one of them"):
        load_plan(write_plan(tmp_path, "127.0.0.1:1", both))
    none = '[[job]]\nimage = "images/new.ota"\n'
    with pytest.raises(PlanError, match=r"has no `port`.*`place` or `places`"):
        load_plan(write_plan(tmp_path, "127.0.0.1:1", none))
    with pytest.raises(PlanError, match="wait_s"):
        load_plan(write_plan(tmp_path, "127.0.0.1:1", places_job("rack3-*"), wait_s=-1))
    with pytest.raises(PlanError, match=r"placse: is not a known key\. Did you mean `place`"):
        load_plan(write_plan(tmp_path, "127.0.0.1:1", places_job("x").replace("places", "placse")))


def test_the_documented_campaign_over_places_parses(tmp_path: Path) -> None:
    (block,) = [b for b in doc_blocks("toml") if "places =" in b]
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "bridge-1.3.0.ota").write_bytes(NEWER.read_bytes())
    path = tmp_path / "rack3.toml"
    path.write_text(block, encoding="utf-8")
    plan = load_plan(path)
    assert plan.uses_places and plan.jobs[0].place == "rack3-*"
    assert plan.coordinator == "coordinator-host:20408" and plan.wait_s == 0
    assert plan.lanes == 4


def test_the_documented_exporter_config_is_the_one_served(lab: Callable[..., Lab]) -> None:
    rack = lab({"rig-a": ["rack3-1"]})
    config = (rack.folder / "exporter-rig-a.yaml").read_text()
    assert "RawSerialPort:" in config and rack.ptys["rack3-1"] in config
    assert "speed: 115200" in config


def test_the_gui_port_picker_shows_the_places(lab: Callable[..., Lab], qtbot) -> None:  # type: ignore[no-untyped-def]
    from bridgelab.gui.port_list import PortList
    from bridgelab.gui.tasks import TaskRunner
    from bridgelab.gui.widgets.connection_bar import ConnectionBar
    from bridgelab.updates.labgrid_places import PlaceScanner

    rack = lab({"rig-a": ["rack3-1", "rack3-2"]})
    rack.client("-p", "rack3-2", "acquire", user="alice")
    runner = TaskRunner()
    scanner = PlaceScanner(rack.address)
    ports = PortList(runner, scan=list, places=scanner, interval_ms=50)
    bar = ConnectionBar()
    qtbot.addWidget(bar)
    ports.portsChanged.connect(bar.set_ports)
    mine = Coordinator(rack.address)
    try:
        with qtbot.waitSignal(ports.portsChanged, timeout=30_000):
            ports.start()
        labels = [bar.ports.itemText(n) for n in range(bar.ports.count())]
        assert any("rack3-1" in label and "free" in label for label in labels), labels
        assert any("rack3-2" in label and "/alice" in label for label in labels), labels
        # Once this user holds a place, its entry is the URL its exporter serves.
        mine.acquire("rack3-1")
        url = mine.endpoint("rack3-1").url
        qtbot.waitUntil(lambda: bar.ports.findData(url) >= 0, timeout=30_000)
        assert "yours" in bar.ports.itemText(bar.ports.findData(url))
    finally:
        mine.release("rack3-1")
        mine.close()
        ports.stop()
        runner.shutdown()
        scanner.close()
        rack.client("-p", "rack3-2", "release", user="alice")


def test_labgrid_is_imported_only_by_its_adapter_and_only_when_used() -> None:
    """labgrid is LGPL-2.1: one module imports it, lazily; without it, a coded error."""
    root = Path(__file__).resolve().parents[2]
    importers = sorted(
        str(path.relative_to(root))
        for folder in (
            "bridgelab",
            "drivers",
            "zigbee",
            "emulator",
            "firmware",
            "updates",
            "data",
            "gui",
        )
        if (root / folder).is_dir()
        for path in (root / folder).rglob("*.py")
        if "import labgrid" in path.read_text() or "from labgrid" in path.read_text()
    )
    assert importers == ["updates/labgrid_places.py"]
    probe = (
        "import sys\n"
        "import bridgelab.gui.port_list, bridgelab.updates.campaign_places, bridgelab.cli\n"
        "assert not any(m.split('.')[0] in ('labgrid', 'grpc') for m in sys.modules), 'eager'\n"
        "sys.modules['labgrid'] = None  # as if the extra were not installed\n"
        "from bridgelab.updates.labgrid_places import Coordinator, LabgridMissing\n"
        "try:\n"
        "    Coordinator('127.0.0.1:1')\n"
        "except LabgridMissing as error:\n"
        "    print(error.code, '|', error.action)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("labgrid-not-installed |")
    assert "bridgelab[labgrid]" in result.stdout
