"""Start-up: the Qt application, the crash handler, the main window, screenshot mode.

`run(AppOptions)` is what `bridgelab` (no command) and `bridgelab gui` call. It checks
that Qt can open a window here before Qt would abort (no display, missing system
libraries), installs the crash handler (a dialog and a crash file, never a terminal
traceback), opens the window and connects (the Demo bridge when no hardware is found).

Measurement hooks for `benchmarks/bench_gui.py`, by environment variable:
- `BRIDGELAB_GUI_EXIT_AFTER_EXPOSE=1`: print `first-window-exposed-s=S` when the window
  is first on screen, then quit. S counts from `BRIDGELAB_LAUNCHED_AT` (a `time.time()`
  set by the launcher) or else from this process's start.
- `BRIDGELAB_GUI_STATS=1`: at exit, print one JSON line with `first_expose_s` and
  `peak_rss_mib`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bridgelab.errors import UsageError

EXIT_AFTER_EXPOSE_ENV = "BRIDGELAB_GUI_EXIT_AFTER_EXPOSE"
STATS_ENV = "BRIDGELAB_GUI_STATS"
LAUNCHED_AT_ENV = "BRIDGELAB_LAUNCHED_AT"
DEFAULT_SCREENSHOT_SIZE = (1366, 768)
_IMPORTED_AT = time.time()


@dataclass(frozen=True)
class AppOptions:
    port: str | None = None
    db: Path | None = None
    screenshot: Path | None = None
    view: str | None = None  # device, update, triage or bench
    image: Path | None = None  # screenshot of the update view: check this image
    start: bool = False  # screenshot: run the update or campaign to its end first
    mode: str = "local"
    plan: str | None = None  # screenshot of the bench view: plan file or "demo"
    size: tuple[int, int] = DEFAULT_SCREENSHOT_SIZE
    theme: str = "system"  # system, light or dark (gui.theme.THEMES)


def process_started_at() -> float:
    """When this process started (epoch seconds): the launcher's stamp, /proc, or import."""
    stamp = os.environ.get(LAUNCHED_AT_ENV, "")
    if stamp:
        try:
            return float(stamp)
        except ValueError:
            pass
    try:  # Linux: field 22 of /proc/self/stat is the start time in clock ticks since boot
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime_s = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - uptime_s + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return _IMPORTED_AT


def peak_rss_mib() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def check_can_open_window() -> None:
    """Raise a BridgeLabError instead of letting Qt abort the process: a missing system
    library (with the package to install) or no display (`bridgelab.qtcheck`)."""
    from bridgelab.qtcheck import check_qt_system_libraries

    check_qt_system_libraries()


def run(options: AppOptions) -> int:
    """Open the application and run it until the window closes; returns the exit code."""
    if options.view not in (None, "device", "update", "triage", "bench"):
        raise UsageError(
            f"Unknown view {options.view!r}.", action="Use device, update, triage or bench."
        )
    headless = options.screenshot is not None or os.environ.get(EXIT_AFTER_EXPOSE_ENV) == "1"
    if headless and sys.platform.startswith("linux"):
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    check_can_open_window()
    return _run_qt(options)


def _run_qt(options: AppOptions) -> int:
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from bridgelab.gui.crash import CrashHandler
    from bridgelab.gui.main_window import MainWindow, WindowOptions
    from bridgelab.gui.screenshot import ScreenshotDirector, ScreenshotPlan
    from bridgelab.gui.settings import APPLICATION, ORGANISATION, Settings

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Bridge Lab")
    app.setDesktopFileName("bridgelab")
    if options.theme != "system":
        from bridgelab.gui.theme import theme_palette

        style = app.setStyle("Fusion")  # the same look everywhere, in either scheme
        palette = theme_palette(options.theme, style.standardPalette() if style else app.palette())
        if palette is not None:
            app.setPalette(palette)
    started_at = process_started_at()
    exposed: list[float] = []

    scratch = tempfile.TemporaryDirectory(prefix="bridgelab-gui-") if options.screenshot else None
    settings = Settings.at(Path(scratch.name) / "settings.ini") if scratch else Settings.user()

    def tell(summary: str, path: Path) -> None:
        QMessageBox.critical(
            None,
            "Bridge Lab: internal error",
            f"Bridge Lab hit a bug and carried on: {summary}\n\nThe details are in\n{path}\n"
            "Please attach that file to a bug report.",
        )

    crash = CrashHandler(tell)
    crash.install()
    window_options = WindowOptions(
        port=options.port, db=options.db, watch_ports=options.screenshot is None
    )
    window = MainWindow(settings, window_options)

    class ExposeWatch(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Expose and not exposed:
                handle = window.windowHandle()
                if handle is not None and handle.isExposed():
                    exposed.append(time.time() - started_at)
                    if os.environ.get(EXIT_AFTER_EXPOSE_ENV) == "1":
                        print(f"first-window-exposed-s={exposed[0]:.3f}", flush=True)
                        QTimer.singleShot(0, app.quit)
            return False

    watch = ExposeWatch()
    window.winId()  # create the native window now, so the first expose is seen
    handle = window.windowHandle()
    if handle is not None:
        handle.installEventFilter(watch)
    if options.screenshot is not None:
        window.resize(*options.size)
        plan = ScreenshotPlan(
            output=options.screenshot,
            view=options.view or "device",
            image=options.image,
            start=options.start,
            mode=options.mode,
            plan=options.plan,
        )
        ScreenshotDirector(window, plan).start()
    elif options.view:
        window.show_view(options.view)
    else:
        window.show_view(settings.last_view if settings.last_view else "device")
    window.show()
    window.start()
    try:
        code = app.exec()
    finally:
        window.shutdown()
        crash.uninstall()
        if scratch is not None:
            scratch.cleanup()
    if os.environ.get(STATS_ENV) == "1":
        stats = {"first_expose_s": exposed[0] if exposed else None, "peak_rss_mib": peak_rss_mib()}
        print(json.dumps(stats), flush=True)
    return code


__all__ = ["AppOptions", "run"]
