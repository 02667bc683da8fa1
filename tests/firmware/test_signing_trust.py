"""Keys on disk, the signature convention and its byte range, the trust store folder."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bridgelab.firmware.errors import (
    ImageFileError,
    KeyFileError,
    SignatureError,
    TrustStoreError,
)
from bridgelab.firmware.image import BUILD_FORMS, BodyForm, parse_image
from bridgelab.firmware.keys import (
    generate_key_files,
    generate_private_key,
    key_id,
    load_private_key,
    load_public_key,
    save_private_key,
    save_public_key,
)
from bridgelab.firmware.signing import sign_image
from bridgelab.firmware.trust import TrustStore, verify_signature


@pytest.fixture
def open_umask() -> Any:
    """Run with umask 0, so only the creating call can make a file owner-only."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_private_key_is_created_owner_only(tmp_path: Path, open_umask: None) -> None:
    key = generate_private_key()
    path = save_private_key(key, tmp_path / "signing.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_private_key(path)
    assert key_id(loaded.public_key()) == key_id(key.public_key())


def test_private_key_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    save_private_key(generate_private_key(), path)
    before = path.read_bytes()
    with pytest.raises(ImageFileError) as caught:
        save_private_key(generate_private_key(), path)
    assert caught.value.code == "file-exists"
    assert path.read_bytes() == before


def test_key_id_is_sha256_of_the_subject_public_key_info(tmp_path: Path) -> None:
    key = generate_private_key().public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key_id(key) == hashlib.sha256(der).hexdigest()
    path = save_public_key(key, tmp_path / "121D.pem")
    assert key_id(load_public_key(path)) == key_id(key)


def _rsa_pem(private: bool) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    if private:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    "content",
    [
        b"not a key",
        _rsa_pem(private=True),
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        generate_private_key().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        ),
    ],
    ids=["garbage", "rsa", "p384", "encrypted"],
)
def test_unusable_private_key_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    with pytest.raises(KeyFileError) as caught:
        load_private_key(path)
    assert caught.value.code == "bad-key"
    assert "PRIVATE" not in str(caught.value)


def test_generated_key_files_fit_a_trust_store(tmp_path: Path, make_image: Any) -> None:
    made = generate_key_files(0x121D, tmp_path / "new" / "keys", label="bench-1")
    assert made.private_key_path.name == "121D-bench-1.key"
    assert made.public_key_path.name == "121D-bench-1.pem"
    assert stat.S_IMODE(made.private_key_path.stat().st_mode) == 0o600
    store = TrustStore.load(made.public_key_path.parent)  # the .key file is not loaded
    signed = make_image(key=load_private_key(made.private_key_path))
    report = verify_signature(parse_image(signed), store)
    assert (report.key_id, report.label) == (made.key_id, "bench-1")
    default = generate_key_files(0x121D, tmp_path / "other")
    assert default.public_key_path.name == f"121D-{default.key_id[:8]}.pem"


@pytest.mark.parametrize("form", BUILD_FORMS)
def test_signature_covers_every_byte_before_its_container(
    make_image: Any, signing_key: ec.EllipticCurvePrivateKey, form: BodyForm
) -> None:
    data = make_image(body_form=form)
    container = 66 if form is BodyForm.GBCS else 70
    image = parse_image(data)
    assert image.signature_offset == len(data) - container
    assert image.header.total_image_size == len(data)  # the header counts the signature
    r = int.from_bytes(data[-64:-32], "big")
    s = int.from_bytes(data[-32:], "big")
    # Checked with the plain library call, over the documented range: no toolkit code.
    signing_key.public_key().verify(
        encode_dss_signature(r, s), data[: len(data) - container], ec.ECDSA(hashes.SHA256())
    )


def test_signing_is_deterministic_and_replaces_a_signature(
    make_image: Any,
    signing_key: ec.EllipticCurvePrivateKey,
    stranger_key: ec.EllipticCurvePrivateKey,
) -> None:
    unsigned = make_image(sign=False, body_form=BodyForm.ZIGBEE)
    first = sign_image(unsigned, signing_key)
    assert sign_image(unsigned, signing_key) == first
    resigned = sign_image(sign_image(first, stranger_key), signing_key)
    assert resigned == first
    assert len(sign_image(first, stranger_key)) == len(first)


def _store(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def _public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_several_keys_per_manufacturer_and_a_readme(
    tmp_path: Path,
    make_image: Any,
    signing_key: ec.EllipticCurvePrivateKey,
    stranger_key: ec.EllipticCurvePrivateKey,
) -> None:
    folder = _store(
        tmp_path / "store",
        {
            "121D.pem": _public_pem(stranger_key),
            "121d-release-2.pem": _public_pem(signing_key),
            "README.txt": b"keys for the lab",
        },
    )
    store = TrustStore.load(folder)
    assert [key.label for key in store.keys_for(0x121D)] == [None, "release-2"]
    report = verify_signature(parse_image(make_image()), store)
    assert report.label == "release-2" and report.source == str(folder / "121d-release-2.pem")


def test_revocation_list_accepts_comments_and_spots_the_revoked_key(
    tmp_path: Path, make_image: Any, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    identifier = key_id(signing_key.public_key())
    folder = _store(
        tmp_path / "store",
        {
            "121D-old.pem": _public_pem(signing_key),
            "revoked.txt": f"# withdrawn 2025-01\n\n{identifier.upper()}  # leaked\n".encode(),
        },
    )
    store = TrustStore.load(folder)
    assert store.is_revoked(identifier)
    with pytest.raises(SignatureError) as caught:
        verify_signature(parse_image(make_image()), store)
    assert caught.value.code == "signer-revoked"


def test_a_revoked_key_does_not_hide_a_good_one(
    make_image: Any, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    public = signing_key.public_key()
    store = TrustStore.from_keys([(0x121D, public), (0x121D, public)], revoked=[])
    assert verify_signature(parse_image(make_image()), store).key_id == key_id(public)


def test_a_key_trusted_for_another_manufacturer_does_not_vouch(
    tmp_path: Path, make_image: Any, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    folder = _store(tmp_path / "store", {"1234-lab.pem": _public_pem(signing_key)})
    with pytest.raises(SignatureError) as caught:
        verify_signature(parse_image(make_image()), TrustStore.load(folder))
    assert caught.value.code == "signer-unknown"


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ({"lab-key.pem": b""}, "trust-store-bad-name"),
        ({"121D_lab.pem": b""}, "trust-store-bad-name"),
        ({"121D.pem": b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}, None),
        ({"121D.pem": _rsa_pem(private=False)}, "trust-store-bad-key"),
        ({"121D.pem": _rsa_pem(private=True)}, "private-key-in-trust-store"),
        ({"revoked.txt": b"not-a-key-id\n"}, "bad-revocation-list"),
    ],
    ids=["no-code", "underscore", "garbage-pem", "rsa", "private", "revocation"],
)
def test_broken_trust_store_is_refused(tmp_path: Path, files: dict[str, bytes], code: str) -> None:
    folder = _store(tmp_path / "store", files)
    with pytest.raises(TrustStoreError) as caught:
        TrustStore.load(folder)
    assert caught.value.code == (code or "trust-store-bad-key")
    assert caught.value.action


def test_missing_trust_store_folder(tmp_path: Path) -> None:
    for path in (tmp_path / "absent", _store(tmp_path / "x", {"f": b""}) / "f"):
        with pytest.raises(TrustStoreError) as caught:
            TrustStore.load(path)
        assert caught.value.code == "trust-store-missing"
