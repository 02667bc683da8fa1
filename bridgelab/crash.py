"""The one crash-report writer: a bug ends in a file to attach to the report, and a
coded error that names it, never in a raw traceback on a terminal nobody reads.

The CLI's last-resort boundary, the update engine (whose sessions never raise) and the
GUI's exception hooks all write through `write_crash_report`.
"""

from __future__ import annotations

import platform
import tempfile
import time
import traceback
from pathlib import Path

from bridgelab import __version__
from bridgelab.errors import BridgeLabError


def crash_folder() -> Path:
    return Path(tempfile.gettempdir()) / "bridgelab-crashes"


def write_crash_report(
    error: BaseException, *, where: str = "", folder: Path | None = None
) -> Path:
    """Write the traceback of `error` and the versions to a new file; returns its path."""
    target = folder if folder is not None else crash_folder()
    target.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with tempfile.NamedTemporaryFile(
        "w",
        dir=target,
        prefix=f"bridgelab-crash-{stamp}-",
        suffix=".txt",
        delete=False,
        encoding="utf-8",
    ) as out:
        out.write(f"Bridge Lab {__version__}, Python {platform.python_version()}, ")
        out.write(f"{platform.platform()}\n")
        if where:
            out.write(f"Where: {where}\n")
        out.write("\n")
        out.write("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    return Path(out.name)


def internal_error(
    error: BaseException, *, where: str = "", folder: Path | None = None
) -> BridgeLabError:
    """A bug as an error people can act on: what broke, and the crash file to attach."""
    path = write_crash_report(error, where=where, folder=folder)
    return BridgeLabError(
        f"Internal error ({type(error).__name__}: {error}).",
        code="internal-error",
        action=f"This is a Bridge Lab bug: attach {path} to the report.",
        details={"crash_file": str(path)},
    )
