"""The desktop application's responsiveness, start-up time and memory.

    python -m benchmarks gui [--image-kib N] [--starts N] [--sessions N]

* Event-loop stalls: a QTimer fires every 5 ms on the GUI thread and records how late each
  tick is, first with the window idle (connected), then during a local update of a
  signed image of `--image-kib` KiB over `emu://demo?baud=921600&latency_ms=16`, with the
  throughput chart, the progress display and the triage log (raw trace on) all running.
  Goal: p99 lateness under 20 ms, worst under 50 ms.
* Time to first window: `bridgelab gui` in a new process, timed from its launch to the
  main window's first expose event (`BRIDGELAB_GUI_EXIT_AFTER_EXPOSE=1`). Goal: < 1.5 s.
* Memory: the RSS of a new process with the triage view open on a log of `--sessions`
  sessions and 10 events each (1,000,000 events by default; built once and cached by
  bench_store), after the first page and after 10,000 rows are loaded, against an empty log.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridgelab.gui.main_window import MainWindow

RESULT_PREFIX = "bench-gui-child="
TICK_MS = 5
IDLE_S = 2.0
WAIT_MS = 120_000
ROWS_AFTER_SCROLL = 10_000


# -- helpers for the in-process parts --------------------------------------------------------


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _rss_mib() -> float:
    """Current resident memory (Linux /proc), else the peak (other Unixes)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _big_image(folder: Path, kib: int) -> Path:
    """A demo-signed image the Demo bridge accepts (newer than its 1.2.0), `kib` KiB."""
    from bridgelab.emulator.demo_material import DEMO_PRIVATE_KEY, demo_payload
    from bridgelab.emulator.profiles import (
        DEMO_HARDWARE_VERSION,
        DEMO_IMAGE_TYPE,
        DEMO_MANUFACTURER_CODE,
    )
    from bridgelab.firmware.image import build_image
    from bridgelab.firmware.keys import load_private_key
    from bridgelab.firmware.signing import sign_image

    version = 0x01030000
    unsigned = build_image(
        manufacturer_code=DEMO_MANUFACTURER_CODE,
        image_type=DEMO_IMAGE_TYPE,
        file_version=version,
        manufacturer_image=demo_payload(version, kib * 1024),
        header_string="Bridge Lab bench image",
        min_hw_version=DEMO_HARDWARE_VERSION & 0xFF00,
        max_hw_version=DEMO_HARDWARE_VERSION | 0x00FF,
    )
    path = folder / f"bench-{kib}k.ota"
    path.write_bytes(sign_image(unsigned, load_private_key(DEMO_PRIVATE_KEY)))
    return path


class LatenessProbe:
    """A 5 ms precise timer on the GUI thread; records how late each tick arrives."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.samples_ms: list[float] = []
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.samples_ms = []
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> list[float]:
        self._timer.stop()
        return self.samples_ms

    def _tick(self) -> None:
        now = time.perf_counter()
        self.samples_ms.append(max(0.0, (now - self._last) * 1000 - TICK_MS))
        self._last = now


def _wait(signal: Any, predicate: Callable[[], bool] | None = None) -> None:
    """Run the event loop until `signal` fires (and `predicate()` holds), or time out."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)

    def check(*_: object) -> None:
        if predicate is None or predicate():
            loop.quit()

    signal.connect(check)
    timer.start(WAIT_MS)
    if predicate is None or not predicate():
        loop.exec()
    signal.disconnect(check)
    if not timer.isActive():
        raise TimeoutError(f"no {signal} within {WAIT_MS} ms")


def _window(folder: Path, port: str | None, db: Path) -> MainWindow:
    from bridgelab.gui.main_window import MainWindow, WindowOptions
    from bridgelab.gui.settings import Settings
    from bridgelab.updates.policy import UpdatePolicy

    options = WindowOptions(port=port, db=db, policy=UpdatePolicy(healthy_s=0.3), watch_ports=False)
    window = MainWindow(Settings.at(folder / "settings.ini"), options)
    window.resize(1366, 768)
    window.show()
    window.start()
    return window


# -- the three measurements -------------------------------------------------------------


def stall_figures(kib: int) -> list[tuple[str, str, str]]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    _app = QApplication.instance() or QApplication([])
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-gui-") as scratch:
        folder = Path(scratch)
        image = _big_image(folder, kib)
        url = f"emu://demo?baud=921600&latency_ms=16&id=bench-gui-{os.getpid()}"
        window = _window(folder, url, folder / "triage.db")
        _wait(window.session.snapshotChanged)
        _wait(window.store.opened, lambda: window.store.settled)
        window.show_view("update")
        updates = window.updates
        updates.set_image(image)
        _wait(updates.assessed)
        probe = LatenessProbe()
        probe.start()
        idle_loop = QEventLoop()
        QTimer.singleShot(int(IDLE_S * 1000), idle_loop.quit)
        idle_loop.exec()
        idle = probe.stop()
        probe.start()
        started = time.perf_counter()
        updates.start("local")
        _wait(updates.finished)
        busy = probe.stop()
        elapsed = time.perf_counter() - started
        result = updates.last_result
        window.close()
        window.shutdown()
    assert result is not None
    for label, samples in (("idle, connected", idle), ("921600-baud update", busy)):
        rows.append(
            (
                f"tick lateness, {label} (p50 / p99 / max)",
                f"{_percentile(samples, 0.5):.1f} / {_percentile(samples, 0.99):.1f} / "
                f"{max(samples):.1f} ms",
                "p99 < 20, max < 50 ms" if "update" in label else f"{len(samples)} ticks",
            )
        )
    efficiency = f"{100 * result.line_efficiency:.0f} %" if result.line_efficiency else "-"
    rows.append(
        (
            f"update of {kib} KiB at 921600 baud (result, s, line efficiency)",
            f"{result.result}, {elapsed:.1f} s, {efficiency}",
            f"{len(busy)} ticks",
        )
    )
    return rows


def startup_figures(starts: int) -> list[tuple[str, str, str]]:
    exposed: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-gui-") as scratch:
        folder = Path(scratch)
        for _ in range(starts):
            env = dict(os.environ)
            env.update(
                QT_QPA_PLATFORM="offscreen",
                BRIDGELAB_GUI_EXIT_AFTER_EXPOSE="1",
                BRIDGELAB_SETTINGS=str(folder / "settings.ini"),
                BRIDGELAB_DB=str(folder / "triage.db"),
                BRIDGELAB_LAUNCHED_AT=repr(time.time()),
            )
            done = subprocess.run(
                [sys.executable, "-m", "bridgelab", "gui"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            for line in done.stdout.splitlines():
                if line.startswith("first-window-exposed-s="):
                    exposed.append(float(line.split("=", 1)[1]))
    if not exposed:
        return [("time to first window", "FAILED (no expose reported)", "< 1.5 s")]
    return [
        (
            f"time to first window, {len(exposed)} launches (median / max)",
            f"{statistics.median(exposed):.2f} / {max(exposed):.2f} s",
            "< 1.5 s",
        )
    ]


def memory_child(db: Path, rows: int) -> dict[str, float]:
    """In a fresh process: the triage view on `db`; RSS at its stages, page fetch times."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    before = _rss_mib()
    with tempfile.TemporaryDirectory(prefix="bench-gui-") as scratch:
        started = time.perf_counter()
        window = _window(Path(scratch), "emu://demo?id=bench-memory", db)
        window.show_view("triage")
        model = window.triage_view.model
        _wait(model.pageLoaded, lambda: model.rowCount() > 0 or model.total == 0)
        first_page_s = time.perf_counter() - started
        app.processEvents()
        first = _rss_mib()
        pages: list[float] = []
        while model.rowCount() < rows and model.canFetchMore():
            asked = time.perf_counter()
            model.fetchMore()
            _wait(model.pageLoaded)
            pages.append((time.perf_counter() - asked) * 1000)
        after = _rss_mib()
        loaded = model.rowCount()
        window.close()
        window.shutdown()
    return {
        "qt_loaded_mib": before,
        "first_page_mib": first,
        "first_page_s": first_page_s,
        "rows": loaded,
        "after_rows_mib": after,
        "page_p50_ms": _percentile(pages, 0.5) if pages else 0.0,
        "page_max_ms": max(pages) if pages else 0.0,
    }


def _run_memory_child(db: Path, rows: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_gui", "--child-memory", str(db), str(rows)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            figures: dict[str, float] = json.loads(line[len(RESULT_PREFIX) :])
            return figures
    raise RuntimeError(f"memory child failed: {done.stderr[-2000:]}")


def memory_figures(sessions: int) -> list[tuple[str, str, str]]:
    from benchmarks.bench_store import EVENTS_PER_SESSION, _dataset
    from bridgelab.data.store import TriageStore

    big, _ = _dataset(sessions, rebuild=False)
    with tempfile.TemporaryDirectory(prefix="bench-gui-") as scratch:
        empty = Path(scratch) / "empty.db"
        TriageStore.open(empty).close()
        base = _run_memory_child(empty, ROWS_AFTER_SCROLL)
    full = _run_memory_child(big, ROWS_AFTER_SCROLL)
    events = sessions * EVENTS_PER_SESSION
    return [
        ("RSS, window open on an empty log", f"{base['first_page_mib']:.0f} MiB", ""),
        (
            f"RSS, triage view on {sessions:,} sessions / {events:,} events, first page",
            f"{full['first_page_mib']:.0f} MiB "
            f"(+{full['first_page_mib'] - base['first_page_mib']:.0f})",
            f"first page after {full['first_page_s']:.2f} s",
        ),
        (
            f"RSS after scrolling to {int(full['rows']):,} rows",
            f"{full['after_rows_mib']:.0f} MiB",
            f"page of 200: p50 {full['page_p50_ms']:.0f} ms, max {full['page_max_ms']:.0f} ms",
        ),
    ]


def _print(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(name) for name, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>{value_width}}  {note}".rstrip(), flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks gui", description=__doc__)
    parser.add_argument("--image-kib", type=int, default=512)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--child-memory", nargs=2, metavar=("DB", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_memory:
        figures = memory_child(Path(args.child_memory[0]), int(args.child_memory[1]))
        print(RESULT_PREFIX + json.dumps(figures), flush=True)
        return 0
    _print(stall_figures(args.image_kib))
    _print(startup_figures(args.starts))
    _print(memory_figures(args.sessions))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
