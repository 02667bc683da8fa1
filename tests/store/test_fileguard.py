"""A corrupt or foreign file given with --db gets a clear error and is left as it was."""

from __future__ import annotations

import json
import os
import sqlite3
import zipfile
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from bridgelab.cli import main
from bridgelab.data import SessionStart, Stage, TriageStore
from bridgelab.data.schema import SCHEMA_VERSION

PAGE = 4096


def triage_log(path: Path, *, leave_running: bool = False) -> None:
    with TriageStore.open(path) as store:
        for _ in range(3):
            sid = store.begin_session(SessionStart(mode="local", port_url="emu://demo"))
            store.log_event(sid, "command", {"name": "identify"})
            store.end_session(sid, "success")
    if leave_running:
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("UPDATE sessions SET final_state = 'running', owner_id = 'gone'")
            conn.commit()


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def root_page(path: Path, table: str) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(
            conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]
        )


def make_text(path: Path) -> None:
    path.write_text("site visit notes, not a database\n")


def make_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.txt", "x" * 5000)


def make_foreign_sqlite(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO photos (name) VALUES ('meter.jpg')")
        conn.commit()


def make_truncated(path: Path) -> None:
    triage_log(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def make_short_header(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\x10\x00\x01\x01")


def make_bad_page_size(path: Path) -> None:
    triage_log(path)
    overwrite(path, 16, b"\x03\x00")


def make_garbled_schema(path: Path) -> None:
    triage_log(path)
    overwrite(path, 100, os.urandom(PAGE - 100))


def make_garbled_sessions(path: Path) -> None:
    triage_log(path)
    page = root_page(path, "sessions")
    overwrite(path, (page - 1) * PAGE, b"\xa5" * PAGE)


def make_garbled_events_with_running_session(path: Path) -> None:
    # Opening would close the running session: the integrity check must stop it first.
    triage_log(path, leave_running=True)
    page = root_page(path, "events")
    overwrite(path, (page - 1) * PAGE + 8, b"\x5a" * 64)


def make_newer(path: Path) -> None:
    triage_log(path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
        conn.commit()


CASES: list[tuple[Callable[[Path], None], str]] = [
    (make_text, "not-a-triage-db"),
    (make_zip, "not-a-triage-db"),
    (make_foreign_sqlite, "not-a-triage-db"),
    (make_truncated, "db-corrupt"),
    (make_short_header, "db-corrupt"),
    (make_bad_page_size, "db-corrupt"),
    (make_garbled_schema, "db-corrupt"),
    (make_garbled_sessions, "db-corrupt"),
    (make_garbled_events_with_running_session, "db-corrupt"),
    (make_newer, "db-newer-schema"),
]


@pytest.mark.parametrize(("make", "code"), CASES, ids=[m.__name__[5:] for m, _ in CASES])
@pytest.mark.parametrize("action", [["list"], ["stats"], ["note", "0", "text"]])
def test_bad_file_is_refused_clearly_and_left_untouched(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], None],
    code: str,
    action: list[str],
) -> None:
    path = tmp_path / "given.db"
    make(path)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    files_before = sorted(p.name for p in tmp_path.rglob("*"))
    capsys.readouterr()
    exit_code = main(["log", action[0], "--db", str(path), "--json", *action[1:]])
    error = json.loads(capsys.readouterr().out)["error"]
    assert exit_code == 1
    assert error["code"] == code
    assert str(path) in error["message"]
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.rglob("*")) == files_before


def test_plain_output_names_the_problem_and_the_next_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.txt"
    make_text(path)
    assert main(["log", "list", "--db", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error [not-a-triage-db]: ")
    assert "left as it is" in err


def test_a_folder_is_not_a_log(tmp_path: Path) -> None:
    from bridgelab.data import NotATriageDb

    with pytest.raises(NotATriageDb):
        TriageStore.open(tmp_path)


def test_an_empty_file_becomes_a_new_log(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with TriageStore.open(path) as store:
        assert store.open_report.migrated == list(range(1, SCHEMA_VERSION + 1))


def test_sessions_of_a_live_writer_are_not_interrupted_by_a_second_open(db_path: Path) -> None:
    with TriageStore.open(db_path) as gui:
        sid = gui.begin_session(SessionStart(mode="ota"))
        gui.enter_stage(sid, Stage.TRANSFER)
        with TriageStore.open(db_path) as cli:
            assert cli.open_report.recovered == []
            assert cli.get_session(sid).final_state == "running"
        gui.end_session(sid, "success")
        assert gui.get_session(sid).final_state == "success"


def test_a_log_growing_in_another_process_is_not_taken_for_cut_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process commits (and checkpoints) between our size look and header read.

    The header we read then promises the grown size; the size must be no older than it,
    or a healthy log that a second tool is filling reads as "cut short".
    """
    from bridgelab.data.fileguard import inspect_db_file

    path = tmp_path / "lab.db"
    triage_log(path)
    real_open = Path.open
    grown: list[int] = []

    def writer_commits_first(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self == path and not grown:
            with closing(sqlite3.connect(path)) as other:
                other.execute("CREATE TABLE IF NOT EXISTS filler (data BLOB)")
                other.execute("INSERT INTO filler VALUES (zeroblob(200000))")
                other.commit()
                other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            grown.append(path.stat().st_size)
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    before = path.stat().st_size
    monkeypatch.setattr(Path, "open", writer_commits_first)
    state = inspect_db_file(path)
    assert grown and grown[0] > before + 100_000  # the other writer really grew it
    assert state.exists and state.version == SCHEMA_VERSION
