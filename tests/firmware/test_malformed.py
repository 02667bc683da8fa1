"""A wrong, truncated, tampered or mis-targeted image is refused with its own code.

Every variant starts from a well-formed, signed image and changes the fewest bytes that
make it wrong, so a test fails if the toolkit reports the wrong problem, not only if it
reports none. Then random and mutated bytes: only the toolkit's own errors, ever.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridgelab.firmware.compat import DowngradeOverride, check_compatibility
from bridgelab.firmware.errors import (
    ERROR_CATALOGUE,
    CompatibilityError,
    FirmwareError,
    ImageFormatError,
    SignatureError,
)
from bridgelab.firmware.image import BUILD_FORMS, BodyForm, build_image, parse_image
from bridgelab.firmware.keys import key_id
from bridgelab.firmware.signing import sign_image
from bridgelab.firmware.trust import TrustedKey, TrustStore, verify_signature
from bridgelab.firmware.verify import assess_image

Mutation = Callable[[bytes], bytes]
ZIGBEE = {"body_form": BodyForm.ZIGBEE}


def _set_u16(offset: int, value: int) -> Mutation:
    return lambda data: data[:offset] + struct.pack("<H", value) + data[offset + 2 :]


def _set_u32(offset: int, value: int) -> Mutation:
    return lambda data: data[:offset] + struct.pack("<I", value) + data[offset + 4 :]


def _flip(offset: int, bit: int = 0) -> Mutation:
    def flip(data: bytes) -> bytes:
        position = offset % len(data)
        return data[:position] + bytes([data[position] ^ (1 << bit)]) + data[position + 1 :]

    return flip


def _grow(extra: bytes, *, fix_size: bool) -> Mutation:
    """Append bytes; with fix_size the header's total image size counts them."""

    def grow(data: bytes) -> bytes:
        grown = data + extra
        return _set_u32(52, len(grown))(grown) if fix_size else grown

    return grow


def _zigbee(*elements: tuple[int, bytes]) -> bytes:
    """A 56-byte header (no optional fields) followed by exactly these sub-elements."""
    body = b"".join(struct.pack("<HI", tag, len(data)) + data for tag, data in elements)
    header = struct.pack(
        "<IHHHHHIH32sI", 0x0BEEF11E, 0x0100, 56, 0, 0x121D, 0x42, 1, 2, b"", 56 + len(body)
    )
    return header + body


# (name, image builder options, mutation, expected code). The signed gbcs image has a
# 60-byte header (hardware range) and ends with the 66-byte trailer.
FORMAT_VARIANTS: list[tuple[str, dict[str, Any], Mutation, str]] = [
    ("empty", {}, lambda data: b"", "bad-magic"),
    ("three-bytes-of-text", {}, lambda data: b"OTA", "bad-magic"),
    ("magic-changed", {}, _flip(3), "bad-magic"),
    ("header-version-0x0200", {}, _set_u16(4, 0x0200), "bad-header-version"),
    ("reserved-field-control-bit", {}, _set_u16(8, 0x000C), "bad-field-control"),
    ("header-length-one-more", {}, _set_u16(6, 61), "bad-header-length"),
    ("header-length-without-options", {}, _set_u16(6, 56), "bad-header-length"),
    ("hardware-min-above-max", {}, _set_u16(56, 0x1300), "bad-hardware-range"),
    ("total-size-one-more", {}, lambda data: _set_u32(52, len(data) + 1)(data), "size-mismatch"),
    ("total-size-below-header", {}, _set_u32(52, 40), "size-mismatch"),
    ("trailing-junk", {}, _grow(b"\x00", fix_size=False), "trailing-data"),
    ("trailing-junk-zigbee", ZIGBEE, _grow(b"junk", fix_size=False), "trailing-data"),
    (
        "gbcs-header-only",
        {"sign": False},
        lambda data: _set_u32(52, 60)(data[:60]),
        "no-upgrade-image",
    ),
    (
        "zigbee-length-overruns",
        {**ZIGBEE, "sign": False},
        lambda data: _set_u32(62, struct.unpack_from("<I", data, 62)[0] + 1)(data),
        "subelement-overrun",
    ),
    (
        "zigbee-cut-sub-element-header",
        ZIGBEE,
        _grow(b"\x03\x00\x10", fix_size=True),
        "subelement-overrun",
    ),
    (
        "zigbee-signature-not-last",
        ZIGBEE,
        _grow(struct.pack("<HI", 0xF000, 1) + b"x", fix_size=True),
        "signature-not-last",
    ),
    (
        "zigbee-signature-63-bytes",
        ZIGBEE,
        lambda data: _set_u32(52, len(data) - 1)(_set_u32(len(data) - 68, 63)(data[:-1])),
        "bad-signature-length",
    ),
    (
        "zigbee-no-upgrade-image",
        {},
        lambda data: _zigbee((0xF000, b"vendor"), (0x0003, bytes(16))),
        "no-upgrade-image",
    ),
    (
        "zigbee-two-upgrade-images",
        {},
        lambda data: _zigbee((0x0000, b"one"), (0x0000, b"two")),
        "duplicate-upgrade-image",
    ),
    (
        "zigbee-thousands-of-empty-elements",
        {},
        lambda data: _zigbee((0x0000, b"fw"), *[(0xF000, b"")] * 300),
        "subelement-overrun",
    ),
]
# Truncation at many points: inside the fixed header, inside the optional fields, inside
# the Manufacturer Image, inside the trailer, one byte short.
TRUNCATIONS = [(1, "truncated-header"), (4, "truncated-header"), (30, "truncated-header")]
TRUNCATIONS += [(55, "truncated-header"), (56, "truncated-header"), (59, "truncated-header")]
TRUNCATIONS += [(60, "size-mismatch"), (200, "size-mismatch"), (-66, "size-mismatch")]
TRUNCATIONS += [(-40, "size-mismatch"), (-1, "size-mismatch")]


# What real vendor files do and the ZigBee specification does not allow: read (with a
# note) by default, refused with these codes under the strict policy.
STRICT_ONLY = {
    "trailing-junk",
    "trailing-junk-zigbee",
    "zigbee-no-upgrade-image",
    "zigbee-two-upgrade-images",
}


@pytest.mark.parametrize(
    ("name", "options", "mutate", "code"),
    FORMAT_VARIANTS,
    ids=[variant[0] for variant in FORMAT_VARIANTS],
)
def test_malformed_file_is_refused_with_its_code(
    make_image: Any, name: str, options: dict[str, Any], mutate: Mutation, code: str
) -> None:
    data = make_image(**options)
    parse_image(data, strict=True)  # the starting point is well-formed
    strict = name in STRICT_ONLY
    if strict:
        parse_image(mutate(data))  # read, with a note, without the strict policy
    with pytest.raises(ImageFormatError) as caught:
        parse_image(mutate(data), strict=strict)
    assert caught.value.code == code
    assert caught.value.action  # every refusal says what to do


@pytest.mark.parametrize(("cut", "code"), TRUNCATIONS, ids=[str(cut) for cut, _ in TRUNCATIONS])
def test_truncated_file_is_refused(make_image: Any, cut: int, code: str) -> None:
    data = make_image()
    with pytest.raises(ImageFormatError) as caught:
        parse_image(data[:cut])
    assert caught.value.code == code


@pytest.fixture
def store(signing_key: ec.EllipticCurvePrivateKey) -> TrustStore:
    return TrustStore.from_keys([(0x121D, signing_key.public_key())])


# Tampering after signing: each still parses, and the signature check catches it.
TAMPERING: list[tuple[str, dict[str, Any], Mutation]] = [
    ("gbcs-image-bit", {}, _flip(100)),
    ("gbcs-image-last-bit", {}, _flip(-67, 7)),
    ("gbcs-header-file-version-bit", {}, _flip(14)),
    ("gbcs-header-string-bit", {}, _flip(20, 5)),
    ("gbcs-signature-r-bit", {}, _flip(-64)),
    ("gbcs-signature-s-bit", {}, _flip(-1, 7)),
    ("zigbee-image-bit", ZIGBEE, _flip(100, 3)),
    ("zigbee-signature-bit", ZIGBEE, _flip(-30)),
    ("zigbee-signature-zeroed", ZIGBEE, lambda data: data[:-64] + bytes(64)),
]


@pytest.mark.parametrize(
    ("options", "mutate"), [t[1:] for t in TAMPERING], ids=[t[0] for t in TAMPERING]
)
def test_tampered_image_fails_its_signature(
    make_image: Any, store: TrustStore, options: dict[str, Any], mutate: Mutation
) -> None:
    data = make_image(**options)
    verify_signature(parse_image(data), store)  # untouched, it verifies
    with pytest.raises(SignatureError) as caught:
        verify_signature(parse_image(mutate(data)), store)
    assert caught.value.code == "signature-invalid"
    assert "altered" in caught.value.message


def test_image_signed_by_a_stranger_is_invalid_not_unknown(
    make_image: Any, store: TrustStore, stranger_key: ec.EllipticCurvePrivateKey
) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_signature(parse_image(make_image(key=stranger_key)), store)
    assert caught.value.code == "signature-invalid"
    assert "not in this trust store" in caught.value.message


@pytest.mark.parametrize(
    ("store_keys", "code"),
    [("none", "signer-unknown"), ("other-manufacturer", "signer-unknown")],
)
def test_no_key_for_the_manufacturer_means_signer_unknown(
    make_image: Any, signing_key: ec.EllipticCurvePrivateKey, store_keys: str, code: str
) -> None:
    keys = [] if store_keys == "none" else [(0x1234, signing_key.public_key())]
    with pytest.raises(SignatureError) as caught:
        verify_signature(parse_image(make_image()), TrustStore.from_keys(keys))
    assert caught.value.code == code


def test_revoked_key_is_refused(make_image: Any, signing_key: ec.EllipticCurvePrivateKey) -> None:
    public = signing_key.public_key()
    store = TrustStore.from_keys([(0x121D, public)], revoked=[key_id(public).upper()])
    with pytest.raises(SignatureError) as caught:
        verify_signature(parse_image(make_image()), store)
    assert caught.value.code == "signer-revoked"
    assert caught.value.details["key_id"] == key_id(public)


@pytest.mark.parametrize("mutate", [lambda d: d, _flip(-65)], ids=["never-signed", "no-trailer"])
def test_unsigned_image_is_refused(make_image: Any, store: TrustStore, mutate: Mutation) -> None:
    # Breaking the trailer's 00 40 leaves a file whose last 66 bytes are image content.
    data = make_image(sign=False) if mutate(b"x") == b"x" else mutate(make_image())
    with pytest.raises(SignatureError) as caught:
        verify_signature(parse_image(data), store)
    assert caught.value.code == "unsigned"


COMPATIBILITY: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("wrong-manufacturer", {}, {"manufacturer_code": 0x1234}, "wrong-manufacturer"),
    ("wrong-image-type", {}, {"image_type": 0x0043}, "wrong-image-type"),
    ("hardware-below", {}, {"hardware_version": 0x1110}, "hardware-out-of-range"),
    ("hardware-above", {}, {"hardware_version": 0x1212}, "hardware-out-of-range"),
    ("other-device", {"destination_eui64": 0x00124B0001020304}, {"eui64": 5}, "wrong-destination"),
    (
        "device-address-unknown",
        {"destination_eui64": 0x00124B0001020304},
        {"eui64": None},
        "wrong-destination",
    ),
    ("same-version", {}, {"file_version": 0x01020304}, "same-version"),
    ("downgrade", {}, {"file_version": 0x01020305}, "downgrade"),
]


@pytest.mark.parametrize(
    ("image_options", "device_changes", "code"),
    [c[1:] for c in COMPATIBILITY],
    ids=[c[0] for c in COMPATIBILITY],
)
def test_incompatible_image_is_refused_with_its_code(
    make_image: Any,
    defaults: Any,
    image_options: dict[str, Any],
    device_changes: dict[str, Any],
    code: str,
) -> None:
    image = parse_image(make_image(**image_options))
    check_compatibility(image, defaults.device(eui64=image.header.destination_eui64))
    with pytest.raises(CompatibilityError) as caught:
        check_compatibility(image, defaults.device(**device_changes))
    assert caught.value.code == code


@pytest.mark.parametrize("reason", ["", "   "])
def test_downgrade_override_without_a_reason_is_refused(
    make_image: Any, defaults: Any, reason: str
) -> None:
    image = parse_image(make_image())
    older_device = defaults.device(file_version=0x01020305)
    with pytest.raises(CompatibilityError) as caught:
        check_compatibility(image, older_device, DowngradeOverride(reason))
    assert caught.value.code == "downgrade-needs-reason"


# Random bytes, and well-formed files with bytes flipped, inserted, deleted or replaced:
# whatever happens, only FirmwareError subclasses escape, and what parses is consistent.
@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    form = draw(st.sampled_from(BUILD_FORMS))
    data = bytearray(_signed_example(form))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "overwrite", "cut"]))
        if action == "flip" and position < len(data):
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        elif action == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[position : position + len(chunk)] = chunk
        else:
            del data[position:]
    return bytes(data)


_EXAMPLES: dict[BodyForm, bytes] = {}
_EXAMPLE_KEY = ec.derive_private_key(0xB1D6E1AB, ec.SECP256R1())
_EXAMPLE_STORE = TrustStore([TrustedKey.create(0x121D, _EXAMPLE_KEY.public_key())])


def _signed_example(form: BodyForm) -> bytes:
    if form not in _EXAMPLES:
        unsigned = build_image(
            manufacturer_code=0x121D,
            image_type=0x42,
            file_version=7,
            manufacturer_image=b"firmware body " * 8,
            body_form=form,
            destination_eui64=1,
            min_hw_version=1,
            max_hw_version=2,
            **({"sub_elements": ((0x0003, bytes(16)),)} if form is BodyForm.ZIGBEE else {}),
        )
        _EXAMPLES[form] = sign_image(unsigned, _EXAMPLE_KEY)
    return _EXAMPLES[form]


def _check_only_own_errors(data: bytes) -> None:
    try:
        image = parse_image(data)
    except FirmwareError as error:
        assert isinstance(error, ImageFormatError)
        assert error.code and error.message and error.action
        return
    assert image.to_bytes() == image.raw
    if image.container is None and image.trailing is None:
        assert image.raw == data
    report = assess_image(image, _EXAMPLE_STORE)
    assert report.to_dict()["image"]["file_size"] == len(data)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_toolkit_errors(data: bytes) -> None:
    _check_only_own_errors(data)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=120).map(lambda tail: _signed_example(BodyForm.GBCS)[:60] + tail))
def test_valid_header_with_random_body_raises_only_toolkit_errors(data: bytes) -> None:
    _check_only_own_errors(data)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(mutated_images())
def test_mutated_images_raise_only_toolkit_errors(data: bytes) -> None:
    _check_only_own_errors(data)


def test_mutated_examples_start_well_formed_and_signed() -> None:
    for form in BUILD_FORMS:
        image = parse_image(_signed_example(form))
        assert image.body_form is form
        assert verify_signature(image, _EXAMPLE_STORE).manufacturer_code == 0x121D


def test_every_variant_code_is_catalogued() -> None:
    used = {v[3] for v in FORMAT_VARIANTS} | {c for _, c in TRUNCATIONS}
    used |= {c[3] for c in COMPATIBILITY}
    assert used <= set(ERROR_CATALOGUE)
    assert len(FORMAT_VARIANTS) + len(TRUNCATIONS) + len(TAMPERING) + len(COMPATIBILITY) >= 30
