"""`make package`: the Linux bundle, its tarball and its .deb, from a clean checkout.

    python3 packaging/build_linux.py [--dist DIR] [--python PYTHON]

Writes to dist/ (or DIR):
    bridgelab-<version>-linux-<arch>/          the one-folder PyInstaller bundle
    bridgelab-<version>-linux-<arch>.tar.gz    that folder, packed
    bridgelab_<version>_<debarch>.deb          the bundle under /opt/bridgelab, with
                                               a menu entry, icon and udev rule

Steps: a build venv in build/package-venv (PyInstaller pinned in requirements-build.txt),
a clean copy of the sources (what git tracks, plus new files git does not ignore)
installed into it non-editable, PyInstaller with packaging/bridgelab.spec, then
make_deb.py (run by the build venv, where `bridgelab.qtcheck` is importable) checks the
bundle's library closure and builds the .deb. Standard library only, so the system
python3 can run it. Fails with a message and a non-zero exit on the first error.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "packaging"
BUILD = ROOT / "build"
VENV = BUILD / "package-venv"
SOURCE_COPY = BUILD / "package-src"
PYINSTALLER_DIST = BUILD / "pyinstaller" / "dist"
PYINSTALLER_WORK = BUILD / "pyinstaller" / "work"
# Files whose change means the build venv must be made again.
VENV_INPUTS = (ROOT / "pyproject.toml", ROOT / "setup.py", HERE / "requirements-build.txt")
# Installed beside the bundle's executable, for the tarball's per-user install.
INSTALL_FILES = {
    HERE / "linux" / "INSTALL.txt": "INSTALL.txt",
    HERE / "linux" / "install-user.sh": "install/install-user.sh",
    HERE / "linux" / "bridgelab.desktop": "install/bridgelab.desktop",
    HERE / "linux" / "60-bridgelab.rules": "install/60-bridgelab.rules",
    HERE / "icons" / "bridgelab.svg": "install/bridgelab.svg",
    HERE / "icons" / "bridgelab-256.png": "install/bridgelab-256.png",
}
# Folders and names never copied into the clean source tree when git is not available.
UNTRACKED = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")


class BuildError(Exception):
    """A build step failed; the message says which and why."""


def project_version() -> str:
    text = (ROOT / "bridgelab" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if not match:
        raise BuildError("bridgelab/__init__.py has no __version__ line")
    return match.group(1)


def bundle_name(version: str) -> str:
    return f"bridgelab-{version}-linux-{platform.machine()}"


def run(*command: str | Path, cwd: Path = ROOT) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    completed = subprocess.run([str(part) for part in command], cwd=cwd)
    if completed.returncode != 0:
        raise BuildError(f"{Path(str(command[0])).name} failed (exit {completed.returncode})")


def _venv_key(python: str) -> str:
    digest = hashlib.sha256(python.encode())
    for path in VENV_INPUTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_build_venv(python: str) -> Path:
    """build/package-venv with PyInstaller and the project's dependencies; reused while
    pyproject.toml, setup.py and requirements-build.txt are unchanged. Returns its python."""
    stamp = VENV / ".build-stamp"
    key = _venv_key(python)
    venv_python = VENV / "bin" / "python"
    if stamp.is_file() and stamp.read_text() == key and venv_python.exists():
        return venv_python
    shutil.rmtree(VENV, ignore_errors=True)
    run(python, "-m", "venv", VENV)
    run(venv_python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(venv_python, "-m", "pip", "install", "--quiet", "-r", HERE / "requirements-build.txt")
    stamp.write_text(key)
    return venv_python


def _source_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return [ROOT / name for name in listed.decode().split("\0") if name]


def copy_clean_sources() -> Path:
    """The project as a clean clone has it, in build/package-src (no stale build/ output,
    no egg-info, no caches), so the installed copy holds exactly what git would ship."""
    shutil.rmtree(SOURCE_COPY, ignore_errors=True)
    files = _source_files()
    if not files:  # not a git checkout: copy the tree minus build output and caches
        shutil.copytree(ROOT, SOURCE_COPY, ignore=shutil.ignore_patterns(*UNTRACKED))
        return SOURCE_COPY
    for path in files:
        if path.is_file():
            target = SOURCE_COPY / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return SOURCE_COPY


def install_project(venv_python: Path, sources: Path) -> None:
    run(venv_python, "-m", "pip", "install", "--quiet", sources)
    # Same version number, new code: force the reinstall of the project itself.
    run(venv_python, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", sources)


def run_pyinstaller(venv_python: Path) -> Path:
    shutil.rmtree(PYINSTALLER_DIST, ignore_errors=True)
    PYINSTALLER_WORK.mkdir(parents=True, exist_ok=True)
    run(
        venv_python,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--log-level",
        "WARN",
        "--distpath",
        PYINSTALLER_DIST,
        "--workpath",
        PYINSTALLER_WORK,
        HERE / "bridgelab.spec",
        # Not the project root: there `import bridgelab` would find the source folders
        # instead of the installed copy.
        cwd=PYINSTALLER_WORK.parent,
    )
    return PYINSTALLER_DIST / "bridgelab"


def assemble_bundle(built: Path, target: Path, version: str) -> None:
    """Move PyInstaller's folder to `target` and add INSTALL.txt and install/."""
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(built), target)
    for source, relative in INSTALL_FILES.items():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.name == "INSTALL.txt":
            text = source.read_text().replace("@VERSION@", version)
            destination.write_text(text.replace("@ARCH@", platform.machine()))
        else:
            shutil.copy2(source, destination)


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH, else the last commit's time, else now: the archives' timestamps."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%ct"], cwd=ROOT, check=True, capture_output=True
        )
        return int(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError, ValueError):
        return int(time.time())


def make_tarball(bundle: Path, output: Path, mtime: int) -> None:
    """`output` (.tar.gz) holding `bundle` as its one top folder; root-owned, fixed times,
    sorted, so the same bundle packs to the same bytes."""

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = mtime
        return info

    # gzip stamps its own header with the time too: give it the same one.
    with (
        output.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=mtime) as packed,
        tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for path in [bundle, *sorted(bundle.rglob("*"))]:
            arcname = str(Path(bundle.name) / path.relative_to(bundle))
            archive.add(path, arcname=arcname, recursive=False, filter=normalise)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    parser.add_argument(
        "--python", default=sys.executable, help="Python for the build venv (3.11+)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        if not shutil.which("readelf") or not shutil.which("dpkg-deb"):
            raise BuildError("needs readelf (binutils) and dpkg-deb (dpkg)")
        version = project_version()
        dist: Path = args.dist.resolve()
        bundle = dist / bundle_name(version)
        BUILD.mkdir(exist_ok=True)
        venv_python = ensure_build_venv(args.python)
        install_project(venv_python, copy_clean_sources())
        assemble_bundle(run_pyinstaller(venv_python), bundle, version)
        mtime = source_date_epoch()
        run(
            venv_python,
            HERE / "make_deb.py",
            bundle,
            "--version",
            version,
            "--output-dir",
            dist,
            "--mtime",
            str(mtime),
        )
        tarball = dist / f"{bundle.name}.tar.gz"
        print(f"+ packing {tarball.name}", flush=True)
        make_tarball(bundle, tarball, mtime)
    except BuildError as error:
        print(f"package build failed: {error}", file=sys.stderr)
        return 1
    print(f"built in {time.monotonic() - started:.0f} s:")
    for path in sorted(dist.iterdir()):
        if path.name.startswith(("bridgelab-", "bridgelab_")) and version in path.name:
            print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
