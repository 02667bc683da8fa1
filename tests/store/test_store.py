"""Writing and reading sessions through TriageStore, on a real SQLite file."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from bridgelab.data import (
    DeviceInfo,
    Failure,
    FailureClass,
    FinalState,
    ImageInfo,
    SessionAlreadyEnded,
    SessionAmbiguous,
    SessionFilter,
    SessionNotFound,
    SessionNotOpen,
    SessionStart,
    Stage,
    StoreClosed,
    StoreNotFound,
    StoreWriteFailed,
    TriageStore,
)
from bridgelab.data.ids import uuid7, uuid7_at, uuid7_time_ms

StartFactory = Callable[..., SessionStart]


def test_a_failed_update_is_one_record_with_its_whole_story(
    store: TriageStore, make_start: StartFactory
) -> None:
    sid = store.begin_session(make_start())
    store.enter_stage(sid, Stage.IDENTIFY)
    store.enter_stage(sid, Stage.TRANSFER)
    for offset in range(0, 170_000, 10_000):
        store.log_progress(sid, offset, 170_000, block_size=64)
    store.log_frame(sid, "tx", b"\x01\x02\x03")
    store.log_frame(sid, "rx", b"\x06")
    store.enter_stage(sid, Stage.VERIFY)
    failure = Failure(Stage.VERIFY, FailureClass.HASH_MISMATCH, "cs06-2", "Hash mismatch.")
    store.end_session(sid, FinalState.FAILED, failure, version_after=0x01010000)

    record = store.get_session(sid)
    assert record.final_state == "failed"
    assert (record.failure_stage, record.failure_class) == ("verify", "hash-mismatch")
    assert (record.failure_code, record.failure_message) == ("cs06-2", "Hash mismatch.")
    assert record.device_eui64 == "00:12:4B:00:01:02:03:04"
    assert record.device_model == "P2P-A1" and record.image_version == 0x01020000
    assert record.last_stage == "verify" and record.last_offset == 160_000
    assert record.image_size == 170_000 and record.ended_at is not None
    assert record.throughput_bps is not None and record.throughput_bps > 0
    assert record.tool_version and record.host and record.platform

    events = store.session_events(sid)
    assert [e.seq for e in events] == list(range(len(events)))
    kinds = [e.kind for e in events]
    assert kinds[0] == "session-started" and kinds[-1] == "session-ended"
    assert kinds.count("progress") == 17 and kinds.count("stage") == 3
    progress = [e.data for e in events if e.kind == "progress"]
    assert progress[0] == {"offset": 0, "total": 170_000, "block_size": 64}
    assert events[-1].data["failure_class"] == "hash-mismatch"
    frames = store.session_frames(sid)
    assert [(f.direction, f.data) for f in frames] == [("tx", b"\x01\x02\x03"), ("rx", b"\x06")]
    assert 0 <= frames[0].t_s <= frames[1].t_s


def test_end_states_follow_the_rules(store: TriageStore, make_start: StartFactory) -> None:
    sid = store.begin_session(make_start())
    with pytest.raises(ValueError, match="needs a Failure"):
        store.end_session(sid, "failed")
    with pytest.raises(ValueError, match="no failure"):
        store.end_session(sid, "success", Failure(Stage.CONFIRM, FailureClass.UNHEALTHY))
    with pytest.raises(ValueError, match="running"):
        store.end_session(sid, "running")
    with pytest.raises(ValueError):
        store.end_session(sid, "exploded")
    with pytest.raises(TypeError, match="owner_id"):
        store.end_session(sid, "success", owner_id="x")
    store.enter_stage(sid, Stage.TRANSFER)
    store.end_session(sid, "cancelled")
    record = store.get_session(sid)
    assert (record.final_state, record.failure_class, record.failure_stage) == (
        "cancelled", "cancelled", "transfer"
    )  # fmt: skip


def test_update_session_sets_known_fields_and_merges_details(
    store: TriageStore, make_start: StartFactory
) -> None:
    sid = store.begin_session(make_start(details={"window": 4}))
    store.update_session(sid, retries=2, resumed_from=4096, details={"block_size": 63})
    record = store.get_session(sid)
    assert (record.retries, record.resumed_from) == (2, 4096)
    assert record.details == {"window": 4, "block_size": 63}
    with pytest.raises(TypeError, match="final_state"):
        store.update_session(sid, final_state="success")
    with pytest.raises(SessionNotFound):
        store.update_session(str(uuid.uuid4()), retries=1)


def test_device_and_image_found_during_the_session(store: TriageStore) -> None:
    sid = store.begin_session(SessionStart(mode="ota", port_url="emu://x"))
    assert store.get_session(sid).device_eui64 is None
    eui = store.record_device(DeviceInfo("00-12-4b-00-01-02-03-04", model="P2P-A1"), session_id=sid)
    assert eui == "00:12:4B:00:01:02:03:04"
    # A later, thinner report keeps what was known and refreshes last_seen.
    store.record_device(DeviceInfo(0x00124B0001020304, serial_number="SN9"))
    device = store.get_device(eui)
    assert device is not None
    assert (device["model"], device["serial_number"]) == ("P2P-A1", "SN9")
    assert device["last_seen"] >= device["first_seen"]
    store.record_image(ImageInfo(sha256="cd" * 32, size=99, file_version=7), session_id=sid)
    record = store.get_session(sid)
    assert (record.device_eui64, record.image_version, record.image_size) == (eui, 7, 99)


def test_batched_items_are_committed_by_flush(db_path: Path, make_start: StartFactory) -> None:
    # A long batch interval: only flush() can have committed them.
    with TriageStore.open(db_path, batch_interval_s=60) as store:
        sid = store.begin_session(make_start())
        store.log_event(sid, "block-retry", {"offset": 64}, durable=False)
        store.log_progress(sid, 64, 128)
        with sqlite3.connect(db_path) as other:
            count = "SELECT count(*) FROM events WHERE session_id = ?"
            assert other.execute(count, [sid]).fetchone()[0] == 1
            store.flush()
            assert other.execute(count, [sid]).fetchone()[0] == 3
        other.close()


def test_durable_event_is_visible_to_another_connection_at_once(
    store: TriageStore, make_start: StartFactory
) -> None:
    sid = store.begin_session(make_start())
    store.log_event(sid, "command", {"name": "reboot"})
    with sqlite3.connect(store.path) as other:
        kinds = [r[0] for r in other.execute("SELECT kind FROM events WHERE session_id = ?", [sid])]
    other.close()
    assert kinds == ["session-started", "command"]


def test_progress_for_a_session_not_running_here_is_refused(
    store: TriageStore, make_start: StartFactory
) -> None:
    with pytest.raises(SessionNotOpen):
        store.log_progress("nope", 0, 1)
    sid = store.begin_session(make_start())
    store.end_session(sid, "success")
    with pytest.raises(SessionNotOpen):
        store.log_frame(sid, "tx", b"x")
    with pytest.raises(ValueError, match="direction"):
        store.log_frame(store.begin_session(make_start()), "up", b"x")


def test_prefix_lookup_and_short_ids(store: TriageStore, make_start: StartFactory) -> None:
    first = store.begin_session(make_start())
    second = store.begin_session(make_start())
    assert store.get_session(first.upper()).id == first
    assert store.get_session(first.replace("-", "")[:20]).id == first
    with pytest.raises(SessionAmbiguous) as ambiguous:
        store.get_session(first[:6])
    assert set(ambiguous.value.details["matches"]) == {first, second}
    with pytest.raises(SessionNotFound):
        store.get_session("ffffffff")
    short = store.short_ids([first, second])
    assert short[first] != short[second]
    for full, prefix in short.items():
        assert full.startswith(prefix) and len(prefix) >= 8 and not prefix.endswith("-")
        assert store.get_session(prefix).id == full


def test_notes_are_kept_per_session(store: TriageStore, make_start: StartFactory) -> None:
    sid = store.begin_session(make_start())
    note = store.add_note(sid[:13], "Loose antenna cable.", author="sam")
    notes = store.session_notes(sid)
    assert [(n.id, n.author, n.text) for n in notes] == [(note, "sam", "Loose antenna cable.")]


def test_filters_select_sessions(store: TriageStore, make_start: StartFactory) -> None:
    ok = store.begin_session(make_start())
    store.end_session(ok, "success", version_after=0x01020000)
    other = store.begin_session(make_start(device=DeviceInfo(eui64=5), site_ref="SITE-001"))
    store.end_session(other, "failed", Failure(Stage.TRANSFER, FailureClass.STALLED, "no-block"))
    assert [r.id for r in store.query_sessions(SessionFilter(result="failed"))] == [other]
    assert [r.id for r in store.query_sessions(SessionFilter(device="0x0000000000000005"))] == [
        other
    ]
    assert [r.id for r in store.query_sessions(SessionFilter(failure_class="stalled"))] == [other]
    assert [r.id for r in store.query_sessions(SessionFilter(site="SITE-042"))] == [ok]
    assert [r.id for r in store.query_sessions(order="oldest")] == [ok, other]
    assert store.count_sessions(SessionFilter(image_version=0x01020000)) == 2
    assert store.count_sessions(SessionFilter(model="P2P-A1")) == 1
    assert store.count_sessions(SessionFilter(since="2999-01-01T00:00:00.000Z")) == 0


def test_close_marks_unended_sessions_interrupted_and_is_final(
    db_path: Path, make_start: StartFactory
) -> None:
    store = TriageStore.open(db_path)
    sid = store.begin_session(make_start())
    store.enter_stage(sid, Stage.TRANSFER)
    store.log_progress(sid, 640, 170_000)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreClosed):
        store.begin_session(make_start())
    with pytest.raises(StoreClosed):
        store.log_progress(sid, 1, 2)
    with TriageStore.open(db_path) as again:
        record = again.get_session(sid)
    assert (record.final_state, record.failure_class) == ("interrupted", "interrupted")
    assert record.failure_stage == "transfer" and record.failure_code == "store-closed"
    assert record.last_offset == 640 and "640 of 170,000" in (record.failure_message or "")


def test_read_only_open_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFound):
        TriageStore.open(tmp_path / "absent.db", create=False)
    assert not (tmp_path / "absent.db").exists()


def test_uuid7_layout_and_order() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert uuid7_time_ms(uuid7_at(1_700_000_000_123, 5, 9)) == 1_700_000_000_123


def test_stored_identity_and_image_metadata(store: TriageStore, make_start: StartFactory) -> None:
    sid = store.begin_session(make_start())
    record = store.get_session(sid)
    device = store.get_device(record.device_eui64 or "")
    image = store.get_image("ab" * 32)
    assert device is not None and device["identity"] == {"bootloader": "2.1"}
    assert device["hardware_version"] == 0x0102
    assert (
        image is not None
        and image["signer"] == "00:11:22:33:44:55:66:77"
        and image["size"] == 170_000
    )


def test_a_session_ends_once(store: TriageStore, make_start: StartFactory) -> None:
    sid = store.begin_session(make_start())
    store.end_session(sid, "success", version_after=2)
    with pytest.raises(SessionAlreadyEnded):
        store.end_session(sid, "failed", Failure(Stage.CONFIRM, FailureClass.UNHEALTHY))
    assert store.get_session(sid).final_state == "success"
    assert [e.kind for e in store.session_events(sid)].count("session-ended") == 1


def test_a_batch_that_cannot_be_written_is_reported_not_lost_silently(
    db_path: Path, make_start: StartFactory
) -> None:
    store = TriageStore.open(db_path, batch_interval_s=60)
    sid = store.begin_session(make_start())
    # Another program breaks the log under the store: the next batch of frames fails.
    with closing(sqlite3.connect(db_path)) as other:
        other.execute("DROP TABLE frames")
        other.commit()
    store.log_frame(sid, "tx", b"\x01")
    with pytest.raises(StoreWriteFailed, match="frames"):
        store.flush()
    store.log_event(sid, "command", {"name": "still logging"})  # the store carries on
    store.close()
