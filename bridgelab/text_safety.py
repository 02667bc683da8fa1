"""Stored text shown to people: terminal escapes and spreadsheet formulas made harmless.

Anything in a triage log may come from a merged field laptop, a device's answer or a
plan file, so none of it is trusted to be plain text:

* `terminal_safe` is what every human (non-JSON) renderer of the CLI passes stored text
  through: C0 and C1 control characters (ESC, BEL, CR, backspace, the CSI and OSC 8
  introducers U+009B/U+009D, ...), DEL, bidirectional overrides and isolates, and the other
  invisible format characters are written as visible escapes (`\\x1b`, `\\u202e`), so a
  field can neither move the cursor, retitle the window, plant a hyperlink, nor reorder
  what the engineer reads.
* `csv_safe` is the usual spreadsheet-injection rule for every CSV cell: a text cell that
  starts with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, so a
  spreadsheet shows it as text instead of running it as a formula. Numbers stay numbers.

JSON output stays raw: it is for programs, which see exactly what was stored.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# Line and paragraph separators break a table row as a newline would.
_LINE_BREAKERS = frozenset({"\u2028", "\u2029", "\x85"})
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _needs_escape(char: str) -> bool:
    if char in _LINE_BREAKERS:
        return True
    category = unicodedata.category(char)
    # Cc: C0, DEL, C1. Cf: bidi controls, zero-width and other invisible format marks.
    # Cs: lone surrogates (from undecodable bytes) cannot be printed at all.
    return category in ("Cc", "Cf", "Cs")


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


# A fast path: printable ASCII (most of every log) never needs looking at twice.
_PLAIN = re.compile(r"[\x20-\x7e]*")


def terminal_safe(value: object) -> str:
    """`value` as text that a terminal prints literally, one line, nothing hidden."""
    text = value if isinstance(value, str) else str(value)
    if _PLAIN.fullmatch(text):
        return text
    return "".join(_escape(c) if _needs_escape(c) else c for c in text)


def csv_safe(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula (non-text values as they are)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
