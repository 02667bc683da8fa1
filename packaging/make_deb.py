"""Build the .deb from a finished Linux bundle (the last step of `make package`).

    build/package-venv/bin/python packaging/make_deb.py BUNDLE --version 0.1.0 \\
        --output-dir dist [--mtime EPOCH]

Checks the bundle first: every library its ELF files link to must be bundled or be a
known system library (linux_bundle.system_libraries_needed); the Depends line is made
from exactly those system libraries' packages, plus libc6 at the newest GLIBC version
any file asks for. Then stages the package tree and runs `dpkg-deb --root-owner-group`:

    /opt/bridgelab/                         the bundle (without its tarball extras)
    /usr/bin/bridgelab                      -> /opt/bridgelab/bridgelab
    /usr/share/applications/bridgelab.desktop
    /usr/share/icons/hicolor/{scalable,NxN}/apps/bridgelab.{svg,png}
    /lib/udev/rules.d/60-bridgelab.rules    serial access for FTDI and CP210x adapters
    /usr/share/doc/bridgelab/{copyright,README.Debian}

Runs in the build venv because it imports `bridgelab.qtcheck` (through linux_bundle).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from linux_bundle import (
    UnresolvedLibraryError,
    debian_packages,
    elf_files,
    glibc_version_needed,
    system_libraries_needed,
)

HERE = Path(__file__).resolve().parent
STAGING_ROOT = HERE.parent / "build" / "deb"
PACKAGE = "bridgelab"
PREFIX = Path("opt") / PACKAGE
MAINTAINER = "Bridge Lab <dev@bridgelab.invalid>"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)
# Bundle entries that only the tarball needs (the .deb puts these in system places).
TARBALL_ONLY = ("INSTALL.txt", "install")

DESCRIPTION = """\
field and lab tool for Alt HAN point-to-point bridges
 Bridge Lab identifies an Alt HAN point-to-point bridge over its service
 port, shows its firmware and HAN join state, updates it locally or through a
 simulated OTA, and records every attempt for triage. It works on real
 hardware through USB serial adapters and on an emulated Demo bridge that
 ships with it. Both a desktop application (bridgelab gui) and a scriptable
 command line (bridgelab --help).
 .
 The package carries its own Python and Qt under /opt/bridgelab and uses the
 system's X11 or Wayland, OpenGL and font libraries. Its udev rule gives the
 user at the computer access to FTDI (0403:6001) and CP210x (10c4:ea60)
 adapters; remote users need the dialout group."""

POSTINST = """\
#!/bin/sh
# Apply the serial-port udev rule to adapters that are already plugged in.
set -e
if [ "$1" = "configure" ] && command -v udevadm >/dev/null 2>&1; then
    udevadm control --reload-rules 2>/dev/null || true
    udevadm trigger --subsystem-match=tty --action=change 2>/dev/null || true
fi
exit 0
"""

POSTRM = """\
#!/bin/sh
# Forget the serial-port udev rule once its file is gone.
set -e
if [ "$1" = "remove" ] || [ "$1" = "purge" ]; then
    if command -v udevadm >/dev/null 2>&1; then
        udevadm control --reload-rules 2>/dev/null || true
    fi
fi
exit 0
"""

README_DEBIAN = """\
Bridge Lab for Debian and Ubuntu
================================

Run `bridgelab gui` (or Bridge Lab from the applications menu) for the desktop
application, `bridgelab --help` for the command line. The emulated Demo bridge
is always there: `bridgelab info --port emu://demo`.

Serial ports
------------
/lib/udev/rules.d/60-bridgelab.rules gives the user logged in at the computer
access to FTDI FT232R (0403:6001) and Silicon Labs CP210x (10c4:ea60) USB serial
adapters: unplug and replug an adapter after installing. Users on a remote
session, or adapters of other makes, need the dialout group:

    sudo usermod -aG dialout $USER      (then log out and in)

`bridgelab ports` lists the ports Bridge Lab can see.
"""

COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Bridge Lab
Comment: Bridge Lab is proprietary software. The bundle under /opt/bridgelab
 also carries third-party components, each under its own licence, unmodified
 and (Qt, PySide6) as separate shared libraries that can be replaced.

Files: *
Copyright: @YEAR@ Bridge Lab developers
License: proprietary
 All rights reserved. Distributed to the engineers of the licensee only.

Files: opt/bridgelab/_internal/libpython* opt/bridgelab/_internal/base_library.zip
Copyright: Python Software Foundation
License: PSF-2.0

Files: opt/bridgelab/_internal/PySide6/* opt/bridgelab/_internal/shiboken6/*
 opt/bridgelab/_internal/libQt6*
Copyright: The Qt Company Ltd. and other contributors
License: LGPL-3.0-only
 On Debian systems the full text is in /usr/share/common-licenses/LGPL-3.
Comment: Includes ICU (Unicode License v3).

Files: opt/bridgelab/_internal/cryptography*
Copyright: The cryptography developers
License: Apache-2.0 or BSD-3-Clause
 On Debian systems Apache-2.0 is in /usr/share/common-licenses/Apache-2.0.

Files: opt/bridgelab/_internal/libcrypto* opt/bridgelab/_internal/libssl*
Copyright: The OpenSSL Project Authors
License: Apache-2.0

Files: opt/bridgelab/_internal/serial/*
Copyright: Chris Liechti and contributors (pyserial)
License: BSD-3-Clause
Comment: Other bundled Python packages (sqlite-utils, click, tabulate,
 python-dateutil, cffi, pluggy) and libraries (libffi, zlib, zstd, xz, bzip2,
 libuuid) are under permissive licences (Apache-2.0, BSD, MIT, zlib, 0BSD).
"""


def debian_version(version: str) -> str:
    """A PEP 440 version as Debian orders it: pre-releases sort before the release."""
    match = re.fullmatch(r"(\d+(?:\.\d+)*)(?:\.?(a|b|rc|dev)(\d+))?(?:\.post(\d+))?", version)
    if not match:
        raise ValueError(f"cannot map version {version!r} to a Debian version")
    release, pre, pre_number, post = match.groups()
    out = release
    if pre:
        out += f"~{pre}{pre_number}"
    if post:
        out += f"+post{post}"
    return out


def debian_architecture() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()


def depends_line(bundle: Path) -> str:
    """The Depends field for `bundle`; raises UnresolvedLibraryError (see linux_bundle)."""
    files = elf_files(bundle)
    packages = debian_packages(system_libraries_needed(bundle, files))
    others = [name for name in packages if name != "libc6"]
    return ", ".join([f"libc6 (>= {glibc_version_needed(files)})", *others])


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def stage(bundle: Path, staging: Path, *, version: str, mtime: int) -> None:
    """The package's file tree (without DEBIAN/) in `staging`."""
    shutil.rmtree(staging, ignore_errors=True)

    def tarball_only(folder: str, names: list[str]) -> list[str]:
        # Only at the top: a folder called `install` deeper down belongs to the bundle.
        return [n for n in names if n in TARBALL_ONLY] if Path(folder) == bundle else []

    shutil.copytree(bundle, staging / PREFIX, symlinks=True, ignore=tarball_only)
    usr_bin = staging / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    (usr_bin / PACKAGE).symlink_to(Path("/") / PREFIX / PACKAGE)
    share = staging / "usr" / "share"
    linux = HERE / "linux"
    icons = HERE / "icons"
    _write(share / "applications" / "bridgelab.desktop", (linux / "bridgelab.desktop").read_text())
    hicolor = share / "icons" / "hicolor"
    (hicolor / "scalable" / "apps").mkdir(parents=True)
    shutil.copyfile(icons / "bridgelab.svg", hicolor / "scalable" / "apps" / "bridgelab.svg")
    for size in ICON_SIZES:
        folder = hicolor / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True)
        shutil.copyfile(icons / f"bridgelab-{size}.png", folder / "bridgelab.png")
    rules = staging / "lib" / "udev" / "rules.d" / "60-bridgelab.rules"
    _write(rules, (linux / "60-bridgelab.rules").read_text())
    year = time.gmtime(mtime).tm_year
    _write(share / "doc" / PACKAGE / "copyright", COPYRIGHT.replace("@YEAR@", str(year)))
    (share / "doc" / PACKAGE / "changelog.gz").write_bytes(changelog(version, mtime))
    _write(share / "doc" / PACKAGE / "README.Debian", README_DEBIAN)


def _mode(path: Path) -> int:
    if path.is_dir():
        return 0o755
    # Shared libraries are loaded, not run: 0644 (PyInstaller copies them as 0755).
    if re.search(r"\.so(\.[0-9.]+)?$", path.name):
        return 0o644
    return 0o755 if path.stat().st_mode & 0o111 else 0o644


def normalise_tree(staging: Path, mtime: int) -> None:
    """Modes 0755/0644 whatever the umask was, and one timestamp, for repeatable builds."""
    for path in sorted(staging.rglob("*"), reverse=True):
        if not path.is_symlink():
            path.chmod(_mode(path))
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    staging.chmod(0o755)


def changelog(version: str, mtime: int) -> bytes:
    """usr/share/doc/<package>/changelog.gz for a native package (gzip without a name or
    time stamp of its own, so the same input gives the same bytes)."""
    when = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(mtime))
    text = (
        f"{PACKAGE} ({debian_version(version)}) stable; urgency=medium\n\n"
        f"  * Bridge Lab {version}.\n\n"
        f" -- {MAINTAINER}  {when}\n"
    )
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def installed_size_kib(staging: Path) -> int:
    total = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file() and not p.is_symlink())
    return (total + 1023) // 1024


def write_control(staging: Path, *, version: str, architecture: str, depends: str) -> None:
    debian = staging / "DEBIAN"
    debian.mkdir()
    sums = []
    for path in sorted(staging.rglob("*")):
        if path.is_file() and not path.is_symlink() and debian not in path.parents:
            digest = hashlib.md5(path.read_bytes()).hexdigest()
            sums.append(f"{digest}  {path.relative_to(staging)}\n")
    control = (
        f"Package: {PACKAGE}\n"
        f"Version: {debian_version(version)}\n"
        f"Architecture: {architecture}\n"
        f"Maintainer: {MAINTAINER}\n"
        f"Installed-Size: {installed_size_kib(staging)}\n"
        f"Depends: {depends}\n"
        "Recommends: udev\n"
        "Section: electronics\n"
        "Priority: optional\n"
        f"Description: {DESCRIPTION}\n"
    )
    _write(debian / "control", control)
    _write(debian / "md5sums", "".join(sums))
    _write(debian / "postinst", POSTINST, 0o755)
    _write(debian / "postrm", POSTRM, 0o755)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the one-folder bundle")
    parser.add_argument("--version", required=True, help="the project's version")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--mtime", type=int, default=None, help="timestamp of every file")
    parser.add_argument(
        "--staging", type=Path, default=STAGING_ROOT, help="where to lay out the package tree"
    )
    args = parser.parse_args(argv)
    try:
        depends = depends_line(args.bundle)
    except UnresolvedLibraryError as error:
        print(f"package build failed: {error}", file=sys.stderr)
        return 1
    architecture = debian_architecture()
    name = f"{PACKAGE}_{debian_version(args.version)}_{architecture}"
    staging = args.staging / name
    mtime = args.mtime if args.mtime is not None else int(os.path.getmtime(args.bundle))
    stage(args.bundle, staging, version=args.version, mtime=mtime)
    write_control(staging, version=args.version, architecture=architecture, depends=depends)
    normalise_tree(staging, mtime)
    output = args.output_dir / f"{name}.deb"
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(mtime)}
    print(f"+ dpkg-deb --build {output.name}", flush=True)
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(staging), str(output)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    print(f"  Depends: {depends}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
