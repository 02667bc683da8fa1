"""ZigBee install codes: the CRC check and the link key derived from them.

An install code is 6, 8, 12 or 16 bytes followed by its CRC-16/X-25 (poly 0x1021
reflected, init 0xFFFF, xorout 0xFFFF) stored low byte first, 8 to 18 bytes in all. The
link key a Trust Centre uses for the joining device is the AES-128 Matyas-Meyer-Oseas hash
of the whole code, CRC included.

The link key is a secret: `LinkKey` (what `derive_link_key` returns) and every object here
that could reveal it keep it out of `repr()` and `str()`; the bytes are only shown when a
caller asks for them explicitly (`key.hex()`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bridgelab.errors import BridgeLabError

INSTALL_CODE_LENGTHS = (6, 8, 12, 16)
CRC_SIZE = 2
AES_BLOCK_SIZE = 16
_SEPARATORS = re.compile(r"[\s:\-.]")


class InstallCodeError(BridgeLabError):
    """Root of the install-code errors."""

    code = "install-code-error"


class InstallCodeNotHexError(InstallCodeError):
    code = "install-code-not-hex"
    default_action = (
        "Type the code exactly as printed on the label: hex digits 0-9 and A-F, "
        "spaces or dashes between groups are fine."
    )


class InstallCodeLengthError(InstallCodeError):
    code = "install-code-bad-length"
    default_action = "Re-read the label: check that no group of digits was missed or typed twice."


class InstallCodeCrcError(InstallCodeError):
    code = "install-code-bad-crc"
    default_action = (
        "Re-read the label: a single mistyped digit breaks the CRC. If the label really "
        "shows this code, the device cannot join with it; contact the manufacturer."
    )


def crc16_x25(data: bytes) -> int:
    """CRC-16/X-25 of `data` (check value: `b"123456789"` gives 0x906E)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def mmo_hash(data: bytes) -> bytes:
    """AES-128 Matyas-Meyer-Oseas hash, as the ZigBee specification defines it.

    Padding: 0x80, zero bytes up to 14 mod 16, then the message length in bits as a
    big-endian u16 (messages shorter than 8 KiB, which covers every install code).
    Each block M updates the hash H to AES(key=H, M) XOR M, starting from 16 zero bytes.
    """
    if len(data) * 8 >= 1 << 16:
        raise ValueError("MMO hash with a 16-bit length field takes at most 8191 bytes")
    padded = data + b"\x80"
    padded += bytes((14 - len(padded)) % AES_BLOCK_SIZE)
    padded += (len(data) * 8).to_bytes(2, "big")
    digest = bytes(AES_BLOCK_SIZE)
    for start in range(0, len(padded), AES_BLOCK_SIZE):
        block = padded[start : start + AES_BLOCK_SIZE]
        encryptor = Cipher(algorithms.AES(digest), modes.ECB()).encryptor()
        cipher = encryptor.update(block) + encryptor.finalize()
        digest = bytes(a ^ b for a, b in zip(cipher, block, strict=True))
    return digest


class LinkKey(bytes):
    """A 16-byte link key: bytes everywhere, but hidden from `repr()`, `str()` and f-strings.

    Call `.hex()` (or `bytes(key)`) to get the secret on purpose.
    """

    def __repr__(self) -> str:
        return f"<LinkKey: {len(self)} bytes, hidden>"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return repr(self)


def _format_groups(data: bytes) -> str:
    text = data.hex().upper()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


@dataclass(frozen=True, repr=False)
class InstallCode:
    """An install code as read from a label: the code and the CRC that followed it.

    The code derives the link key, so `repr()` hides it too; `formatted()` shows it.
    """

    code: bytes
    crc_found: int

    @property
    def length(self) -> int:
        """Bytes of code, CRC excluded: 6, 8, 12 or 16."""
        return len(self.code)

    @property
    def crc_expected(self) -> int:
        return crc16_x25(self.code)

    @property
    def crc_ok(self) -> bool:
        return self.crc_found == self.crc_expected

    def to_bytes(self) -> bytes:
        """The whole code as the Trust Centre hashes it: code then CRC, low byte first."""
        return self.code + self.crc_found.to_bytes(CRC_SIZE, "little")

    def formatted(self) -> str:
        """The whole code in groups of four hex digits, as labels print it."""
        return _format_groups(self.to_bytes())

    def require_crc_ok(self) -> None:
        """Raise `InstallCodeCrcError` (expected vs found) unless the CRC matches."""
        if self.crc_ok:
            return
        expected = self.crc_expected.to_bytes(CRC_SIZE, "little").hex().upper()
        found = self.crc_found.to_bytes(CRC_SIZE, "little").hex().upper()
        raise InstallCodeCrcError(
            f"The install code's CRC does not match: its last two bytes should be {expected} "
            f"(CRC 0x{self.crc_expected:04X}) but are {found}.",
            details={
                "expected_crc": f"0x{self.crc_expected:04X}",
                "found_crc": f"0x{self.crc_found:04X}",
            },
        )

    def __repr__(self) -> str:
        return f"<InstallCode: {self.length} bytes + CRC, CRC {'ok' if self.crc_ok else 'bad'}>"


def parse_install_code(text: str) -> InstallCode:
    """Read an install code typed from a label: hex, with or without spaces or separators.

    Accepts an optional `0x` prefix and spaces, colons, dashes or dots between digits.
    Raises `InstallCodeNotHexError` or `InstallCodeLengthError`; a wrong CRC is not an
    error here (`crc_ok` is False, `require_crc_ok()` raises) so a tool can still say
    what it read.
    """
    cleaned = _SEPARATORS.sub("", text.strip())
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    if not cleaned or not re.fullmatch(r"[0-9A-Fa-f]+", cleaned):
        raise InstallCodeNotHexError(f"{text!r} is not an install code: it is not hex.")
    if len(cleaned) % 2:
        raise InstallCodeNotHexError(
            f"The install code has {len(cleaned)} hex digits, an odd number: a digit is "
            "missing or extra."
        )
    raw = bytes.fromhex(cleaned)
    if len(raw) - CRC_SIZE not in INSTALL_CODE_LENGTHS:
        raise InstallCodeLengthError(
            f"The install code is {len(raw)} bytes ({len(cleaned)} hex digits); an install "
            "code is 6, 8, 12 or 16 bytes plus a 2-byte CRC: 16, 20, 28 or 36 hex digits.",
            details={"length": len(raw)},
        )
    return InstallCode(raw[:-CRC_SIZE], int.from_bytes(raw[-CRC_SIZE:], "little"))


def derive_link_key(code: InstallCode) -> LinkKey:
    """The link key of an install code (MMO hash of code + CRC).

    Raises `InstallCodeCrcError` when the CRC is wrong: a key from a mistyped code would
    only make the join fail later, far from the cause.
    """
    code.require_crc_ok()
    return LinkKey(mmo_hash(code.to_bytes()))
