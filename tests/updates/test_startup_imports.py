"""What a local `bridgelab update` imports on its way to the transfer (issue 16, item 2).

Start-up is part of every command's time: the other commands' modules and the simulated
OTA (the ZCL OTA cluster) stay out of a local update. A real update, in its own process,
over a real pty to an emulated bridge; at its exit it lists every module it loaded.
Not timed: it checks which modules load, so a regression cannot slip in silently.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridgelab.cli import COMMAND_MODULES, COMMANDS, build_parser
from tests.bridges import emulator_url
from tests.updates.conftest import signed_demo_image

# Loaded by other commands or by an OTA session only.
NOT_ON_A_LOCAL_UPDATE = (
    "bridgelab.updates.ota_server",
    "bridgelab.zigbee.zcl_ota",
    "bridgelab.cli.image",
    "bridgelab.cli.keys",
    "bridgelab.cli.log",
    "bridgelab.cli.log_format",
    "bridgelab.cli.devices",
    "bridgelab.cli.recover",
    "bridgelab.gui",
    "PySide6",
)
# What the same update must load (the check below would pass on a command that never ran).
ON_A_LOCAL_UPDATE = (
    "bridgelab.updates.engine",
    "bridgelab.updates.selective_repeat",
    "bridgelab.firmware.verify",
    "bridgelab.data.store",
)


# `bridgelab ARGS` as its console script runs it, writing the modules it loaded at exit.
RUN_AND_LIST = """
import atexit, os, sys
out = os.environ["MODULES_OUT"]
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
sys.argv[0] = "bridgelab"
from bridgelab.cli import main
raise SystemExit(main())
"""


def _run(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    listing = cwd / "modules.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGELAB_")}
    env["MODULES_OUT"] = str(listing)
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )
    return done, set(listing.read_text().split())


def test_a_local_update_loads_neither_other_commands_nor_the_ota_cluster(tmp_path: Path) -> None:
    image = tmp_path / "image.ota"
    image.write_bytes(signed_demo_image(8 * 1024))
    with emulator_url("pty") as port:
        done, loaded = _run(
            [
                "update",
                "--port",
                port,
                "--healthy-s",
                "0",
                "--db",
                str(tmp_path / "triage.db"),
                "--json",
                str(image),
            ],
            tmp_path,
        )
    assert done.returncode == 0, done.stdout[-800:] + done.stderr[-800:]
    assert '"ok": true' in done.stdout
    assert set(ON_A_LOCAL_UPDATE) <= loaded
    leaked = sorted(name for name in loaded if name.startswith(NOT_ON_A_LOCAL_UPDATE))
    assert leaked == []


def test_update_help_loads_only_its_own_command(tmp_path: Path) -> None:
    done, loaded = _run(["update", "--help"], tmp_path)
    assert done.returncode == 0 and "--port" in done.stdout
    assert "bridgelab.cli.update" in loaded
    assert not loaded & {f"bridgelab.cli.{name}" for name in COMMAND_MODULES if name != "update"}


def test_the_command_table_is_what_the_modules_register() -> None:
    registered: dict[str, str] = {}
    for name in COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"bridgelab.cli.{name}").register(sub)
        registered |= {command: name for command in sub.choices}
    assert registered == COMMANDS


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_parses_alone_as_in_the_whole_parser(command: str) -> None:
    """`bridgelab COMMAND --help` from the parser built for that command alone is the
    whole parser's, so the shortcut changes no command's options."""
    alone, whole = build_parser([command]), build_parser()

    def helps(parser: argparse.ArgumentParser) -> str:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action.choices[command].format_help()
        raise AssertionError("no sub-commands")

    assert helps(alone) == helps(whole)
