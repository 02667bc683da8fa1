"""One declarative codec: each wire field is declared once, and encode, decode and the
range checks follow from that declaration.

A record is a frozen dataclass that derives from `Record`; each field's annotation says
its wire form with `typing.Annotated`, in wire order::

    @dataclass(frozen=True)
    class BlockRequest(Record):
        field_control: ClassVar[Control] = Control(u8)      # wire-only: computed, checked
        manufacturer_code: U16                              # little-endian u16
        file_offset: Annotated[int, Int(4, endian="big")]   # any width, either order
        data: Annotated[bytes, Prefixed(u8)]                # u8 length, then the bytes
        eui64: Annotated[int | None, u64, Bit("field_control", 0x01)] = None

    record, end = BlockRequest.unpack_from(data, offset)   # or .unpack(data), .split(data)
    data = record.pack()

Field forms (`Spec`s): `Int(size, signed=, endian=)` (aliases `U8`, `U16`, `U32`, `U64`,
`I8`, `BE16`, `BE32`), `Bool`, `Enum(type)`, `Fixed(size)` bytes, `Prefixed(int spec)`
bytes, `Text(prefix)` UTF-8, `Rest()` (all remaining bytes; last field only),
`Array(item, count=int spec)` (a tuple; the item may be a spec or a Record type), and a
nested `Record` type written as the annotation itself.

Presence: a field whose metadata carries a condition is optional (None when absent; on
encode it is written exactly when it is not None). `Bit(control, mask)` and
`AtLeast(control, n)` tie presence to a wire-only `Control` field declared before it
(bits of a flags byte; a payload-type counter), whose value the encoder computes and the
decoder checks (unknown bits or values are refused). `When(predicate)` decides from the
fields decoded so far (a dict by name), `IfRemaining()` from whether bytes remain.
`Const(spec, value)` is a wire-only field that must hold `value`. A wire-only field is
named without its leading underscores (so `_kind` can sit beside a property `kind`).

Decoding never raises anything but `DecodeError` (subclasses `Truncated`, `Trailing`,
`BadField`, each with `record`, `field`, `offset` in `details` and a message naming
them); a format translates them to its own error tree by overriding
`Record._codec_error`. `pack()` and `check(record)` raise `FieldValueError` (also a
`ValueError`) for a value that cannot go on the wire, naming the field. Fixed-size runs of
fields decode with one precompiled `struct.Struct`, so a declared record decodes at least
as fast as hand-written readers (`benchmarks/bench_codec.py`).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import struct
import typing
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any, ClassVar, Self

from bridgelab.errors import BridgeLabError

# --------------------------------------------------------------------------- errors


class CodecError(BridgeLabError):
    code = "codec-error"


class DecodeError(CodecError):
    """Bytes that do not hold the record; `details` has `record`, `field`, `offset`."""

    code = "codec-bad-input"
    default_action = "The sender produced a malformed record: capture the bytes and report them."

    def __init__(self, message: str, *, record: str, field: str, offset: int) -> None:
        super().__init__(message, details={"record": record, "field": field, "offset": offset})
        self.record = record
        self.field = field
        self.offset = offset


class Truncated(DecodeError):
    code = "codec-truncated"


class Trailing(DecodeError):
    code = "codec-trailing-bytes"


class BadField(DecodeError):
    code = "codec-bad-field"


class FieldValueError(CodecError, ValueError):
    """A record holds a value its wire form cannot carry (the caller's mistake)."""

    code = "codec-bad-value"
    default_action = "Correct the value before encoding the record."

    def __init__(self, message: str, *, record: str, field: str) -> None:
        super().__init__(message, details={"record": record, "field": field})
        self.record = record
        self.field = field


def _truncated(record: str, field: str, need: int, offset: int, have: int) -> Truncated:
    return Truncated(
        f"{record} is truncated: {field} needs {need} byte(s) at byte {offset} "
        f"but only {max(0, have)} remain.",
        record=record,
        field=field,
        offset=offset,
    )


def _bad(record: str, field: str, offset: int, reason: str) -> BadField:
    return BadField(
        f"{record} has a bad {field}: {reason}.", record=record, field=field, offset=offset
    )


class _Bad(Exception):
    """Raised by a spec's conversion; the layout adds the record, field and offset."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- field forms


class Spec:
    """How one value goes on the wire. Fixed-size forms set `size` and `code` (a struct
    format letter group) so that runs of them decode in one `struct` call."""

    size: int | None = None
    code: str | None = None
    endian: str = "<"

    def convert(self, raw: Any) -> Any:
        """From what `struct` (or `read`) produced to the field's value; raise `_Bad`."""
        return raw

    def to_raw(self, value: Any) -> Any:
        return value

    def problem(self, value: Any) -> str | None:
        """Why `value` cannot go on the wire, or None."""
        return None

    def read(self, data: bytes, pos: int, record: str, field: str) -> tuple[Any, int]:
        assert self.size is not None and self.code is not None
        end = pos + self.size
        if end > len(data):
            raise _truncated(record, field, self.size, pos, len(data) - pos)
        (raw,) = struct.unpack_from(self.endian + self.code, data, pos)
        try:
            return self.convert(raw), end
        except _Bad as bad:
            raise _bad(record, field, pos, bad.reason) from None

    def write(self, value: Any, out: bytearray) -> None:
        assert self.code is not None
        out += struct.pack(self.endian + self.code, self.to_raw(value))


_INT_CODES = {1: "b", 2: "h", 4: "i", 8: "q"}


class Int(Spec):
    def __init__(self, size: int, *, signed: bool = False, endian: str = "little") -> None:
        if size not in _INT_CODES or endian not in ("little", "big"):
            raise TypeError(f"Int({size}, endian={endian!r}) is not a supported integer form")
        self.size = size
        self.signed = signed
        code = _INT_CODES[size]
        self.code = code if signed else code.upper()
        self.endian = "<" if endian == "little" else ">"
        bits = 8 * size
        self.low, self.high = (
            (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        )

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, int) or not self.low <= value <= self.high:
            kind = "signed" if self.signed else "unsigned"
            return f"{value!r} does not fit a {kind} {8 * (self.size or 0)}-bit field"
        return None


class Bool(Spec):
    """One byte; decodes bit 0 (other bits are ignored, as devices set them freely)."""

    size = 1
    code = "B"

    def convert(self, raw: Any) -> Any:
        return bool(raw & 0x01)

    def to_raw(self, value: Any) -> Any:
        return 1 if value else 0

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, bool) else f"{value!r} is not True or False"


class Enum(Spec):
    """An integer that must name a member of `enum_type`."""

    def __init__(self, enum_type: type[enum.IntEnum], size: int = 1, *, label: str = "") -> None:
        self.enum_type = enum_type
        self.label = label or enum_type.__name__
        self.width = Int(size)
        self.size, self.code, self.endian = self.width.size, self.width.code, self.width.endian
        self.members = {int(member): member for member in enum_type}

    def convert(self, raw: Any) -> Any:
        member = self.members.get(raw)
        if member is None:
            raise _Bad(f"0x{raw:02X} is not a {self.label}")
        return member

    def to_raw(self, value: Any) -> Any:
        return int(value)

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, int) or int(value) not in self.members:
            return f"{value!r} is not a {self.label}"
        return None


class Fixed(Spec):
    """Exactly `size` bytes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.code = f"{size}s"

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, bytes | bytearray | memoryview) or len(value) != self.size:
            return f"must be exactly {self.size} bytes"
        return None


class Prefixed(Spec):
    """A length (an unsigned `Int`), then that many bytes."""

    def __init__(self, prefix: Int) -> None:
        self.prefix = prefix

    def read(self, data: bytes, pos: int, record: str, field: str) -> tuple[Any, int]:
        length, start = self.prefix.read(data, pos, record, f"{field} length")
        end = start + length
        if end > len(data):
            raise _truncated(record, field, length, start, len(data) - start)
        return data[start:end], end

    def write(self, value: Any, out: bytearray) -> None:
        self.prefix.write(len(value), out)
        out += value

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, bytes | bytearray | memoryview):
            return f"{type(value).__name__} is not bytes"
        if len(value) > self.prefix.high:
            return f"{len(value)} bytes do not fit a length of at most {self.prefix.high}"
        return None


class Text(Spec):
    """UTF-8 behind a length prefix. Undecodable bytes become U+FFFD (a device's name must
    not make its whole answer unreadable); a longer text is cut to what the prefix counts."""

    def __init__(self, prefix: Int | None = None) -> None:
        self.bytes = Prefixed(prefix or Int(1))

    def read(self, data: bytes, pos: int, record: str, field: str) -> tuple[Any, int]:
        raw, end = self.bytes.read(data, pos, record, field)
        return bytes(raw).decode("utf-8", errors="replace"), end

    def write(self, value: Any, out: bytearray) -> None:
        self.bytes.write(value.encode("utf-8")[: self.bytes.prefix.high], out)

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, str) else f"{type(value).__name__} is not text"


class Rest(Spec):
    """Every remaining byte (the last field of a record)."""

    def read(self, data: bytes, pos: int, record: str, field: str) -> tuple[Any, int]:
        return data[pos:], len(data)

    def write(self, value: Any, out: bytearray) -> None:
        out += value

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bytes | bytearray | memoryview):
            return None
        return f"{type(value).__name__} is not bytes"


class Nested(Spec):
    """A whole record inside another (its own layout, no trailing-bytes check)."""

    def __init__(self, record_type: type[Record]) -> None:
        self.record_type = record_type

    def read(self, data: bytes, pos: int, record: str, field: str) -> tuple[Any, int]:
        return layout_of(self.record_type).unpack_from(data, pos)

    def write(self, value: Any, out: bytearray) -> None:
        layout_of(self.record_type).pack_into(value, out)

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, self.record_type):
            return f"{type(value).__name__} is not a {self.record_type.__name__}"
        return layout_of(self.record_type).problem(value)


class Array(Spec):
    """A count (an unsigned `Int`), then that many items; the value is a tuple."""

    def __init__(self, item: Spec | type[Record], *, count: Int) -> None:
        self.item = item if isinstance(item, Spec) else Nested(item)
        self.count = count

    def read(self, data: bytes, pos: int, record: str, field: str) -> tuple[Any, int]:
        number, pos = self.count.read(data, pos, record, f"{field} count")
        items = []
        for index in range(number):
            item, pos = self.item.read(data, pos, record, f"{field}[{index}]")
            items.append(item)
        return tuple(items), pos

    def write(self, value: Any, out: bytearray) -> None:
        self.count.write(len(value), out)
        for item in value:
            self.item.write(item, out)

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, tuple | list):
            return f"{type(value).__name__} is not a sequence"
        if len(value) > self.count.high:
            return f"{len(value)} items do not fit a count of at most {self.count.high}"
        for index, item in enumerate(value):
            reason = self.item.problem(item)
            if reason:
                return f"item {index}: {reason}"
        return None


u8, u16, u32, u64 = Int(1), Int(2), Int(4), Int(8)
i8 = Int(1, signed=True)
U8 = Annotated[int, u8]
U16 = Annotated[int, u16]
U32 = Annotated[int, u32]
U64 = Annotated[int, u64]
I8 = Annotated[int, i8]
BE16 = Annotated[int, Int(2, endian="big")]
BE32 = Annotated[int, Int(4, endian="big")]
BOOL = Annotated[bool, Bool()]
TEXT = Annotated[str, Text()]
REST = Annotated[bytes, Rest()]


# --------------------------------------------------------------------------- presence


class Condition:
    """When an optional field is on the wire."""

    def present(self, values: dict[str, Any], data: bytes, pos: int) -> bool:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Bit(Condition):
    """Present when bit(s) `mask` of the wire-only `Control` named `control` are set."""

    control: str
    mask: int

    def present(self, values: dict[str, Any], data: bytes, pos: int) -> bool:
        return bool(values[self.control] & self.mask)


@dataclasses.dataclass(frozen=True)
class AtLeast(Condition):
    """Present when the wire-only `Control` named `control` is at least `n` (a counter of
    how many optional fields follow, such as ZCL Image Notify's payload type)."""

    control: str
    n: int

    def present(self, values: dict[str, Any], data: bytes, pos: int) -> bool:
        return bool(values[self.control] >= self.n)


@dataclasses.dataclass(frozen=True)
class When(Condition):
    """Present when `predicate(fields decoded so far)` holds; written when not None."""

    predicate: Callable[[dict[str, Any]], bool]

    def present(self, values: dict[str, Any], data: bytes, pos: int) -> bool:
        return self.predicate(values)


@dataclasses.dataclass(frozen=True)
class IfRemaining(Condition):
    """Present when bytes remain after the fields before it."""

    def present(self, values: dict[str, Any], data: bytes, pos: int) -> bool:
        return pos < len(data)


class WireOnly:
    """A field that is on the wire but not in the record (declared as a ClassVar)."""

    spec: Int | Enum


class Control(WireOnly):
    """Flags or a counter that the `Bit`/`AtLeast` conditions naming it compute."""

    def __init__(self, spec: Int) -> None:
        self.spec = spec


class Const(WireOnly):
    """A field that must hold `value` (for example the status a record exists for)."""

    def __init__(self, spec: Int | Enum, value: int) -> None:
        self.spec = spec
        self.value = value


# --------------------------------------------------------------------------- layouts


@dataclasses.dataclass
class _Item:
    name: str
    spec: Spec
    condition: Condition | None = None
    wire_only: WireOnly | None = None


class _Run:
    """Consecutive fixed-size, unconditional items read with one struct call."""

    def __init__(self, items: list[_Item], endian: str) -> None:
        self.items = items
        self.struct = struct.Struct(endian + "".join(str(item.spec.code) for item in items))
        self.size = self.struct.size
        self.names = [item.name for item in items]
        self.offsets = [
            sum(int(other.spec.size or 0) for other in items[:i]) for i in range(len(items))
        ]
        # Only items whose value needs converting or checking pay for it.
        self.converters = [
            (index, item)
            for index, item in enumerate(items)
            if type(item.spec).convert is not Spec.convert or item.wire_only is not None
        ]


class Layout:
    """The compiled wire form of one record type (see `layout_of`)."""

    def __init__(self, record_type: type[Record]) -> None:
        self.record_type = record_type
        self.name = record_type.codec_name()
        self.items = list(_items_of(record_type))
        self.fields = [item.name for item in self.items if item.wire_only is None]
        self.steps: list[_Run | _Item] = []
        run: list[_Item] = []
        for item in self.items:
            joins = item.condition is None and item.spec.code is not None
            if run and (not joins or item.spec.endian != run[0].spec.endian):
                self.steps.append(_Run(run, run[0].spec.endian))
                run = []
            if joins:
                run.append(item)
            else:
                self.steps.append(item)
        if run:
            self.steps.append(_Run(run, run[0].spec.endian))
        self.controls: dict[str, list[Condition]] = {}
        for item in self.items:
            if isinstance(item.condition, Bit | AtLeast):
                self.controls.setdefault(item.condition.control, []).append(item.condition)
        for item in self.items:
            if isinstance(item.wire_only, Control) and item.name not in self.controls:
                raise TypeError(f"{self.name}: control {item.name} governs no field")
        self.unpack_from: Callable[[bytes, int], tuple[Any, int]] = self._compile_unpack()
        self.pack_into: Callable[[Any, bytearray], None]
        self._valid: Callable[[Any], bool]
        self.pack_into, self._valid = self._compile_pack()

    # ---- decode

    def _compile_unpack(self) -> Callable[[bytes, int], tuple[Any, int]]:
        """Generate this layout's decoder as straight-line Python (as dataclasses does for
        `__init__`): one struct call per fixed run, conditions inlined, no per-field
        dispatch. This is what makes a declared record decode as fast as a hand-written one."""
        env: dict[str, Any] = {
            "_cls": self.record_type,
            "_Bad": _Bad,
            "_bad": _bad,
            "_layout": self,
            "_NAME": self.name,
        }
        code = ["def _unpack(data, pos=0):", "    n = len(data)"]
        decoded: list[str] = []

        def wire_only_check(item: _Item, offset: str, indent: str) -> None:
            if item.wire_only is not None:
                env[f"_item_{item.name}"] = item
                code.append(
                    f"{indent}f_{item.name} = _layout._check_wire_only("
                    f"_item_{item.name}, f_{item.name}, {offset})"
                )

        for index, step in enumerate(self.steps):
            if isinstance(step, _Run):
                env[f"_run{index}"] = step
                env[f"_s{index}"] = step.struct
                targets = "".join(f"f_{name}, " for name in step.names)
                code += [
                    f"    if pos + {step.size} > n:",
                    f"        raise _layout._short_run(_run{index}, data, pos)",
                    f"    ({targets}) = _s{index}.unpack_from(data, pos)",
                ]
                for position, item in step.converters:
                    env[f"_convert_{item.name}"] = item.spec.convert
                    offset = f"pos + {step.offsets[position]}"
                    if type(item.spec).convert is not Spec.convert:
                        code += [
                            "    try:",
                            f"        f_{item.name} = _convert_{item.name}(f_{item.name})",
                            "    except _Bad as bad:",
                            f"        raise _bad(_NAME, {item.name!r}, {offset}, bad.reason)"
                            " from None",
                        ]
                    wire_only_check(item, offset, "    ")
                code.append(f"    pos += {step.size}")
                decoded += step.names
                continue
            item = step
            env[f"_read_{item.name}"] = item.spec.read
            condition = item.condition
            indent = "    "
            if condition is not None:
                indent = "        "
                if isinstance(condition, Bit):
                    test = f"f_{condition.control} & {condition.mask}"
                elif isinstance(condition, AtLeast):
                    test = f"f_{condition.control} >= {condition.n}"
                elif isinstance(condition, IfRemaining):
                    test = "pos < n"
                else:
                    env[f"_present_{item.name}"] = condition.present
                    so_far = ", ".join(f"{name!r}: f_{name}" for name in decoded)
                    test = f"_present_{item.name}({{{so_far}}}, data, pos)"
                code += [f"    f_{item.name} = None", f"    if {test}:"]
            code.append(f"{indent}start = pos")
            code.append(
                f"{indent}f_{item.name}, pos = _read_{item.name}(data, pos, _NAME, {item.name!r})"
            )
            wire_only_check(item, "start", indent)
            decoded.append(item.name)
        code.append(f"    return _cls({', '.join(f'f_{name}' for name in self.fields)}), pos")
        exec("\n".join(code), env)  # the source is built above from declared names only
        return typing.cast(Callable[[bytes, int], tuple[Any, int]], env["_unpack"])

    def _check_wire_only(self, item: _Item, value: Any, offset: int) -> Any:
        wire_only = item.wire_only
        if isinstance(wire_only, Const) and value != wire_only.value:
            raise _bad(
                self.name,
                item.name,
                offset,
                f"{_label(value)} where {_label(wire_only.value)} belongs",
            )
        if isinstance(wire_only, Control):
            conditions = self.controls[item.name]
            bits = [c.mask for c in conditions if isinstance(c, Bit)]
            counts = [c.n for c in conditions if isinstance(c, AtLeast)]
            known = 0
            for mask in bits:
                known |= mask
            if bits and value & ~known:
                raise _bad(
                    self.name,
                    item.name,
                    offset,
                    f"reserved bits set (0x{value:02X}, known 0x{known:02X})",
                )
            if counts and value > max(counts):
                raise _bad(self.name, item.name, offset, f"{value} is not one of 0..{max(counts)}")
        return value

    def _short_run(self, run: _Run, data: bytes, pos: int) -> Truncated:
        offset = pos
        for item in run.items:
            size = int(item.spec.size or 0)
            if offset + size > len(data):
                return _truncated(self.name, item.name, size, offset, len(data) - offset)
            offset += size
        raise AssertionError("a short run has a field that does not fit")

    # ---- encode

    def _first_problem(self, record: Any) -> tuple[str, Any, str] | None:
        for item in self.items:
            if item.wire_only is not None:
                continue
            value = getattr(record, item.name)
            if value is None and item.condition is not None:
                continue
            reason = item.spec.problem(value)
            if reason:
                return item.name, value, reason
        return None

    def problem(self, record: Any) -> str | None:
        """The first reason `record` cannot be packed, as `field: reason`, or None."""
        found = self._first_problem(record)
        return None if found is None else f"{found[0]}: {found[2]}"

    def check(self, record: Any) -> None:
        """Raise `FieldValueError` naming the first field that cannot go on the wire."""
        if self._valid(record):
            return
        found = self._first_problem(record)
        if found is not None:
            name, value, reason = found
            raise FieldValueError(
                f"{self.name}: {name}={_short_repr(value)} cannot be encoded: {reason}.",
                record=self.name,
                field=name,
            )

    def _compile_pack(self) -> tuple[Callable[[Any, bytearray], None], Callable[[Any], bool]]:
        """Generate this layout's encoder as straight-line Python, as `_compile_unpack`
        does the decoder: every field checked first (a bad one goes to `check`, which
        raises naming it), the controls computed from which optional fields are set, one
        struct call per fixed run. Also the checks alone, as a predicate for `check`."""
        env: dict[str, Any] = {"_layout": self, "isinstance": isinstance}
        code = ["def _pack_into(record, out):"]
        reads = [
            f"    f_{item.name} = record.{item.name}"
            for item in self.items
            if item.wire_only is None
        ]
        code += reads
        checks_from = len(code)
        for item in self.items:
            if item.wire_only is not None:
                continue
            indent = "    "
            if item.condition is not None:
                code.append(f"    if f_{item.name} is not None:")
                indent = "        "
            spec = item.spec
            if type(spec) is Int:
                test = (
                    f"not (isinstance(f_{item.name}, int) and "
                    f"{spec.low} <= f_{item.name} <= {spec.high})"
                )
            else:
                env[f"_problem_{item.name}"] = spec.problem
                test = f"_problem_{item.name}(f_{item.name})"
            code += [f"{indent}if {test}:", f"{indent}    _layout.check(record)"]
        # The same checks alone, for `check` (construction-time checks of a record).
        valid = ["def _valid(record):", *reads]
        valid += [
            line.replace("_layout.check(record)", "return False") for line in code[checks_from:]
        ]
        valid.append("    return True")
        for control, conditions in self.controls.items():
            code.append(f"    c_{control} = 0")
            for item in self.items:
                condition = item.condition
                if not isinstance(condition, Bit | AtLeast) or condition.control != control:
                    continue
                if isinstance(condition, Bit):
                    update = f"c_{control} |= {condition.mask}"
                else:
                    update = f"c_{control} = max(c_{control}, {condition.n})"
                code.append(f"    if f_{item.name} is not None: {update}")
            del conditions

        def value_of(item: _Item) -> str:
            if isinstance(item.wire_only, Control):
                return f"c_{item.name}"
            if isinstance(item.wire_only, Const):
                env[f"_const_{item.name}"] = item.spec.to_raw(item.wire_only.value)
                return f"_const_{item.name}"
            if type(item.spec).to_raw is not Spec.to_raw:
                env[f"_raw_{item.name}"] = item.spec.to_raw
                return f"_raw_{item.name}(f_{item.name})"
            return f"f_{item.name}"

        for index, step in enumerate(self.steps):
            if isinstance(step, _Run):
                env[f"_s{index}"] = step.struct
                values = ", ".join(value_of(item) for item in step.items)
                code.append(f"    out += _s{index}.pack({values})")
                continue
            item = step
            env[f"_write_{item.name}"] = item.spec.write
            value = (
                f"c_{item.name}"
                if isinstance(item.wire_only, Control)
                else (f"_layout_const_{item.name}" if isinstance(item.wire_only, Const) else "")
            )
            if isinstance(item.wire_only, Const):
                env[f"_layout_const_{item.name}"] = item.wire_only.value
            if item.wire_only is None:
                value = f"f_{item.name}"
            if item.condition is not None and item.wire_only is None:
                code.append(f"    if {value} is not None: _write_{item.name}({value}, out)")
            else:
                code.append(f"    _write_{item.name}({value}, out)")
        code.append("    return None")
        exec("\n".join(code), env)  # the source is built above from declared names only
        exec("\n".join(valid), env)
        return (
            typing.cast(Callable[[Any, bytearray], None], env["_pack_into"]),
            typing.cast(Callable[[Any], bool], env["_valid"]),
        )


def _label(value: Any) -> str:
    return value.name if isinstance(value, enum.Enum) else f"0x{value:02X}"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _metadata(hint: Any) -> Iterator[Any]:
    yield from getattr(hint, "__metadata__", ())
    for argument in typing.get_args(hint):
        if argument is not type(None):
            yield from _metadata(argument)


def _items_of(record_type: type) -> Iterator[_Item]:
    hints = typing.get_type_hints(record_type, include_extras=True)
    fields = {f.name for f in dataclasses.fields(record_type)}
    seen: set[str] = set()
    for cls in reversed(record_type.__mro__):
        for name in inspect.get_annotations(cls):
            if name in seen:
                continue
            hint = hints.get(name)
            if typing.get_origin(hint) is ClassVar:
                wire_only = getattr(record_type, name, None)
                if isinstance(wire_only, WireOnly):
                    seen.add(name)
                    # `_kind` may sit beside a property `kind`; conditions say "kind".
                    yield _Item(name.lstrip("_"), wire_only.spec, wire_only=wire_only)
                continue
            if name not in fields:
                continue
            seen.add(name)
            meta = list(_metadata(hint))
            specs = [m for m in meta if isinstance(m, Spec)]
            conditions = [m for m in meta if isinstance(m, Condition)]
            if not specs and isinstance(hint, type) and issubclass(hint, Record):
                specs = [Nested(hint)]
            if len(specs) != 1 or len(conditions) > 1:
                raise TypeError(
                    f"{record_type.__name__}.{name}: declare exactly one wire form "
                    f"(Annotated[type, spec]) and at most one condition"
                )
            yield _Item(name, specs[0], conditions[0] if conditions else None)


_LAYOUTS: dict[type, Layout] = {}


def layout_of(record_type: type[Record]) -> Layout:
    """The compiled layout of a record type (built on first use, then cached)."""
    layout = _LAYOUTS.get(record_type)
    if layout is None:
        layout = _LAYOUTS[record_type] = Layout(record_type)
    return layout


class Record:
    """Base of declared records: `pack()`, `unpack()`, `unpack_from()`, `split()`.

    Override `_codec_error` to raise a format's own errors, and `codec_name` to name the
    record in messages (the class name by default).
    """

    __slots__ = ()

    @classmethod
    def codec_name(cls) -> str:
        return cls.__name__

    @classmethod
    def _codec_error(cls, error: DecodeError) -> Exception:
        return error

    def pack(self) -> bytes:
        """The record's bytes; raises `FieldValueError` for a value that cannot go on."""
        out = bytearray()
        layout_of(type(self)).pack_into(self, out)
        return bytes(out)

    @classmethod
    def unpack_from(cls, data: bytes, offset: int = 0) -> tuple[Self, int]:
        """The record at `offset` and the offset after it."""
        try:
            record, end = layout_of(cls).unpack_from(data, offset)
        except DecodeError as error:
            raise cls._codec_error(error) from None
        return typing.cast(Self, record), end

    @classmethod
    def split(cls, data: bytes) -> tuple[Self, bytes]:
        """The record at the start of `data` and the bytes after it."""
        record, end = cls.unpack_from(data)
        return record, data[end:]

    @classmethod
    def unpack(cls, data: bytes) -> Self:
        """The record that is exactly `data`: extra bytes raise `Trailing`."""
        layout = _LAYOUTS.get(cls) or layout_of(cls)
        try:
            record, end = layout.unpack_from(data, 0)
        except DecodeError as error:
            raise cls._codec_error(error) from None
        if end != len(data):
            name = cls.codec_name()
            trailing = Trailing(
                f"{name} has {len(data) - end} unexpected byte(s) after its last field "
                f"(from byte {end}).",
                record=name,
                field="(end)",
                offset=end,
            )
            raise cls._codec_error(trailing) from None
        return typing.cast(Self, record)


def check(record: Record) -> None:
    """Raise `FieldValueError` if any field cannot go on the wire (for `__post_init__`)."""
    layout_of(type(record)).check(record)


def fields_of(record_type: type[Record]) -> Sequence[tuple[str, Spec, Condition | None]]:
    """(name, spec, condition) of each record field in wire order (for tools and tests)."""
    return [
        (i.name, i.spec, i.condition) for i in layout_of(record_type).items if i.wire_only is None
    ]
