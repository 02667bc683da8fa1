"""`bridgelab log`: every action on a log written through the store's own API."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest

from bridgelab.cli import main
from bridgelab.data import (
    DeviceInfo,
    Failure,
    FailureClass,
    ImageInfo,
    SessionStart,
    Stage,
    TriageStore,
)

OLD_IMAGE = ImageInfo(sha256="aa" * 32, size=4000, file_version=0x01010000)
NEW_IMAGE = ImageInfo(sha256="bb" * 32, size=4000, file_version=0x01020000, signer="K1")
STALLED = Failure(Stage.TRANSFER, FailureClass.STALLED, "no-block-30s", "No block for 30 s.")
UNCHANGED = Failure(Stage.CONFIRM, FailureClass.VERSION_UNCHANGED, "", "Still 0x01010000.")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["log", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def log(tmp_path: Path) -> dict[str, object]:
    """Five sessions: 2 successes, 2 failures (stalled, version unchanged), 1 cancelled."""
    path = tmp_path / "field.db"
    ids: dict[str, str] = {}
    with TriageStore.open(path) as store:
        plan = [
            ("ok1", 1, "SITE-A", NEW_IMAGE, None, "success"),
            ("ok2", 2, "SITE-A", OLD_IMAGE, None, "success"),
            ("stalled", 1, "SITE-B", NEW_IMAGE, STALLED, "failed"),
            ("unchanged", 3, "SITE-B", NEW_IMAGE, UNCHANGED, "failed"),
            ("cancelled", 2, "SITE-A", NEW_IMAGE, None, "cancelled"),
        ]
        for name, device, site, image, failure, state in plan:
            info = SessionStart(
                mode="local",
                port_url=f"emu://{name}",
                device=DeviceInfo(eui64=device, model="P2P-A1" if device < 3 else "P2P-B1"),
                image=image,
                site_ref=site,
                version_before=0x01010000,
            )
            sid = store.begin_session(info)
            store.enter_stage(sid, Stage.TRANSFER)
            for offset in range(0, 4000, 500):
                store.log_progress(sid, offset, 4000)
            store.log_frame(sid, "tx", b"\x7e\x01\x02")
            store.log_frame(sid, "rx", b"\x7e\x06")
            store.end_session(sid, state, failure)
            ids[name] = sid
        store.add_note(ids["stalled"], "Antenna loose.", author="sam")
    return {"path": path, "ids": ids}


def test_list_is_an_aligned_table_newest_first(
    log: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "list", "--db", str(log["path"]))
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split()[:3] == ["ID", "STARTED", "(UTC)"]
    assert "cancelled" in lines[1] and "ok1" not in out  # newest first, ids not names
    assert "stalled@transfer" in out and "version-unchanged@confirm" in out
    assert lines[-1] == "5 of 5 sessions, newest first."
    # Columns are aligned: every RESULT cell starts where the header does.
    column = lines[0].index("RESULT")
    assert all(line[column - 2 : column] == "  " for line in lines[1:6])


def test_list_filters_and_json(log: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    ids = log["ids"]
    assert isinstance(ids, dict)
    db = ["--db", str(log["path"]), "--json"]
    _, out, _ = run(capsys, "list", *db, "--result", "failed")
    payload = json.loads(out)
    assert payload["total"] == 2
    assert {s["id"] for s in payload["sessions"]} == {ids["stalled"], ids["unchanged"]}
    _, out, _ = run(capsys, "list", *db, "--failure-class", "stalled")
    assert [s["id"] for s in json.loads(out)["sessions"]] == [ids["stalled"]]
    _, out, _ = run(capsys, "list", *db, "--device", "0000000000000002")
    assert {s["id"] for s in json.loads(out)["sessions"]} == {ids["ok2"], ids["cancelled"]}
    _, out, _ = run(capsys, "list", *db, "--limit", "2")
    payload = json.loads(out)
    assert payload["total"] == 5 and len(payload["sessions"]) == 2
    _, out, _ = run(capsys, "list", *db, "--since", "1h")
    assert json.loads(out)["total"] == 5
    code, out, _ = run(capsys, "list", "--db", str(log["path"]), "--since", "2999-01-01")
    assert code == 0 and out.strip() == "No sessions match."


def test_bad_filters_and_missing_logs_are_explained(
    log: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "list", "--db", str(log["path"]), "--json", "--failure-class", "x")
    error = json.loads(out)["error"]
    assert code == 1 and error["code"] == "bad-filter" and "stalled" in error["action"]
    code, _, err = run(capsys, "list", "--db", str(tmp_path / "none.db"), "--since", "lately")
    assert code == 1 and "bad-filter" in err
    code, _, err = run(capsys, "list", "--db", str(tmp_path / "none.db"))
    assert code == 1 and err.startswith("error [db-not-found]")
    assert not (tmp_path / "none.db").exists()


def test_show_by_prefix_explains_the_failure(
    log: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    ids = log["ids"]
    assert isinstance(ids, dict)
    code, out, _ = run(capsys, "show", ids["stalled"][:18], "--db", str(log["path"]))
    assert code == 0
    assert out.startswith(f"Session {ids['stalled']}")
    assert "failed: Stalled (stalled) in the transfer stage, code no-block-30s" in out
    assert FailureClass.STALLED.action in out
    assert "progress x8" in out and "0 -> 3500 of 4000 bytes" in out
    assert "sam: Antenna loose." in out
    _, out, _ = run(capsys, "show", ids["stalled"], "--db", str(log["path"]), "--all-events")
    assert out.count(" offset=") == 8
    _, out, _ = run(capsys, "show", ids["ok1"], "--db", str(log["path"]), "--trace")
    assert "7e 01 02" in out and "rx" in out
    _, out, _ = run(capsys, "show", ids["ok1"], "--db", str(log["path"]), "--json", "--trace")
    payload = json.loads(out)
    assert payload["session"]["final_state"] == "success"
    assert payload["image"]["signer"] == "K1"
    assert [f["data"] for f in payload["frames"]] == ["7e0102", "7e06"]
    assert payload["events"][0]["kind"] == "session-started"


def test_export_csv_and_json(
    log: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", str(log["path"])]
    code, out, _ = run(capsys, "export", *db, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 5
    assert {r["failure_class"] for r in rows} == {"", "stalled", "version-unchanged", "cancelled"}
    assert rows[0]["id"] and rows[0]["image_version"]
    target = tmp_path / "events.csv"
    _, out, _ = run(capsys, "export", *db, "--format", "csv", "--table", "events",
                    "--result", "failed", "-o", str(target))  # fmt: skip
    events = list(csv.DictReader(target.open(encoding="utf-8")))
    assert out.strip() == f"Wrote {len(events)} events to {target}."
    assert len({e["session_id"] for e in events}) == 2
    assert json.loads(events[0]["data"])["mode"] == "local"
    _, out, _ = run(capsys, "export", *db, "--format", "json")
    payload = json.loads(out)
    assert len(payload["sessions"]) == 5 and payload["schema_version"] >= 2
    stalled = next(s for s in payload["sessions"] if s["failure_class"] == "stalled")
    assert stalled["notes"][0]["text"] == "Antenna loose."
    assert stalled["events"][-1]["kind"] == "session-ended"


def test_merge_reports_rows_added(
    log: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = tmp_path / "lab.db"
    code, out, _ = run(capsys, "merge", str(log["path"]), "--db", str(lab))
    assert code == 0
    assert out.splitlines()[0].split() == [
        "FILE", "DEVICES", "IMAGES", "SESSIONS", "EVENTS", "FRAMES", "NOTES", "UPDATED"
    ]  # fmt: skip
    assert out.splitlines()[1].split()[1:5] == ["+3", "+2", "+5", "+55"]
    _, out, _ = run(capsys, "merge", str(log["path"]), "--db", str(lab), "--json")
    report = json.loads(out)["merged"][0]
    assert sum(report["added"].values()) == 0 and sum(report["updated"].values()) == 0


def test_bundle_holds_what_a_supplier_needs(
    log: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = log["ids"]
    assert isinstance(ids, dict)
    target = tmp_path / "defect.zip"
    sid = ids["stalled"]
    code, out, _ = run(capsys, "bundle", sid[:18], "-o", str(target), "--db", str(log["path"]))
    assert code == 0 and str(target) in out
    with zipfile.ZipFile(target) as archive:
        names = set(archive.namelist())
        assert names == {
            "README.txt", "manifest.json", f"{sid}/session.json", f"{sid}/events.json",
            f"{sid}/events.csv", f"{sid}/trace.csv",
        }  # fmt: skip
        story = json.loads(archive.read(f"{sid}/session.json"))
        manifest = json.loads(archive.read("manifest.json"))
        readme = archive.read("README.txt").decode()
        trace = archive.read(f"{sid}/trace.csv").decode().splitlines()
        assert archive.testzip() is None
    assert story["session"]["failure_code"] == "no-block-30s"
    assert story["failure"]["title"] == "Stalled" and story["failure"]["area"] == "device"
    assert story["image"]["file_version"] == 0x01020000
    assert story["device"]["model"] == "P2P-A1"
    assert story["notes"][0]["text"] == "Antenna loose."
    assert manifest["sessions"] == [sid] and manifest["versions"]["sqlite"]
    assert "Stalled in the transfer stage" in readme and "next step" in readme
    assert trace[0] == "seq,t_s,direction,length,hex" and trace[1].endswith(",tx,3,7e0102")

    many = tmp_path / "failed.zip"
    run(capsys, "bundle", "--result", "failed", "--no-trace", "-o", str(many),
        "--db", str(log["path"]))  # fmt: skip
    with zipfile.ZipFile(many) as archive:
        folders = {name.split("/")[0] for name in archive.namelist() if "/" in name}
        assert folders == {ids["stalled"], ids["unchanged"]}
        assert not [n for n in archive.namelist() if n.endswith("trace.csv")]
    code, _, err = run(capsys, "bundle", "--site", "nowhere", "-o", str(many),
                       "--db", str(log["path"]))  # fmt: skip
    assert code == 1 and "nothing to bundle" in err


def test_stats_by_firmware_model_class_site(
    log: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "stats", "--db", str(log["path"]), "--json")
    report = json.loads(out)
    assert report["total"]["sessions"] == 5 and report["total"]["failures"] == 2
    # 2 failures of 4 decided sessions (the cancelled one counts neither way).
    assert report["total"]["failure_rate"] == pytest.approx(0.5)
    firmware = {row["key"]: row for row in report["groups"]["firmware"]}
    assert firmware[0x01020000]["sessions"] == 4 and firmware[0x01020000]["failures"] == 2
    assert firmware[0x01020000]["failure_rate"] == pytest.approx(2 / 3)
    assert firmware[0x01010000]["failure_rate"] == 0
    classes = {row["key"]: row["sessions"] for row in report["groups"]["failure-class"]}
    assert classes == {"stalled": 1, "version-unchanged": 1, "cancelled": 1}
    sites = {row["key"]: row["failures"] for row in report["groups"]["site"]}
    assert sites == {"SITE-A": 0, "SITE-B": 2}
    code, out, _ = run(capsys, "stats", "--db", str(log["path"]), "--by", "model", "--by", "stage")
    assert code == 0
    assert "P2P-B1" in out and "100.0%" in out and "STAGE" in out and "transfer" in out


def test_note_adds_to_a_session(
    log: dict[str, object], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = log["ids"]
    assert isinstance(ids, dict)
    monkeypatch.setenv("BRIDGELAB_DB", str(log["path"]))  # no --db: the env var is used
    code, out, _ = run(capsys, "note", ids["ok2"], "Swapped the cable.", "--author", "kim")
    assert code == 0 and ids["ok2"] in out
    _, out, _ = run(capsys, "show", ids["ok2"])
    assert "kim: Swapped the cable." in out
