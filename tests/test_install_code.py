"""Install codes: CRC-16/X-25, the MMO link key (domain.md section 4 vectors) and the CLI."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridgelab.cli import main
from bridgelab.zigbee.install_code import (
    InstallCodeCrcError,
    InstallCodeError,
    crc16_x25,
    derive_link_key,
    mmo_hash,
    parse_install_code,
)

CODE_16 = "83FED3407A939723A5C639B26916D505C3B5"
KEY_16 = "66B6900981E1EE3CA4206B6B861C02BB"
CODE_8 = "11223344556677884AF7"
KEY_8 = "41618FC0C83B0E14A589954B16E31466"
BAD_CRC = "1122334455667788FFFF"


def test_crc16_x25_check_value() -> None:
    assert crc16_x25(b"123456789") == 0x906E


@pytest.mark.parametrize(("text", "length", "key"), [(CODE_16, 16, KEY_16), (CODE_8, 8, KEY_8)])
def test_domain_vectors(text: str, length: int, key: str) -> None:
    code = parse_install_code(text)
    assert code.length == length
    assert code.crc_ok
    assert derive_link_key(code).hex().upper() == key


def test_mmo_hash_multi_block_input() -> None:
    # 18 bytes need two AES blocks after padding; the hash equals the chain done by hand.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    data = bytes.fromhex(CODE_16)
    padded = data + b"\x80" + bytes(11) + (len(data) * 8).to_bytes(2, "big")
    assert len(padded) == 32
    digest = bytes(16)
    for block in (padded[:16], padded[16:]):
        enc = Cipher(algorithms.AES(digest), modes.ECB()).encryptor()
        digest = bytes(a ^ b for a, b in zip(enc.update(block), block, strict=True))
    assert mmo_hash(data) == digest


def test_bad_crc_says_expected_and_found() -> None:
    code = parse_install_code(BAD_CRC)
    assert code.length == 8 and not code.crc_ok
    with pytest.raises(InstallCodeCrcError) as caught:
        derive_link_key(code)
    error = caught.value
    assert error.code == "install-code-bad-crc"
    assert "4AF7" in error.message and "FFFF" in error.message
    assert error.details == {"expected_crc": "0xF74A", "found_crc": "0xFFFF"}


@pytest.mark.parametrize(
    "text",
    [
        "83FE D340 7A93 9723 A5C6 39B2 6916 D505 C3B5",
        "83-FE-D3-40-7A-93-97-23-A5-C6-39-B2-69-16-D5-05-C3-B5",
        "0x83fed3407a939723a5c639b26916d505c3b5",
        " 83FE:D340:7A93:9723:A5C6:39B2:6916:D505:C3B5\n",
    ],
)
def test_separators_and_case(text: str) -> None:
    assert parse_install_code(text) == parse_install_code(CODE_16)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "install-code-not-hex"),
        ("83FE D340 7A93 XY23", "install-code-not-hex"),
        ("83FED34", "install-code-not-hex"),
        ("11223344", "install-code-bad-length"),
        ("83FED3407A939723A5C639B26916D505C3B5FF", "install-code-bad-length"),
        ("00" * 20, "install-code-bad-length"),
    ],
)
def test_refusals(text: str, code: str) -> None:
    with pytest.raises(InstallCodeError) as caught:
        parse_install_code(text)
    assert caught.value.code == code
    assert caught.value.action


@given(st.sampled_from([6, 8, 12, 16]).flatmap(lambda n: st.binary(min_size=n, max_size=n)))
def test_any_code_with_its_crc_parses(raw: bytes) -> None:
    crc = crc16_x25(raw).to_bytes(2, "little")
    code = parse_install_code((raw + crc).hex())
    assert code.crc_ok and code.code == raw
    assert len(derive_link_key(code)) == 16


def test_key_and_code_stay_out_of_repr_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    code = parse_install_code(CODE_16)
    key = derive_link_key(code)
    shown = [repr(key), str(key), f"{key}", f"{key!s}", "%s %r" % (key, key), repr(code)]  # noqa: UP031
    with caplog.at_level(logging.INFO):
        logging.getLogger("bridgelab.test").info("derived %s for %r", key, code)
    shown.append(caplog.text)
    for text in shown:
        assert KEY_16.lower() not in text.lower()
        assert CODE_16[:8].lower() not in text.lower()
    assert bytes(key).hex().upper() == KEY_16  # still the key when asked for on purpose


# --------------------------------------------------------------------------- CLI


def test_cli_reports_length_and_crc_without_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["install-code", "83FE", "D340", "7A93", "9723", "A5C6", "39B2", "6916", "D505", "C3B5"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "16 bytes" in out and "correct" in out
    assert KEY_16 not in out.upper()
    assert "--show-key" in out


def test_cli_json_without_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install-code", CODE_8, "--json"]) == 0
    out = capsys.readouterr().out
    payload = json.loads(out)
    assert payload == {
        "schema": "bridgelab.install-code/1",
        "install_code": CODE_8,
        "length": 8,
        "total_length": 10,
        "crc": "0xF74A",
        "crc_ok": True,
        "link_key": None,  # a secret: shown only with --show-key
        "error": None,
    }
    assert KEY_8 not in out.upper()


def test_cli_show_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install-code", CODE_16, "--show-key"]) == 0
    assert KEY_16 in capsys.readouterr().out
    assert main(["install-code", CODE_16, "--show-key", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["link_key"] == KEY_16


def test_cli_refuses_bad_crc_with_reason() -> None:
    # Through the console entry point, as an engineer runs it.
    result = subprocess.run(
        [sys.executable, "-m", "bridgelab", "install-code", BAD_CRC, "--show-key"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "install-code-bad-crc" in result.stderr and "4AF7" in result.stderr
    assert result.stdout == ""


def test_cli_refuses_bad_length_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install-code", "1122", "--json"]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "install-code-bad-length"
    assert "2 bytes" in error["message"]
