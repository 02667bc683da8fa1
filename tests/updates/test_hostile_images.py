"""Images whose result could not be compared with the bridge afterwards are refused at
validate, before any byte: wildcard file version and image type, reserved and
non-firmware image types, empty upgrade images in both body forms. No result ever says
success with a version of "none"."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from bridgelab.emulator.demo_material import DEMO_PRIVATE_KEY
from bridgelab.emulator.profiles import DEMO_IMAGE_TYPE, DEMO_MANUFACTURER_CODE
from bridgelab.emulator.urlhandler import protocol_emu
from bridgelab.firmware.compat import DeviceIdentity, compatibility_problems
from bridgelab.firmware.image import BodyForm, build_image, parse_image
from bridgelab.firmware.keys import load_private_key
from bridgelab.firmware.signing import sign_image
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.request import UpdateRequest
from tests.updates.conftest import FAST_POLICY


def signed(**fields: object) -> bytes:
    values: dict[str, object] = {
        "manufacturer_code": DEMO_MANUFACTURER_CODE,
        "image_type": DEMO_IMAGE_TYPE,
        "file_version": 0x01030000,
        "manufacturer_image": b"\x5a" * 300,
    }
    values.update(fields)
    return sign_image(build_image(**values), load_private_key(DEMO_PRIVATE_KEY))  # type: ignore[arg-type]


def emptied_zigbee() -> bytes:
    """A zigbee-form file whose upgrade image sub-element is 0 bytes long."""
    one = bytearray(build_image(
        manufacturer_code=DEMO_MANUFACTURER_CODE, image_type=DEMO_IMAGE_TYPE,
        file_version=0x01030000, manufacturer_image=b"\x00", body_form=BodyForm.ZIGBEE,
    ))  # fmt: skip
    header_length = struct.unpack_from("<H", one, 6)[0]
    assert one[header_length : header_length + 6] == b"\x00\x00\x01\x00\x00\x00"
    raw = one[:header_length] + b"\x00\x00\x00\x00\x00\x00"
    struct.pack_into("<I", raw, 52, len(raw))
    return sign_image(bytes(raw), load_private_key(DEMO_PRIVATE_KEY))


CASES: list[tuple[str, Callable[[], bytes], str]] = [
    ("version-wildcard", lambda: signed(file_version=0xFFFFFFFF), "reserved-file-version"),
    ("type-wildcard", lambda: signed(image_type=0xFFFF), "reserved-image-type"),
    ("type-reserved", lambda: signed(image_type=0xFFC7), "reserved-image-type"),
    ("type-reserved-top", lambda: signed(image_type=0xFFFE), "reserved-image-type"),
    ("credential", lambda: signed(image_type=0xFFC0), "not-firmware"),
    ("configuration", lambda: signed(image_type=0xFFC1), "not-firmware"),
    ("log", lambda: signed(image_type=0xFFC2), "not-firmware"),
    (
        "both-wildcards",
        lambda: signed(image_type=0xFFFF, file_version=0xFFFFFFFF),
        "reserved-file-version",
    ),
    ("empty-zigbee", emptied_zigbee, "empty-upgrade-image"),
]


@pytest.mark.parametrize(("make", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_before_any_byte(
    tmp_path: Path, bridge_url: Callable[..., str], make: Callable[[], bytes], code: str
) -> None:
    path = tmp_path / "hostile.ota"
    path.write_bytes(make())
    url = bridge_url()
    result = UpdateEngine(UpdateRequest(port_url=url, image_path=path, policy=FAST_POLICY)).run()
    assert not result.ok
    assert result.error is not None and result.error["code"] == code, result.error
    assert result.failure_stage == "validate" and result.bytes == 0
    bridge = protocol_emu._instances[url.split("id=")[1].split("&")[0]].device
    assert bridge.flash.state.download is None  # UPDATE_BEGIN never went out
    assert bridge.firmware_version == 0x01020000


def test_a_non_firmware_type_passes_only_for_a_device_that_asks_for_it() -> None:
    image = parse_image(signed(image_type=0xFFC1))
    asks = DeviceIdentity(DEMO_MANUFACTURER_CODE, 0xFFC1, 0x0100, 0x01020000)
    assert compatibility_problems(image, asks) == []
    other = DeviceIdentity(DEMO_MANUFACTURER_CODE, DEMO_IMAGE_TYPE, 0x0100, 0x01020000)
    assert [p.code for p in compatibility_problems(image, other)] == ["not-firmware"]


def test_no_success_without_a_real_version_read_back(tmp_path: Path) -> None:
    """The engine's last guard: nothing read back, or "none" (0xFFFFFFFF), is no success."""
    engine = UpdateEngine(
        UpdateRequest(port_url="emu://demo", image_path=tmp_path / "x", policy=FAST_POLICY)
    )
    assert engine._unverified_success() is not None
    engine.version_after = 0xFFFFFFFF
    failure = engine._unverified_success()
    assert failure is not None and failure.code == "result-unverified"
    assert "none" in str(failure)
