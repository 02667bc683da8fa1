"""What is accepted for a device, and the full pre-flight report the GUI and engine use."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bridgelab.firmware.compat import (
    DowngradeOverride,
    check_compatibility,
    compatibility_problems,
)
from bridgelab.firmware.errors import CompatibilityError, SignatureError
from bridgelab.firmware.image import parse_image
from bridgelab.firmware.trust import TrustStore
from bridgelab.firmware.verify import Severity, assess_image


@pytest.fixture
def store(signing_key: ec.EllipticCurvePrivateKey) -> TrustStore:
    return TrustStore.from_keys([(0x121D, signing_key.public_key())])


@pytest.mark.parametrize("hardware", [0x1111, 0x1200, 0x1211])
def test_newer_image_inside_the_hardware_range_is_accepted(
    make_image: Any, defaults: Any, hardware: int
) -> None:
    report = check_compatibility(
        parse_image(make_image()), defaults.device(hardware_version=hardware)
    )
    assert not report.is_downgrade and report.downgrade_reason is None


def test_wildcards_are_refused_for_any_device(make_image: Any, defaults: Any) -> None:
    """A wildcard in a file is no firmware a bridge can report back (issue 10: an image
    of version 0xFFFFFFFF was installed and reported "Updated 1.2.0 -> none")."""
    image = parse_image(make_image(image_type=0xFFFF, file_version=0xFFFFFFFF))
    for device in (
        defaults.device(image_type=0x0999, file_version=0x7FFFFFFF),
        defaults.device(image_type=0xFFFF, file_version=0xFFFFFFFF),
    ):
        codes = [problem.code for problem in compatibility_problems(image, device)]
        assert codes[:2] == ["reserved-file-version", "reserved-image-type"]
        assert "wrong-image-type" not in codes


def test_image_without_hardware_range_fits_any_hardware(make_image: Any, defaults: Any) -> None:
    image = parse_image(make_image(min_hw_version=None, max_hw_version=None))
    check_compatibility(image, defaults.device(hardware_version=0xFFFF))


def test_device_specific_file_for_this_device(make_image: Any, defaults: Any) -> None:
    image = parse_image(make_image(destination_eui64=defaults.eui64))
    check_compatibility(image, defaults.device())


def test_allowed_downgrade_records_its_reason(make_image: Any, defaults: Any) -> None:
    image = parse_image(make_image())
    device = defaults.device(file_version=0x02000000)
    report = check_compatibility(image, device, DowngradeOverride("  field fix 1234 "))
    assert report.is_downgrade and report.downgrade_reason == "field fix 1234"
    assert report.to_dict()["downgrade_reason"] == "field fix 1234"
    # An override with no downgrade to allow changes nothing.
    newer = check_compatibility(image, defaults.device(), DowngradeOverride("unused"))
    assert newer.downgrade_reason is None


def test_override_does_not_excuse_a_same_version(make_image: Any, defaults: Any) -> None:
    image = parse_image(make_image())
    device = defaults.device(file_version=defaults.file_version)
    already = r"already runs file version 1\.2\.3\.4 \(0x01020304\)"  # as said, and in hex
    with pytest.raises(CompatibilityError, match=already):
        check_compatibility(image, device, DowngradeOverride("because"))


def test_every_broken_rule_is_listed_in_order(make_image: Any, defaults: Any) -> None:
    image = parse_image(make_image(destination_eui64=1))
    device = defaults.device(
        manufacturer_code=1, image_type=2, hardware_version=3, file_version=0xFFFFFFF0, eui64=4
    )
    codes = [problem.code for problem in compatibility_problems(image, device)]
    assert codes == [
        "wrong-manufacturer",
        "wrong-image-type",
        "hardware-out-of-range",
        "wrong-destination",
        "downgrade",
    ]


def test_report_for_a_good_image(make_image: Any, defaults: Any, store: TrustStore) -> None:
    image = parse_image(make_image())
    report = assess_image(image, store, defaults.device())
    assert report.ok and report.errors == ()
    report.raise_first()  # nothing to raise
    assert report.signer is not None and report.signer.label is None
    assert [item.code for item in report.findings] == ["signature-verified"]
    document = json.loads(json.dumps(report.to_dict()))
    assert document["ok"] is True
    assert document["image"]["manufacturer_code"] == 0x121D
    assert document["image"]["signature"]["status"] == "verified"
    assert document["image"]["manufacturer_image_sha256"] == report.manufacturer_image_sha256.hex()
    assert document["compatibility"]["device"]["eui64"] == defaults.eui64


def test_report_lists_every_problem_and_raises_the_first(
    make_image: Any, defaults: Any, store: TrustStore
) -> None:
    image = parse_image(make_image(sign=False))
    device = defaults.device(manufacturer_code=0x0001, file_version=defaults.file_version)
    report = assess_image(image, store, device)
    assert not report.ok
    assert [item.code for item in report.errors] == [
        "unsigned",
        "wrong-manufacturer",
        "same-version",
    ]
    assert all(item.action for item in report.errors)
    with pytest.raises(SignatureError) as caught:
        report.raise_first()
    assert caught.value.code == "unsigned"
    document = json.loads(json.dumps(report.to_dict()))
    assert document["ok"] is False and document["compatibility"] is None
    assert [item["severity"] for item in document["findings"]] == ["error"] * 3


def test_report_notes_what_was_not_checked_and_what_was_allowed(
    make_image: Any, defaults: Any
) -> None:
    image = parse_image(make_image())
    unchecked = assess_image(image, None)
    assert unchecked.ok
    assert [(item.code, item.severity) for item in unchecked.findings] == [
        ("signature-not-checked", Severity.WARNING),
        ("compatibility-not-checked", Severity.INFO),
    ]
    allowed = assess_image(
        image, None, defaults.device(file_version=0x09000000), DowngradeOverride("lab rollback")
    )
    codes = [item.code for item in allowed.findings]
    assert codes == ["signature-not-checked", "downgrade-allowed"]
    assert "lab rollback" in allowed.findings[1].message
    assert allowed.compatibility is not None and allowed.compatibility.is_downgrade
