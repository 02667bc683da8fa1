"""Output hygiene: terminal escapes and spreadsheet formulas from every stored text field.

A log is filled with hostile text in every text column a merge or a device could set;
every human rendering must print it inert (no control, bidi or invisible format
character reaches the terminal), every CSV cell must be formula-free, and JSON must keep
the text exactly as stored.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import unicodedata
import zipfile
from contextlib import closing
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
from bridgelab.text_safety import FORMULA_PREFIXES, csv_safe, terminal_safe

Capture = pytest.CaptureFixture[str]

# What an attacker plants, one per kind of trick.
PAYLOADS = {
    "csi": "\x1b[2J\x1b[1;31mRED",
    "osc8": "\x1b]8;;http://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
    "osc-title": "\x1b]0;pwned\x07",
    "c1-csi": "\x9b2J",
    "c1-osc": "\x9d8;;http://evil\x9c",
    "bidi-override": "abc\u202edcba",
    "bidi-isolate": "\u2066x\u2069\u2067y\u2069\u2068z\u2069",
    "marks": "\u200e\u200f\u061c",
    "bell-backspace": "ok\x07\x08\x08\x08bad",
    "carriage-return": "shown\rhidden",
    "newline": "line1\nline2",
    "tab": "a\tb",
    "del": "x\x7fy",
    "zero-width": "in\u200bvisible\ufeff",
    "line-separator": "one\u2028two\u2029three\x85",
    "nul": "before\x00after",
}
FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
ALL = list(PAYLOADS.values()) + FORMULAS


def plant(i: int) -> str:
    return ALL[i % len(ALL)]


def inert(text: str) -> list[str]:
    """The characters of `text` that a terminal would act on (newline is allowed)."""
    bad = []
    for char in text:
        if char == "\n":
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Cs") or char in "\u2028\u2029":
            bad.append(repr(char))
    return bad


@pytest.fixture
def hostile_log(tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "hostile.db"
    ids = []
    with TriageStore.open(path) as store:
        for n in range(len(ALL)):
            info = SessionStart(
                mode="local",
                port_url=plant(n),
                driver=plant(n + 1),
                device=DeviceInfo(
                    eui64=n + 1, model=plant(n + 2), serial_number=plant(n + 3),
                    identity={plant(n + 4): plant(n + 5)},
                ),
                image=ImageInfo(
                    sha256=f"{n:064x}", size=10, file_name=plant(n + 6), body_form=plant(n + 7),
                    header_string=plant(n + 8), signer=plant(n + 9),
                    signature_status=plant(n + 10), details={"k": plant(n + 11)},
                ),
                site_ref=plant(n + 12),
                operator=plant(n + 13),
                host=plant(n + 14),
                campaign_id=plant(n + 15),
                details={plant(n): [plant(n + 1), {"deep": plant(n + 2)}]},
            )  # fmt: skip
            sid = store.begin_session(info)
            store.log_event(sid, plant(n + 3), {plant(n + 4): plant(n + 5)})
            store.log_progress(sid, 1, 2, note=plant(n + 6))
            store.log_frame(sid, "tx", plant(n).encode())
            failure = Failure(Stage.TRANSFER, FailureClass.STALLED, plant(n + 7), plant(n + 8))
            store.end_session(sid, "failed", failure)
            store.add_note(sid, plant(n + 9), author=plant(n + 10))
            ids.append(sid)
    # Columns the API writes itself, as an older Bridge Lab or a merged log may hold them.
    with closing(sqlite3.connect(path)) as conn:
        for n, sid in enumerate(ids):
            conn.execute(
                "UPDATE sessions SET tool_version = ?, platform = ?, last_stage = ?, "
                "failure_stage = ?, failure_class = ? WHERE id = ?",
                [plant(n), plant(n + 1), plant(n + 2), plant(n + 3), plant(n + 4), sid],
            )
        conn.commit()
    return path, ids


def run(capsys: Capture, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_every_human_rendering_prints_stored_text_inert(
    hostile_log: tuple[Path, list[str]], capsys: Capture, tmp_path: Path
) -> None:
    path, ids = hostile_log
    db = ["--db", str(path)]
    outputs = [run(capsys, "log", "list", *db, "--limit", "100")]
    for sid in ids:
        outputs.append(run(capsys, "log", "show", sid, *db, "--all-events", "--trace"))
        outputs.append(run(capsys, "log", "show", sid, *db))
    for group in ("site", "host", "failure-class", "stage", "model", "mode"):
        outputs.append(run(capsys, "log", "stats", *db, "--by", group))
    other = tmp_path / "other.db"
    TriageStore.open(other).close()
    outputs.append(run(capsys, "log", "merge", str(path), "--db", str(other)))
    for payload in PAYLOADS.values():  # hostile command-line text echoed in errors
        outputs.append(run(capsys, "log", "show", payload, *db))
        outputs.append(run(capsys, "log", "list", *db, "--device", payload))
    assert all(code in (0, 1) for code, _ in outputs)
    for _code, text in outputs:
        assert inert(text) == [], text
    joined = "".join(text for _, text in outputs)
    assert "\\x1b[2J" in joined and "\\u202e" in joined and "\\x9b" in joined  # shown, escaped


def test_json_output_keeps_stored_text_exactly(
    hostile_log: tuple[Path, list[str]], capsys: Capture
) -> None:
    path, ids = hostile_log
    _, text = run(capsys, "log", "show", ids[0], "--db", str(path), "--json")
    shown = json.loads(text)
    assert shown["session"]["port_url"] == plant(0)
    assert shown["notes"][0]["text"] == plant(9)
    _, text = run(capsys, "log", "export", "--format", "json", "--db", str(path))
    exported = json.loads(text)
    ports = {s["port_url"] for s in exported["sessions"]}
    assert ports == set(ALL)


@pytest.mark.parametrize("table", ["sessions", "events"])
def test_csv_exports_have_no_live_formula(
    hostile_log: tuple[Path, list[str]], capsys: Capture, table: str
) -> None:
    path, _ = hostile_log
    code, text = run(capsys, "log", "export", "--format", "csv", "--table", table,
                     "--db", str(path))  # fmt: skip
    assert code == 0
    rows = list(csv.reader(io.StringIO(text)))
    cells = [cell for row in rows[1:] for cell in row]
    assert cells
    assert [c for c in cells if c.startswith(FORMULA_PREFIXES)] == []
    if table == "sessions":
        assert "'" + FORMULAS[0] in cells


def test_bundle_csv_files_have_no_live_formula_and_its_json_stays_raw(
    hostile_log: tuple[Path, list[str]], capsys: Capture, tmp_path: Path
) -> None:
    path, ids = hostile_log
    out = tmp_path / "bundle.zip"
    code, _ = run(capsys, "log", "bundle", "--db", str(path), "-o", str(out), "--limit", "100")
    assert code == 0
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert sorted(n for n in names if n.endswith("/session.json")) == sorted(
            f"{sid}/session.json" for sid in ids
        )
        for name in names:
            if name.endswith(".csv"):
                rows = list(csv.reader(io.StringIO(archive.read(name).decode())))
                assert [c for r in rows for c in r if c.startswith(FORMULA_PREFIXES)] == []
        story = json.loads(archive.read(f"{ids[0]}/session.json"))
        assert story["session"]["port_url"] == plant(0)


@pytest.mark.parametrize("payload", ALL)
def test_the_two_rules_on_each_payload(payload: str) -> None:
    assert inert(terminal_safe(payload)) == []
    assert "\n" not in terminal_safe(payload)
    cell = csv_safe(payload)
    assert not cell.startswith(FORMULA_PREFIXES)
    assert cell.endswith(payload)


def test_plain_text_and_numbers_pass_unchanged() -> None:
    for text in ("emu://demo", "Zählerraum 3", "東京", "C:\\logs", "a b", ""):
        assert terminal_safe(text) == text
        assert csv_safe(text) == text
    assert csv_safe(-5) == -5 and csv_safe(1.5) == 1.5
