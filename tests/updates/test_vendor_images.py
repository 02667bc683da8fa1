"""Vendor-shaped images through the real update engine and the emulated bridge.

A GBL upgrade image whose own CRC-32 is wrong is refused before a byte is sent, even
though its OTA signature is good; bytes after the total image size are a warning (the
bridge receives the image without them), and the strict policy refuses them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bridgelab.data.failures import FailureClass
from bridgelab.drivers.client import BridgeClient
from bridgelab.emulator.demo_material import DEMO_PRIVATE_KEY
from bridgelab.emulator.profiles import (
    DEMO_HARDWARE_VERSION,
    DEMO_IMAGE_TYPE,
    DEMO_MANUFACTURER_CODE,
)
from bridgelab.firmware.image import BodyForm, build_image
from bridgelab.firmware.keys import load_private_key
from bridgelab.firmware.signing import sign_image
from bridgelab.updates import events as ev
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.request import UpdateRequest
from tests.firmware.test_gbl import make_gbl
from tests.updates.conftest import FAST_POLICY

URL = Callable[..., str]


def _demo_zigbee_image(firmware: bytes) -> bytes:
    unsigned = build_image(
        manufacturer_code=DEMO_MANUFACTURER_CODE,
        image_type=DEMO_IMAGE_TYPE,
        file_version=0x01030000,
        manufacturer_image=firmware,
        body_form=BodyForm.ZIGBEE,
        min_hw_version=DEMO_HARDWARE_VERSION & 0xFF00,
        max_hw_version=DEMO_HARDWARE_VERSION | 0x00FF,
    )
    return sign_image(unsigned, load_private_key(DEMO_PRIVATE_KEY))


def _run(url: str, path: Path, **options: object) -> tuple[ev.UpdateResult, list[object]]:
    seen: list[object] = []
    request = UpdateRequest(url, path, policy=FAST_POLICY, **options)  # type: ignore[arg-type]
    return UpdateEngine(request, subscribers=[seen.append]).run(), seen


def _nothing_was_sent(url: str, seen: list[object]) -> bool:
    started = [e.stage.value for e in seen if isinstance(e, ev.StageStarted)]
    with BridgeClient.connect(url) as client:
        status = client.update_status()
    return "transfer" not in started and status.offset == 0 and status.image_size == 0


def test_a_gbl_with_a_bad_crc_is_refused_before_any_byte_is_sent(
    bridge_url: URL, tmp_path: Path
) -> None:
    gbl = bytearray(make_gbl(version=0x01030000))
    gbl[300] ^= 0x10  # a program data byte: the CRC-32 no longer matches
    path = tmp_path / "bad-crc.ota"
    path.write_bytes(_demo_zigbee_image(bytes(gbl)))  # the OTA signature itself is good
    url = bridge_url()
    result, seen = _run(url, path)
    assert result.result == FailureClass.IMAGE_REJECTED.value
    assert result.failure_stage == "validate"
    assert result.error and result.error["code"] == "gbl-bad-crc"
    assert _nothing_was_sent(url, seen)


def test_the_same_gbl_with_its_crc_intact_goes_through(bridge_url: URL, tmp_path: Path) -> None:
    path = tmp_path / "good.ota"
    path.write_bytes(_demo_zigbee_image(make_gbl(version=0x01030000)))
    result, _ = _run(bridge_url(), path)
    assert result.ok, result.error


@pytest.mark.parametrize("strict", [False, True], ids=["warned", "strict-refuses"])
def test_bytes_after_the_image_are_not_sent_and_strict_refuses_them(
    bridge_url: URL, tmp_path: Path, strict: bool
) -> None:
    image = _demo_zigbee_image(make_gbl(version=0x01030000))
    path = tmp_path / "with-crc.ota"
    path.write_bytes(image + b"\xff" * 12)
    url = bridge_url()
    result, seen = _run(url, path, strict_image=strict)
    if strict:
        assert result.error and result.error["code"] == "trailing-data"
        assert _nothing_was_sent(url, seen)
        return
    assert result.ok, result.error
    assert result.bytes == len(image)  # the image, not the padding after it
    notices = [e.message for e in seen if isinstance(e, ev.Notice)]
    assert any("0xFF padding" in message for message in notices), notices
