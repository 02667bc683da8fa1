"""Shared plumbing for CLI commands: number parsing, JSON or human output, error exits."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from bridgelab.crash import internal_error
from bridgelab.errors import BridgeLabError
from bridgelab.text_safety import terminal_safe

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]


def parse_int(text: str) -> int:
    """Accept decimal or 0x-prefixed hexadecimal, as the CLI contract promises."""
    cleaned = text.strip().replace("_", "")
    try:
        return int(cleaned, 16) if cleaned.lower().startswith("0x") else int(cleaned, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number: give decimal (4444) or hex (0x115C)"
        ) from None


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def report_error(error: BridgeLabError, json_mode: bool, command: str | None = None) -> None:
    """The error on stderr, or with `--json` as the command's document (its schema's keys,
    null, and the error): a script reads the same keys whether the command failed or not."""
    if json_mode:
        from bridgelab.cli.schemas import SCHEMAS, error_object, failure_document

        if command in SCHEMAS:
            print_json(failure_document(command, error))
        else:
            print_json({"error": error_object(error)})
    else:
        # Messages quote paths, ids and device answers: nothing in them may drive the terminal.
        print(f"error [{error.code}]: {terminal_safe(str(error))}", file=sys.stderr)


def run_handler(handler: Handler, args: argparse.Namespace) -> int:
    """Run one command: library errors become a clear message and a non-zero exit.

    An unexpected exception is a bug: the user gets one line and the path of a file with
    the traceback to attach to a report, never a raw traceback on the terminal.
    """
    json_mode = bool(getattr(args, "json", False))
    command = getattr(args, "json_command", None)  # names its schema (bridgelab.cli.schemas)
    try:
        return handler(args)
    except BridgeLabError as error:
        report_error(error, json_mode, command)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`bridgelab log list | head`): not an error of ours.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - closes at exit
        return EXIT_OK
    except Exception as exc:  # last-resort boundary of the CLI
        where = f"bridgelab {getattr(args, 'command', '') or ''}".strip()
        report_error(internal_error(exc, where=where), json_mode, command)
        return EXIT_INTERNAL


def format_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], *, right: Iterable[int] = ()
) -> str:
    """Rows as aligned columns under their headers; None shows as "-".

    Columns whose index is in `right` are right-aligned (numbers). Trailing spaces are
    trimmed so the output diffs cleanly. Every cell goes through `terminal_safe`: tables
    show stored and device-reported text, which must not drive the terminal.
    """
    aligned_right = set(right)
    table = [list(headers)] + [
        ["-" if cell is None else terminal_safe(cell) for cell in row] for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    lines = []
    for line in table:
        cells = [
            cell.rjust(widths[i]) if i in aligned_right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
