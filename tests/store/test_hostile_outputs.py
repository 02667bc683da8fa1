"""No output replaces an input: every `-o`/`--out` tried as a careless user and an attacker.

Each case names an output path that must be refused (the log by another spelling, its
companions, a folder, an existing file, ...) and checks the code, that the log is still
byte for byte what it was, and that no temporary file is left behind.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from bridgelab.cli import main
from bridgelab.data import DeviceInfo, SessionStart, Stage, TriageStore
from bridgelab.safe_output import (
    OutputExists,
    OutputIsInput,
    OutputNotWritable,
    check_output,
    safe_binary_output,
    safe_output,
    triage_log,
    write_bytes,
)
from tests.unprivileged import Unprivileged

Capture = pytest.CaptureFixture[str]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    return make_lab(tmp_path)


def make_lab(parent: Path) -> Path:
    """A closed log with three sessions (one with a note), in its own folder."""
    folder = parent / "lab"
    folder.mkdir()
    path = folder / "triage.db"
    with TriageStore.open(path) as store:
        for number in range(3):
            sid = store.begin_session(SessionStart(mode="local", device=DeviceInfo(eui64=number)))
            store.enter_stage(sid, Stage.TRANSFER)
            store.log_progress(sid, 100, 200)
            store.end_session(sid, "success", version_after=2)
        store.add_note(sid, "checked")
    return path


def run_json(capsys: Capture, *argv: str) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.tmp"))


COMMANDS = {
    "export-csv": ["log", "export", "--format", "csv"],
    "export-events": ["log", "export", "--format", "csv", "--table", "events"],
    "export-json": ["log", "export", "--format", "json"],
    "bundle": ["log", "bundle"],
}

# name -> (how to make the output path from the log path, the code expected)
HOSTILE_PATHS: dict[str, tuple[Callable[[Path], str], str]] = {
    "the log itself": (lambda db: str(db), "output-is-input"),
    "relative spelling": (lambda db: os.path.relpath(db), "output-is-input"),
    "dot-dot spelling": (lambda db: str(db.parent / "x" / ".." / db.name), "output-is-input"),
    "doubled slashes": (lambda db: str(db.parent) + "//" + db.name, "output-is-input"),
    "its -wal": (lambda db: str(db) + "-wal", "output-is-input"),
    "its -shm": (lambda db: str(db) + "-shm", "output-is-input"),
    "its -journal": (lambda db: str(db) + "-journal", "output-is-input"),
    "upper-case name": (lambda db: str(db.with_name(db.name.upper())), "output-is-input"),
    "upper-case -WAL": (lambda db: str(db) + "-WAL", "output-is-input"),
    "the owners folder": (lambda db: str(db) + "-owners", "output-is-input"),
    "a file in the owners folder": (lambda db: str(db) + "-owners/x.lock", "output-is-input"),
    "a folder": (lambda db: str(db.parent), "output-is-folder"),
    "a trailing slash": (lambda db: str(db.parent / "new.zip") + "/", "output-is-folder"),
    "a missing folder": (lambda db: str(db.parent / "absent" / "out"), "output-not-writable"),
    "a file as folder": (lambda db: str(db / "out"), "output-not-writable"),
    "a device": (lambda db: "/dev/null", "output-exists"),
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(HOSTILE_PATHS))
def test_an_output_that_would_replace_an_input_is_refused(
    lab: Path, capsys: Capture, command: str, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(lab.parent)
    make, expected = HOSTILE_PATHS[case]
    before = digest(lab)
    target = make(lab)
    code, out = run_json(capsys, *COMMANDS[command], "--db", str(lab), "-o", target, "--json")
    assert code == 1
    assert out["error"]["code"] == expected, out  # type: ignore[index]
    assert "action" in out["error"]  # type: ignore[operator]
    assert digest(lab) == before
    assert leftovers(lab.parent) == []


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("link", ["symlink", "hardlink", "symlinked-folder", "chain"])
def test_the_log_by_a_link_is_refused(
    lab: Path, tmp_path: Path, capsys: Capture, command: str, link: str
) -> None:
    before = digest(lab)
    if link == "symlink":
        target = tmp_path / "looks-new.zip"
        target.symlink_to(lab)
    elif link == "hardlink":
        target = tmp_path / "looks-new.zip"
        os.link(lab, target)
    elif link == "symlinked-folder":
        (tmp_path / "alias").symlink_to(lab.parent)
        target = tmp_path / "alias" / lab.name
    else:
        (tmp_path / "one").symlink_to(lab.with_name(lab.name + "-wal"))
        target = tmp_path / "two"
        target.symlink_to(tmp_path / "one")
    code, out = run_json(capsys, *COMMANDS[command], "--db", str(lab), "-o", str(target), "--json")
    assert code == 1
    assert out["error"]["code"] == "output-is-input"  # type: ignore[index]
    # --force does not make an input writable either.
    code, out = run_json(
        capsys, *COMMANDS[command], "--db", str(lab), "-o", str(target), "--json", "--force"
    )
    assert out["error"]["code"] == "output-is-input"  # type: ignore[index]
    assert digest(lab) == before


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_existing_file_needs_force_and_force_replaces_it_whole(
    lab: Path, tmp_path: Path, capsys: Capture, command: str
) -> None:
    target = tmp_path / "report.out"
    target.write_text("keep me")
    code, out = run_json(capsys, *COMMANDS[command], "--db", str(lab), "-o", str(target), "--json")
    assert code == 1 and out["error"]["code"] == "output-exists"  # type: ignore[index]
    assert "--force" in out["error"]["action"]  # type: ignore[index]
    assert target.read_text() == "keep me"
    code, _ = run_json(
        capsys, *COMMANDS[command], "--db", str(lab), "-o", str(target), "--json", "--force"
    )
    assert code == 0
    assert target.read_bytes() != b"keep me"
    if command == "bundle":
        assert zipfile.ZipFile(target).testzip() is None
    assert leftovers(tmp_path) == []


def test_force_replaces_a_symlink_and_never_writes_through_it(
    lab: Path, tmp_path: Path, capsys: Capture
) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not yours")
    link = tmp_path / "out.csv"
    link.symlink_to(elsewhere)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "nowhere" / "x.csv")
    for target in (link, dangling):
        code, out = run_json(
            capsys, "log", "export", "--format", "csv", "--db", str(lab), "-o", str(target),
            "--json",
        )  # fmt: skip
        assert out["error"]["code"] == "output-exists"  # type: ignore[index]
        code, _ = run_json(
            capsys, "log", "export", "--format", "csv", "--db", str(lab), "-o", str(target),
            "--json", "--force",
        )  # fmt: skip
        assert code == 0
        assert not target.is_symlink() and target.read_text().startswith("id,")
    assert elsewhere.read_text() == "not yours"
    assert not (tmp_path / "nowhere").exists()


def test_a_symlink_to_the_log_swapped_in_during_the_write_is_caught(lab: Path) -> None:
    target = lab.parent / "out.json"
    before = digest(lab)
    with pytest.raises(OutputIsInput), safe_output(target, triage_log(lab), force=True) as out:
        out.write("{}")
        target.symlink_to(lab)  # an attacker's swap between check and rename
    assert digest(lab) == before
    assert leftovers(lab.parent) == []


def test_a_file_created_during_the_write_is_not_overwritten_without_force(
    tmp_path: Path,
) -> None:
    target = tmp_path / "race.csv"
    with pytest.raises(OutputExists), safe_output(target) as out:
        out.write("ours")
        target.write_text("theirs")
    assert target.read_text() == "theirs"
    assert leftovers(tmp_path) == []


def test_an_error_while_writing_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "half.zip"
    target.write_bytes(b"old")
    with pytest.raises(ZeroDivisionError), safe_binary_output(target, force=True) as out:
        out.write(b"new" * 1000)
        raise ZeroDivisionError
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["", "a\x00b"])
def test_unusable_path_texts_are_refused(name: str) -> None:
    with pytest.raises(OutputNotWritable):
        check_output(name)


@pytest.mark.parametrize(
    ("command", "existing"), [*((c, True) for c in COMMANDS), ("bundle", False)]
)
def test_a_read_only_folder_is_refused_before_any_byte(
    unprivileged: Unprivileged, command: str, existing: bool
) -> None:
    """An output whose folder the user cannot write is refused with a code, with --force
    too, leaving the folder (and an old file there) as it was. Runs as a user the
    permissions bind (nobody, when the tests run as root)."""
    path = make_lab(unprivileged.home)
    folder = unprivileged.home / "locked"
    folder.mkdir()
    target = folder / "x.out"
    if existing:
        target.write_bytes(b"previous report")
    before = digest(path)
    force = ["--force"] if existing else []
    argv = [*COMMANDS[command], "--db", str(path), "-o", str(target), *force, "--json"]
    with unprivileged.locked(folder):
        done = unprivileged.run(*argv)
    assert done.returncode == 1, done.stdout + done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "output-not-writable", error
    assert str(folder) in error["message"], error
    assert sorted(p.name for p in folder.iterdir()) == (["x.out"] if existing else [])
    if existing:
        assert target.read_bytes() == b"previous report"
    assert digest(path) == before


FULL_DISK_SCRIPT = """
import resource, signal, sys
from bridgelab.cli import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("command", ["export-json", "bundle"])
def test_a_full_disk_during_the_temporary_write_keeps_the_old_file(
    tmp_path: Path, command: str
) -> None:
    # A log big enough that its export does not fit under the file-size limit.
    path = tmp_path / "big.db"
    with TriageStore.open(path) as store:
        for number in range(40):
            sid = store.begin_session(SessionStart(mode="ota", device=DeviceInfo(eui64=number)))
            for offset in range(60):
                store.log_event(sid, "note", {"text": os.urandom(40).hex()}, durable=False)
                store.log_progress(sid, offset, 60)
            store.end_session(sid, "success")
    target = tmp_path / "out" / "report.bin"
    target.parent.mkdir()
    target.write_bytes(b"previous report")
    ids = [] if command != "bundle" else ["--limit", "40"]
    argv = [*COMMANDS[command], *ids, "--db", str(path), "-o", str(target), "--force", "--json"]
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK_SCRIPT, str(64 * 1024), *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "output-write-failed"
    assert "full" in error["message"]
    assert target.read_bytes() == b"previous report"
    assert leftovers(tmp_path) == []
    assert resource.RLIMIT_FSIZE and signal.SIGXFSZ  # the mechanism exists on this platform


def test_image_build_never_overwrites_its_payload_or_key(tmp_path: Path, capsys: Capture) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(512))
    key_folder = tmp_path / "keys"
    code, made = run_json(
        capsys, "keys", "generate", "--manufacturer", "0x1234", "--out", str(key_folder),
        "--label", "lab", "--json",
    )  # fmt: skip
    assert code == 0
    key = Path(str(made["private_key_path"]))
    build = ["image", "build", "--manufacturer", "0x1234", "--image-type", "1",
             "--file-version", "0x01020000", "--payload", str(payload), "--sign-key", str(key),
             "--json"]  # fmt: skip
    snapshot = {p: digest(p) for p in (payload, key)}
    for target, expected in (
        (payload, "output-is-input"),
        (key, "output-is-input"),
        (tmp_path / "." / "payload.bin", "output-is-input"),
        (key_folder, "cannot-write"),
    ):
        code, out = run_json(capsys, *build, "-o", str(target), "--force")
        assert code == 1 and out["error"]["code"] == expected, (target, out)  # type: ignore[index]
    assert {p: digest(p) for p in snapshot} == snapshot
    image = tmp_path / "image.ota"
    assert run_json(capsys, *build, "-o", str(image))[0] == 0
    code, out = run_json(capsys, *build, "-o", str(image))
    assert out["error"]["code"] == "output-exists"  # type: ignore[index]
    assert run_json(capsys, *build, "-o", str(image), "--force")[0] == 0


def test_keys_generate_never_replaces_a_private_key(tmp_path: Path, capsys: Capture) -> None:
    folder = tmp_path / "keys"
    generate = ["keys", "generate", "--manufacturer", "0x1234", "--out", str(folder),
                "--label", "lab", "--json"]  # fmt: skip
    code, made = run_json(capsys, *generate)
    assert code == 0
    private = Path(str(made["private_key_path"]))
    before = digest(private)
    for extra in ([], ["--force"]):
        code, out = run_json(capsys, *generate, *extra)
        assert code == 1 and out["error"]["code"] == "file-exists"  # type: ignore[index]
    assert digest(private) == before
    # A public key alone in the way needs --force; the folder must be a folder.
    private.unlink()
    code, out = run_json(capsys, *generate)
    assert out["error"]["code"] == "output-exists"  # type: ignore[index]
    assert not private.exists()
    assert run_json(capsys, *generate, "--force")[0] == 0
    a_file = tmp_path / "file"
    a_file.write_text("x")
    code, out = run_json(capsys, "keys", "generate", "--manufacturer", "1", "--out", str(a_file),
                         "--json")  # fmt: skip
    assert out["error"]["code"] == "cannot-write" and a_file.read_text() == "x"  # type: ignore[index]


def test_campaign_reports_never_land_on_an_input(tmp_path: Path, lab: Path) -> None:
    from datetime import UTC, datetime

    from bridgelab.safe_output import Guarded, OutputNotAFolder, inputs
    from bridgelab.updates.campaign import CampaignSummary, JobState, PlannedJob

    image = tmp_path / "image.ota"
    image.write_bytes(b"img")
    job = PlannedJob(0, '=HYPERLINK("http://x","y")', image, "local", False, 100, "@SUM(1)")
    summary = CampaignSummary(
        "=evil", [JobState(job)], datetime(2025, 1, 1, tzinfo=UTC), 1.0, 1, ()
    )
    trust = tmp_path / "trust"
    trust.mkdir()
    guards = [*inputs([image], "an image"), Guarded(trust, "the trust folder", tree=True)]
    guards += triage_log(lab)
    for folder, error in (
        (trust, OutputIsInput),
        (trust / "reports", OutputIsInput),
        (image, OutputIsInput),
        (lab, OutputIsInput),
        (Path(str(lab) + "-owners"), OutputIsInput),
    ):
        with pytest.raises(error):
            summary.write_reports(folder, guards)
    a_file = tmp_path / "plain"
    a_file.write_text("x")
    with pytest.raises(OutputNotAFolder):
        summary.write_reports(a_file, guards)
    csv_path, json_path = summary.write_reports(tmp_path / "reports", guards)
    assert json.loads(json_path.read_text())["reports"] == [str(csv_path), str(json_path)]
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert rows[0]["port"] == '\'=HYPERLINK("http://x","y")' and rows[0]["label"] == "'@SUM(1)"
    with pytest.raises(OutputExists):
        summary.write_reports(tmp_path / "reports", guards)
    summary.write_reports(tmp_path / "reports", guards, force=True)
    assert image.read_bytes() == b"img" and list(trust.iterdir()) == []


def test_write_bytes_of_a_private_file_is_owner_only(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "secret", b"k", private=True)
    assert path.stat().st_mode & 0o777 == 0o600
