"""The JSON text columns (`details`, `identity`, `data`): checked on the way in, tolerated
on the way out.

Merging checks each JSON column strictly (`checked_object`): a JSON object, of bounded
size and nesting, with finite numbers only. Reading is tolerant (`readable_object`): a
log merged by an older Bridge Lab may already hold text that is not JSON, and one bad
cell must not stop `log list`, `show`, `export` or `bundle`: it reads as `{}` with a
problem the caller reports.
"""

from __future__ import annotations

import json
import math
from typing import Any


class JsonProblem(ValueError):
    """Why a JSON column's text was refused."""


def _no_constants(name: str) -> Any:
    raise JsonProblem(f"holds {name}, which is not JSON")


def _depth_and_numbers(value: Any, max_depth: int) -> None:
    # Iterative: a hostile document must not exhaust the Python stack here either.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                raise JsonProblem(f"is nested deeper than {max_depth} levels")
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            if depth > max_depth:
                raise JsonProblem(f"is nested deeper than {max_depth} levels")
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise JsonProblem("holds a number out of range")


def checked_object(text: str, *, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """`text` parsed as a JSON object within the limits; raises `JsonProblem`."""
    if len(text) > max_bytes:
        raise JsonProblem(f"is {len(text):,} characters of JSON (limit {max_bytes:,})")
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except JsonProblem:
        raise
    except RecursionError:
        raise JsonProblem(f"is nested deeper than {max_depth} levels") from None
    except ValueError as error:  # JSONDecodeError, and integers too long to convert
        raise JsonProblem(f"is not JSON ({str(error)[:80]})") from None
    if not isinstance(value, dict):
        raise JsonProblem(f"is JSON {type(value).__name__}, not an object")
    _depth_and_numbers(value, max_depth)
    return value


def readable_object(text: object) -> tuple[dict[str, Any], str | None]:
    """A stored JSON column for display: (the object, None) or ({}, what is wrong)."""
    if text is None or text == "":
        return {}, None
    if not isinstance(text, str):
        return {}, f"holds {type(text).__name__}, not JSON text"
    try:
        value = json.loads(text)
    except RecursionError:
        return {}, "is nested too deeply to read"
    except ValueError:
        return {}, "is not JSON"
    if not isinstance(value, dict):
        return {}, f"is JSON {type(value).__name__}, not an object"
    return value, None
