"""Pre-flight for the desktop window on Linux: the system libraries Qt needs, before Qt runs.

When a system library that Qt's platform plugin links against is missing (typically
`libxcb-cursor0` on a fresh Ubuntu, or `libxcb-icccm4` on a minimal Debian), Qt aborts
the process with "could not load the Qt platform plugin xcb" and a plugin stack trace.
A field engineer cannot act on that. This module checks first, with the same loader Qt
uses (dlopen by soname, so libraries bundled beside the application count as present),
and says which package to install.

The GUI start-up path calls `check_qt_system_libraries()` before creating QApplication:

    from bridgelab.qtcheck import check_qt_system_libraries
    check_qt_system_libraries()        # raises QtSystemLibraryError or QtNoDisplayError

Nothing here imports Qt, so the check costs a few milliseconds and works even when
PySide6 itself cannot load. Off Linux it checks nothing (Qt ships its own platform
libraries on Windows and macOS). `QT_SYSTEM_LIBRARIES` is also the table the Linux
package build uses for the `.deb` dependencies, so the two cannot drift apart.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from bridgelab.errors import BridgeLabError

# What a library is needed for. Start-up needs QT always, plus the libraries of the
# platform plugin Qt will pick; OPENGL libraries serve optional GL integrations only,
# so they are package dependencies but their absence does not stop the window.
QT = "qt"
XCB = "xcb"
WAYLAND = "wayland"
OPENGL = "opengl"


class SystemLibrary(NamedTuple):
    """A shared library Qt loads from the system, and the packages that provide it."""

    library: str  # the soname, as dlopen and the ELF NEEDED entries spell it
    debian_package: str  # Debian and Ubuntu
    fedora_package: str  # Fedora, RHEL and derivatives
    needed_for: str  # QT, XCB, WAYLAND or OPENGL


QT_SYSTEM_LIBRARIES: tuple[SystemLibrary, ...] = (
    # QtCore, QtGui, QtWidgets themselves (needed even offscreen).
    SystemLibrary("libstdc++.so.6", "libstdc++6", "libstdc++", QT),
    SystemLibrary("libgcc_s.so.1", "libgcc-s1", "libgcc", QT),
    SystemLibrary("libglib-2.0.so.0", "libglib2.0-0", "glib2", QT),
    SystemLibrary("libgthread-2.0.so.0", "libglib2.0-0", "glib2", QT),
    SystemLibrary("libdbus-1.so.3", "libdbus-1-3", "dbus-libs", QT),
    SystemLibrary("libGL.so.1", "libgl1", "libglvnd-glx", QT),
    SystemLibrary("libEGL.so.1", "libegl1", "libglvnd-egl", QT),
    SystemLibrary("libX11.so.6", "libx11-6", "libX11", QT),
    SystemLibrary("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon", QT),
    SystemLibrary("libfontconfig.so.1", "libfontconfig1", "fontconfig", QT),
    SystemLibrary("libfreetype.so.6", "libfreetype6", "freetype", QT),
    # The X11 platform plugin (libqxcb.so and libQt6XcbQpa).
    SystemLibrary("libxcb.so.1", "libxcb1", "libxcb", XCB),
    SystemLibrary("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb", XCB),
    SystemLibrary("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11", XCB),
    SystemLibrary("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor", XCB),
    SystemLibrary("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm", XCB),
    SystemLibrary("libxcb-image.so.0", "libxcb-image0", "xcb-util-image", XCB),
    SystemLibrary("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms", XCB),
    SystemLibrary("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil", XCB),
    SystemLibrary("libxcb-util.so.1", "libxcb-util1", "xcb-util", XCB),
    SystemLibrary("libxcb-randr.so.0", "libxcb-randr0", "libxcb", XCB),
    SystemLibrary("libxcb-render.so.0", "libxcb-render0", "libxcb", XCB),
    SystemLibrary("libxcb-shape.so.0", "libxcb-shape0", "libxcb", XCB),
    SystemLibrary("libxcb-shm.so.0", "libxcb-shm0", "libxcb", XCB),
    SystemLibrary("libxcb-sync.so.1", "libxcb-sync1", "libxcb", XCB),
    SystemLibrary("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb", XCB),
    SystemLibrary("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb", XCB),
    # The Wayland platform plugin (libqwayland.so and libQt6WaylandClient).
    SystemLibrary("libwayland-client.so.0", "libwayland-client0", "libwayland-client", WAYLAND),
    SystemLibrary("libwayland-cursor.so.0", "libwayland-cursor0", "libwayland-cursor", WAYLAND),
    # Optional OpenGL integrations of those plugins.
    SystemLibrary("libxcb-glx.so.0", "libxcb-glx0", "libxcb", OPENGL),
    SystemLibrary("libwayland-egl.so.1", "libwayland-egl1", "libwayland-egl", OPENGL),
)

# Platforms that draw into a display server, and the variable that names the display.
_DISPLAY_VARIABLE = {XCB: "DISPLAY", WAYLAND: "WAYLAND_DISPLAY"}

Loader = Callable[[str], bool]


class QtSystemLibraryError(BridgeLabError):
    """The window cannot open: system libraries that Qt needs are missing."""

    code = "qt-system-library-missing"


class QtNoDisplayError(BridgeLabError):
    """The window cannot open: there is no display to open it on."""

    code = "no-display"
    default_action = (
        "Start Bridge Lab from a desktop session (or `ssh -X`). The command-line tools "
        "(`bridgelab info`, `bridgelab update`, ...) work without a display."
    )


def can_load(library: str) -> bool:
    """True if the dynamic loader can load `library` (a soname) and everything it needs.

    Uses dlopen, as Qt does, so the loader's search path (LD_LIBRARY_PATH, a bundle's own
    folder, ld.so.cache) decides, not a guess from file names.
    """
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def qt_platforms(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The platform plugins Qt will try, in order, for this environment.

    Follows Qt 6 on Linux: QT_QPA_PLATFORM if set (`wayland;xcb`, `xcb:option`, ...);
    otherwise Wayland first in a Wayland session, then X11.
    """
    env = os.environ if environ is None else environ
    requested = env.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        names = (part.split(":", 1)[0].strip() for part in requested.split(";"))
        return tuple(name for name in names if name)
    if env.get("XDG_SESSION_TYPE") == "wayland" or env.get("WAYLAND_DISPLAY"):
        return (WAYLAND, XCB)
    return (XCB,)


def missing_libraries(
    platform_name: str,
    *,
    libraries: Iterable[SystemLibrary] = QT_SYSTEM_LIBRARIES,
    loader: Loader = can_load,
) -> list[SystemLibrary]:
    """The libraries that Qt with `platform_name` needs and `loader` cannot load.

    Qt's own libraries are always needed; a display platform (xcb, wayland) adds its own.
    Optional OpenGL integrations are never reported. Order follows `libraries`.
    """
    wanted = {QT, platform_name}
    return [lib for lib in libraries if lib.needed_for in wanted and not loader(lib.library)]


def find_missing_qt_libraries(
    environ: Mapping[str, str] | None = None,
    *,
    libraries: Sequence[SystemLibrary] = QT_SYSTEM_LIBRARIES,
    loader: Loader = can_load,
    system: str | None = None,
) -> list[SystemLibrary]:
    """The libraries to install before Qt can open a window here; empty when none are.

    When Qt has fall-backs (`wayland;xcb`), the window opens if any platform has all its
    libraries, so nothing is reported; otherwise the first platform's gaps are. Always
    empty off Linux (`system` defaults to `platform.system()`).
    """
    if (system or platform.system()) != "Linux":
        return []
    gaps = [
        missing_libraries(name, libraries=libraries, loader=loader)
        for name in qt_platforms(environ)
    ]
    if not gaps or any(not gap for gap in gaps):
        return []
    return gaps[0]


def _distribution_family(os_release: Mapping[str, str]) -> str | None:
    ids = f"{os_release.get('ID', '')} {os_release.get('ID_LIKE', '')}".lower().split()
    if any(name in ("debian", "ubuntu") for name in ids):
        return "debian"
    if any(name in ("fedora", "rhel", "centos") for name in ids):
        return "fedora"
    return None


def _read_os_release() -> Mapping[str, str]:
    try:
        return platform.freedesktop_os_release()
    except OSError:
        return {}


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def install_commands(
    missing: Sequence[SystemLibrary], os_release: Mapping[str, str] | None = None
) -> list[str]:
    """The command lines that install `missing`: for this distribution, or for both families.

    `os_release` is /etc/os-release as a mapping (read from the system when None).
    """
    release = _read_os_release() if os_release is None else os_release
    family = _distribution_family(release)
    apt = "sudo apt install " + " ".join(_unique(lib.debian_package for lib in missing))
    dnf = "sudo dnf install " + " ".join(_unique(lib.fedora_package for lib in missing))
    if family == "debian":
        return [apt]
    if family == "fedora":
        return [dnf]
    return [f"Debian/Ubuntu: {apt}", f"Fedora/RHEL: {dnf}"]


def missing_libraries_error(
    missing: Sequence[SystemLibrary], os_release: Mapping[str, str] | None = None
) -> QtSystemLibraryError:
    """The error to show for `missing` (non-empty): what is missing and what to install."""
    names = ", ".join(lib.library for lib in missing)
    commands = install_commands(missing, os_release)
    return QtSystemLibraryError(
        f"Bridge Lab cannot open its window: this computer lacks system libraries that "
        f"Qt needs ({names}).",
        action="Install them, then start Bridge Lab again: "
        + "; ".join(commands)
        + ". The command-line tools work without them.",
        details={
            "libraries": [lib.library for lib in missing],
            "debian_packages": _unique(lib.debian_package for lib in missing),
            "fedora_packages": _unique(lib.fedora_package for lib in missing),
        },
    )


def missing_libraries_message(
    missing: Sequence[SystemLibrary], os_release: Mapping[str, str] | None = None
) -> str:
    """`missing_libraries_error(...)` as one paragraph of plain text, for a log or a dialog."""
    return str(missing_libraries_error(missing, os_release))


def check_display(environ: Mapping[str, str] | None = None) -> None:
    """Raise QtNoDisplayError when every platform Qt would try needs a display and none is set.

    `offscreen` and `minimal` need no display, so with QT_QPA_PLATFORM=offscreen this passes.
    """
    env = os.environ if environ is None else environ
    names = qt_platforms(env)
    variables = [_DISPLAY_VARIABLE.get(name) for name in names]
    if all(variables) and not any(env.get(var or "") for var in variables):
        raise QtNoDisplayError(
            "Bridge Lab cannot open its window: no display is set "
            f"({' or '.join(var for var in variables if var)} is empty).",
        )


def check_qt_system_libraries(environ: Mapping[str, str] | None = None) -> None:
    """Call before creating QApplication on Linux; returns when Qt can open a window.

    Raises QtSystemLibraryError (code `qt-system-library-missing`, with the packages to
    install in its action and details) or QtNoDisplayError (code `no-display`). Does
    nothing off Linux. Takes milliseconds: it only asks the dynamic loader.
    """
    if not sys.platform.startswith("linux"):
        return
    missing = find_missing_qt_libraries(environ)
    if missing:
        raise missing_libraries_error(missing)
    check_display(environ)
