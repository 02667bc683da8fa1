"""The `bridgelab` command: thin clients of the library, scriptable, with JSON output.

Each sub-command lives in its own module under `bridgelab.cli` with a `register(sub)`
function; the library behind it is imported only when that command runs, so that
`bridgelab --version` and the CLI commands never pay for Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bridgelab import __version__
from bridgelab.cli.output import run_handler

# Module names under bridgelab.cli, in the order `--help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "devices",
    "update",
    "recover",
    "image",
    "keys",
    "install_code",
    "log",
    "gui",
)


# The sub-commands each module registers: `bridgelab update ...` imports only the module
# it runs (start-up time is part of every command). `tests/updates/test_startup_imports.py`
# holds this table to what the modules register.
COMMANDS: dict[str, str] = {
    "ports": "devices",
    "info": "devices",
    "emulate": "devices",
    "update": "update",
    "campaign": "update",
    "recover": "recover",
    "image": "image",
    "keys": "keys",
    "install-code": "install_code",
    "log": "log",
    "gui": "gui",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `argv` naming a sub-command, only that command's module is
    imported and registered (its help and errors are the same)."""
    first = next(iter(argv), "") if argv is not None else ""
    only = COMMANDS.get(first)
    parser = argparse.ArgumentParser(
        prog="bridgelab",
        description="Identify, diagnose, update and triage Alt HAN point-to-point bridges.",
    )
    parser.add_argument("--version", action="version", version=f"bridgelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"bridgelab.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments)
    args = parser.parse_args(arguments)
    _refuse_swallowed_values(parser, args)
    handler = getattr(args, "handler", None)
    if handler is None:
        # No command: the desktop application, as `make run` and the desktop launcher expect.
        args = parser.parse_args(["gui"])
        handler = args.handler
    return run_handler(handler, args)


def _refuse_swallowed_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """argparse turns `--healthy-s=--` into an empty list without calling the option's type;
    an option that takes one value must never reach a command as a list."""
    pending = [parser]
    while pending:
        current = pending.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
            elif (
                action.nargs is None
                and action.type is not None
                and action.option_strings
                and isinstance(getattr(args, action.dest, None), list)
            ):
                parser.error(f"argument {'/'.join(action.option_strings)}: expected one value")


if __name__ == "__main__":
    sys.exit(main())
