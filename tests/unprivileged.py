"""Commands run where file permissions bind, even when the tests run as root (as CI does).

Root ignores mode bits, so "this folder cannot be written" proves nothing as root. The
`unprivileged` fixture (tests/conftest.py) picks the first way that really binds:

- not root: the mode bits bind already; the command runs as this user.
- root with `setpriv`: the command runs as nobody (65534, no groups), which the mode bits
  bind like any user. Its folder, HOME and BRIDGELAB_DB are in a world-traversable
  temporary folder (pytest's own is root's 0700 one); the probe checks that nobody can run
  this Python and import the project (a venv under a private home could not).
- root without that: `chattr +i` makes what is locked immutable, which binds root too
  (ext4 and CAP_LINUX_IMMUTABLE needed); it is always undone, even when the test fails.

Where none works, the test skips saying why. The command always runs in a subprocess, so
the same test code runs the same way in all three.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

NOBODY = 65534
SETPRIV = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
TIMEOUT_S = 60


def _world_traversable(folder: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [folder, *folder.parents])


@cache
def _nobody_can_run_python() -> str | None:
    """None when nobody can run this interpreter and import the CLI, else why not."""
    if shutil.which("setpriv") is None:
        return "setpriv is not installed"
    probe = subprocess.run(
        [*SETPRIV, sys.executable, "-c", "import bridgelab.cli"],
        capture_output=True,
        text=True,
        cwd="/",
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=TIMEOUT_S,
    )
    if probe.returncode != 0:
        return f"nobody cannot run {sys.executable}: {probe.stderr.strip()[-300:]}"
    return None


def _chattr(flag: str, path: Path) -> str | None:
    """None when `chattr flag path` worked, else why not."""
    if shutil.which("chattr") is None:
        return "chattr is not installed"
    done = subprocess.run(["chattr", flag, str(path)], capture_output=True, text=True)
    return None if done.returncode == 0 else done.stderr.strip() or f"chattr exit {done.returncode}"


@dataclass
class Unprivileged:
    """Where and how a test runs a command that permissions must bind."""

    home: Path  # a fresh folder the command's user can enter and read (mode 0755)
    how: str  # "self" (not root), "nobody" (root, via setpriv) or "immutable" (root, chattr)
    why_not_nobody: str | None = None

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """`python -m bridgelab argv` in `home`, as the user the permissions bind."""
        prefix = list(SETPRIV) if self.how == "nobody" else []
        env = {
            **os.environ,
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "BRIDGELAB_DB": str(self.home / "default.db"),
            "PYTHONDONTWRITEBYTECODE": "1",  # nobody cannot write the venv's caches
        }
        return subprocess.run(
            [*prefix, sys.executable, "-m", "bridgelab", *argv],
            capture_output=True,
            text=True,
            cwd=self.home,
            env=env,
            timeout=TIMEOUT_S,
        )

    def give(self, *paths: Path) -> None:
        """Make each path (a folder with all it holds) the command's user's own."""
        if self.how != "nobody":
            return  # the command runs as the owner already
        for path in paths:
            for each in [path, *(path.rglob("*") if path.is_dir() else [])]:
                os.chown(each, NOBODY, NOBODY)

    @contextmanager
    def locked(self, *paths: Path) -> Iterator[None]:
        """Make each path unwritable for the command's user (folders stay readable)."""
        modes = {path: stat.S_IMODE(path.stat().st_mode) for path in paths}
        frozen: list[Path] = []
        try:
            for path in paths:
                path.chmod(0o555 if path.is_dir() else 0o444)
                if self.how == "immutable":
                    why = _chattr("+i", path)
                    if why is not None:
                        pytest.skip(
                            f"running as root: {self.why_not_nobody}, and chattr +i {path} "
                            f"failed ({why}), so nothing can be made unwritable for root"
                        )
                    frozen.append(path)
            yield
        finally:
            for path in frozen:
                _chattr("-i", path)
            for path, mode in modes.items():
                path.chmod(mode)


@contextmanager
def unprivileged_place() -> Iterator[Unprivileged]:
    """A fresh `Unprivileged` whose home is removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="bridgelab-unprivileged-"))
    try:
        home.chmod(0o755)
        if os.geteuid() != 0:
            yield Unprivileged(home, "self")
            return
        why = _nobody_can_run_python()
        if why is None and not _world_traversable(home):
            why = f"nobody cannot reach the temporary folder {home}"
        yield Unprivileged(home, "nobody" if why is None else "immutable", why)
    finally:
        # Whatever a failed test left locked must not stop the clean-up.
        for folder, _dirs, _files in os.walk(home):
            Path(folder).chmod(0o755)
        shutil.rmtree(home)
