"""ECDSA P-256 manufacturer keys: generate, save, load, identify.

A key's id is the SHA-256 of its public key's SubjectPublicKeyInfo DER, in lowercase hex:
the same id names a key in the trust store's revocation list, in reports and in the
triage log, and reveals nothing secret. Private keys are written owner-only (0600 from
the moment the file exists) and are never printed or logged by this module.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bridgelab.firmware.errors import FirmwareError, ImageFileError, KeyFileError
from bridgelab.firmware.files import read_file, write_file, write_new_private_file
from bridgelab.safe_output import OutputError, check_output, check_output_folder

PrivateKey = ec.EllipticCurvePrivateKey
PublicKey = ec.EllipticCurvePublicKey

# A PEM key is a few hundred bytes; anything far larger is the wrong file.
MAX_KEY_FILE_SIZE = 64 * 1024
PRIVATE_KEY_SUFFIX = ".key"
PUBLIC_KEY_SUFFIX = ".pem"
# What may follow the manufacturer code in a key file name (`121D-<label>.pem`).
KEY_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def generate_private_key() -> PrivateKey:
    """A new random ECDSA key on NIST P-256 (secp256r1)."""
    return ec.generate_private_key(ec.SECP256R1())


def key_id(public_key: PublicKey) -> str:
    """SHA-256 of the SubjectPublicKeyInfo DER, 64 lowercase hex digits."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def public_key_pem(public_key: PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def save_private_key(private_key: PrivateKey, path: str | os.PathLike[str]) -> Path:
    """Write the key as unencrypted PKCS#8 PEM in a new file created with mode 0600.

    Refuses to replace an existing file (ImageFileError file-exists); other failures raise
    ImageFileError(cannot-write).
    """
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return write_new_private_file(path, pem, what="private key")


def save_public_key(
    public_key: PublicKey, path: str | os.PathLike[str], *, force: bool = True
) -> Path:
    """Write the public key as SubjectPublicKeyInfo PEM, ready for a trust store."""
    return write_file(path, public_key_pem(public_key), what="public key", force=force)


def load_private_key(path: str | os.PathLike[str]) -> PrivateKey:
    """Read a PEM private key; raises KeyFileError(bad-key) unless it is unencrypted P-256.

    File problems raise ImageFileError (file-not-found, not-a-file, file-unreadable,
    file-too-large). Messages never quote the file's content.
    """
    pem = read_file(path, max_size=MAX_KEY_FILE_SIZE, what="private key file")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyFileError(
            f"{path} is not an unencrypted PEM private key.", code="bad-key"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyFileError(f"{path} holds a key that is not ECDSA P-256.", code="bad-key")
    return key


def public_key_from_pem(pem: bytes, source: str) -> PublicKey:
    """Decode a PEM public key; raises KeyFileError(bad-key) unless it is P-256."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyFileError(f"{source} is not a PEM public key.", code="bad-key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyFileError(f"{source} holds a key that is not ECDSA P-256.", code="bad-key")
    return key


def load_public_key(path: str | os.PathLike[str]) -> PublicKey:
    """Read a PEM public key file (see `public_key_from_pem`)."""
    return public_key_from_pem(
        read_file(path, max_size=MAX_KEY_FILE_SIZE, what="public key file"), str(path)
    )


@dataclass(frozen=True)
class GeneratedKeyFiles:
    """Where `generate_key_files` put a new key pair, and the key's id (nothing secret)."""

    manufacturer_code: int
    key_id: str
    private_key_path: Path
    public_key_path: Path


def generate_key_files(
    manufacturer_code: int,
    folder: str | os.PathLike[str],
    *,
    label: str | None = None,
    force: bool = False,
) -> GeneratedKeyFiles:
    """Make a key pair in `folder` (created if missing) for one manufacturer.

    Writes `<MMMM>-<label>.key` (private, 0600) and `<MMMM>-<label>.pem` (public, named as
    a trust store expects); `label` defaults to the first 8 hex digits of the key id.
    Never overwrites a private key: an existing one raises ImageFileError(file-exists).
    An existing public key file is refused (output-exists) unless `force`; both are
    checked before either file is written.
    """
    if not 0 <= manufacturer_code <= 0xFFFF:
        raise FirmwareError(
            f"Manufacturer code {manufacturer_code} does not fit in 16 bits.",
            code="bad-field-value",
        )
    if label is not None and not KEY_LABEL.fullmatch(label):
        raise FirmwareError(
            f"The label {label!r} cannot be part of a key file name: use letters, digits, "
            "dots, dashes and underscores.",
            code="bad-field-value",
        )
    try:
        target = check_output_folder(folder, what="key folder")
    except OutputError as exc:  # the code key scripts already match on
        raise ImageFileError(exc.message, code="cannot-write", action=exc.action) from exc
    private_key = generate_private_key()
    identifier = key_id(private_key.public_key())
    stem = f"{manufacturer_code:04X}-{label or identifier[:8]}"
    public_target = target / f"{stem}{PUBLIC_KEY_SUFFIX}"
    if (target / f"{stem}{PRIVATE_KEY_SUFFIX}").exists():
        raise ImageFileError(
            f"The private key {target / (stem + PRIVATE_KEY_SUFFIX)} already exists.",
            code="file-exists",
            action="A private key is never replaced: give another --label or --out folder.",
        )
    check_output(public_target, force=force, what="public key")
    private_path = save_private_key(private_key, target / f"{stem}{PRIVATE_KEY_SUFFIX}")
    public_path = save_public_key(private_key.public_key(), public_target, force=force)
    return GeneratedKeyFiles(manufacturer_code, identifier, private_path, public_path)
