"""The CLI's progress printer on a real terminal: the bar's line is ended before anything
else is printed, and by `end_bar()` once the session is over."""

from __future__ import annotations

import os
import select
import tty

from bridgelab.cli.update import ProgressPrinter
from bridgelab.data.failures import Stage
from bridgelab.updates import events as ev


def test_the_bar_line_is_ended_once_before_stages_and_at_the_end() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        with open(slave, "w", closefd=False) as out:
            printer = ProgressPrinter(out)
            assert printer.tty
            printer(ev.Progress(0.0, 512, 1024, 100.0, 5.0, None))
            printer(ev.StageStarted(0.0, Stage.VERIFY))
            printer(ev.Progress(0.0, 1024, 1024, 100.0, 0.0, None))
            printer.end_bar()
            printer.end_bar()  # nothing drawn since: nothing written
            out.flush()
        raw = b""
        while select.select([master], [], [], 0)[0]:  # all written already: read it all
            raw += os.read(master, 65536)
        text = raw.decode()
    finally:
        os.close(master)
        os.close(slave)
    first, second = text.split("- verify\n")
    assert first.startswith("\r[") and first.endswith("\n")
    assert second.startswith("\r[") and second.endswith(" \n")
    assert text.count("\n") == 3
