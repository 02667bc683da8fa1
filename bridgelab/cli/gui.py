"""`bridgelab gui` (and `bridgelab` with no command): the desktop application.

`--screenshot OUT.png` renders one view once it has its data and exits (offscreen when
there is no display): the docs' pictures and the GUI's smoke tests use it. Qt is imported
only inside the handler, so the rest of the CLI never pays for it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bridgelab.errors import UsageError

VIEWS = ("device", "update", "triage", "bench")


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT (e.g. 1366x768)")
    return int(width), int(height)


def register(sub: Any) -> None:
    gui = sub.add_parser(
        "gui",
        help="open the desktop application (what `bridgelab` alone does)",
        description="Open Bridge Lab's window. With no hardware it connects to the Demo "
        "bridge. --screenshot renders one view once it has its data, saves it and exits.",
    )
    gui.add_argument("--port", metavar="URL", help="connect to this port or URL (emu://demo)")
    gui.add_argument(
        "--db", metavar="FILE", help="triage log (default: $BRIDGELAB_DB or the user data folder)"
    )
    gui.add_argument("--view", choices=VIEWS, help="the view to open")
    gui.add_argument(
        "--theme",
        choices=("system", "light", "dark"),
        default="system",
        help="colours: the desktop's (default), or light or dark whatever the desktop says",
    )
    shot = gui.add_argument_group("screenshots")
    shot.add_argument("--screenshot", metavar="OUT.png", help="save the chosen view and exit")
    shot.add_argument("--image", metavar="FILE", help="update view: check this image first")
    shot.add_argument(
        "--start", action="store_true", help="update or bench view: run it to the end first"
    )
    shot.add_argument(
        "--mode", choices=("local", "ota"), default="local", help="update view: local or ota"
    )
    shot.add_argument("--plan", metavar="PLAN", help="bench view: a campaign plan (TOML) or 'demo'")
    shot.add_argument(
        "--size", type=_size, default=(1366, 768), metavar="WxH", help="window size (1366x768)"
    )
    gui.set_defaults(handler=cmd_gui)


def cmd_gui(args: argparse.Namespace) -> int:
    from bridgelab.gui.app import AppOptions, run

    screenshot_only = (args.image, args.start, args.plan)
    if args.screenshot is None and any(screenshot_only):
        raise UsageError(
            "--image, --start and --plan go with --screenshot.",
            code="usage",
            action="Add --screenshot OUT.png, or open the image from the app's File menu.",
        )
    return run(
        AppOptions(
            port=args.port,
            db=Path(args.db) if args.db else None,
            screenshot=Path(args.screenshot) if args.screenshot else None,
            view=args.view,
            image=Path(args.image) if args.image else None,
            start=args.start,
            mode=args.mode,
            plan=args.plan,
            size=args.size,
            theme=args.theme,
        )
    )
