"""A recovery is an update session whose transfer strategy is the bootloader upload.

The same fault (the line stalls 6,000 bytes in) in a local update and in a recovery, on
the same emulated bridge served on a real pty, must come out of the one engine the same
way: the same stage events, the same per-stage times, the same triage record. A recovery
that grew its own pipeline again would tell its stages differently (or not time them).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bridgelab.data.store import TriageStore
from bridgelab.emulator.demo_material import DEMO_IMAGES
from bridgelab.updates import events as ev
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.recovery import RecoveryEngine, RecoveryRequest
from bridgelab.updates.request import UpdateRequest
from tests.gbl_files import application_bytes, build_gbl
from tests.recovery.conftest import bridge_on_pty
from tests.updates.conftest import FAST_POLICY

STALL = "stall-at=6000"
STALLED_IN_TRANSFER = [
    ("started", "identify"),
    ("finished", "identify", True),
    ("started", "validate"),
    ("finished", "validate", True),
    ("started", "transfer"),
    ("finished", "transfer", False),
]


def stage_story(events: list[ev.UpdateEvent]) -> list[tuple[object, ...]]:
    story: list[tuple[object, ...]] = []
    for event in events:
        if isinstance(event, ev.StageStarted):
            story.append(("started", event.stage.value))
        elif isinstance(event, ev.StageFinished):
            story.append(("finished", event.stage.value, event.ok))
    return story


def recorded_stages(store: TriageStore, session_id: str) -> list[object]:
    return [e.data["stage"] for e in store.session_events(session_id) if e.kind == "stage"]


def test_a_fault_in_the_upload_ends_the_session_as_in_a_local_update(
    tmp_path: Path, store: TriageStore
) -> None:
    gbl = tmp_path / "app.gbl"
    gbl.write_bytes(build_gbl(application_bytes(12_000)))
    policy = replace(FAST_POLICY, timeouts=replace(FAST_POLICY.timeouts, stall_s=1.0))
    sessions: dict[str, list[ev.UpdateEvent]] = {"update": [], "recovery": []}
    with bridge_on_pty(profile="demo", faults=STALL) as bridge:
        request = UpdateRequest(bridge.path, DEMO_IMAGES[0].path, policy=policy)
        UpdateEngine(request, store=store, subscribers=[sessions["update"].append]).run()
    with bridge_on_pty(faults=STALL) as bridge:
        RecoveryEngine(
            RecoveryRequest(bridge.path, gbl, answer_timeout_s=0.3),
            store=store,
            subscribers=[sessions["recovery"].append],
        ).run()
    drivers = {}
    for name, events in sessions.items():
        finished = events[-1]
        assert isinstance(finished, ev.SessionFinished), name
        result = finished.result
        assert (result.result, result.failure_stage) == ("stalled", "transfer"), (name, result)
        assert stage_story(events) == STALLED_IN_TRANSFER, name
        assert list(result.stage_s) == ["identify", "validate", "transfer"], name
        record = store.get_session(result.session_id or "")
        assert (record.final_state, record.failure_class, record.last_stage) == (
            "failed",
            "stalled",
            "transfer",
        ), name
        assert recorded_stages(store, result.session_id or "") == [
            "identify",
            "validate",
            "transfer",
        ], name
        drivers[name] = record.driver
    assert drivers == {"update": "bridgelab-service", "recovery": "gecko-bootloader"}


def test_the_recovery_engine_has_no_session_plumbing_of_its_own() -> None:
    # The session (its record, stage order, failure classes, crash file, result) is the
    # update engine's; a recovery brings only its steps and its strategy.
    assert issubclass(RecoveryEngine, UpdateEngine)
    own = set(vars(RecoveryEngine))
    assert not own & {"run", "_run_stages", "_finish", "_classify_driver_error", "cancel"}
    assert {"_identify", "_validate", "_transfer", "_confirm"} <= own


def test_a_cancel_mid_upload_ends_as_the_engine_ends_any_cancel(
    tmp_path: Path, store: TriageStore
) -> None:
    gbl = tmp_path / "app.gbl"
    gbl.write_bytes(build_gbl(application_bytes(30_000)))
    with bridge_on_pty(baud=115200) as bridge:
        request = RecoveryRequest(bridge.path, gbl, line_baud=115200)
        engine = RecoveryEngine(request, store=store)

        def cancel_at_first_progress(event: ev.UpdateEvent) -> None:
            if isinstance(event, ev.Progress) and event.done < event.total:
                engine.cancel()

        engine.subscribers.append(cancel_at_first_progress)
        result = engine.run()
        assert (result.result, result.failure_stage) == ("cancelled", "transfer")
        assert not bridge.device.bootloader.app_valid  # nothing half-written is run
        record = store.get_session(result.session_id or "")
        assert (record.final_state, record.failure_class) == ("cancelled", "cancelled")
        again = RecoveryEngine(request, store=store).run()  # the bootloader takes it anew
        assert again.ok, again.error
