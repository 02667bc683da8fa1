from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridgelab.eui64 import (
    Eui64Error,
    eui64_from_wire,
    eui64_to_wire,
    format_eui64,
    parse_eui64,
)


def test_domain_vector_wire_order() -> None:
    # domain.md section 2: bytes 04 03 02 01 00 4B 12 00 are 00:12:4B:00:01:02:03:04.
    value = eui64_from_wire(bytes.fromhex("04030201004B1200"))
    assert format_eui64(value) == "00:12:4B:00:01:02:03:04"
    assert eui64_to_wire(value).hex() == "04030201004b1200"


@pytest.mark.parametrize(
    "text",
    [
        "00:12:4B:00:01:02:03:04",
        "00-12-4b-00-01-02-03-04",
        "00124B0001020304",
        "0x00124b0001020304",
    ],
)
def test_spellings(text: str) -> None:
    assert parse_eui64(text) == 0x00124B0001020304


@pytest.mark.parametrize("text", ["", "00:12:4B", "00124B000102030405", "zz124B0001020304"])
def test_bad_spellings(text: str) -> None:
    with pytest.raises(Eui64Error, match="not an EUI-64"):
        parse_eui64(text)


def test_wrong_wire_length() -> None:
    with pytest.raises(Eui64Error, match="8 bytes"):
        eui64_from_wire(b"\x00" * 7)


@given(st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_round_trips(value: int) -> None:
    assert parse_eui64(format_eui64(value)) == value
    assert eui64_from_wire(eui64_to_wire(value)) == value
