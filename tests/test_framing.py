"""Framing: COBS, CRC, resynchronisation, and a decoder that never crashes."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridgelab.drivers import protocol as p
from bridgelab.drivers.errors import FrameError, ProtocolError
from bridgelab.drivers.framing import (
    Frame,
    FrameDecoder,
    FrameKind,
    cobs_decode,
    cobs_encode,
    crc16,
    decode_content,
    encode_frame,
)


def test_crc16_ccitt_false_check_value() -> None:
    # The catalogue check value of CRC-16/CCITT-FALSE over "123456789".
    assert crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        # The examples of the COBS paper (Cheshire and Baker), as tabulated on Wikipedia.
        ("00", "0101"),
        ("0000", "010101"),
        ("001100", "01021101"),
        ("11220033", "0311220233"),
        ("11223344", "0511223344"),
        ("11000000", "0211010101"),
    ],
)
def test_cobs_vectors(raw: str, encoded: str) -> None:
    assert cobs_encode(bytes.fromhex(raw)).hex() == encoded
    assert cobs_decode(bytes.fromhex(encoded)).hex() == raw


@pytest.mark.parametrize("size", [0, 1, 253, 254, 255, 508, 4096])
def test_cobs_long_runs(size: int) -> None:
    data = bytes((i % 255) + 1 for i in range(size))
    encoded = cobs_encode(data)
    assert 0 not in encoded
    assert cobs_decode(encoded) == data


@given(st.binary(max_size=2000))
def test_cobs_round_trip(data: bytes) -> None:
    encoded = cobs_encode(data)
    assert 0 not in encoded
    assert cobs_decode(encoded) == data


def test_bad_crc_is_refused_with_its_code() -> None:
    content = bytearray(cobs_decode(encode_frame(Frame(FrameKind.REQUEST, 1, 2, b"ab"))[1:-1]))
    content[-1] ^= 0xFF
    with pytest.raises(FrameError) as caught:
        decode_content(bytes(content))
    assert caught.value.code == "frame-crc"


def test_resynchronises_after_garbage() -> None:
    decoder = FrameDecoder()
    first = encode_frame(Frame(FrameKind.RESPONSE, 7, 0x10, b"hello"))
    second = encode_frame(Frame(FrameKind.EVENT, 8, 0x81, b"\x02\x00\x00\x03\x01"))
    stream = b"bootloader v1.0\r\n\xff\xfe" + first[:-5] + b"\x13\x37" + first + b"noise" + second
    frames = decoder.feed(stream)
    assert [(f.kind, f.seq, f.payload) for f in frames] == [
        (FrameKind.RESPONSE, 7, b"hello"),
        (FrameKind.EVENT, 8, b"\x02\x00\x00\x03\x01"),
    ]
    assert decoder.stats.crc_errors + decoder.stats.malformed >= 1


def test_byte_by_byte_feeding_gives_the_same_frames() -> None:
    frames_in = [
        Frame(FrameKind.REQUEST, i, 0x21, bytes((i + k) % 256 for k in range(300)))
        for i in range(5)
    ]
    stream = b"".join(encode_frame(f) for f in frames_in)
    decoder = FrameDecoder()
    out: list[Frame] = []
    for index in range(len(stream)):
        out += decoder.feed(stream[index : index + 1])
    assert out == frames_in


def test_oversize_garbage_is_dropped_and_decoding_recovers() -> None:
    decoder = FrameDecoder(max_payload=1024)
    assert decoder.feed(b"\x01" * 5000) == []
    assert decoder.stats.oversize == 1
    frame = Frame(FrameKind.RESPONSE, 1, 2, b"ok")
    # The first delimiter after the overflow ends the discarded run; the next frame decodes.
    assert decoder.feed(b"\x01\x01" + encode_frame(frame)) == [frame]


def test_every_single_bit_flip_is_detected() -> None:
    frame = Frame(FrameKind.REQUEST, 3, 0x21, bytes(range(64)))
    raw = encode_frame(frame)
    for index in range(1, len(raw) - 1):
        for bit in range(8):
            damaged = bytearray(raw)
            damaged[index] ^= 1 << bit
            assert FrameDecoder().feed(bytes(damaged)) == [], (index, bit)


def _mutations() -> st.SearchStrategy[bytes]:
    valid = [
        encode_frame(p.encode_request(req, seq))
        for seq, req in enumerate(
            [
                p.Hello(),
                p.GetIdentity(),
                p.UpdateWrite(4096, b"\x00" * 40),
                p.OtaTunnel(b"\x19\x01\x00\x00\x64"),
            ]
        )
    ]

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(valid)))
        for _ in range(draw(st.integers(0, 6))):
            if not data:
                break
            index = draw(st.integers(0, len(data) - 1))
            action = draw(st.sampled_from(["flip", "drop", "dup", "insert"]))
            if action == "flip":
                data[index] ^= draw(st.integers(1, 255))
            elif action == "drop":
                del data[index]
            elif action == "dup":
                data.insert(index, data[index])
            else:
                data.insert(index, draw(st.integers(0, 255)))
        return bytes(data)

    return st.one_of(st.binary(max_size=600), mutate())


@settings(max_examples=1000, deadline=None)
@given(_mutations())
def test_random_and_mutated_bytes_never_crash_the_decoder(data: bytes) -> None:
    decoder = FrameDecoder(max_payload=4096)
    for frame in decoder.feed(data):
        try:
            if frame.kind == FrameKind.REQUEST:
                p.decode_request(frame)
            elif frame.kind == FrameKind.EVENT:
                p.decode_event(frame)
            else:
                p.decode_response(p.GetIdentity, frame)
        except ProtocolError:
            pass  # a clean refusal is the only allowed failure
        except p.DeviceStatusError:
            pass


def test_decoder_survives_a_long_random_stream() -> None:
    rng = random.Random(1)
    decoder = FrameDecoder()
    good = encode_frame(Frame(FrameKind.EVENT, 1, 0x83, b"x" * 20))
    stream = bytearray()
    for _ in range(200):
        stream += bytes(rng.randrange(256) for _ in range(rng.randrange(50)))
        stream += good
    frames = decoder.feed(bytes(stream))
    # Every intact copy after a delimiter decodes; garbage never yields a false frame.
    assert all(f == Frame(FrameKind.EVENT, 1, 0x83, b"x" * 20) for f in frames)
    assert len(frames) >= 190
