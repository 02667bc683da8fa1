"""The declarative codec: every field form round-trips, and every bad input is one clear,
coded error naming the record, the field and the byte (never an IndexError or a
struct.error), whatever the bytes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridgelab import codec
from bridgelab.codec import (
    BE16,
    BOOL,
    I8,
    REST,
    TEXT,
    U8,
    U16,
    U32,
    U64,
    AtLeast,
    Bit,
    Const,
    Control,
    IfRemaining,
    Int,
    Record,
    When,
)


class Colour(enum.IntEnum):
    RED = 1
    GREEN = 2


@dataclass(frozen=True)
class Entry(Record):
    uptime_s: U32
    text: TEXT


@dataclass(frozen=True)
class Everything(Record):
    flags: ClassVar[Control] = Control(codec.u8)
    small: U8
    signed: I8
    word: U16
    big_endian: BE16
    long: U64
    colour: Annotated[Colour, codec.Enum(Colour, label="colour")]
    ok: BOOL
    digest: Annotated[bytes, codec.Fixed(4)]
    header: Annotated[bytes, codec.Prefixed(codec.u16)]
    name: TEXT
    numbers: Annotated[tuple[int, ...], codec.Array(codec.u32, count=codec.u8)]
    entries: Annotated[tuple[Entry, ...], codec.Array(Entry, count=codec.u8)]
    first: Entry
    extra: Annotated[int | None, codec.u16, Bit("flags", 0x01)] = None
    more: Annotated[int | None, codec.u32, Bit("flags", 0x04)] = None
    tail: Annotated[int | None, codec.u16, IfRemaining()] = None


@dataclass(frozen=True)
class Counted(Record):
    kind: ClassVar[Control] = Control(codec.u8)
    a: Annotated[int | None, codec.u8, AtLeast("kind", 1)] = None
    b: Annotated[int | None, codec.u8, AtLeast("kind", 2)] = None


@dataclass(frozen=True)
class Tagged(Record):
    status: ClassVar[Const] = Const(codec.Enum(Colour, label="colour"), Colour.GREEN)
    value: U16
    when_big: Annotated[int | None, codec.u8, When(lambda v: v["value"] > 100)] = None
    rest: REST = b""


def _entries() -> st.SearchStrategy[Entry]:
    return st.builds(Entry, st.integers(0, 2**32 - 1), st.text(max_size=20))


everything = st.builds(
    Everything,
    small=st.integers(0, 255),
    signed=st.integers(-128, 127),
    word=st.integers(0, 0xFFFF),
    big_endian=st.integers(0, 0xFFFF),
    long=st.integers(0, 2**64 - 1),
    colour=st.sampled_from(Colour),
    ok=st.booleans(),
    digest=st.binary(min_size=4, max_size=4),
    header=st.binary(max_size=300),
    name=st.text(max_size=30),
    numbers=st.lists(st.integers(0, 2**32 - 1), max_size=5).map(tuple),
    entries=st.lists(_entries(), max_size=3).map(tuple),
    first=_entries(),
    extra=st.none() | st.integers(0, 0xFFFF),
    more=st.none() | st.integers(0, 2**32 - 1),
    tail=st.none() | st.integers(0, 0xFFFF),
)


@given(everything)
def test_every_form_round_trips(record: Everything) -> None:
    data = record.pack()
    assert Everything.unpack(data) == record
    if record.tail is not None:  # else IfRemaining would read the extra bytes as the tail
        assert Everything.split(data + b"xy") == (record, b"xy")
    assert Everything.unpack_from(b"\0\0" + data, 2) == (record, len(data) + 2)


def test_the_layout_is_what_the_declaration_says() -> None:
    record = Everything(
        small=1, signed=-2, word=0x0304, big_endian=0x0506, long=7, colour=Colour.GREEN,
        ok=True, digest=b"abcd", header=b"H", name="é", numbers=(9,),
        entries=(Entry(1, "x"),), first=Entry(2, ""), more=0x0A0B0C0D,
    )  # fmt: skip
    assert record.pack().hex(" ") == (
        "04 01 fe 04 03 05 06 07 00 00 00 00 00 00 00 02 01 61 62 63 64 01 00 48 02 c3 a9 "
        "01 09 00 00 00 01 01 00 00 00 01 78 02 00 00 00 00 0d 0c 0b 0a"
    )


@given(st.binary(max_size=80))
def test_any_bytes_decode_or_raise_one_decode_error(data: bytes) -> None:
    for record_type in (Everything, Counted, Tagged, Entry):
        try:
            record = record_type.unpack(data)
        except codec.DecodeError as error:
            assert error.code in {"codec-truncated", "codec-trailing-bytes", "codec-bad-field"}
            assert error.details["record"] == record_type.__name__
            assert error.action
        else:
            # Bool and Text normalise (other bits, invalid UTF-8); after that it is stable.
            assert record_type.unpack(record.pack()) == record


def test_every_cut_of_a_record_names_the_field_and_the_byte() -> None:
    data = Entry(5, "hello").pack()
    for cut in range(len(data)):
        with pytest.raises(codec.Truncated) as caught:
            Entry.unpack(data[:cut])
        assert caught.value.details["field"] in {"uptime_s", "text length", "text"}
    with pytest.raises(codec.Truncated, match=r"text needs 5 byte\(s\) at byte 5 but only 2"):
        Entry.unpack(data[:7])


def test_trailing_bytes_are_refused_with_their_offset() -> None:
    with pytest.raises(codec.Trailing, match=r"2 unexpected byte\(s\) .*from byte 5"):
        Entry.unpack(Entry(1, "").pack() + b"zz")


def test_controls_refuse_unknown_bits_and_counts() -> None:
    assert Counted.unpack(bytes([2, 7, 8])) == Counted(7, 8)
    assert Counted(7).pack() == bytes([1, 7])
    with pytest.raises(codec.BadField, match=r"kind: 3 is not one of 0\.\.2"):
        Counted.unpack(bytes([3, 7, 8, 9]))
    good = Everything(
        1, 2, 3, 4, 5, Colour.RED, False, b"abcd", b"", "", (), (), Entry(0, "")
    ).pack()
    with pytest.raises(codec.BadField, match=r"reserved bits set \(0x02, known 0x05\)"):
        Everything.unpack(b"\x02" + good[1:])


def test_const_enum_and_when() -> None:
    assert Tagged(5).pack() == bytes([2, 5, 0])
    assert Tagged(500, 9, b"z").pack() == bytes([2, 0xF4, 1, 9]) + b"z"
    assert Tagged.unpack(bytes([2, 0xF4, 1, 9, 1])) == Tagged(500, 9, b"\x01")
    with pytest.raises(codec.BadField, match="status: RED where GREEN belongs"):
        Tagged.unpack(bytes([1, 5, 0]))
    with pytest.raises(codec.BadField, match="status: 0x07 is not a colour"):
        Tagged.unpack(bytes([7, 5, 0]))


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (Entry(2**32, ""), "uptime_s"),
        (Entry(-1, ""), "uptime_s"),
        (Entry(1, b"bytes"), "text"),  # type: ignore[arg-type]
        (Counted(256), "a"),
        (Tagged(1, rest="text"), "rest"),  # type: ignore[arg-type]
    ],
)
def test_values_that_cannot_go_on_the_wire_name_their_field(record: Record, field: str) -> None:
    with pytest.raises(codec.FieldValueError) as caught:
        record.pack()
    assert caught.value.details["field"] == field
    assert isinstance(caught.value, ValueError)


def test_too_long_prefixed_and_arrays_are_refused() -> None:
    @dataclass(frozen=True)
    class Small(Record):
        data: Annotated[bytes, codec.Prefixed(codec.u8)]
        items: Annotated[tuple[int, ...], codec.Array(codec.u8, count=Int(1))] = ()

    assert Small(b"x" * 255).pack()[0] == 255
    with pytest.raises(codec.FieldValueError, match="256 bytes do not fit"):
        Small(b"x" * 256).pack()
    with pytest.raises(codec.FieldValueError, match="256 items do not fit"):
        Small(b"", (0,) * 256).pack()


def test_a_field_without_a_wire_form_is_a_declaration_error() -> None:
    @dataclass(frozen=True)
    class Undeclared(Record):
        value: int

    with pytest.raises(TypeError, match=r"Undeclared\.value: declare exactly one wire form"):
        Undeclared(1).pack()


def test_a_format_raises_its_own_errors() -> None:
    class FormatError(Exception):
        pass

    @dataclass(frozen=True)
    class Own(Record):
        value: U32

        @classmethod
        def _codec_error(cls, error: codec.DecodeError) -> Exception:
            return FormatError(error.code, error.message)

    with pytest.raises(FormatError, match="codec-truncated"):
        Own.unpack(b"\x01")


def test_fields_of_lists_the_declaration() -> None:
    names: list[Any] = [name for name, _, _ in codec.fields_of(Counted)]
    assert names == ["a", "b"]
