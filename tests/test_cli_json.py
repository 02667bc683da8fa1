"""Every command's `--json` output against its schema (bridgelab/cli/schemas.py), in
success and in failure: the same keys both ways, `schema` first, `error` last and null
exactly when the command succeeded, versions as integer and text, lists as lists.

The table below is the whole test: to cover a new command (or a new failure), add its
schema to `SCHEMAS` and a row here (docs/cli-json.md, "Adding a command"). A test at the
end fails when a schema has no success row, so no command is left unchecked.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridgelab.cli import main
from bridgelab.cli.schemas import SCHEMAS, keys, schema_id
from bridgelab.emulator.demo_material import DEMO_DIR
from tests.cli_schema import problems
from tests.gbl_files import application_bytes, build_gbl

NEWER = DEMO_DIR / "bridge-demo-1.3.0.ota"
OLDER = DEMO_DIR / "bridge-demo-1.1.0.ota"
TAMPERED = DEMO_DIR / "bridge-demo-1.3.0-tampered.ota"
INSTALL_CODE = "83FE D340 7A93 9723 A5C6 39B2 6916 D505 C3B5"


@dataclass
class Env:
    """Files the rows use: a triage log with one session, a trust store, scratch space."""

    root: Path
    db: Path
    session: str
    trust: Path
    payload: Path
    gbl: Path

    def fresh(self, name: str) -> Path:
        return self.root / f"{uuid.uuid4().hex[:8]}-{name}"

    @property
    def plan(self) -> Path:
        """A one-job plan on a bridge of its own (each run updates a fresh bridge)."""
        plan = self.fresh("plan.toml")
        plan.write_text(
            '[campaign]\nname = "json"\nhealthy_s = 0.1\n\n'
            f'[[job]]\nport = "{demo_port()}"\nimage = "{NEWER}"\n',
            encoding="utf-8",
        )
        return plan


def demo_port() -> str:
    return f"emu://demo?id=json-{uuid.uuid4().hex[:8]}"


Argv = Callable[[Env], list[str]]


@dataclass(frozen=True)
class Row:
    command: str  # the schema's name in SCHEMAS
    argv: Argv
    ok: bool  # success (exit 0, error null) or failure (exit non-zero, error set)
    name: str = ""


def _update(env: Env, *extra: str) -> list[str]:
    return ["update", "--port", demo_port(), "--db", str(env.db), "--healthy-s", "0.1", *extra]


ROWS: list[Row] = [
    Row("ports", lambda env: ["ports"], True),
    Row("info", lambda env: ["info", "--port", demo_port()], True, "joined"),
    Row("info", lambda env: ["info", "--port", "emu://orphaned"], True, "off-han"),
    Row("info", lambda env: ["info", "--port", "emu://dead-app"], True, "bootloader-only"),
    Row("info", lambda env: ["info", "--port", str(env.root / "no-such-tty")], False),
    Row("update", lambda env: _update(env, str(NEWER)), True),
    Row("update", lambda env: _update(env, str(OLDER)), False, "refused"),
    Row("update", lambda env: _update(env, str(OLDER), "--allow-downgrade"), False, "usage"),
    Row("recover", lambda env: ["recover", "--port", "emu://dead-app", str(env.gbl)], True),
    Row(
        "recover",
        lambda env: ["recover", "--port", "emu://dead-app", str(env.root / "none.gbl")],
        False,
    ),
    Row("campaign", lambda env: ["campaign", str(env.plan), "--db", str(env.db)], True),
    Row("campaign", lambda env: ["campaign", str(env.root / "none.toml")], False),
    Row("image-inspect", lambda env: ["image", "inspect", str(NEWER)], True),
    Row("image-inspect", lambda env: ["image", "inspect", str(env.root / "none.ota")], False),
    Row(
        "image-verify", lambda env: ["image", "verify", str(NEWER), "--trust", str(env.trust)], True
    ),
    Row(
        "image-verify",
        lambda env: ["image", "verify", str(TAMPERED), "--trust", str(env.trust)],
        False,
        "tampered",
    ),
    Row(
        "image-verify",
        lambda env: [
            "image",
            "verify",
            str(NEWER),
            "--trust",
            str(env.trust),
            "--mode",
            "ota",
            "--device",
            "manufacturer_code=0xB1D6",
            "image_type=0x0001",
            "hardware_version=0x0100",
            "file_version=0x01020000",
            "ota_capable=no",
        ],
        False,
        "mode-refused",
    ),
    Row(
        "image-build",
        lambda env: [
            "image",
            "build",
            "--manufacturer",
            "0x1234",
            "--image-type",
            "1",
            "--file-version",
            "0x01000000",
            "--payload",
            str(env.payload),
            "-o",
            str(env.fresh("built.ota")),
        ],
        True,
    ),
    Row(
        "image-build",
        lambda env: [
            "image",
            "build",
            "--manufacturer",
            "0x1234",
            "--image-type",
            "1",
            "--file-version",
            "1",
            "--payload",
            str(env.root / "none.bin"),
            "-o",
            str(env.fresh("built.ota")),
        ],
        False,
    ),
    Row("install-code", lambda env: ["install-code", INSTALL_CODE], True),
    Row("install-code", lambda env: ["install-code", "1122334455667788FFFF"], False),
    Row(
        "keys-generate",
        lambda env: ["keys", "generate", "--manufacturer", "0x1234", "--out", str(env.fresh("k"))],
        True,
    ),
    Row(
        "keys-generate",
        lambda env: ["keys", "generate", "--manufacturer", "0x1234", "--out", str(NEWER)],
        False,
    ),
    Row("keys-id", lambda env: ["keys", "id", str(env.trust / "B1D6-demo.pem")], True),
    Row("keys-id", lambda env: ["keys", "id", str(env.root / "none.pem")], False),
    Row("log-list", lambda env: ["log", "list", "--db", str(env.db)], True),
    Row("log-list", lambda env: ["log", "list", "--db", str(env.root / "none.db")], False),
    Row("log-show", lambda env: ["log", "show", env.session, "--db", str(env.db)], True),
    Row("log-show", lambda env: ["log", "show", "ffffffffff", "--db", str(env.db)], False),
    Row(
        "log-export",
        lambda env: [
            "log",
            "export",
            "--format",
            "csv",
            "-o",
            str(env.fresh("x.csv")),
            "--db",
            str(env.db),
        ],
        True,
    ),
    Row(
        "log-export",
        lambda env: [
            "log",
            "export",
            "--format",
            "csv",
            "-o",
            str(env.fresh("x.csv")),
            "--db",
            str(env.db),
            "--since",
            "not a time",
        ],
        False,
    ),
    Row(
        "log-merge",
        lambda env: ["log", "merge", str(env.db), "--db", str(env.fresh("merged.db"))],
        True,
    ),
    Row("log-merge", lambda env: ["log", "merge", str(env.root / "none.db")], False),
    Row(
        "log-bundle",
        lambda env: [
            "log",
            "bundle",
            env.session,
            "-o",
            str(env.fresh("b.zip")),
            "--db",
            str(env.db),
        ],
        True,
    ),
    Row(
        "log-bundle",
        lambda env: [
            "log",
            "bundle",
            "-o",
            str(env.fresh("b.zip")),
            "--db",
            str(env.db),
            "--site",
            "no such site",
        ],
        False,
    ),
    Row("log-stats", lambda env: ["log", "stats", "--db", str(env.db)], True),
    Row("log-stats", lambda env: ["log", "stats", "--db", str(env.db), "--since", "soon"], False),
    Row("log-note", lambda env: ["log", "note", env.session, "checked", "--db", str(env.db)], True),
    Row("log-note", lambda env: ["log", "note", "ffffffffff", "x", "--db", str(env.db)], False),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    root = tmp_path_factory.mktemp("cli-json")
    trust = root / "trust"
    trust.mkdir()
    shutil.copy(DEMO_DIR / "B1D6-demo.pem", trust / "B1D6-demo.pem")
    db = root / "triage.db"
    payload = root / "payload.bin"
    payload.write_bytes(bytes(range(256)) * 8)
    assert main(_update_argv(db)) == 0
    from bridgelab.data.store import TriageStore

    with TriageStore.open(db) as store:
        session = store.query_sessions(limit=1)[0].id
    gbl = root / "app.gbl"
    gbl.write_bytes(build_gbl(application_bytes(3000)))
    return Env(root, db, session, trust, payload, gbl)


def _update_argv(db: Path) -> list[str]:
    return ["update", "--port", demo_port(), "--db", str(db), "--healthy-s", "0.1", str(NEWER)]


def _row_id(row: Row) -> str:
    return f"{row.command}-{'ok' if row.ok else 'fails'}" + (f"-{row.name}" if row.name else "")


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_json_output_matches_its_schema(
    row: Row, env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*row.argv(env), "--json"])
    out = capsys.readouterr().out
    document = json.loads(out)
    assert (code == 0) is row.ok, out
    assert list(document) == keys(row.command), "the same keys, in order, success or not"
    assert document["schema"] == schema_id(row.command)
    _, schema = SCHEMAS[row.command]
    assert problems(document, schema) == []
    if row.ok:
        assert document["error"] is None
    else:
        error = document["error"]
        assert error["code"] and error["message"]
        if error["action"]:
            assert error["action"] not in error["message"], "the next step is said once"


def test_every_schema_has_a_success_and_a_failure_row() -> None:
    covered = {(row.command, row.ok) for row in ROWS}
    missing = [
        f"{command} ({'success' if ok else 'failure'})"
        for command in SCHEMAS
        for ok in (True, False)
        if (command, ok) not in covered and (command, ok) not in NO_FAILURE_ROW
    ]
    assert missing == [], "add a row to ROWS for each"


# Commands that have no failure a test can cause (listing the ports cannot fail).
NO_FAILURE_ROW = {("ports", False)}


def test_versions_come_as_integer_and_text(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_update_argv(env.db), "--json"]) == 0
    update = json.loads(capsys.readouterr().out)
    assert update["version_after"] == 0x01030000 and update["version_after_text"] == "1.3.0"
    assert main(["campaign", str(env.plan), "--db", str(env.db), "--json"]) == 0
    campaign = json.loads(capsys.readouterr().out)
    job = campaign["jobs"][0]
    assert job["version_after"] == 0x01030000 and job["version_after_text"] == "1.3.0"
    assert isinstance(job["session_ids"], list) and len(job["session_ids"]) == 1
    assert main(["log", "list", "--db", str(env.db), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["sessions"][0]["version_after_text"] == "1.3.0"


def test_a_bridge_off_the_han_reports_no_radio_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--port", "emu://orphaned", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["on_han"] is False and info["radio"] is None
    assert "lqi" not in info["join"] and "channel" not in info["join"]
    assert main(["info", "--port", "emu://orphaned"]) == 0
    text = capsys.readouterr().out
    for placeholder in ("channel 0", "PAN 0xffff", "RSSI -128", "00:00:00:00:00:00:00:00"):
        assert placeholder not in text, placeholder
    assert "not on the HAN" in text
    assert main(["info", "--port", "emu://demo", "--json"]) == 0
    joined = json.loads(capsys.readouterr().out)
    assert joined["on_han"] is True and joined["radio"]["lqi"] > 0


def test_the_docs_name_every_schema_and_key() -> None:
    text = (Path(__file__).parents[1] / "docs" / "cli-json.md").read_text(encoding="utf-8")
    for command in SCHEMAS:
        assert f"`{schema_id(command)}`" in text, command
        for key in keys(command):
            assert f"`{key}`" in text, f"{command}: {key}"
