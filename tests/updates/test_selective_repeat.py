"""Protocol version 2: selective repeat resends only what was lost; version 1 still works.

Frames are counted on the emulated bridge's side: what reached its device model (every
UPDATE_SEGMENT and UPDATE_WRITE it handled) and what its line dropped on the way in.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bridgelab.data.store import TriageStore
from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient
from bridgelab.emulator.endpoint import Endpoint
from bridgelab.emulator.urlhandler.protocol_emu import instance
from bridgelab.updates import events as ev
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.request import UpdateRequest
from bridgelab.updates.selective_repeat import LineQuality, best_segment
from tests.updates.conftest import FAST_POLICY, signed_demo_image

_ids = itertools.count()
STAGES = ["identify", "validate", "transfer", "verify", "activate", "confirm"]
# Deadlines far longer than any answer takes here, so that a slow test machine cannot
# make the host presume a segment lost that was not: a resend then means a real loss.
PATIENT = replace(
    FAST_POLICY, request_timeout_s=3.0, retry_min_s=2.0, block_size=512, min_segment_size=512
)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sr") / "image-96k.ota"
    path.write_bytes(signed_demo_image(96 * 1024))
    return path


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sr-profiles")
    made = {}
    for base in ("demo", "protocol-v1"):
        path = folder / f"fast-{base}.toml"
        path.write_text(f'base = "{base}"\nboot_s = 0.05\nrejoin_s = 0.05\n', encoding="utf-8")
        made[base] = path
    return made


def _url(profile: Path, faults: str = "", seed: int = 1) -> str:
    query = f"id=sr-{next(_ids)}&seed={seed}" + (f"&faults={faults}" if faults else "")
    return f"emu://{profile}?{query}"


def _update(
    url: str, image: Path, policy: UpdatePolicy = PATIENT
) -> tuple[ev.UpdateResult, Endpoint, list[str]]:
    """Update the bridge `url` names; the result, its endpoint and the retry reasons."""
    retries: list[str] = []

    def listen(event: ev.UpdateEvent) -> None:
        if isinstance(event, ev.Retry):
            retries.append(event.reason)

    result = UpdateEngine(UpdateRequest(url, image, policy=policy), subscribers=[listen]).run()
    endpoint = instance(url)
    assert endpoint is not None
    return result, endpoint, retries


def _received(endpoint: Endpoint, command: str) -> list[tuple[int, int]]:
    return [(o, n) for c, o, n in endpoint.device.received_writes if c == command]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_only_lost_segments_are_sent_again(
    profiles: dict[str, Path], image: Path, seed: int
) -> None:
    url = _url(profiles["demo"], "drop-in-rate=0.04", seed)
    result, endpoint, retries = _update(url, image)
    assert result.ok, result.error
    dropped = endpoint.stats.dropped_requests.get(p.Command.UPDATE_SEGMENT, 0)
    assert dropped >= 2, "the fault hardly fired: this seed tests nothing"
    segments = _received(endpoint, "segment")
    # Every byte of the image reached the bridge exactly once: nothing that arrived was
    # sent again (a go-back-N transfer would resend every segment after each loss).
    assert sum(length for _, length in segments) == image.stat().st_size
    assert all(count == 1 for count in Counter(o for o, _ in segments).values())
    assert not _received(endpoint, "write")
    # Each loss was seen in the bridge's next report, not after a deadline (2 s here);
    # only a loss of the very last segments has nothing after it to reveal it.
    from_reports = [r for r in retries if r.startswith("resend")]
    assert len(from_reports) >= dropped - 1


def _transfer_event(store: TriageStore, result: ev.UpdateResult) -> dict[str, object]:
    events = store.session_events(result.session_id or "")
    (transfer,) = [e.data for e in events if e.kind == "transfer"]
    return transfer


@pytest.mark.parametrize("faults", ["", "drop-in-rate=0.04"])
def test_the_first_segments_go_out_behind_the_begin_and_only_once(
    profiles: dict[str, Path], image: Path, tmp_path: Path, faults: str
) -> None:
    """A fresh download: the segments sent right behind UPDATE_BEGIN (to fill the line
    while the bridge erases) are the transfer's first, and no byte goes twice unless lost."""
    url = _url(profiles["demo"], faults, 7) + "&baud=921600&latency_ms=2"
    # A lost tail segment waits its (patient) deadline once or twice: no stall for that.
    policy = replace(PATIENT, timeouts=replace(PATIENT.timeouts, stall_s=30.0))
    with TriageStore.open(tmp_path / "triage.db") as store:
        engine = UpdateEngine(UpdateRequest(url, image, policy=policy), store=store)
        result = engine.run()
        assert result.ok, result.error
        transfer = _transfer_event(store, result)
    endpoint = instance(url)
    assert endpoint is not None
    ahead = transfer["sent_ahead"]
    assert isinstance(ahead, int) and ahead >= 2 * 512
    segments = _received(endpoint, "segment")
    assert segments[0][0] == 0
    dropped = endpoint.stats.dropped_requests.get(p.Command.UPDATE_SEGMENT, 0)
    assert bool(dropped) == bool(faults)
    lengths = Counter(o for o, _ in segments)
    assert sum(length for _, length in segments) == image.stat().st_size
    assert all(count == 1 for count in lengths.values())


@pytest.mark.parametrize("seed", range(3))
def test_segments_sent_ahead_survive_a_link_that_reorders_frames(
    profiles: dict[str, Path], image: Path, seed: int
) -> None:
    """A segment that overtakes its UPDATE_BEGIN is refused ("no transfer open"): it is
    sent again, not taken for the bridge's failure; a read-back that overtakes the
    confirm is read again."""
    url = _url(profiles["demo"], "reorder-rate=0.3", seed) + "&baud=921600&latency_ms=2"
    result, _, _ = _update(url, image)
    assert result.ok, result.error
    assert result.version_after == 0x01030000


def test_nothing_is_sent_ahead_of_a_resumed_download(
    profiles: dict[str, Path], image: Path, tmp_path: Path
) -> None:
    """The bridge already holds part of this image: UPDATE_BEGIN resumes there, so
    segments from offset 0 sent ahead would be line time wasted."""
    url = _url(profiles["demo"]) + "&baud=921600&latency_ms=2"
    data = image.read_bytes()
    with BridgeClient.connect(url) as client:
        header_length = int.from_bytes(data[6:8], "little")
        client.call(
            p.UpdateBegin(len(data), hashlib.sha256(data).digest(), data[:header_length]),
            timeout_s=5,
        )
        for offset in range(0, 32 * 1024, 1024):
            client.call(p.UpdateWrite(offset, data[offset : offset + 1024]), timeout_s=5)
    endpoint = instance(url)
    assert endpoint is not None
    before = len(endpoint.device.received_writes)
    with TriageStore.open(tmp_path / "triage.db") as store:
        result = UpdateEngine(UpdateRequest(url, image, policy=PATIENT), store=store).run()
        assert result.ok, result.error
        transfer = _transfer_event(store, result)
    assert result.resumed_from == 32 * 1024
    assert transfer["sent_ahead"] == 0
    later = [(o, n) for c, o, n in endpoint.device.received_writes[before:] if c == "segment"]
    assert min(o for o, _ in later) == 32 * 1024


def test_a_bridge_that_speaks_only_version_1_still_updates(
    profiles: dict[str, Path], image: Path
) -> None:
    url = _url(profiles["protocol-v1"], "drop-rate=0.01", 4)
    result, endpoint, _ = _update(url, image, FAST_POLICY)
    assert result.ok, result.error
    assert result.version_after == 0x01030000
    assert not _received(endpoint, "segment")
    assert _received(endpoint, "write")
    assert set(result.stage_s) == {
        "identify",
        "validate",
        "transfer",
        "verify",
        "activate",
        "confirm",
    }


def test_a_version_2_bridge_with_selective_repeat_off_gets_windowed_writes(
    profiles: dict[str, Path], image: Path
) -> None:
    url = _url(profiles["demo"])
    result, endpoint, _ = _update(url, image, replace(FAST_POLICY, selective_repeat=False))
    assert result.ok, result.error
    assert _received(endpoint, "write") and not _received(endpoint, "segment")


def test_every_check_still_runs_with_selective_repeat(
    profiles: dict[str, Path], tmp_path: Path
) -> None:
    # A corrupt image (bytes changed after signing) is refused before any segment is
    # sent; a good one goes through verify, activate and confirm.
    good = signed_demo_image(32 * 1024)
    bad = bytearray(good)
    bad[5000] ^= 0xFF
    (tmp_path / "bad.ota").write_bytes(bytes(bad))
    url = _url(profiles["demo"])
    refused, endpoint, _ = _update(url, tmp_path / "bad.ota")
    assert not refused.ok and refused.failure_stage == "validate"
    assert not endpoint.device.received_writes
    (tmp_path / "good.ota").write_bytes(good)
    result, endpoint, _ = _update(url, tmp_path / "good.ota")
    assert result.ok, result.error
    assert list(result.stage_s) == [
        "identify",
        "validate",
        "transfer",
        "verify",
        "activate",
        "confirm",
    ]
    assert _received(endpoint, "segment")


@pytest.fixture
def client(profiles: dict[str, Path]) -> Iterator[BridgeClient]:
    with BridgeClient.connect(_url(profiles["demo"])) as connected:
        yield connected


def _begin(client: BridgeClient, data: bytes) -> p.UpdateBeginResponse:
    header = data[: int.from_bytes(data[6:8], "little")]
    return client.call(p.UpdateBegin(len(data), hashlib.sha256(data).digest(), header), 5.0)


def test_segments_in_any_order_and_twice_make_the_same_image(client: BridgeClient) -> None:
    data = signed_demo_image(16 * 1024)
    begun = _begin(client, data)
    assert client.session is not None and client.session.protocol_version == 2
    assert begun.reassembly_bytes is not None and begun.reassembly_bytes >= 16 * 1024
    pieces = [(o, data[o : o + 1000]) for o in range(0, len(data), 1000)]
    order = pieces[1::2] + pieces[::-2] + pieces[3:6]  # out of order, some twice
    report = None
    for offset, piece in order:
        report = client.call(p.UpdateSegment(offset, piece))
    assert report is not None and report.next_offset == len(data) and not report.held
    finished = client.call(p.UpdateFinish(), 5.0)
    assert finished.file_sha256 == hashlib.sha256(data).digest()


def test_the_report_lists_what_is_held_beyond_a_gap(client: BridgeClient) -> None:
    data = signed_demo_image(16 * 1024)
    _begin(client, data)
    client.call(p.UpdateSegment(0, data[:1000]))
    client.call(p.UpdateSegment(3000, data[3000:4000]))
    report = client.call(p.UpdateSegment(5000, data[5000:6000]))
    assert report.next_offset == 1000
    assert [(r.offset, r.length) for r in report.held] == [(3000, 1000), (5000, 1000)]
    # A segment past the window end is not kept, and the report says so (not held).
    far = report.window_end
    if far < len(data):
        beyond = client.call(p.UpdateSegment(far, data[far : far + 10]))
        assert all(r.offset < far for r in beyond.held)
    with pytest.raises(p.DeviceStatusError) as past_end:
        client.call(p.UpdateSegment(len(data) - 5, b"0123456789"))
    assert past_end.value.status == p.Status.TOO_LARGE


def test_a_version_1_bridge_refuses_segments_and_agrees_version_1(
    profiles: dict[str, Path],
) -> None:
    with BridgeClient.connect(_url(profiles["protocol-v1"])) as old:
        assert old.session is not None and old.session.protocol_version == 1
        data = signed_demo_image(8 * 1024)
        begun = _begin(old, data)
        assert begun.reassembly_bytes is None  # a version-1 answer: no such field
        with pytest.raises(p.DeviceStatusError) as refused:
            old.call(p.UpdateSegment(0, data[:100]))
        assert refused.value.status == p.Status.UNKNOWN_COMMAND


def test_segment_size_follows_the_error_rate_up_and_down() -> None:
    assert best_segment(0.0, 64, 4088) == 4088
    noisy, noisier = best_segment(1e-4, 64, 4088), best_segment(1e-3, 64, 4088)
    assert 64 < noisier < noisy < 4088
    quality = LineQuality()
    for _ in range(40):
        quality.record(300, lost=False)
        quality.record(300, lost=True)
    assert quality.error_rate() > 1e-3
    for _ in range(400):
        quality.record(300, lost=False)
    assert quality.error_rate() < 1e-6
