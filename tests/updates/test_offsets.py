"""One source for where a transfer stopped: the failure message, the last progress event,
the log record's last offset and the defect bundle name the same byte (an emulated bridge
that stalls, on a real SQLite log and a real zip)."""

from __future__ import annotations

import json
import re
import uuid
import zipfile
from pathlib import Path

from bridgelab.data.bundle import write_bundle
from bridgelab.data.store import TriageStore
from bridgelab.emulator.demo_material import DEMO_DIR
from bridgelab.updates import events as ev
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.request import UpdateRequest
from tests.updates.conftest import FAST_POLICY

NEWER = DEMO_DIR / "bridge-demo-1.3.0.ota"


def test_a_stalled_transfer_names_one_offset_everywhere(tmp_path: Path) -> None:
    # Unpaced, the transfer reaches the stall in well under the meter's 0.1 s report
    # interval: the last throttled report would have said 0.
    url = f"emu://demo?id=offsets-{uuid.uuid4().hex[:6]}&faults=stall-at=20000"
    seen: list[ev.UpdateEvent] = []
    with TriageStore.open(tmp_path / "triage.db") as store:
        result = UpdateEngine(
            UpdateRequest(url, NEWER, policy=FAST_POLICY), store=store, subscribers=[seen.append]
        ).run()
        assert result.result == "stalled"
        message = str((result.error or {}).get("message"))
        match = re.search(r"at (\d+) of (\d+) bytes", message)
        assert match, message
        offset, size = int(match[1]), int(match[2])
        assert 0 < offset < size == NEWER.stat().st_size
        progress = [e for e in seen if isinstance(e, ev.Progress)]
        assert progress[-1].done == offset, "the progress bar stops where the message says"
        assert result.session_id is not None
        record = store.get_session(result.session_id)
        assert record.last_offset == offset
        assert record.image_size == size
        with store.reading() as db:
            bundle = write_bundle(db, [result.session_id], tmp_path / "bundle.zip")
    with zipfile.ZipFile(bundle.path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("session.json"))
        story = json.loads(archive.read(name))
    assert story["session"]["last_offset"] == offset
    assert story["session"]["image_size"] == size
