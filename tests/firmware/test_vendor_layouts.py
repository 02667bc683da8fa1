"""Vendor shapes built here from their format facts: containers, bytes after the image,
Telink and Hue layouts, files without (or with several) upgrade image elements, ambiguous
bodies, and the bound on form detection. zigpy (a GPL-3.0 test-time reference) must read
the containers and layouts the same way.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridgelab.firmware.errors import ERROR_CATALOGUE, ImageFormatError
from bridgelab.firmware.image import (
    MAX_SUBELEMENTS,
    BodyForm,
    build_image,
    detect_form,
    parse_image,
)
from bridgelab.firmware.verify import assess_image
from tests.firmware.test_gbl import make_gbl


def _header(body: bytes, *, manufacturer: int = 0x121D) -> bytes:
    return struct.pack(
        "<IHHHHHIH32sI",
        0x0BEEF11E,
        0x0100,
        56,
        0,
        manufacturer,
        0x42,
        7,
        2,
        b"vendor test",
        56 + len(body),
    )


def _file(body: bytes, **options: Any) -> bytes:
    return _header(body, **options) + body


def _element(tag: int, data: bytes) -> bytes:
    return struct.pack("<HI", tag, len(data)) + data


def _standard(**options: Any) -> bytes:
    return build_image(
        manufacturer_code=0x121D,
        image_type=0x42,
        file_version=7,
        manufacturer_image=make_gbl(),
        body_form=BodyForm.ZIGBEE,
        sub_elements=((0xF123, b"vendor data"),),
        **options,
    )


# ------------------------------------------------------------------ containers


def test_legrand_container_is_unwrapped_as_zigpy_unwraps_it() -> None:
    from zigpy.ota.image import parse_ota_image

    inner = _standard()
    data = struct.pack("<I", len(inner)) + inner + b"\x01" + bytes(range(16))
    image = parse_image(data)
    assert image.container is not None and str(image.container.kind) == "legrand"
    assert (image.container.inner_offset, image.container.suffix_size) == (4, 17)
    assert image.raw == inner and image.source_size == len(data)
    assert image.inner is not None and image.inner.crc_ok
    theirs, rest = parse_ota_image(data)
    assert theirs.serialize() == image.raw and rest == b""


def test_ikea_container_is_unwrapped_and_its_suffix_reported() -> None:
    from zigpy.ota.image import parse_ota_image

    inner = _standard()
    header = b"NGIS" + bytes(12) + struct.pack("<II", 40, len(inner)) + bytes(16)
    data = header + inner + b"S" * 64
    image = parse_image(data)
    assert image.container is not None and image.container.suffix_size == 64
    assert "NGIS" in image.container.evidence and image.raw == inner
    assert parse_ota_image(data)[0].serialize() == image.raw


def test_third_reality_container_is_unwrapped() -> None:
    from zigpy.ota.image import parse_ota_image

    inner = _standard()
    middle = bytes(4) + struct.pack("<I", 88 + len(inner)) + bytes(80)
    assert len(middle) == 88
    data = hashlib.sha512(middle + inner).digest() + middle + inner
    image = parse_image(data)
    assert image.container is not None and str(image.container.kind) == "third-reality"
    assert image.raw == inner
    assert parse_ota_image(data)[0].serialize() == image.raw
    # One byte changed: the hash no longer matches, so it is no container (and no OTA file).
    with pytest.raises(ImageFormatError) as caught:
        parse_image(data[:-1] + bytes([data[-1] ^ 1]))
    assert caught.value.code == "bad-magic"


@pytest.mark.parametrize(
    "data",
    [
        b"NGIS" + bytes(10),
        b"NGIS" + bytes(12) + struct.pack("<II", 40, 10_000) + bytes(40),
        b"NGIS" + bytes(12) + struct.pack("<II", 8, 10) + bytes(40),
        b"NGIS" + bytes(12) + struct.pack("<II", 24, 20) + bytes(40),
    ],
    ids=["short", "size-past-the-end", "offset-inside-header", "no-ota-file-there"],
)
def test_a_damaged_container_is_refused(data: bytes) -> None:
    with pytest.raises(ImageFormatError) as caught:
        parse_image(data)
    assert caught.value.code == "bad-container"


# ----------------------------------------------------------- after the image


@pytest.mark.parametrize(
    ("extra", "kind", "words"),
    [
        (lambda image: struct.pack("<I", zlib.crc32(image)), "crc32", "little-endian"),
        (lambda image: struct.pack(">I", zlib.crc32(image)), "crc32", "big-endian"),
        (lambda image: struct.pack("<I", zlib.crc32(image) ^ 0xFFFFFFFF), "crc32-jamcrc", "JAM"),
        (lambda image: b"\xff" * 300, "padding", "0xFF padding"),
        (lambda image: bytes(3), "padding", "0x00 padding"),
        (lambda image: struct.pack("<I", zlib.crc32(image) ^ 1), "unknown", "not recognised"),
        (lambda image: b"junk", "unknown", "6A 75 6E 6B"),
    ],
    ids=["crc-le", "crc-be", "jamcrc", "ff", "zeros", "crc-off-by-one", "text"],
)
def test_bytes_after_the_image_are_named_and_checked(extra: Any, kind: str, words: str) -> None:
    image = _standard()
    data = image + extra(image)
    parsed = parse_image(data)
    assert parsed.trailing is not None and str(parsed.trailing.kind) == kind
    assert words in parsed.trailing.description
    assert parsed.raw == image and parsed.trailing.length == len(data) - len(image)
    report = assess_image(parsed, None)
    assert [str(f.severity) for f in report.findings if f.code == "trailing-bytes"] == ["warning"]
    with pytest.raises(ImageFormatError) as caught:
        parse_image(data, strict=True)
    assert caught.value.code == "trailing-data"


# ----------------------------------------------------------- vendor layouts


def test_telink_layout_is_named_and_read_as_zigpy_reads_it() -> None:
    from zigpy.ota.image import TelinkOTAImage, parse_ota_image

    firmware = bytes(range(256)) * 3
    data = _file(struct.pack("<HIH", 0xF000, len(firmware), 0x0C01) + firmware)
    image = parse_image(data)
    assert image.body_form is BodyForm.TELINK
    assert "tag-info" in image.form_evidence
    assert bytes(image.manufacturer_image) == firmware
    assert image.sub_elements[0].tag_info == 0x0C01 and image.to_bytes() == data
    theirs, _ = parse_ota_image(data)
    assert isinstance(theirs, TelinkOTAImage) and bytes(theirs.subelements[0].data) == firmware
    # Named explicitly it reads the same; as zigbee its walk does not fit.
    assert parse_image(data, form=BodyForm.TELINK).form_given
    with pytest.raises(ImageFormatError) as caught:
        parse_image(data, form=BodyForm.ZIGBEE)
    assert caught.value.code == "subelement-overrun"


def test_hue_sbl_layout_needs_both_the_maker_and_the_magic() -> None:
    from zigpy.ota.image import HueSBLOTAImage, parse_ota_image

    body = b"\x2a\x00\x01" + bytes(range(200))
    data = _file(body, manufacturer=0x100B)
    image = parse_image(data)
    assert image.body_form is BodyForm.HUE_SBL and bytes(image.manufacturer_image) == body
    assert "0x100B" in image.form_evidence
    assert isinstance(parse_ota_image(data)[0], HueSBLOTAImage)
    # Another maker with the same bytes: not Hue; its first 6 bytes cannot be an element.
    other = parse_image(_file(body))
    assert other.body_form is BodyForm.GBCS and "no sub-element tag" in other.form_evidence


def test_vendor_layouts_are_not_built_or_signed() -> None:
    with pytest.raises(Exception) as caught:
        build_image(
            manufacturer_code=1,
            image_type=2,
            file_version=3,
            manufacturer_image=b"x",
            body_form=BodyForm.TELINK,
        )
    assert getattr(caught.value, "code", None) == "bad-field-value"


# ------------------------------------------------------ which element is firmware


def test_a_lone_manufacturer_element_is_taken_as_firmware_and_said() -> None:
    data = _file(_element(0xF000, b"vendor firmware") + _element(0x0003, bytes(16)))
    image = parse_image(data)
    assert image.firmware_element is not None and image.firmware_element.tag == 0xF000
    assert bytes(image.manufacturer_image) == b"vendor firmware"
    notes = {note.code: note for note in image.notes}
    assert notes["firmware-element-guessed"].severity == "warning"
    assert "no upgrade image element" in notes["firmware-element-guessed"].message
    with pytest.raises(ImageFormatError) as caught:
        parse_image(data, strict=True)
    assert caught.value.code == "no-upgrade-image"


def test_the_gbl_among_several_manufacturer_elements_is_the_firmware() -> None:
    gbl = make_gbl()
    data = _file(_element(0xF001, b"x" * 5000) + _element(0xF002, gbl))
    image = parse_image(data)
    assert image.firmware_element is not None and image.firmware_element.tag == 0xF002
    assert image.inner is not None and image.inner.crc_ok
    assert "bootloader file" in image.firmware_note


def test_when_no_element_can_be_chosen_it_says_so_and_hashes_the_body() -> None:
    body = _element(0xF001, b"a" * 10) + _element(0xF002, b"b" * 10)
    image = parse_image(_file(body))
    assert image.firmware_element is None
    assert "not known" in image.firmware_note
    assert bytes(image.manufacturer_image) == body
    two_equal = parse_image(_file(_element(0x0000, b"one") + _element(0x0000, b"two")))
    assert two_equal.firmware_element is None and "not known" in two_equal.firmware_note


def test_no_firmware_at_all_is_still_refused() -> None:
    with pytest.raises(ImageFormatError) as caught:
        parse_image(_file(_element(0x0003, bytes(16)) + _element(0x0004, b"picture")))
    assert caught.value.code == "no-upgrade-image"


def test_reserved_tag_before_the_upgrade_image_is_zigbee_not_gbcs() -> None:
    # The case: a reserved tag first used to make the whole body "gbcs".
    firmware = b"\x7fELF firmware"
    data = _file(_element(0xCDEF, b"metadata") + _element(0x0000, firmware))
    image = parse_image(data)
    assert image.body_form is BodyForm.ZIGBEE
    assert bytes(image.manufacturer_image) == firmware
    assert [note.code for note in image.notes] == ["reserved-tag"]


# ------------------------------------------------------------------- ambiguity


def test_an_ambiguous_body_says_so_and_form_decides() -> None:
    # The first 6 bytes read as a short reserved element that fits; what follows does not.
    body = _element(0x1234, b"abc") + b"\x01\x02\x03\x04\x05\x06\x07\xff\xff\xff\x7f"
    data = _file(body)
    with pytest.raises(ImageFormatError) as caught:
        parse_image(data)
    assert caught.value.code == "ambiguous-form"
    assert "--form" in caught.value.action
    gbcs = parse_image(data, form=BodyForm.GBCS)
    assert gbcs.body_form is BodyForm.GBCS and bytes(gbcs.manufacturer_image) == body
    assert gbcs.form_given and gbcs.form_evidence.startswith("named")
    only_reserved = _file(_element(0x1234, b"abc") + _element(0x2345, b"defg"))
    with pytest.raises(ImageFormatError) as again:
        parse_image(only_reserved)
    assert again.value.code == "ambiguous-form"


def test_detection_work_is_bounded_whatever_the_size() -> None:
    # 4 MiB of empty manufacturer elements after an upgrade image: the walk stops at the cap.
    body = _element(0x0000, b"fw") + _element(0xF000, b"") * (700_000)
    with pytest.raises(ImageFormatError) as caught:
        detect_form(_file(body), 56)
    assert caught.value.code == "subelement-overrun"
    assert f"more than {MAX_SUBELEMENTS}" in caught.value.message


@st.composite
def element_bodies(draw: st.DrawFn) -> bytes:
    """Bodies made of plausible pieces: elements (standard or Telink), cut or padded."""
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        tag = draw(st.sampled_from([0x0000, 0x0003, 0xF000, 0xF0B1, 0xCDEF, 0x2A00]))
        data = draw(st.binary(max_size=40))
        length = draw(st.sampled_from([len(data), len(data) + 2, len(data) - 1, 0xFFFFFFFF]))
        header = struct.pack("<HI", tag, max(length, 0))
        if tag == 0xF000 and draw(st.booleans()):
            header += b"\x01\x0c"
        parts.append(header + data)
    body = b"".join(parts)
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]
    return body + draw(st.sampled_from([b"", b"\x00\x40" + bytes(64), b"\x2a\x00\x01"]))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(st.binary(max_size=300), element_bodies()),
    st.sampled_from([0x121D, 0x100B]),
)
def test_no_body_makes_detection_raise_anything_but_coded_errors(
    body: bytes, manufacturer: int
) -> None:
    data = _file(body, manufacturer=manufacturer)
    try:
        detected = detect_form(data, 56)
    except ImageFormatError as error:
        assert error.code in ERROR_CATALOGUE and error.action
        return
    assert detected.evidence  # a form is never chosen without saying why
    try:
        image = parse_image(data)
    except ImageFormatError as error:
        assert error.code in ERROR_CATALOGUE
        return
    assert image.body_form is detected.form and image.to_bytes() == image.raw == data


def test_a_damaged_gbl_inside_an_ota_file_is_an_error_of_the_report() -> None:
    gbl = make_gbl()
    for firmware, code in ((gbl[:-3], "gbl-truncated"), (gbl[:200] + gbl[201:], None)):
        image = parse_image(_file(_element(0x0000, firmware)))
        report = assess_image(image, None)
        errors = [finding.code for finding in report.errors]
        if code is not None:
            assert image.inner is None and image.inner_problem is not None
            assert errors == [code]
        else:
            # One byte gone: the tags still walk to an end tag, the CRC-32 is wrong.
            assert errors and errors[0] in ("gbl-bad-crc", "gbl-truncated", "gbl-bad-padding")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([b"NGIS", b"", b"\x1e\xf1\xee\x0b"]),
    st.binary(max_size=200),
)
def test_container_like_bytes_raise_only_coded_errors(prefix: bytes, tail: bytes) -> None:
    inner = _file(_element(0x0000, tail))
    candidates = [
        prefix + tail,
        struct.pack("<I", len(inner)) + inner + tail[:17].ljust(17, b"\x00"),
        b"NGIS" + bytes(12) + struct.pack("<II", 24, len(inner)) + inner + tail,
    ]
    for data in candidates:
        try:
            image = parse_image(data)
        except ImageFormatError as error:
            assert error.code in ERROR_CATALOGUE
            continue
        assert image.to_bytes() == image.raw and len(image.raw) <= len(data)
