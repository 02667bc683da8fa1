"""What goes into the Linux bundle, and which system packages it then depends on.

Used twice: by `bridgelab.spec` to prune PyInstaller's table of contents before it is
collected, and by `build_linux.py` to check the finished bundle and derive the `.deb`
Depends line. The rule, in one place:

- Bundle Python, the Python packages, and Qt itself (the Qt libraries that PySide6 ships),
  limited to the Qt plugins a QtWidgets application uses (`KEEP_QT_PLUGINS`).
- Never bundle the system's graphics and desktop stack (X11, xcb, Wayland, GL, fontconfig,
  FreeType, GLib, D-Bus) nor the C/C++ runtimes: copies from the build machine break
  against other machines' drivers and settings. These are the libraries listed in
  `bridgelab.qtcheck.QT_SYSTEM_LIBRARIES` (plus glibc); the package depends on them and
  the tarball's first run names them if missing.
- Keep only what something kept actually links to (the ELF NEEDED closure), so the
  libraries that dropped plugins pulled in go too.

Reads ELF files with `readelf` (binutils, which PyInstaller needs on Linux anyway).
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from bridgelab.qtcheck import QT_SYSTEM_LIBRARIES

# PyInstaller's table-of-contents entries: (destination in bundle, source path, typecode).
TocEntry = tuple[str, str, str]

QT_PLUGIN_DIR = "PySide6/Qt/plugins/"
QT_TRANSLATIONS_DIR = "PySide6/Qt/translations/"

# Qt plugins kept, as patterns on their path below the plugins folder. Everything else
# (EGLFS, linuxfb, VNC, evdev, network information, TLS, the GTK theme, Qt Quick's
# virtual keyboard, most image formats) is never used by a QtWidgets tool.
KEEP_QT_PLUGINS: tuple[str, ...] = (
    "platforms/*qxcb.*",
    "platforms/*qwayland.*",
    "platforms/*qoffscreen.*",
    "platforms/*qminimal.*",
    "platforms/*qwindows.*",
    "platforms/*qcocoa.*",
    "styles/*",
    "xcbglintegrations/*",
    "wayland-shell-integration/*xdg-shell.*",
    "wayland-decoration-client/*",
    "wayland-graphics-integration-client/*wayland-egl.*",
    "platformthemes/*xdgdesktopportal.*",
    "platforminputcontexts/*compose*",
    "platforminputcontexts/*ibus*",
    "imageformats/*qsvg.*",
    "imageformats/*qico.*",
    "iconengines/*svg*",
)

# The C library and friends: every Linux has them; the package depends on libc6.
GLIBC_LIBRARIES: frozenset[str] = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libdl.so.2",
        "libpthread.so.0",
        "librt.so.1",
        "libresolv.so.2",
        "libutil.so.1",
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
        "ld-linux-armhf.so.3",
    }
)
# Libraries PyInstaller never bundles that are not part of glibc proper.
BASE_LIBRARIES: Mapping[str, str] = {"libcrypt.so.1": "libcrypt1"}

SYSTEM_LIBRARIES: Mapping[str, str] = {
    **{lib.library: lib.debian_package for lib in QT_SYSTEM_LIBRARIES},
    **BASE_LIBRARIES,
    **dict.fromkeys(GLIBC_LIBRARIES, "libc6"),
}


class UnresolvedLibraryError(Exception):
    """A bundled file links to a library that is neither bundled nor a known system one."""


def is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def _readelf(option: str, path: Path) -> str:
    return subprocess.run(
        ["readelf", option, "--wide", str(path)], check=True, capture_output=True, text=True
    ).stdout


def needed_libraries(path: Path) -> list[str]:
    """The sonames `path` (an ELF file) lists as NEEDED, in order."""
    out = _readelf("--dynamic", path)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def keep_qt_plugin(dest: str) -> bool:
    """True unless `dest` is a Qt plugin outside KEEP_QT_PLUGINS."""
    if not dest.startswith(QT_PLUGIN_DIR):
        return True
    relative = dest[len(QT_PLUGIN_DIR) :]
    return any(fnmatch.fnmatch(relative, pattern) for pattern in KEEP_QT_PLUGINS)


def _needed_closure(entries: Sequence[TocEntry]) -> set[str]:
    """Destinations reachable by NEEDED links from the roots of `entries`.

    Roots are what Python or Qt load by path at run time: extension modules, Qt plugins,
    libpython. Everything else stays only if a kept file links to it by soname.
    """
    by_soname: dict[str, TocEntry] = {}
    for entry in entries:
        by_soname.setdefault(PurePosixPath(entry[0]).name, entry)
    pending = [
        entry
        for entry in entries
        if entry[2] == "EXTENSION"
        or entry[0].startswith(QT_PLUGIN_DIR)
        or PurePosixPath(entry[0]).name.startswith("libpython")
    ]
    kept: set[str] = set()
    while pending:
        dest, src, _ = pending.pop()
        if dest in kept:
            continue
        kept.add(dest)
        for soname in needed_libraries(Path(src)):
            if soname in by_soname:
                pending.append(by_soname[soname])
    return kept


def prune_toc(
    binaries: Sequence[TocEntry], datas: Sequence[TocEntry]
) -> tuple[list[TocEntry], list[TocEntry]]:
    """PyInstaller's `a.binaries` and `a.datas`, with the Linux bundle's rule applied.

    Drops unused Qt plugins, Qt's translations, every system library (see the module
    doc), then whatever nothing kept links to; symlinks to dropped files go with them.
    """
    candidates = [
        entry
        for entry in binaries
        if keep_qt_plugin(entry[0]) and PurePosixPath(entry[0]).name not in SYSTEM_LIBRARIES
    ]
    kept = _needed_closure(candidates)
    new_binaries = [entry for entry in candidates if entry[0] in kept]
    new_datas = [
        entry
        for entry in datas
        if not entry[0].startswith(QT_TRANSLATIONS_DIR)
        and keep_qt_plugin(entry[0])
        and (entry[2] != "SYMLINK" or entry[1] in kept)
    ]
    return new_binaries, new_datas


def elf_files(root: Path) -> list[Path]:
    """Every regular ELF file below `root` (symlinks are followed by their targets)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p))


def system_libraries_needed(
    root: Path, files: Iterable[Path] | None = None
) -> dict[str, list[str]]:
    """The sonames that ELF files below `root` need and the bundle does not carry.

    Returns soname -> the bundle files (relative paths) that need it. Raises
    UnresolvedLibraryError for a soname that is not a known system library: either it
    must be bundled, or added to `bridgelab.qtcheck.QT_SYSTEM_LIBRARIES` with its package.
    """
    files = elf_files(root) if files is None else list(files)
    bundled = {p.name for p in root.rglob("*")}
    needed: dict[str, list[str]] = {}
    for path in files:
        for soname in needed_libraries(path):
            if soname not in bundled:
                needed.setdefault(soname, []).append(str(path.relative_to(root)))
    unknown = sorted(set(needed) - set(SYSTEM_LIBRARIES))
    if unknown:
        lines = [f"{soname} (needed by {', '.join(needed[soname][:3])})" for soname in unknown]
        raise UnresolvedLibraryError(
            "The bundle links to libraries it neither carries nor declares: "
            + "; ".join(lines)
            + ". Bundle them, or add them to bridgelab/qtcheck.py with their package."
        )
    return needed


def debian_packages(sonames: Iterable[str]) -> list[str]:
    """The Debian packages that provide `sonames` (known system libraries), sorted."""
    return sorted({SYSTEM_LIBRARIES[soname] for soname in sonames})


def glibc_version_needed(files: Iterable[Path]) -> str:
    """The newest GLIBC_x.y symbol version any of `files` requires (e.g. "2.34")."""
    best = (2, 17)
    for path in files:
        for major, minor in re.findall(r"Name: GLIBC_(\d+)\.(\d+)", _readelf("-V", path)):
            best = max(best, (int(major), int(minor)))
    return f"{best[0]}.{best[1]}"
