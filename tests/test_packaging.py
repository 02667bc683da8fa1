"""The Linux packaging scripts on real parts: real ELF files from the installed PySide6 and
Python, a real dpkg-deb, the real per-user install script, real tar archives.

The full build (`make package`, ~80 s) and the smoke test of its output run as a release
step (packaging/README.md), not here.
"""

from __future__ import annotations

import ast
import configparser
import fnmatch
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.packaging_scripts import PACKAGING_DIR, load_script

linux_bundle = load_script("linux_bundle")
make_deb = load_script("make_deb")
build_linux = load_script("build_linux")
smoke_test = load_script("smoke_test")

needs_readelf = pytest.mark.skipif(shutil.which("readelf") is None, reason="needs binutils")
needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


def _qt_dir() -> Path:
    import PySide6

    return Path(PySide6.__file__).parent / "Qt"


def _shiboken_library() -> Path:
    import shiboken6

    found = sorted(Path(shiboken6.__file__).parent.glob("libshiboken6*.so*"))
    assert found, "shiboken6 ships its shared library beside the module"
    return found[0]


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
        ("PySide6/Qt/plugins/platforms/libqwayland.so", True),
        ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
        ("PySide6/Qt/plugins/platforms/libqvnc.so", False),
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", False),
        ("PySide6/Qt/plugins/tls/libqopensslbackend.so", False),
        ("PySide6/Qt/plugins/imageformats/libqsvg.so", True),
        ("PySide6/Qt/plugins/imageformats/libqtiff.so", False),
        ("PySide6/Qt/plugins/platforms/qwindows.dll", True),
        ("PySide6/Qt/lib/libQt6Core.so.6", True),  # not a plugin: the closure decides
    ],
)
def test_qt_plugin_allowlist(dest: str, kept: bool) -> None:
    assert linux_bundle.keep_qt_plugin(dest) is kept


@needs_readelf
def test_pruning_keeps_what_is_linked_and_drops_the_rest() -> None:
    qt = _qt_dir()
    lib = "PySide6/Qt/lib/"
    plugins = "PySide6/Qt/plugins/"
    widgets_ext = next((qt.parent).glob("QtWidgets.*.so"))
    pyside = next((qt.parent).glob("libpyside6*.so*"))
    shiboken = _shiboken_library()
    binaries = [
        (f"PySide6/{widgets_ext.name}", str(widgets_ext), "EXTENSION"),
        (f"PySide6/{pyside.name}", str(pyside), "BINARY"),
        (f"shiboken6/{shiboken.name}", str(shiboken), "BINARY"),
        *[
            (lib + name, str(qt / "lib" / name), "BINARY")
            for name in (
                "libQt6Core.so.6",
                "libQt6Gui.so.6",
                "libQt6Widgets.so.6",
                "libQt6DBus.so.6",
                "libQt6XcbQpa.so.6",
                "libQt6Network.so.6",
                "libQt6EglFSDeviceIntegration.so.6",
                "libicuuc.so.73",
                "libicui18n.so.73",
                "libicudata.so.73",
            )
            if (qt / "lib" / name).exists()
        ],
        *[
            (plugins + name, str(qt / "plugins" / name), "BINARY")
            for name in (
                "platforms/libqxcb.so",
                "platforms/libqeglfs.so",
                "tls/libqopensslbackend.so",
            )
        ],
        ("libX11.so.6", "/usr/lib/libX11.so.6", "BINARY"),  # a system library: never bundled
    ]
    datas = [
        ("PySide6/Qt/translations/qtbase_de.qm", "/x/qtbase_de.qm", "DATA"),
        ("libQt6Core.so.6", lib + "libQt6Core.so.6", "SYMLINK"),
        ("libQt6Network.so.6", lib + "libQt6Network.so.6", "SYMLINK"),
        ("bridgelab/emulator/demo/B1D6-demo.pem", "/x/B1D6-demo.pem", "DATA"),
    ]
    kept_binaries, kept_datas = linux_bundle.prune_toc(binaries, datas)
    kept = {entry[0] for entry in kept_binaries}
    assert plugins + "platforms/libqxcb.so" in kept
    assert lib + "libQt6XcbQpa.so.6" in kept  # linked by the xcb plugin
    assert lib + "libQt6Widgets.so.6" in kept  # linked by the QtWidgets extension
    assert lib + "libQt6DBus.so.6" in kept  # linked by QtGui
    assert plugins + "platforms/libqeglfs.so" not in kept
    assert lib + "libQt6EglFSDeviceIntegration.so.6" not in kept  # only EGLFS needed it
    assert lib + "libQt6Network.so.6" not in kept  # only the TLS plugin needed it
    assert "libX11.so.6" not in kept
    assert [entry[0] for entry in kept_datas] == [
        "libQt6Core.so.6",
        "bridgelab/emulator/demo/B1D6-demo.pem",
    ]


@needs_readelf
def test_closure_check_names_an_undeclared_library(tmp_path: Path) -> None:
    shutil.copy(_qt_dir() / "plugins" / "platforms" / "libqxcb.so", tmp_path)
    with pytest.raises(linux_bundle.UnresolvedLibraryError, match=r"libQt6XcbQpa\.so\.6"):
        linux_bundle.system_libraries_needed(tmp_path)


@needs_readelf
def test_closure_check_maps_system_libraries_to_packages(tmp_path: Path) -> None:
    shutil.copy(_shiboken_library(), tmp_path)
    needed = linux_bundle.system_libraries_needed(tmp_path)
    assert {"libstdc++.so.6", "libc.so.6"} <= set(needed)
    packages = linux_bundle.debian_packages(needed)
    assert {"libc6", "libstdc++6", "libgcc-s1"} <= set(packages)
    version = linux_bundle.glibc_version_needed(linux_bundle.elf_files(tmp_path))
    major, minor = (int(part) for part in version.split("."))
    assert (major, minor) >= (2, 17)


@pytest.mark.parametrize(
    ("pep440", "debian"),
    [("0.1.0", "0.1.0"), ("1.2.0rc1", "1.2.0~rc1"), ("1.2.0.dev3", "1.2.0~dev3"),
     ("2.0a1", "2.0~a1"), ("1.0.post2", "1.0+post2")],
)  # fmt: skip
def test_debian_versions(pep440: str, debian: str) -> None:
    assert make_deb.debian_version(pep440) == debian


@needs_dpkg
def test_pre_releases_sort_before_the_release_in_dpkg() -> None:
    older, newer = make_deb.debian_version("1.2.0rc1"), make_deb.debian_version("1.2.0")
    assert subprocess.run(["dpkg", "--compare-versions", older, "lt", newer]).returncode == 0


def test_unmappable_version_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot map"):
        make_deb.debian_version("1.0-beta")


def _fake_bundle(root: Path, version: str) -> Path:
    """A bundle-shaped folder: an executable that answers --version, one real ELF library,
    and the tarball-only extras the .deb must leave out."""
    bundle = root / f"bridgelab-{version}-linux-x86_64"
    (bundle / "_internal" / "install").mkdir(parents=True)  # deep `install`: must stay
    (bundle / "install").mkdir()
    binary = bundle / "bridgelab"
    binary.write_text(f'#!/bin/sh\necho "bridgelab {version}"\n')
    binary.chmod(0o755)
    shutil.copy(_shiboken_library(), bundle / "_internal")
    (bundle / "INSTALL.txt").write_text("tarball notes")
    (bundle / "install" / "install-user.sh").write_text("#!/bin/sh\n")
    (bundle / "_internal" / "install" / "keep.txt").write_text("part of the bundle")
    return bundle


@needs_dpkg
@needs_readelf
def test_deb_has_sane_metadata_and_files(tmp_path: Path) -> None:
    bundle = _fake_bundle(tmp_path, "0.3.0")
    out = tmp_path / "out"
    out.mkdir()
    args = [str(bundle), "--version", "0.3.0", "--output-dir", str(out)]
    args += ["--staging", str(tmp_path / "staging"), "--mtime", "1700000000"]
    assert make_deb.main(args) == 0
    (deb,) = out.glob("bridgelab_0.3.0_*.deb")

    def field(name: str) -> str:
        return subprocess.run(
            ["dpkg-deb", "--field", str(deb), name], capture_output=True, text=True, check=True
        ).stdout.strip()

    assert field("Package") == "bridgelab"
    assert field("Version") == "0.3.0"
    depends = field("Depends")
    assert depends.startswith("libc6 (>= 2.") and "libstdc++6" in depends
    assert field("Description").startswith("field and lab tool for Alt HAN")
    assert int(field("Installed-Size")) > 0
    contents = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    assert "./usr/bin/bridgelab -> /opt/bridgelab/bridgelab" in contents
    for path in (
        "./opt/bridgelab/bridgelab",
        "./opt/bridgelab/_internal/install/keep.txt",
        "./usr/share/applications/bridgelab.desktop",
        "./usr/share/icons/hicolor/scalable/apps/bridgelab.svg",
        "./usr/share/icons/hicolor/256x256/apps/bridgelab.png",
        "./lib/udev/rules.d/60-bridgelab.rules",
        "./usr/share/doc/bridgelab/copyright",
    ):
        assert f" {path}\n" in contents, path
    assert "./usr/share/doc/bridgelab/changelog.gz" in contents
    (library,) = [line for line in contents.splitlines() if "libshiboken6" in line]
    assert library.startswith("-rw-r--r--")  # loaded, not run
    assert "./opt/bridgelab/INSTALL.txt" not in contents
    assert "./opt/bridgelab/install/" not in contents
    assert " root/root " in contents and "1000/1000" not in contents
    control = tmp_path / "control"
    subprocess.run(["dpkg-deb", "--control", str(deb), str(control)], check=True)
    for script in ("postinst", "postrm"):
        assert os.access(control / script, os.X_OK)
        assert subprocess.run(["sh", "-n", str(control / script)]).returncode == 0


def test_udev_rule_covers_both_adapters_before_seat_rules() -> None:
    rules = PACKAGING_DIR / "linux" / "60-bridgelab.rules"
    assert int(rules.name.split("-")[0]) < 73  # uaccess is applied by 73-seat-late.rules
    lines = [line for line in rules.read_text().splitlines() if line and line[0] != "#"]
    for vendor, product in (("0403", "6001"), ("10c4", "ea60")):
        (rule,) = [line for line in lines if f'ATTRS{{idVendor}}=="{vendor}"' in line]
        assert f'ATTRS{{idProduct}}=="{product}"' in rule
        assert 'SUBSYSTEM=="tty"' in rule
        assert 'TAG+="uaccess"' in rule and 'GROUP="dialout"' in rule


def test_desktop_entry() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(PACKAGING_DIR / "linux" / "bridgelab.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Exec"] == "bridgelab gui"
    assert desktop["Icon"] == "bridgelab"
    assert desktop["Terminal"] == "false"
    assert desktop["Categories"].endswith(";")
    validator = shutil.which("desktop-file-validate")
    if validator:
        assert (
            subprocess.run([validator, PACKAGING_DIR / "linux" / "bridgelab.desktop"]).returncode
            == 0
        )


def test_user_install_without_admin_rights(tmp_path: Path) -> None:
    bundle = _fake_bundle(tmp_path / "unpacked here", "0.3.0")  # a space in the path
    shutil.copytree(PACKAGING_DIR / "linux", bundle / "install", dirs_exist_ok=True)
    shutil.copy(PACKAGING_DIR / "icons" / "bridgelab.svg", bundle / "install")
    home = tmp_path / "home"
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    script = bundle / "install" / "install-user.sh"
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "is not on your PATH" in done.stdout
    link = home / ".local" / "bin" / "bridgelab"
    version = subprocess.run([link, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == "bridgelab 0.3.0"
    desktop = (home / ".local/share/applications/bridgelab.desktop").read_text()
    assert f'Exec="{bundle}/bridgelab" gui\n' in desktop
    assert (home / ".local/share/icons/hicolor/scalable/apps/bridgelab.svg").is_file()
    subprocess.run(["sh", str(script), "--uninstall"], env=env, check=True, capture_output=True)
    assert not link.exists() and not (home / ".local/share/applications/bridgelab.desktop").exists()


def test_tarball_is_repeatable_and_root_owned(tmp_path: Path) -> None:
    bundle = _fake_bundle(tmp_path, "0.3.0")
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    build_linux.make_tarball(bundle, first, 1_700_000_000)
    os.utime(bundle / "bridgelab", (1, 1))  # file times must not leak into the archive
    build_linux.make_tarball(bundle, second, 1_700_000_000)
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as archive:
        members = archive.getmembers()
    assert {m.name.split("/")[0] for m in members} == {bundle.name}
    assert all(m.uid == 0 and m.mtime == 1_700_000_000 for m in members)
    (binary,) = [m for m in members if m.name == f"{bundle.name}/bridgelab"]
    assert binary.mode & 0o111


def test_smoke_test_finds_the_newest_build(tmp_path: Path) -> None:
    import platform

    arch = platform.machine()
    for version, stamp in (("0.1.0", 1_000), ("0.2.0", 2_000)):
        tarball = tmp_path / f"bridgelab-{version}-linux-{arch}.tar.gz"
        tarball.write_bytes(b"")
        os.utime(tarball, (stamp, stamp))
    (tmp_path / f"bridgelab-0.2.0-linux-{arch}").mkdir()
    (tmp_path / "bridgelab_0.2.0_amd64.deb").write_bytes(b"")
    found = smoke_test.find_artifacts(tmp_path)
    assert found.version == "0.2.0"
    assert found.bundle == tmp_path / f"bridgelab-0.2.0-linux-{arch}"
    assert found.deb == tmp_path / "bridgelab_0.2.0_amd64.deb"
    with pytest.raises(FileNotFoundError):
        smoke_test.find_artifacts(tmp_path / "empty")


def test_smoke_test_reads_the_command_list_from_help() -> None:
    entry = Path(sys.executable).with_name("bridgelab")
    commands = smoke_test.listed_commands(entry)
    assert {"info", "emulate", "ports"} <= commands
    assert "--version" not in commands and "COMMAND" not in commands


@pytest.mark.parametrize("size", [16, 48, 256])
def test_rendered_icons_match_their_names(size: int) -> None:
    assert smoke_test.png_size(PACKAGING_DIR / "icons" / f"bridgelab-{size}.png") == (size, size)


def _package_data_match(relative: str, pattern: str) -> bool:
    """setuptools' package-data glob: `*` stays within one folder level."""
    parts, wanted = relative.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(map(fnmatch.fnmatch, parts, wanted))


def test_every_data_file_in_the_layers_is_installed() -> None:
    """Each non-Python file under a package folder matches a package-data pattern; without
    one, a non-editable install (and so the bundle) silently lacks it."""
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]
    setup_tree = ast.parse((PROJECT_ROOT / "setup.py").read_text())
    (layers,) = [
        ast.literal_eval(node.value)
        for node in setup_tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "LAYERS"
    ]
    unmatched = []
    for package, folder in layers.items():
        for path in sorted((PROJECT_ROOT / folder).rglob("*")):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            home = path.parent
            while not (home / "__init__.py").exists():
                home = home.parent
            relative = path.relative_to(PROJECT_ROOT / folder)
            dotted = ".".join([package, *home.relative_to(PROJECT_ROOT / folder).parts])
            inside = str(path.relative_to(home))
            wanted = [*patterns.get("*", []), *patterns.get(dotted, [])]
            if not any(_package_data_match(inside, pattern) for pattern in wanted):
                unmatched.append(str(relative))
    assert unmatched == [], f"not installed by pyproject's package-data: {unmatched}"
