"""`bridgelab image`: placeholder registration until the firmware toolkit lands."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("image", help="(arriving with issue 2)")
    del parser
