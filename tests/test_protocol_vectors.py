"""Every hex example in docs/protocol.md decodes, and re-encodes to the same bytes."""

from __future__ import annotations

import re

import pytest

from bridgelab.drivers import protocol as p
from bridgelab.drivers.framing import FrameDecoder, FrameKind, encode_frame
from bridgelab.drivers.join_state import JoinState
from tests.conftest import PROJECT_ROOT

ROW = re.compile(r"^\| (?P<name>[A-Z_0-9]+) \| (?P<kind>[a-z]+[^|]*) \| `(?P<hex>[0-9a-f ]+)` \|$")
DOC = PROJECT_ROOT / "docs" / "protocol.md"


def _rows() -> list[tuple[str, str, bytes]]:
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows.append((match["name"], match["kind"].strip(), bytes.fromhex(match["hex"])))
    return rows


ROWS = _rows()


def test_the_doc_has_an_example_for_every_message() -> None:
    names = {name for name, _, _ in ROWS}
    assert {c.name for c in p.Command} <= names
    assert {e.name for e in p.EventCode} <= {
        n.replace("JOIN_CHANGED", "JOIN_CHANGED") for n in names
    }
    kinds = {(name, kind.split()[0]) for name, kind, _ in ROWS}
    for command in p.Command:
        assert (command.name, "request") in kinds, command.name


@pytest.mark.parametrize(("name", "kind", "raw"), ROWS, ids=[f"{n}-{k}" for n, k, _ in ROWS])
def test_doc_vector(name: str, kind: str, raw: bytes) -> None:
    decoder = FrameDecoder()
    frames = decoder.feed(raw)
    assert len(frames) == 1 and decoder.stats.crc_errors == 0
    frame = frames[0]
    assert encode_frame(frame) == raw
    if kind.split()[0] == "request":
        assert frame.kind == FrameKind.REQUEST
        assert p.Command(frame.command).name == name
        request = p.decode_request(frame)
        assert encode_frame(p.encode_request(request, frame.seq)) == raw
    elif kind.split()[0] == "event":
        assert frame.kind == FrameKind.EVENT
        event = p.decode_event(frame)
        assert p.EventCode(event.COMMAND).name == name
        assert event.encode() == frame.payload
    else:
        assert frame.kind == FrameKind.RESPONSE
        request_type = p.REQUESTS[frame.command]
        if frame.payload[0] != p.Status.OK:
            with pytest.raises(p.DeviceStatusError) as refused:
                p.decode_response(request_type, frame)
            assert refused.value.status == frame.payload[0]
            return
        body = p.decode_response(request_type, frame)
        assert encode_frame(p.encode_response(frame.command, frame.seq, body)) == raw


def test_identity_example_fields() -> None:
    (_, _, raw) = next(r for r in ROWS if r[0] == "IDENTITY" and r[1] == "response")
    frame = FrameDecoder().feed(raw)[0]
    identity = p.decode_response(p.GetIdentity, frame)
    assert isinstance(identity, p.IdentityResponse)
    assert identity.manufacturer_code == 0xB1D6
    assert identity.firmware_version == 0x01020000
    assert identity.eui64 == 0x00124B0001B1D601
    assert identity.ota_capable is True
    assert identity.serial_number == "BLD-0001"


def test_wrong_offset_example_carries_the_expected_offset() -> None:
    (_, _, raw) = next(r for r in ROWS if r[1] == "response (WRONG_OFFSET)")
    frame = FrameDecoder().feed(raw)[0]
    with pytest.raises(p.DeviceStatusError) as refused:
        p.decode_response(p.UpdateWrite, frame)
    assert refused.value.expected_offset == 4100
    assert refused.value.code == "device-wrong-offset"


def test_join_changed_example() -> None:
    (_, _, raw) = next(r for r in ROWS if r[0] == "JOIN_CHANGED")
    event = p.decode_event(FrameDecoder().feed(raw)[0])
    assert isinstance(event, p.JoinChanged)
    assert event.status.state == JoinState.JOINING


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x01", b"\x01\x00", b"\x01\x00\x10\x10\xff"],
)
def test_truncated_or_padded_hello_is_a_protocol_error(payload: bytes) -> None:
    from bridgelab.drivers.errors import ProtocolError
    from bridgelab.drivers.framing import Frame

    with pytest.raises(ProtocolError) as refused:
        p.decode_request(Frame(FrameKind.REQUEST, 0, p.Command.HELLO, payload))
    assert refused.value.code == "bad-payload"
