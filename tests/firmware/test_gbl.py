"""Silicon Labs GBL/EBL images: tags, application info, flags, CRC-32, padding, refusals.

Files are built here from the format facts (UG266/UG489) and read from the real vendor OTA
files in ../shared/fixtures/ota-real/, whose upgrade images are GBL or EBL files; zigpy's
GBL/EBL validators (a GPL-3.0 test-time reference, never imported by the product) must
agree on every real one.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridgelab.firmware.errors import ERROR_CATALOGUE, FirmwareError, GblFormatError
from bridgelab.firmware.gbl import (
    GBL_TAG_APPLICATION,
    GBL_TAG_ENC_DATA,
    GBL_TAG_ENC_INIT,
    GBL_TAG_END,
    GBL_TAG_HEADER,
    GBL_TAG_PROG,
    GBL_TAG_SIGNATURE,
    GBL_TYPE_SIGNED,
    BootloaderFormat,
    load_bootloader_image,
    parse_bootloader_image,
    sniff_format,
)


def _gbl_tag(tag_id: int, payload: bytes) -> bytes:
    return struct.pack("<II", tag_id, len(payload)) + payload


def make_gbl(
    *,
    version: int = 0x01020304,
    gbl_type: int = 0,
    extra: tuple[tuple[int, bytes], ...] = (),
    app: bool = True,
    padding: bytes = b"",
) -> bytes:
    """A GBL file: header, application info, one program tag, `extra`, end tag with CRC."""
    body = _gbl_tag(GBL_TAG_HEADER, struct.pack("<II", 0x03000000, gbl_type))
    if app:
        body += _gbl_tag(GBL_TAG_APPLICATION, struct.pack("<III16s", 1, version, 0, b"P" * 16))
    body += _gbl_tag(GBL_TAG_PROG, struct.pack("<I", 0x08004000) + bytes(range(256)) * 4)
    for tag_id, payload in extra:
        body += _gbl_tag(tag_id, payload)
    body += struct.pack("<II", GBL_TAG_END, 4)
    return body + struct.pack("<I", zlib.crc32(body)) + padding


def make_ebl(*, padding_to: int = 64) -> bytes:
    """An EBL file: header (version 0x0201, image signature 0xE350), program, end, 0xFF pad."""
    header = struct.pack(">HHII", 0x0201, 0xE350, 0x08002000, 0) + bytes(128)
    body = struct.pack(">HH", 0x0000, len(header)) + header
    body += struct.pack(">HH", 0xFE01, 260) + struct.pack(">I", 0x08002000) + bytes(256)
    body += struct.pack(">HH", 0xFC04, 4)
    data = body + struct.pack("<I", zlib.crc32(body))
    return data + b"\xff" * (-len(data) % padding_to)


def test_gbl_tags_application_and_crc_are_read() -> None:
    data = make_gbl(version=0x00070400)
    image = parse_bootloader_image(data)
    assert image.format is BootloaderFormat.GBL
    assert [tag.name for tag in image.tags] == [
        "header",
        "application info",
        "program data",
        "end",
    ]
    assert image.header_version == 0x03000000
    assert image.application is not None
    assert image.application.version == 0x00070400
    assert image.application.type_names == ("zigbee",)
    assert image.application.product_id == b"P" * 16
    assert (image.encrypted, image.signed, image.certificate) == (False, False, False)
    assert image.crc_ok and image.crc_stored == zlib.crc32(data[:-4])
    # The CRC residue every Silicon Labs bootloader checks: the whole file including its CRC.
    assert zlib.crc32(data) == 0x2144DF1C
    image.require_valid_crc()


def test_signed_and_encrypted_gbl_are_named() -> None:
    signed = parse_bootloader_image(
        make_gbl(gbl_type=GBL_TYPE_SIGNED, extra=((GBL_TAG_SIGNATURE, bytes(64)),))
    )
    assert signed.signed and not signed.encrypted
    encrypted = parse_bootloader_image(
        make_gbl(
            gbl_type=1, app=False, extra=((GBL_TAG_ENC_INIT, bytes(16)), (GBL_TAG_ENC_DATA, b"x"))
        )
    )
    assert encrypted.encrypted and not encrypted.signed
    assert encrypted.application is None


@pytest.mark.parametrize("position", [12, 40, 300, -2])
def test_one_changed_byte_fails_the_crc(position: int) -> None:
    data = bytearray(make_gbl())
    data[position] ^= 0x01
    image = parse_bootloader_image(bytes(data))
    assert not image.crc_ok
    with pytest.raises(GblFormatError) as caught:
        image.require_valid_crc()
    assert caught.value.code == "gbl-bad-crc"
    assert "CRC-32 is wrong" in caught.value.message


def test_ff_padding_after_the_end_tag_is_counted_anything_else_refused() -> None:
    assert parse_bootloader_image(make_gbl(padding=b"\xff" * 3)).padding == 3
    with pytest.raises(GblFormatError) as caught:
        parse_bootloader_image(make_gbl(padding=b"\xff\x00"))
    assert caught.value.code == "gbl-bad-padding"


def test_ebl_is_read_with_its_padding() -> None:
    data = make_ebl()
    image = parse_bootloader_image(data)
    assert image.format is BootloaderFormat.EBL
    assert [tag.name for tag in image.tags] == ["header", "program data", "end"]
    assert image.header_version == 0x0201
    assert image.crc_ok and len(data) % 64 == 0 and image.padding == image.size - image.end_offset
    broken = bytearray(data)
    broken[20] ^= 0x80
    assert not parse_bootloader_image(bytes(broken)).crc_ok


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "gbl-unknown-format"),
        (b"\x1e\xf1\xee\x0b" + bytes(60), "gbl-unknown-format"),
        (make_gbl()[:-1], "gbl-truncated"),
        (make_gbl()[:-12], "gbl-no-end-tag"),
        (make_gbl()[:-9], "gbl-truncated"),
        (make_gbl()[:-12][: 8 + 8], "gbl-no-end-tag"),
        (_gbl_tag(GBL_TAG_HEADER, b"\x00") + _gbl_tag(GBL_TAG_END, bytes(4)), "gbl-bad-tag"),
        (
            _gbl_tag(GBL_TAG_HEADER, bytes(8)) + _gbl_tag(GBL_TAG_END, bytes(8)),
            "gbl-bad-tag",
        ),
        (
            _gbl_tag(GBL_TAG_HEADER, bytes(8))
            + _gbl_tag(GBL_TAG_APPLICATION, bytes(8))
            + _gbl_tag(GBL_TAG_END, bytes(4)),
            "gbl-bad-tag",
        ),
        (_gbl_tag(GBL_TAG_HEADER, bytes(8)) + bytes(8) * 70_000, "gbl-too-many-tags"),
    ],
    ids=[
        "empty",
        "an-ota-file",
        "cut-in-crc",
        "cut-before-end",
        "cut-in-end-header",
        "no-end-tag",
        "short-header",
        "end-tag-too-long",
        "short-application-info",
        "seventy-thousand-empty-tags",
    ],
)
def test_damaged_gbl_is_refused_with_its_code(data: bytes, code: str) -> None:
    with pytest.raises(GblFormatError) as caught:
        parse_bootloader_image(data)
    assert caught.value.code == code
    assert caught.value.action == ERROR_CATALOGUE[code][1]


def test_sniffing_looks_only_at_the_first_bytes() -> None:
    assert sniff_format(make_gbl()) is BootloaderFormat.GBL
    assert sniff_format(make_ebl()) is BootloaderFormat.EBL
    assert sniff_format(b"\x00\x00\x00\x8c" + bytes(8)) is None  # no 0xE350 image signature
    assert sniff_format(b"\xeb\x17") is None


def test_load_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "app.gbl"
    path.write_bytes(make_gbl())
    data, image = load_bootloader_image(path)
    assert data == path.read_bytes() and image.crc_ok


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([b"", b"\xeb\x17\xa6\x03", b"\x00\x00\x00\x8c"]))
def test_no_bytes_make_the_reader_raise_anything_but_its_own_errors(
    tail: bytes, prefix: bytes
) -> None:
    try:
        parse_bootloader_image(prefix + tail)
    except FirmwareError as error:
        assert error.code in ERROR_CATALOGUE


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_gbl_never_escapes_the_error_tree(data: st.DataObject) -> None:
    original = bytearray(make_gbl(extra=((GBL_TAG_SIGNATURE, bytes(64)),)))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    try:
        image = parse_bootloader_image(bytes(original))
    except FirmwareError:
        return
    assert image.size == len(original)


# ------------------------------------------------------------- real vendor files


def _vendor_upgrade_images(folder: Path) -> list[tuple[str, bytes]]:
    """(file name, upgrade image) for the fixtures whose upgrade image is a GBL/EBL file."""
    from zigpy.ota.image import ElementTagId, parse_ota_image

    found = []
    for path in sorted(folder.iterdir()):
        if path.suffix in (".md", ".tsv"):
            continue
        image, _ = parse_ota_image(path.read_bytes())
        for element in getattr(image, "subelements", None) or []:
            if element.tag_id == ElementTagId.UPGRADE_IMAGE and sniff_format(bytes(element.data)):
                found.append((path.name, bytes(element.data)))
    return found


def test_real_vendor_gbl_and_ebl_images_agree_with_zigpy(ota_real_dir: Path) -> None:
    from zigpy.ota.validators import parse_silabs_ebl, parse_silabs_gbl

    images = _vendor_upgrade_images(ota_real_dir)
    kinds = set()
    for name, data in images:
        image = parse_bootloader_image(data)
        kinds.add(image.format)
        assert image.crc_ok, name
        reference = parse_silabs_gbl if image.format is BootloaderFormat.GBL else parse_silabs_ebl
        tag_size = 4 if image.format is BootloaderFormat.GBL else 2
        order = "little" if image.format is BootloaderFormat.GBL else "big"
        theirs = [(int.from_bytes(tag, order), len(value)) for tag, value in reference(data)]
        assert [(tag.tag_id, tag.length) for tag in image.tags] == theirs, name
        assert image.tags[-1].end + image.padding == len(data), name
        assert tag_size in (2, 4)
    # Three GBL (IKEA signed, Namron and SDevices encrypted) and two EBL (Salus, Sengled).
    assert len(images) == 5 and kinds == {BootloaderFormat.GBL, BootloaderFormat.EBL}
