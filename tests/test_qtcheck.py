"""The Qt pre-flight: real dlopen on real and absent libraries, and the table against the
real PySide6 binaries (their ELF NEEDED entries), so a Qt upgrade that needs a new system
library fails here rather than on an engineer's laptop."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bridgelab.qtcheck import (
    OPENGL,
    QT,
    QT_SYSTEM_LIBRARIES,
    WAYLAND,
    XCB,
    QtNoDisplayError,
    QtSystemLibraryError,
    SystemLibrary,
    can_load,
    check_display,
    check_qt_system_libraries,
    find_missing_qt_libraries,
    install_commands,
    missing_libraries_error,
    missing_libraries_message,
    qt_platforms,
)
from tests.packaging_scripts import load_script

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux loader")

PRESENT = "libc.so.6"  # every Linux test machine has it
ABSENT_XCB = SystemLibrary("libbridgelab-absent-xcb.so.1", "bl-xcb1", "bl-xcb", XCB)
ABSENT_WAYLAND = SystemLibrary("libbridgelab-absent-wl.so.0", "bl-wl0", "bl-wl", WAYLAND)
ABSENT_GL = SystemLibrary("libbridgelab-absent-gl.so.1", "bl-gl1", "bl-gl", OPENGL)
CORE = SystemLibrary(PRESENT, "libc6", "glibc", QT)
DEBIAN = {"ID": "ubuntu", "ID_LIKE": "debian"}
FEDORA = {"ID": "fedora"}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ("xcb",)),
        ({"DISPLAY": ":0"}, ("xcb",)),
        ({"XDG_SESSION_TYPE": "wayland"}, ("wayland", "xcb")),
        ({"WAYLAND_DISPLAY": "wayland-0"}, ("wayland", "xcb")),
        ({"QT_QPA_PLATFORM": "offscreen", "WAYLAND_DISPLAY": "w"}, ("offscreen",)),
        ({"QT_QPA_PLATFORM": "wayland;xcb:fontengine=freetype"}, ("wayland", "xcb")),
    ],
)
def test_platforms_follow_qt_rules(environ: dict[str, str], expected: tuple[str, ...]) -> None:
    assert qt_platforms(environ) == expected


@linux_only
def test_loader_tells_present_from_absent() -> None:
    assert can_load(PRESENT)
    assert not can_load(ABSENT_XCB.library)


@linux_only
def test_missing_xcb_library_is_reported_on_x11_only() -> None:
    table = [CORE, ABSENT_XCB]
    assert find_missing_qt_libraries({}, libraries=table, system="Linux") == [ABSENT_XCB]
    offscreen = {"QT_QPA_PLATFORM": "offscreen"}
    assert find_missing_qt_libraries(offscreen, libraries=table, system="Linux") == []


@linux_only
def test_a_working_fallback_platform_means_nothing_to_report() -> None:
    wayland_ok = SystemLibrary(PRESENT, "x", "x", WAYLAND)
    session = {"XDG_SESSION_TYPE": "wayland"}
    table = [CORE, ABSENT_XCB, wayland_ok]
    assert find_missing_qt_libraries(session, libraries=table, system="Linux") == []
    # Neither platform can load: the preferred one's gaps are reported.
    table = [CORE, ABSENT_XCB, ABSENT_WAYLAND]
    found = find_missing_qt_libraries(session, libraries=table, system="Linux")
    assert found == [ABSENT_WAYLAND]


@linux_only
def test_optional_opengl_libraries_never_block_the_window() -> None:
    table = [CORE, ABSENT_GL]
    assert find_missing_qt_libraries({}, libraries=table, system="Linux") == []


def test_other_systems_need_no_check() -> None:
    table = [ABSENT_XCB]
    assert find_missing_qt_libraries({}, libraries=table, system="Windows") == []


def test_error_names_libraries_and_packages_for_this_distribution() -> None:
    missing = [
        SystemLibrary("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm", XCB),
        SystemLibrary("libxcb-randr.so.0", "libxcb-randr0", "libxcb", XCB),
        SystemLibrary("libxcb-shm.so.0", "libxcb-shm0", "libxcb", XCB),
    ]
    error = missing_libraries_error(missing, DEBIAN)
    assert isinstance(error, QtSystemLibraryError)
    assert error.code == "qt-system-library-missing"
    assert "libxcb-icccm.so.4" in error.message
    assert "sudo apt install libxcb-icccm4 libxcb-randr0 libxcb-shm0" in error.action
    assert "dnf" not in error.action
    assert error.details["fedora_packages"] == ["xcb-util-wm", "libxcb"]  # deduplicated
    assert install_commands(missing, FEDORA) == ["sudo dnf install xcb-util-wm libxcb"]
    both = install_commands(missing, {"ID": "arch"})
    assert both[0].startswith("Debian/Ubuntu: sudo apt install") and "dnf" in both[1]
    assert missing_libraries_message(missing, DEBIAN) == str(error)


def test_no_display_is_its_own_error() -> None:
    with pytest.raises(QtNoDisplayError) as caught:
        check_display({"QT_QPA_PLATFORM": "xcb"})
    assert caught.value.code == "no-display" and "DISPLAY" in caught.value.message
    check_display({"DISPLAY": ":1"})
    check_display({"QT_QPA_PLATFORM": "offscreen"})
    check_display({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"})
    with pytest.raises(QtNoDisplayError, match="WAYLAND_DISPLAY or DISPLAY"):
        check_display({"XDG_SESSION_TYPE": "wayland"})


@linux_only
def test_offscreen_qt_passes_where_the_qt_tests_run() -> None:
    # The test suite itself runs Qt offscreen here, so Qt's own libraries must load.
    check_qt_system_libraries({"QT_QPA_PLATFORM": "offscreen"})


def test_the_check_does_not_import_qt() -> None:
    probe = "import sys, bridgelab.qtcheck; print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_table_has_one_entry_per_library() -> None:
    names = [lib.library for lib in QT_SYSTEM_LIBRARIES]
    assert len(names) == len(set(names))
    assert {lib.needed_for for lib in QT_SYSTEM_LIBRARIES} == {QT, XCB, WAYLAND, OPENGL}


# What each group must cover: the plugin (and Qt libraries) that fail without it.
QT_BINARIES = {
    QT: ["lib/libQt6Core.so.6", "lib/libQt6Gui.so.6", "lib/libQt6Widgets.so.6",
         "lib/libQt6DBus.so.6", "plugins/platforms/libqoffscreen.so"],
    XCB: ["plugins/platforms/libqxcb.so", "lib/libQt6XcbQpa.so.6"],
    WAYLAND: ["plugins/platforms/libqwayland.so", "lib/libQt6WaylandClient.so.6"],
}  # fmt: skip


@linux_only
@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs readelf (binutils)")
@pytest.mark.parametrize("group", sorted(QT_BINARIES))
def test_table_covers_what_the_installed_qt_links_to(group: str) -> None:
    import PySide6

    linux_bundle = load_script("linux_bundle")
    qt_dir = Path(PySide6.__file__).parent / "Qt"
    shipped = {p.name for p in (qt_dir / "lib").iterdir()}
    table = {lib.library: lib.needed_for for lib in QT_SYSTEM_LIBRARIES}
    allowed = {QT, group}
    for relative in QT_BINARIES[group]:
        needed = linux_bundle.needed_libraries(qt_dir / relative)
        assert needed, f"no NEEDED entries read from {relative}"
        for soname in needed:
            if soname in shipped or soname in linux_bundle.GLIBC_LIBRARIES:
                continue
            if soname in ("libz.so.1", "libzstd.so.1"):  # bundled with Python's own
                continue
            assert soname in table, f"{relative} needs {soname}: add it to QT_SYSTEM_LIBRARIES"
            assert table[soname] in allowed, f"{soname} is needed by {relative}: group {group}"
