"""The trust store: manufacturers' public keys, a revocation list, and signature checks.

On disk a trust store is one folder (docs/firmware-format.md, "Trust store"):

- `121D.pem`, `121D-lab.pem`, ...: ECDSA P-256 public keys in PEM, named by the
  manufacturer code (4 hex digits) they may sign for, with an optional label;
- `revoked.txt` (optional): one key id per line (SHA-256 of the SubjectPublicKeyInfo DER,
  hex), `#` comments allowed;
- anything else (a README) is ignored.

A signature is checked only against the keys of the image's own manufacturer code, so a
key trusted for one manufacturer can never vouch for another's image.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridgelab.firmware.errors import KeyFileError, SignatureError, TrustStoreError, hex_id
from bridgelab.firmware.files import read_file
from bridgelab.firmware.image import OtaImage
from bridgelab.firmware.keys import (
    KEY_LABEL,
    MAX_KEY_FILE_SIZE,
    PublicKey,
    key_id,
    public_key_from_pem,
)
from bridgelab.firmware.signing import SIGNATURE_ALGORITHM, signed_digest, verify_digest

REVOCATION_FILE = "revoked.txt"
_KEY_FILE = re.compile(rf"(?P<code>[0-9A-Fa-f]{{4}})(?:-(?P<label>{KEY_LABEL.pattern}))?\.pem")
_KEY_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class TrustedKey:
    """One public key allowed to sign for one manufacturer code."""

    manufacturer_code: int
    public_key: PublicKey = field(repr=False, compare=False)
    key_id: str
    label: str | None = None
    source: Path | None = None

    @classmethod
    def create(
        cls,
        manufacturer_code: int,
        public_key: PublicKey,
        *,
        label: str | None = None,
        source: Path | None = None,
    ) -> TrustedKey:
        return cls(manufacturer_code, public_key, key_id(public_key), label, source)


@dataclass(frozen=True)
class SignatureReport:
    """Who signed an image: the trusted key that verified its signature."""

    manufacturer_code: int
    key_id: str
    label: str | None
    source: str | None
    algorithm: str = SIGNATURE_ALGORITHM

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "manufacturer_code": self.manufacturer_code,
            "key_id": self.key_id,
            "label": self.label,
            "source": self.source,
        }


class TrustStore:
    """An immutable set of trusted keys per manufacturer code, and revoked key ids."""

    def __init__(
        self,
        keys: Iterable[TrustedKey] = (),
        *,
        revoked: Iterable[str] = (),
        folder: Path | None = None,
    ) -> None:
        self.keys: tuple[TrustedKey, ...] = tuple(keys)
        self.revoked: frozenset[str] = frozenset(item.lower() for item in revoked)
        self.folder = folder

    @classmethod
    def from_keys(
        cls,
        keys: Iterable[tuple[int, PublicKey] | TrustedKey],
        *,
        revoked: Iterable[str] = (),
    ) -> TrustStore:
        """An in-memory store, e.g. for the emulator's built-in demo key."""
        entries = [
            item if isinstance(item, TrustedKey) else TrustedKey.create(item[0], item[1])
            for item in keys
        ]
        return cls(entries, revoked=revoked)

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> TrustStore:
        """Read a trust store folder (layout in the module docstring).

        Raises TrustStoreError: trust-store-missing (no such folder), trust-store-bad-name
        (a .pem file not named `MMMM[-label].pem`), trust-store-bad-key (not a P-256 public
        key), private-key-in-trust-store, bad-revocation-list; ImageFileError when a file
        cannot be read.
        """
        root = Path(folder)
        if not root.is_dir():
            raise TrustStoreError(
                f"The trust store {root} is not a folder"
                + (" (it does not exist)." if not root.exists() else "."),
                code="trust-store-missing",
            )
        keys = [
            _load_trusted_key(path)
            for path in sorted(root.iterdir())
            if path.suffix.lower() == ".pem"
        ]
        revocation = root / REVOCATION_FILE
        revoked = _read_revocation_list(revocation) if revocation.exists() else []
        return cls(keys, revoked=revoked, folder=root)

    def keys_for(self, manufacturer_code: int) -> tuple[TrustedKey, ...]:
        return tuple(key for key in self.keys if key.manufacturer_code == manufacturer_code)

    def is_revoked(self, identifier: str) -> bool:
        return identifier.lower() in self.revoked


def _load_trusted_key(path: Path) -> TrustedKey:
    match = _KEY_FILE.fullmatch(path.name)
    if match is None:
        raise TrustStoreError(
            f"The trust store file {path.name} is not named after a manufacturer code.",
            code="trust-store-bad-name",
        )
    pem = read_file(path, max_size=MAX_KEY_FILE_SIZE, what="trust store key")
    if b"PRIVATE KEY" in pem:
        # Said before anything else: a signing key lying in a shared folder is a leak.
        raise TrustStoreError(
            f"The trust store file {path.name} holds a private key.",
            code="private-key-in-trust-store",
        )
    try:
        public_key = public_key_from_pem(pem, path.name)
    except KeyFileError as exc:
        raise TrustStoreError(exc.message, code="trust-store-bad-key") from exc
    return TrustedKey.create(int(match["code"], 16), public_key, label=match["label"], source=path)


def _read_revocation_list(path: Path) -> list[str]:
    text = read_file(path, max_size=MAX_KEY_FILE_SIZE * 16, what="revocation list")
    revoked: list[str] = []
    for number, line in enumerate(text.decode("utf-8", errors="replace").splitlines(), 1):
        entry = line.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        if not _KEY_ID.fullmatch(entry):
            raise TrustStoreError(
                f"Line {number} of {path.name} is not a key id: {entry[:70]!r}.",
                code="bad-revocation-list",
            )
        revoked.append(entry)
    return revoked


def verify_signature(image: OtaImage, store: TrustStore) -> SignatureReport:
    """Find the trusted, unrevoked key of the image's manufacturer that signed it.

    Raises SignatureError: unsigned (no signature in the file), signer-unknown (the store
    has no key for this manufacturer code), signer-revoked (only a revoked key verifies),
    signature-invalid (keys exist but none verifies: the file was altered after signing,
    or the signer's key is not in this store).
    """
    manufacturer = image.header.manufacturer_code
    if image.signature is None:
        raise SignatureError(
            f"The image carries no manufacturer signature (manufacturer {hex_id(manufacturer)}).",
            code="unsigned",
        )
    candidates = store.keys_for(manufacturer)
    if not candidates:
        raise SignatureError(
            f"The image is signed, but the trust store has no key for manufacturer "
            f"{hex_id(manufacturer)}, so its signer is unknown.",
            code="signer-unknown",
        )
    digest = signed_digest(image)
    verifying = [
        key for key in candidates if verify_digest(key.public_key, digest, image.signature)
    ]
    for key in verifying:
        if not store.is_revoked(key.key_id):
            return SignatureReport(
                manufacturer_code=manufacturer,
                key_id=key.key_id,
                label=key.label,
                source=str(key.source) if key.source is not None else None,
            )
    if verifying:
        raise SignatureError(
            f"The image was signed by key {verifying[0].key_id[:16]}... of manufacturer "
            f"{hex_id(manufacturer)}, which is on the revocation list.",
            code="signer-revoked",
            details={"key_id": verifying[0].key_id},
        )
    raise SignatureError(
        f"The signature does not match any of the {len(candidates)} trusted key(s) for "
        f"manufacturer {hex_id(manufacturer)}: the image was altered after signing, or signed "
        "by a key that is not in this trust store.",
        code="signature-invalid",
    )
