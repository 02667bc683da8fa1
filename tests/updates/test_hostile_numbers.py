"""Every duration, count and identifier option of every command refuses inf, nan,
negatives and out-of-range values before anything runs (`--healthy-s inf` used to hang)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from bridgelab.cli import build_parser, main
from bridgelab.cli.output import parse_int
from bridgelab.emulator.faults import FaultSpecError, parse_faults

BAD_VALUES = ("inf", "-inf", "nan", "NaN", "-1", "1e999", "", "abc", "0x", "-0x10", "--")

# (argv before the value, option, argv after the value)
OPTIONS: list[tuple[list[str], str, list[str]]] = [
    (["update", "--port", "emu://demo", "x.ota"], "--healthy-s", []),
    (["update", "--port", "emu://demo", "x.ota"], "--baud", []),
    (["info", "--port", "emu://demo"], "--baud", []),
    (["recover", "--port", "emu://dead-app", "x.gbl"], "--baud", []),
    (["emulate"], "--baud", []),
    (["emulate"], "--adapter-latency-ms", []),
    (["emulate"], "--seed", []),
    (["image", "inspect", "x.ota"], "--max-size", []),
    (["keys", "generate", "--out", "k"], "--manufacturer", []),
    (["log", "list"], "--limit", []),
]
BUILD = ["image", "build", "--payload", "p", "-o", "o"]
for option in (
    "--manufacturer",
    "--image-type",
    "--file-version",
    "--hw-min",
    "--hw-max",
    "--stack-version",
    "--security-credential-version",
):
    required = {"--manufacturer": "1", "--image-type": "1", "--file-version": "1"}
    rest = [arg for name, value in required.items() if name != option for arg in (name, value)]
    OPTIONS.append((BUILD + rest, option, []))


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize(("before", "option", "after"), OPTIONS, ids=lambda x: str(x))
def test_a_bad_number_is_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str], before: list[str], option: str, after: list[str], value: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*before, f"{option}={value}", *after])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert option in err and ("give" in err or "expected one" in err), err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["image", "build", "--manufacturer", "0x10000"], "0 to 65535"),
        (["image", "build", "--file-version", "0x100000000"], "0 to 4294967295"),
        (["update", "--port", "u", "x", "--healthy-s", "3601"], "0 to 3600"),
        (["update", "--port", "u", "x", "--baud", "0"], "1 to"),
    ],
)
def test_out_of_range_says_the_range(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    with pytest.raises(SystemExit):
        main(argv)
    assert words in capsys.readouterr().err


def _actions(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for where, inner in _actions(sub):
                    yield f"{name} {where}", inner
        else:
            yield "", action


def test_no_option_takes_a_raw_number() -> None:
    """The rule is structural: a new option with `type=float` fails here, not in the field."""
    raw = [
        f"{where}{'/'.join(action.option_strings)}"
        for where, action in _actions(build_parser())
        if action.type in (float, int, parse_int)
    ]
    assert raw == []


@pytest.mark.parametrize("fault", ["leave-han-at", "tcso", "replug-s"])
@pytest.mark.parametrize("value", ["inf", "nan", "-1", "-inf"])
def test_fault_durations_are_finite(fault: str, value: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_faults(f"{fault}={value}")


def test_good_numbers_still_pass(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["update", "--port", "u", "x", "--healthy-s", "0.5", "--baud", "0x1C200"]
    )
    assert (args.healthy_s, args.baud) == (0.5, 115200)
