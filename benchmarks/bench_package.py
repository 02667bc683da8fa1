"""The Linux packages: size and start-up of what `make package` last built in dist/.

Goals (packaging issue): the bundle under 150 MB unpacked; start-up measured as time to
`--version` (against the dev install's `python -m bridgelab --version`, side by side) and
time to first window from the bundle (`gui --screenshot`: process start until the first
window has been painted, grabbed and saved, then exit), offscreen and, where Xvfb is
installed, on a real X server through the xcb plugin. Reads dist/; never builds.

    make package && python -m benchmarks package
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIZE_GOAL_MB = 150.0
VERSION_RUNS = 10
INFO_RUNS = 5
WINDOW_RUNS = 5
MB = 1_000_000


def _smoke() -> ModuleType:
    """packaging/smoke_test.py, which owns finding and timing the artefacts."""
    spec = importlib.util.spec_from_file_location(
        "bridgelab_smoke_test", ROOT / "packaging" / "smoke_test.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def _start_xvfb() -> tuple[subprocess.Popen[bytes], str] | None:
    """A private Xvfb on a free display number, or None when Xvfb is not installed."""
    if shutil.which("Xvfb") is None:
        return None
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as announced:
        number = announced.readline().strip()  # Xvfb writes it once it accepts clients
    if not number:
        server.kill()
        server.wait()
        return None
    return server, f":{number}"


def _first_window(
    smoke: Any, binary: Path, env: dict[str, str], runs: int
) -> tuple[float | None, str]:
    with tempfile.TemporaryDirectory(prefix="bench-package-") as tmp:
        shot = Path(tmp) / "first-window.png"
        try:
            seconds = smoke.median_time([binary, "gui", "--screenshot", shot], runs, env=env)
        except smoke.StepFailed as error:
            return None, f"failed: {error}"
        return seconds, f"median of {runs}"


def _x11_first_window(smoke: Any, binary: Path) -> tuple[float | None, str]:
    sys.path.insert(0, str(ROOT))
    try:
        from bridgelab.qtcheck import find_missing_qt_libraries
    finally:
        sys.path.remove(str(ROOT))
    missing = find_missing_qt_libraries({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"})
    if missing:
        packages = " ".join(lib.debian_package for lib in missing)
        return None, f"pending: install {packages}"
    started = _start_xvfb()
    if started is None:
        return None, "pending: Xvfb not installed (apt install xvfb)"
    server, display = started
    try:
        env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        seconds, note = _first_window(smoke, binary, env, WINDOW_RUNS)
        return seconds, f"{note}, Xvfb {display}"
    finally:
        smoke.stop_process(server, signal.SIGTERM)


def _row(name: str, value: str, versus: str = "", ratio: str = "") -> None:
    print(f"{name:<34} {value:>11}  {versus:<36} {ratio}")


def main(argv: list[str]) -> int:
    smoke = _smoke()
    dist = Path(argv[0]) if argv else ROOT / "dist"
    try:
        found = smoke.find_artifacts(dist)
    except FileNotFoundError as error:
        print(f"no package to measure ({error}); run `make package` first")
        return 0
    if found.bundle is None:
        print(f"no unpacked bundle in {dist}; run `make package` first")
        return 0
    binary = found.bundle / "bridgelab"
    print(f"bridgelab {found.version}: {found.bundle.relative_to(dist.parent)}")
    _row("figure", "value", "goal or baseline", "ratio")
    size_mb = smoke.tree_size(found.bundle) / MB
    _row(
        "bundle, unpacked",
        f"{size_mb:.1f} MB",
        f"goal < {SIZE_GOAL_MB:.0f} MB",
        f"{size_mb / SIZE_GOAL_MB:.2f} of goal",
    )
    for label, path in (("tarball (.tar.gz)", found.tarball), ("Debian package (.deb)", found.deb)):
        if path is not None:
            _row(label, f"{path.stat().st_size / MB:.1f} MB", "download size")

    bundle_s = smoke.median_time([binary, "--version"], VERSION_RUNS)
    dev_s = smoke.median_time([sys.executable, "-m", "bridgelab", "--version"], VERSION_RUNS)
    _row(
        "--version, bundle",
        f"{bundle_s * 1000:.0f} ms",
        f"python -m bridgelab: {dev_s * 1000:.0f} ms",
        f"{bundle_s / dev_s:.2f}x",
    )
    info_s = smoke.median_time([binary, "info", "--port", "emu://demo"], INFO_RUNS)
    _row("info --port emu://demo, bundle", f"{info_s * 1000:.0f} ms", f"median of {INFO_RUNS}")

    if "gui" not in smoke.listed_commands(binary):
        _row("first window, offscreen", "pending", "no `gui` command in this bundle yet")
        _row("first window, X11 (Xvfb)", "pending", "no `gui` command in this bundle yet")
        return 0
    failed = False
    for label, (seconds, note) in (
        (
            "first window, offscreen",
            _first_window(smoke, binary, smoke.offscreen_env(), WINDOW_RUNS),
        ),
        ("first window, X11 (Xvfb)", _x11_first_window(smoke, binary)),
    ):
        _row(label, "-" if seconds is None else f"{seconds * 1000:.0f} ms", note)
        failed = failed or note.startswith("failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
