"""The ZCL OTA cluster codec against the vectors written in docs/zcl-ota.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridgelab.zigbee.zcl_ota import (
    ImageBlockAbort,
    ImageBlockRequest,
    ImageBlockResponse,
    ImageBlockWaitForData,
    ImageNotify,
    ImagePageRequest,
    OtaCommand,
    QueryDeviceSpecificFileRequest,
    QueryDeviceSpecificFileResponse,
    QueryNextImageRequest,
    QueryNextImageResponse,
    UpgradeEndRequest,
    UpgradeEndResponse,
    ZclDecodeError,
    ZclDirection,
    ZclHeader,
    ZclStatus,
    ZclValueError,
    command_types,
    decode_frame,
    encode_frame,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "zcl-ota.md"

MFR, TYPE, CURRENT, OFFERED, SIZE = 0x117C, 0x2101, 0x12214572, 0x12214573, 0x0002917E
EUI = 0x00124B0001020304
OTA_HEADER_START = bytes.fromhex("1EF1EE0B00013800")

# The record each documented vector must encode from and decode to.
EXPECTED: dict[str, OtaCommand] = {
    "notify-type0": ImageNotify(100),
    "notify-type1": ImageNotify(100, MFR),
    "notify-type3": ImageNotify(50, MFR, TYPE, OFFERED),
    "qnireq-plain": QueryNextImageRequest(MFR, TYPE, CURRENT),
    "qnireq-hw": QueryNextImageRequest(MFR, TYPE, CURRENT, hardware_version=0x0102),
    "qnirsp-success": QueryNextImageResponse(ZclStatus.SUCCESS, MFR, TYPE, OFFERED, SIZE),
    "qnirsp-none": QueryNextImageResponse(ZclStatus.NO_IMAGE_AVAILABLE),
    "blockreq-plain": ImageBlockRequest(MFR, TYPE, OFFERED, 0x40, 63),
    "blockreq-full": ImageBlockRequest(MFR, TYPE, OFFERED, 0x40, 63, EUI, 500),
    "pagereq-eui": ImagePageRequest(MFR, TYPE, OFFERED, 0, 63, 1024, 100, EUI),
    "blockrsp-success": ImageBlockResponse(MFR, TYPE, OFFERED, 0, OTA_HEADER_START),
    "blockrsp-success-ddr": ImageBlockResponse(MFR, TYPE, OFFERED, 0, OTA_HEADER_START),
    "blockrsp-wait": ImageBlockWaitForData(100, 130),
    "blockrsp-wait-period": ImageBlockWaitForData(100, 130, 1000),
    "blockrsp-abort": ImageBlockAbort(),
    "endreq-success": UpgradeEndRequest(ZclStatus.SUCCESS, MFR, TYPE, OFFERED),
    "endreq-invalid": UpgradeEndRequest(ZclStatus.INVALID_IMAGE, MFR, TYPE, OFFERED),
    "endrsp-now": UpgradeEndResponse(MFR, TYPE, OFFERED, 0, 0),
    "endrsp-countdown": UpgradeEndResponse(MFR, TYPE, OFFERED, 100, 120),
    "endrsp-wait": UpgradeEndResponse(0xFFFF, 0xFFFF, 0xFFFFFFFF, 0, 0xFFFFFFFF),
    "qdsfreq": QueryDeviceSpecificFileRequest(EUI, MFR, 0xFFC2, 1, 0x0002),
    "qdsfrsp-success": QueryDeviceSpecificFileResponse(ZclStatus.SUCCESS, MFR, 0xFFC2, 1, 512),
    "qdsfrsp-denied": QueryDeviceSpecificFileResponse(ZclStatus.NOT_AUTHORIZED),
}


def _hex(cell: str) -> bytes:
    return bytes.fromhex(cell.strip().strip("`").replace(" ", ""))


def _doc_rows(section: str) -> list[list[str]]:
    """The body rows of the first table after the heading `section` in the doc."""
    text = DOC.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("| ")]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    return [row for row in cells[1:] if not re.fullmatch(r"-+", row[0])]


GOOD = {
    row[0]: (row[1], _hex(row[2]), _hex(row[3])) for row in _doc_rows("Vectors: well-formed frames")
}
BAD = {
    row[0]: (row[1], _hex(row[2]), row[3].strip("`"))
    for row in _doc_rows("Vectors: frames the decoder refuses")
}


def test_doc_and_test_cover_the_same_vectors() -> None:
    assert set(GOOD) == set(EXPECTED)
    assert len(BAD) >= 10
    # Every command record type has at least one documented vector.
    assert {type(cmd) for cmd in EXPECTED.values()} == set(command_types())


@pytest.mark.parametrize("vector_id", sorted(GOOD))
def test_vector_encodes_and_decodes(vector_id: str) -> None:
    _, header_bytes, payload = GOOD[vector_id]
    expected = EXPECTED[vector_id]
    header, rest = ZclHeader.from_bytes(header_bytes + payload)
    assert rest == payload
    assert expected.to_bytes() == payload
    frame = encode_frame(
        expected, header.seq, disable_default_response=header.disable_default_response
    )
    assert frame == header_bytes + payload
    decoded_header, decoded = decode_frame(frame)
    assert decoded == expected
    assert decoded_header.direction is expected.DIRECTION
    assert decoded_header.command_id == expected.COMMAND_ID
    assert type(expected).from_bytes(payload) == expected


@pytest.mark.parametrize("vector_id", sorted(BAD))
def test_refused_vector_gives_its_code(vector_id: str) -> None:
    _, frame, code = BAD[vector_id]
    with pytest.raises(ZclDecodeError) as caught:
        decode_frame(frame)
    assert caught.value.code == code
    assert caught.value.action  # every refusal says what to do


def test_truncation_message_names_field_and_offset() -> None:
    with pytest.raises(ZclDecodeError, match=r"data needs 8 byte\(s\) at byte 14") as caught:
        decode_frame(BAD["bad-block-short"][1])
    assert caught.value.details["field"] == "data"


def test_direction_override_builds_a_frame_the_decoder_refuses() -> None:
    frame = encode_frame(ImageBlockAbort(), 1, direction=ZclDirection.CLIENT_TO_SERVER)
    assert frame == bytes.fromhex("01010595")
    with pytest.raises(ZclDecodeError) as caught:
        decode_frame(frame)
    assert caught.value.code == "zcl-unknown-command"


def test_manufacturer_specific_header_round_trips() -> None:
    header = ZclHeader(1, ZclDirection.SERVER_TO_CLIENT, True, 0x42, 0x00, manufacturer_code=0x117C)
    assert header.to_bytes().hex() == "1d7c114200"
    assert ZclHeader.from_bytes(header.to_bytes() + b"\x01") == (header, b"\x01")


def test_derived_values() -> None:
    assert ImageNotify(50, MFR, TYPE, OFFERED).payload_type == 3
    assert ImageBlockWaitForData(100, 130).wait_s == 30
    assert ImageBlockWaitForData(130, 100).wait_s == 0
    assert EXPECTED["endrsp-countdown"].countdown_s == 20  # type: ignore[union-attr]
    assert EXPECTED["endrsp-wait"].waits_for_command  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: ImageNotify(0), "query_jitter"),
        (lambda: ImageNotify(101), "query_jitter"),
        (lambda: ImageNotify(10, None, TYPE), "payload_type"),
        (lambda: QueryNextImageRequest(0x10000, TYPE, CURRENT), "manufacturer_code"),
        (lambda: ImageBlockRequest(MFR, TYPE, OFFERED, -1, 63), "file_offset"),
        (lambda: ImageBlockRequest(MFR, TYPE, OFFERED, 0, 63, 1 << 64), "request_node_eui64"),
        (lambda: ImageBlockResponse(MFR, TYPE, OFFERED, 0, bytes(256)), "data"),
        (lambda: QueryNextImageResponse(ZclStatus.SUCCESS, MFR), "image fields"),
        (lambda: QueryNextImageResponse(ZclStatus.NO_IMAGE_AVAILABLE, MFR), "image fields"),
        (lambda: UpgradeEndRequest(ZclStatus.WAIT_FOR_DATA, MFR, TYPE, 1), "status"),
        (lambda: QueryNextImageResponse(0, MFR, TYPE, 1, 2), "status"),  # type: ignore[arg-type]
    ],
)
def test_unencodable_values_are_refused(build: object, field: str) -> None:
    with pytest.raises(ZclValueError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.code == "zcl-bad-value"
    assert caught.value.details["field"] == field


def test_bad_sequence_number_is_refused() -> None:
    with pytest.raises(ZclValueError):
        encode_frame(ImageBlockAbort(), 256)


# --------------------------------------------------------------------------- properties

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
eui = st.integers(0, (1 << 64) - 1)
no_image = st.sampled_from([ZclStatus.NO_IMAGE_AVAILABLE, ZclStatus.NOT_AUTHORIZED])


def _offer(
    cls: type[QueryNextImageResponse | QueryDeviceSpecificFileResponse],
) -> st.SearchStrategy[OtaCommand]:
    return st.one_of(
        st.builds(cls, no_image),
        st.builds(cls, st.just(ZclStatus.SUCCESS), u16, u16, u32, u32),
    )


def _notify() -> st.SearchStrategy[OtaCommand]:
    jitter = st.integers(1, 100)
    return st.one_of(
        st.builds(ImageNotify, jitter),
        st.builds(ImageNotify, jitter, u16),
        st.builds(ImageNotify, jitter, u16, u16),
        st.builds(ImageNotify, jitter, u16, u16, u32),
    )


COMMANDS: st.SearchStrategy[OtaCommand] = st.one_of(
    _notify(),
    st.builds(QueryNextImageRequest, u16, u16, u32, st.none() | u16),
    _offer(QueryNextImageResponse),
    st.builds(ImageBlockRequest, u16, u16, u32, u32, u8, st.none() | eui, st.none() | u16),
    st.builds(ImagePageRequest, u16, u16, u32, u32, u8, u16, u16, st.none() | eui),
    st.builds(ImageBlockResponse, u16, u16, u32, u32, st.binary(max_size=255)),
    st.builds(ImageBlockWaitForData, u32, u32, st.none() | u16),
    st.just(ImageBlockAbort()),
    st.builds(
        UpgradeEndRequest,
        st.sampled_from(
            [
                ZclStatus.SUCCESS,
                ZclStatus.INVALID_IMAGE,
                ZclStatus.ABORT,
                ZclStatus.REQUIRE_MORE_IMAGE,
            ]
        ),
        u16,
        u16,
        u32,
    ),
    st.builds(UpgradeEndResponse, u16, u16, u32, u32, u32),
    st.builds(QueryDeviceSpecificFileRequest, eui, u16, u16, u32, u16),
    _offer(QueryDeviceSpecificFileResponse),
)


def _decode_or_refuse(data: bytes) -> None:
    """Decoding either fails with ZclDecodeError or yields a frame that re-encodes exactly."""
    try:
        header, command = decode_frame(data)
    except ZclDecodeError as error:
        assert error.code in {
            "zcl-truncated",
            "zcl-trailing-bytes",
            "zcl-unknown-command",
            "zcl-bad-field",
        }
        return
    again = encode_frame(
        command, header.seq, disable_default_response=header.disable_default_response
    )
    assert again == data


@settings(max_examples=1500)
@given(st.binary(max_size=80))
def test_random_bytes_only_raise_decode_errors(data: bytes) -> None:
    _decode_or_refuse(data)


@settings(max_examples=1500)
@given(st.integers(0, 11), st.binary(max_size=40))
def test_random_payloads_behind_valid_headers(command_id: int, payload: bytes) -> None:
    # Valid headers reach the command decoders far more often than uniform random bytes.
    for control in (0x01, 0x09, 0x19):
        _decode_or_refuse(bytes([control, 7, command_id]) + payload)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(COMMANDS, u8, st.data())
def test_mutated_frames_only_raise_decode_errors(
    command: OtaCommand, seq: int, data: st.DataObject
) -> None:
    frame = bytearray(encode_frame(command, seq))
    mutation = data.draw(st.sampled_from(["flip", "truncate", "extend", "splice"]))
    if mutation == "flip":
        index = data.draw(st.integers(0, len(frame) - 1))
        frame[index] ^= data.draw(st.integers(1, 0xFF))
    elif mutation == "truncate":
        del frame[data.draw(st.integers(0, len(frame) - 1)) :]
    elif mutation == "extend":
        frame += data.draw(st.binary(min_size=1, max_size=8))
    else:
        index = data.draw(st.integers(0, len(frame)))
        frame[index:index] = data.draw(st.binary(min_size=1, max_size=4))
    _decode_or_refuse(bytes(frame))


@settings(max_examples=1500)
@given(COMMANDS, u8, st.booleans())
def test_every_command_round_trips(command: OtaCommand, seq: int, no_default: bool) -> None:
    frame = encode_frame(command, seq, disable_default_response=no_default)
    header, decoded = decode_frame(frame)
    assert decoded == command
    assert (header.seq, header.disable_default_response) == (seq, no_default)
    assert type(command).from_bytes(command.to_bytes()) == command
