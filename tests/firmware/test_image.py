"""Parsing and building OTA files: the domain test vector, the DCC samples, round trips."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bridgelab.firmware.digest import manufacturer_image_sha256
from bridgelab.firmware.errors import ImageBuildError, ImageFileError
from bridgelab.firmware.image import (
    BUILD_FORMS,
    BodyForm,
    OtaHeader,
    SubElement,
    build_image,
    load_image,
    parse_header,
    parse_image,
)
from bridgelab.firmware.trust import TrustStore, verify_signature

# domain.md section 2: the 56-byte header test vector.
VECTOR = (
    bytes.fromhex("1ef1ee0b 0001 3800 0000 7c11 0121 72452112 0200")
    + b"EBL tradfri_light_basic".ljust(32, b"\x00")
    + bytes.fromhex("7e910200")
)
DCC_MANUFACTURER_IMAGE_SHA256 = "7542f475e3f12eae887d81e32c46d313741d67076b13caec2f82e00ba5e1bb36"


def test_header_vector_decodes_to_the_documented_fields() -> None:
    header = parse_header(VECTOR)
    assert header.manufacturer_code == 0x117C
    assert header.image_type == 0x2101
    assert header.file_version == 0x12214572
    assert header.stack_version == 0x0002
    assert header.total_image_size == 0x0002917E
    assert header.header_length == 56 and header.field_control == 0
    assert header.header_text == "EBL tradfri_light_basic"
    assert (header.security_credential_version, header.destination_eui64) == (None, None)
    assert (header.min_hw_version, header.max_hw_version) == (None, None)


def test_header_vector_is_rebuilt_byte_for_byte() -> None:
    header = OtaHeader(
        manufacturer_code=0x117C,
        image_type=0x2101,
        file_version=0x12214572,
        total_image_size=0x0002917E,
        header_string=b"EBL tradfri_light_basic".ljust(32, b"\x00"),
    )
    assert header.to_bytes() == VECTOR


def test_all_optional_fields_in_field_control_order() -> None:
    data = build_image(
        manufacturer_code=0x121D,
        image_type=0x0001,
        file_version=2,
        manufacturer_image=b"firmware",
        body_form=BodyForm.ZIGBEE,
        security_credential_version=0x02,
        destination_eui64=0x00124B0001020304,
        min_hw_version=0x0100,
        max_hw_version=0x02FF,
    )
    # 56 + 1 (credential) + 8 (EUI-64, little-endian) + 4 (hardware range) = 69.
    assert data[6:10] == bytes.fromhex("4500 0700")
    assert data[56:69] == bytes.fromhex("02 0403020100 4b1200 0001 ff02")
    header = parse_image(data).header
    assert header.header_length == 69 and header.field_control == 0x0007
    assert header.destination_eui64 == 0x00124B0001020304


def test_dcc_sr11_1_sample_is_gbcs_signed_by_an_unknown_key(dcc_dir: Path) -> None:
    image = load_image(dcc_dir / "sr11.1-esme-update-firmware.ota")
    header = image.header
    assert image.body_form is BodyForm.GBCS and image.sub_elements == ()
    assert (header.header_length, header.field_control) == (60, 0x0004)
    assert (header.manufacturer_code, header.image_type) == (0x121D, 0x0000)
    assert header.file_version == 0xACDCACDC
    assert (header.min_hw_version, header.max_hw_version) == (0x1111, 0x1211)
    assert header.total_image_size == 361 == len(image.raw)
    assert image.manufacturer_image_offset == 60 and image.manufacturer_image_size == 235
    assert image.signature == image.raw[-64:] and image.raw[-66:-64] == b"\x00\x40"
    assert image.signature_offset == 295
    # The hash a CS06 Activate Firmware would carry, computed independently of the parser.
    expected = hashlib.sha256(image.raw[60:295]).hexdigest()
    assert manufacturer_image_sha256(image).hex() == expected == DCC_MANUFACTURER_IMAGE_SHA256
    with pytest.raises(Exception, match="no key for manufacturer 0x121D") as caught:
        verify_signature(image, TrustStore())
    assert getattr(caught.value, "code", None) == "signer-unknown"
    assert image.to_bytes() == image.raw


def test_dcc_sr11_4_sample_has_no_trailer(dcc_dir: Path) -> None:
    image = load_image(dcc_dir / "sr11.4-ppmid-update-firmware.ota")
    assert image.body_form is BodyForm.GBCS
    assert image.header.image_type == 0x0084 and image.header.file_version == 0xACDCACDC
    assert image.signature is None and image.signature_offset is None
    assert image.manufacturer_image_size == 235
    assert manufacturer_image_sha256(image).hex() == DCC_MANUFACTURER_IMAGE_SHA256
    assert image.to_bytes() == image.raw


def test_dcc_samples_rebuild_byte_for_byte(dcc_dir: Path) -> None:
    for name in ("sr11.1-esme-update-firmware.ota", "sr11.4-ppmid-update-firmware.ota"):
        original = (dcc_dir / name).read_bytes()
        assert build_image(**_build_arguments(parse_image(original))) == original


def _build_arguments(image: Any) -> dict[str, Any]:
    """What build_image needs to write `image` again, its elements in their order."""
    header = image.header
    extra = tuple(
        (element.tag, bytes(image.sub_element_data(element)))
        for element in image.sub_elements
        if element.tag not in (0x0000, 0xF0B1)
    )
    tags = [element.tag for element in image.sub_elements]
    return {
        "manufacturer_code": header.manufacturer_code,
        "image_type": header.image_type,
        "file_version": header.file_version,
        "manufacturer_image": bytes(image.manufacturer_image),
        "body_form": image.body_form,
        "stack_version": header.stack_version,
        "header_string": header.header_string,
        "security_credential_version": header.security_credential_version,
        "destination_eui64": header.destination_eui64,
        "min_hw_version": header.min_hw_version,
        "max_hw_version": header.max_hw_version,
        "sub_elements": extra,
        "upgrade_image_position": tags.index(0x0000) if 0x0000 in tags else 0,
        "signature": image.signature,
    }


u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
optional_hw = st.one_of(st.none(), st.tuples(u16, u16).map(sorted))


@st.composite
def image_arguments(draw: st.DrawFn) -> dict[str, Any]:
    form = draw(st.sampled_from(BUILD_FORMS))
    hardware = draw(optional_hw)
    extra: tuple[tuple[int, bytes], ...] = ()
    if form is BodyForm.ZIGBEE:
        tags = st.integers(1, 0xFFFF).filter(lambda tag: tag != 0xF0B1)
        extra = tuple(draw(st.lists(st.tuples(tags, st.binary(max_size=40)), max_size=4)))
    position = draw(st.integers(0, len(extra)))
    return {
        "manufacturer_code": draw(u16),
        "image_type": draw(u16),
        "file_version": draw(u32),
        "manufacturer_image": draw(st.binary(min_size=1, max_size=300)),
        "body_form": form,
        "stack_version": draw(u16),
        "header_string": draw(st.binary(max_size=32)).ljust(32, b"\x00"),
        "security_credential_version": draw(st.one_of(st.none(), st.integers(0, 255))),
        "destination_eui64": draw(st.one_of(st.none(), st.integers(0, (1 << 64) - 1))),
        "min_hw_version": hardware[0] if hardware else None,
        "max_hw_version": hardware[1] if hardware else None,
        "sub_elements": extra,
        "upgrade_image_position": position,
        "signature": draw(st.one_of(st.none(), st.binary(min_size=64, max_size=64))),
    }


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(image_arguments())
def test_parse_of_build_gives_back_every_field(arguments: dict[str, Any]) -> None:
    try:
        data = build_image(**arguments)
    except ImageBuildError as error:
        # Only a gbcs Manufacturer Image that reads as something else may be refused.
        assert error.code in ("ambiguous-body", "ambiguous-trailer")
        assume(False)
    image = parse_image(data)
    assert _build_arguments(image) == arguments
    assert image.to_bytes() == data == image.raw
    assert image.header.total_image_size == len(data)
    assert build_image(**_build_arguments(image)) == data


def test_gbcs_image_that_would_read_back_differently_is_refused() -> None:
    common: dict[str, Any] = {"manufacturer_code": 1, "image_type": 2, "file_version": 3}
    looks_zigbee = b"\x00\x00" + (4).to_bytes(4, "little") + b"abcd"
    with pytest.raises(ImageBuildError) as body:
        build_image(manufacturer_image=looks_zigbee, **common)
    assert body.value.code == "ambiguous-body"
    looks_signed = b"code" + b"\x00\x40" + bytes(64)
    with pytest.raises(ImageBuildError) as trailer:
        build_image(manufacturer_image=looks_signed, **common)
    assert trailer.value.code == "ambiguous-trailer"
    # Naming the form reads such a file as written.
    data = build_image(manufacturer_image=looks_zigbee, body_form=BodyForm.ZIGBEE, **common)
    assert parse_image(data).sub_elements[0] == SubElement(0x0000, 62, 10)


@pytest.mark.parametrize(
    "changes",
    [
        {"manufacturer_code": 0x10000},
        {"file_version": -1},
        {"min_hw_version": 2, "max_hw_version": 1},
        {"min_hw_version": 2},
        {"header_string": "x" * 33},
        {"manufacturer_image": b""},
        {"sub_elements": ((0x0003, b"x"),)},
        {"body_form": BodyForm.ZIGBEE, "sub_elements": ((0x0000, b"again"),)},
        {"signature": bytes(63)},
    ],
)
def test_builder_refuses_values_that_do_not_fit(changes: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "manufacturer_code": 1,
        "image_type": 2,
        "file_version": 3,
        "manufacturer_image": b"image",
    }
    with pytest.raises(ImageBuildError) as caught:
        build_image(**{**arguments, **changes})
    assert caught.value.code == "bad-field-value"


def test_load_reads_the_same_image_as_parse(tmp_path: Path, make_image: Any) -> None:
    data = make_image()
    path = tmp_path / "image.ota"
    path.write_bytes(data)
    assert load_image(path) == parse_image(data)
    assert load_image(str(path), max_size=len(data)).raw == data


def test_oversize_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    # A sparse 1 TiB file: reading it would take hours and exhaust memory.
    huge = tmp_path / "huge.ota"
    with open(huge, "wb") as handle:
        handle.truncate(1 << 40)
    with pytest.raises(ImageFileError) as caught:
        load_image(huge)
    assert caught.value.code == "file-too-large"
    assert "16,777,216-byte limit" in caught.value.message
    small = tmp_path / "small.ota"
    small.write_bytes(bytes(100))
    with pytest.raises(ImageFileError, match="over the 99-byte limit"):
        load_image(small, max_size=99)


def test_loading_holds_the_file_once(tmp_path: Path, make_image: Any) -> None:
    data = make_image(payload=os.urandom(4 * 1024 * 1024))
    path = tmp_path / "big.ota"
    path.write_bytes(data)
    del data
    tracemalloc.start()
    try:
        image = load_image(path)
        manufacturer_image_sha256(image)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(image.raw) > 4 * 1024 * 1024
    assert peak < len(image.raw) + 64 * 1024
    assert isinstance(image.manufacturer_image, memoryview)
    assert image.manufacturer_image.obj is image.raw


@pytest.mark.parametrize(
    ("make_path", "code"),
    [
        (lambda folder: folder / "missing.ota", "file-not-found"),
        (lambda folder: folder, "not-a-file"),
        (lambda folder: _fifo(folder / "pipe"), "not-a-file"),
        (lambda folder: _file(folder / "plain") / "child.ota", "file-unreadable"),
    ],
    ids=["missing", "folder", "fifo", "under-a-file"],
)
def test_file_problems_have_their_own_codes(tmp_path: Path, make_path: Any, code: str) -> None:
    with pytest.raises(ImageFileError) as caught:
        load_image(make_path(tmp_path))
    assert caught.value.code == code
    assert str(tmp_path) in caught.value.message


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _file(path: Path) -> Path:
    path.write_bytes(b"x")
    return path
