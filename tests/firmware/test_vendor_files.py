"""Real vendor OTA files (../shared/fixtures/ota-real/): what Bridge Lab reads in each,
checked against the file's truth (its MANIFEST) and against zigpy's parser.

zigpy (GPL-3.0) is a test-time reference only: the product never imports it. For every
file both readers must agree on every header field, on the element list (tags, lengths,
order, data), on the upgrade image's SHA-256 and on the bytes after the image. Where
zigpy does not decide something (which of two upgrade image elements is the firmware; what
bytes after the image are), the expectation below says what Bridge Lab decides and why.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from bridgelab.firmware.errors import ImageFormatError
from bridgelab.firmware.image import BodyForm, build_image, load_image, parse_image
from bridgelab.firmware.verify import assess_image

# file -> (form, container, trailing kind, [(tag, length)], inner bootloader format)
EXPECTED: dict[str, tuple[str, str | None, str | None, list[tuple[int, int]], str | None]] = {
    "SalusControls__SAL2PE1_02015120_OTA.ota": (
        "zigbee", None, "crc32", [(0x0000, 155776)], "ebl"
    ),
    "SDevices__152F_SBDV-00205_thermostat_r_7_7bd95d88_07000000.ota.zigbee": (
        "zigbee",
        None,
        "crc32-jamcrc",
        [(0x0000, 265396), (0xFF01, 50), (0x0005, 80)],
        "gbl",
    ),
    "Sonoff__snzb02lwd_v1.1.0.ota": ("telink", None, None, [(0xF000, 167824)], None),
    "LEDVANCE__PLUG_OUTDOOR_EU_T-0x00C2-0x03463712-MF_DIS.OTA": (
        "telink", None, None, [(0xF000, 239680)], None
    ),
    "Hue__LivingColors-Target_0108_5.130.1.30000_0012.sbl-ota": (
        "hue-sbl", None, None, [], None
    ),
    "IKEA__zingo_cws-0x2805-1.0.44-prod.ota.ota.signed": (
        "zigbee", "ikea", None, [(0x0000, 335292)], "gbl"
    ),
    "NodOn__128b-0105-030103-700_nodon_sin_4_1_21_power_V030103.zigbee": (
        "zigbee", None, None, [(0x0000, 47368), (0x0003, 16)], None
    ),
    "Ubisys__10F2-7B29-0000-0004-01940221-spo-fmi4.ota.zigbee": (
        "zigbee", None, None, [(0xF7BD, 160), (0x0000, 117504), (0x0003, 16)], None
    ),
    "Sengled__RDS2014011_Z01-A19_V0.0.46_20171028_release.ota": (
        "zigbee", None, None, [(0x0000, 121024)], "ebl"
    ),
    "Osram__ZLL_SubstiTube_W_MK_0x01020509.ota": (
        "zigbee",
        None,
        None,
        [(0x0000, 122332), (0xFF01, 516), (0xFF3E, 504), (0xFF46, 8)],
        None,
    ),
    "pvvx__1141-0232-01383001-ZG204ZL.zigbee": ("zigbee", None, None, [(0x0000, 129012)], None),
    "ThirdReality__Motion_Sensor_PROD_OTA_V79_v1.00.79.ota": (
        "zigbee", None, None, [(0x0000, 132548)], None
    ),
    "Insta__ZLL_WS_4f_J_Release_10.03.32.02.zigbee": (
        "zigbee", None, None, [(0x0000, 134425)], None
    ),
    "Namron__4512772-Firmware-35.ota": ("zigbee", None, None, [(0x0000, 145972)], "gbl"),
    "SlackyDiy__6565-0204-20043001-watermeter_zed.zigbee": (
        "zigbee", None, None, [(0x0000, 151396)], None
    ),
    "Sonoff__s40zbLite_v1.0.3.ota": ("zigbee", None, None, [(0x0000, 156716)], None),
    "Lumi__20240625145706_lumi.sensor_occupy.agl1_0.0.0_0028_20240621_AA55A4.ota": (
        "zigbee", None, None, [(0xCDEF, 17), (0x0000, 207), (0x0000, 302672)], None
    ),
}  # fmt: skip


def _manifest(folder: Path) -> dict[str, dict[str, str]]:
    lines = (folder / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    names = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:]]
    return {row[0]: dict(zip(names, row, strict=True)) for row in rows}


def _files(folder: Path) -> list[Path]:
    return sorted(folder / name for name in _manifest(folder))


def test_every_fixture_has_an_expectation(ota_real_dir: Path) -> None:
    manifest = _manifest(ota_real_dir)
    assert sorted(manifest) == sorted(EXPECTED)
    for name, row in manifest.items():
        data = (ota_real_dir / name).read_bytes()
        # The fixture is the file its manifest describes (read in place, never copied).
        assert len(data) == int(row["bytes"]) and hashlib.sha256(data).hexdigest() == row["sha256"]


def _zigpy_elements(theirs: Any) -> list[tuple[int, bytes]]:
    elements = getattr(theirs, "subelements", None) or []
    return [(int(element.tag_id), bytes(element.data)) for element in elements]


def _zigpy_header(header: Any) -> dict[str, Any]:
    def optional(name: str) -> int | None:
        value = getattr(header, name)
        return None if value is None else int(value)

    return {
        "header_version": int(header.header_version),
        "header_length": int(header.header_length),
        "field_control": int(header.field_control),
        "manufacturer_code": int(header.manufacturer_id),
        "image_type": int(header.image_type),
        "file_version": int(header.file_version),
        "stack_version": int(header.stack_version),
        "header_string": bytes(header.header_string),
        "total_image_size": int(header.image_size),
        "security_credential_version": optional("security_credential_version"),
        "destination_eui64": None
        if header.upgrade_file_destination is None
        else int.from_bytes(bytes(header.upgrade_file_destination.serialize()), "little"),
        "min_hw_version": optional("minimum_hardware_version"),
        "max_hw_version": optional("maximum_hardware_version"),
    }


def _our_header(image: Any) -> dict[str, Any]:
    header = image.header
    return {name: getattr(header, name) for name in _zigpy_header_names()}


def _zigpy_header_names() -> list[str]:
    return [
        "header_version",
        "header_length",
        "field_control",
        "manufacturer_code",
        "image_type",
        "file_version",
        "stack_version",
        "header_string",
        "total_image_size",
        "security_credential_version",
        "destination_eui64",
        "min_hw_version",
        "max_hw_version",
    ]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_vendor_file_reads_as_zigpy_reads_it(ota_real_dir: Path, name: str) -> None:
    from zigpy.ota.image import HueSBLOTAImage, TelinkOTAImage, parse_ota_image

    path = ota_real_dir / name
    data = path.read_bytes()
    form, container, trailing, elements, inner = EXPECTED[name]
    image = load_image(path)

    # What Bridge Lab reports, and that it names what it found.
    assert str(image.body_form) == form
    assert image.form_evidence and not image.form_given
    assert (str(image.container.kind) if image.container else None) == container
    assert (str(image.trailing.kind) if image.trailing else None) == trailing
    assert [(element.tag, element.length) for element in image.sub_elements] == elements
    assert (str(image.inner.format) if image.inner else None) == inner
    assert image.inner is None or image.inner.crc_ok
    assert image.source_size == len(data)
    codes = {note.code for note in image.notes}
    assert ("container-unwrapped" in codes) == (container is not None)
    assert ("trailing-bytes" in codes) == (trailing is not None)
    assert ("vendor-layout" in codes) == (form in ("telink", "hue-sbl"))

    # zigpy's reading of the same file.
    theirs, rest = parse_ota_image(data)
    assert _our_header(image) == _zigpy_header(theirs.header)
    if form == "hue-sbl":
        assert isinstance(theirs, HueSBLOTAImage)
        assert bytes(image.manufacturer_image) == bytes(theirs.data)
    else:
        assert isinstance(theirs, TelinkOTAImage) == (form == "telink")
        their_elements = _zigpy_elements(theirs)
        assert [(tag, len(value)) for tag, value in their_elements] == elements
        ours = [(e.tag, bytes(image.sub_element_data(e))) for e in image.sub_elements]
        assert ours == their_elements  # same data, element by element, in file order
        if form == "telink":
            assert [e.tag_info for e in image.sub_elements] == [
                int(e.tag_info) for e in theirs.subelements
            ]
    # The bytes after the image: zigpy hands them back unread; Bridge Lab names them.
    assert rest == (data[-image.trailing.length :] if image.trailing else b"")
    # The OTA file a device receives is the same for both readers.
    assert theirs.serialize() == image.raw == image.to_bytes()


def _upgrade_sha256(image: Any) -> str:
    return hashlib.sha256(image.manufacturer_image).hexdigest()


def test_upgrade_image_hash_is_of_the_firmware_zigpy_finds(ota_real_dir: Path) -> None:
    from zigpy.ota.image import parse_ota_image

    for name in sorted(EXPECTED):
        data = (ota_real_dir / name).read_bytes()
        image = parse_image(data)
        theirs, _ = parse_ota_image(data)
        if image.body_form is BodyForm.HUE_SBL:
            candidates = [bytes(theirs.data)]
        else:
            upgrades = [v for t, v in _zigpy_elements(theirs) if t == 0x0000]
            # No 0x0000 element (Telink): zigpy's only element is the firmware.
            candidates = upgrades or [v for _, v in _zigpy_elements(theirs)]
        # zigpy lists Lumi's two 0x0000 elements without choosing; Bridge Lab takes the
        # largest (302,672 bytes; the other is 207 bytes of metadata) and says so.
        chosen = max(candidates, key=len)
        assert _upgrade_sha256(image) == hashlib.sha256(chosen).hexdigest(), name


def test_lumi_two_upgrade_images_are_read_saying_which_is_taken(ota_real_dir: Path) -> None:
    path = ota_real_dir / next(name for name in EXPECTED if name.startswith("Lumi__"))
    image = load_image(path)
    assert image.firmware_element is not None and image.firmware_element.length == 302672
    notes = {note.code: note for note in image.notes}
    assert notes["firmware-element-guessed"].severity == "warning"
    assert "the largest" in notes["firmware-element-guessed"].message
    assert "0xCDEF" in notes["reserved-tag"].message
    with pytest.raises(ImageFormatError) as caught:
        load_image(path, strict=True)
    assert caught.value.code == "duplicate-upgrade-image"


@pytest.mark.parametrize("name", [n for n, e in EXPECTED.items() if e[2] is not None])
def test_bytes_after_the_image_are_a_warning_or_with_strict_a_refusal(
    ota_real_dir: Path, name: str
) -> None:
    image = load_image(ota_real_dir / name)
    assert image.trailing is not None and image.trailing.length == 4
    assert "checked: it matches" in image.trailing.description
    report = assess_image(image, None)
    trailing = [f for f in report.findings if f.code == "trailing-bytes"]
    assert [str(f.severity) for f in trailing] == ["warning"]
    with pytest.raises(ImageFormatError) as caught:
        load_image(ota_real_dir / name, strict=True)
    assert caught.value.code == "trailing-data"


def test_every_element_file_rebuilds_in_its_own_order(ota_real_dir: Path) -> None:
    rebuilt = 0
    for name in sorted(EXPECTED):
        image = load_image(ota_real_dir / name)
        tags = [element.tag for element in image.sub_elements]
        if image.body_form is not BodyForm.ZIGBEE or tags.count(0x0000) != 1:
            continue
        header = image.header
        others = tuple(
            (e.tag, bytes(image.sub_element_data(e))) for e in image.sub_elements if e.tag != 0
        )
        data = build_image(
            manufacturer_code=header.manufacturer_code,
            image_type=header.image_type,
            file_version=header.file_version,
            manufacturer_image=bytes(image.manufacturer_image),
            body_form=BodyForm.ZIGBEE,
            stack_version=header.stack_version,
            header_string=header.header_string,
            security_credential_version=header.security_credential_version,
            destination_eui64=header.destination_eui64,
            min_hw_version=header.min_hw_version,
            max_hw_version=header.max_hw_version,
            sub_elements=others,
            upgrade_image_position=tags.index(0x0000),
        )
        assert data == image.raw, name
        rebuilt += 1
    assert rebuilt == 13  # Ubisys's upgrade image is second: it comes back second
