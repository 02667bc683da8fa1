"""The CLI's shared contract: version, number parsing, error output and exit codes."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from bridgelab import __version__
from bridgelab.cli import main
from bridgelab.cli.output import parse_int, run_handler
from bridgelab.errors import BridgeLabError


def test_version_from_console_script() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bridgelab", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.strip() == f"bridgelab {__version__}"


@pytest.mark.parametrize(
    ("text", "value"), [("4444", 4444), ("0x115C", 0x115C), ("0XFFFF", 0xFFFF), ("1_000", 1000)]
)
def test_numbers_accept_decimal_and_hex(text: str, value: int) -> None:
    assert parse_int(text) == value


@pytest.mark.parametrize("text", ["", "0x", "12ab", "0xZZ", "-"])
def test_bad_numbers_say_what_is_accepted(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"decimal .* or hex"):
        parse_int(text)


def test_library_error_becomes_json_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    def handler(_: argparse.Namespace) -> int:
        raise BridgeLabError("The file is short.", code="truncated-header", action="Fetch again.")

    code = run_handler(handler, argparse.Namespace(json=True))
    assert code == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["error"]["code"] == "truncated-header"
    # What happened and what to do, each said once.
    assert payload["error"]["message"] == "The file is short."
    assert payload["error"]["action"] == "Fetch again."


def test_unexpected_exception_gives_one_line_and_a_crash_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def handler(_: argparse.Namespace) -> int:
        raise ZeroDivisionError("boom")

    code = run_handler(handler, argparse.Namespace(json=False))
    err = capsys.readouterr().err
    assert code == 3
    assert "Traceback" not in err
    assert "internal-error" in err and "bridgelab-crash-" in err


def test_usage_error_exit_code() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
