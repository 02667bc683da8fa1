"""Smoke test of the built Linux packages: run before each release (`make smoke`).

    python3 packaging/smoke_test.py [DIST_DIR] [--deb] [--bundle DIR]

Unpacks dist/bridgelab-<version>-linux-<arch>.tar.gz into a temporary folder and runs the
bundled `bridgelab` there; with --deb (root only) it also installs the .deb
(`apt-get install ./…deb`, which brings its dependencies), runs /usr/bin/bridgelab, and
removes the package again (unless it was installed before). --bundle DIR checks an
already unpacked bundle instead of the tarball. Each target goes through these steps:

    version        `bridgelab --version` prints the version in the artefact's name
    info           `bridgelab info --port emu://demo --json` reads the Demo bridge
    screenshot     `bridgelab gui --screenshot OUT.png` renders a PNG offscreen
    update         `bridgelab emulate --pty` in the background, then a local update of
                   the shipped demo image 1.3.0 over that pty, then `info` shows 1.3.0
    first-run      (tarball, when this machine lacks a Qt system library) `bridgelab gui`
                   names the missing package instead of a Qt plugin stack trace
    user-install   (tarball) install/install-user.sh into a scratch HOME

A step whose command the bundle does not have yet (`bridgelab --help` does not list it)
reports SKIPPED; once the command exists, the step must pass. The last line is
`smoke: N passed, N failed, N skipped`; the exit status is 1 if anything failed.
Standard library only: runs with the system python3, no venv needed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO_IMAGE = "bridge-demo-1.3.0.ota"
DEMO_IMAGE_VERSION = 0x01030000
DEMO_MANUFACTURER = 0xB1D6
STEP_TIMEOUT_S = 120.0
PASS, FAIL, SKIP = "PASS", "FAIL", "SKIPPED"


class StepFailed(Exception):
    """A smoke step's check did not hold; the message says what was seen."""


class StepSkipped(Exception):
    """A smoke step cannot run here (command not built yet, nothing to check)."""


@dataclass
class Artifacts:
    """What `make package` wrote to one dist folder."""

    version: str
    bundle: Path | None
    tarball: Path | None
    deb: Path | None


@dataclass
class Outcome:
    target: str
    step: str
    status: str
    detail: str
    seconds: float


@dataclass
class Target:
    """One installed form of the application: its command and its bundle folder."""

    name: str
    binary: Path
    bundle_root: Path
    scratch: Path
    extra_steps: list[str] = field(default_factory=list)


def find_artifacts(dist: Path) -> Artifacts:
    """The newest build in `dist` (by the tarball's, else the bundle's, version name)."""
    arch = platform.machine()
    tarballs = sorted(dist.glob(f"bridgelab-*-linux-{arch}.tar.gz"), key=os.path.getmtime)
    bundles = sorted(
        (p for p in dist.glob(f"bridgelab-*-linux-{arch}") if p.is_dir()), key=os.path.getmtime
    )
    newest = tarballs[-1].name.removesuffix(".tar.gz") if tarballs else None
    if newest is None and bundles:
        newest = bundles[-1].name
    if newest is None:
        raise FileNotFoundError(f"no bridgelab-*-linux-{arch} bundle or tarball in {dist}")
    version = newest.removeprefix("bridgelab-").removesuffix(f"-linux-{arch}")
    debs = sorted(dist.glob("bridgelab_*.deb"), key=os.path.getmtime)
    bundle = dist / newest
    tarball = dist / f"{newest}.tar.gz"
    return Artifacts(
        version=version,
        bundle=bundle if bundle.is_dir() else None,
        tarball=tarball if tarball.is_file() else None,
        deb=debs[-1] if debs else None,
    )


def tree_size(root: Path) -> int:
    """Bytes of the regular files below `root` (symlinks not followed)."""
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def run_command(
    command: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = STEP_TIMEOUT_S,
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `command`, returning its completed process and its wall time in seconds."""
    started = time.perf_counter()
    completed = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
    )
    return completed, time.perf_counter() - started


def median_time(
    command: Sequence[str | Path], runs: int, env: dict[str, str] | None = None
) -> float:
    """Median wall time of `runs` runs of `command` after one warm-up; fails on non-zero exit."""
    times = []
    for index in range(runs + 1):
        completed, seconds = run_command(command, env=env)
        if completed.returncode != 0:
            raise StepFailed(f"{' '.join(map(str, command))} exited {completed.returncode}")
        if index:
            times.append(seconds)
    return statistics.median(times)


def listed_commands(binary: Path) -> set[str]:
    """The sub-commands `bridgelab --help` lists."""
    completed, _ = run_command([binary, "--help"])
    return set(re.findall(r"^ {4}([a-z][a-z0-9-]*)", completed.stdout, re.MULTILINE))


def _expect_ok(completed: subprocess.CompletedProcess[str], what: str) -> None:
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise StepFailed(f"{what} exited {completed.returncode}: {' | '.join(tail)}")


def _json(completed: subprocess.CompletedProcess[str], what: str) -> dict[str, object]:
    try:
        payload = json.loads(completed.stdout)
    except json.JSONDecodeError as error:
        raise StepFailed(
            f"{what} did not print JSON ({error}): {completed.stdout[:200]!r}"
        ) from None
    if not isinstance(payload, dict):
        raise StepFailed(f"{what} printed {type(payload).__name__}, not an object")
    return payload


def _require(commands: set[str], name: str) -> None:
    if name not in commands:
        raise StepSkipped(f"command not available yet (`bridgelab --help` does not list `{name}`)")


def offscreen_env(**extra: str) -> dict[str, str]:
    """The environment for a Qt step with no display."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="offscreen", **extra)
    return env


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file; raises StepFailed if it is not one."""
    data = path.read_bytes()[:24]
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise StepFailed(f"{path.name} is not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# ---------------------------------------------------------------------------- steps


def step_version(target: Target, version: str, _: set[str]) -> str:
    completed, seconds = run_command([target.binary, "--version"])
    _expect_ok(completed, "bridgelab --version")
    if completed.stdout.strip() != f"bridgelab {version}":
        raise StepFailed(f"printed {completed.stdout.strip()!r}, expected 'bridgelab {version}'")
    return f"{completed.stdout.strip()}; first run {seconds:.2f} s"


def step_info(target: Target, _: str, __: set[str]) -> str:
    completed, seconds = run_command([target.binary, "info", "--port", "emu://demo", "--json"])
    _expect_ok(completed, "bridgelab info --port emu://demo")
    info = _json(completed, "info")
    identity = info.get("identity")
    if not isinstance(identity, dict) or identity.get("manufacturer_code") != DEMO_MANUFACTURER:
        raise StepFailed(f"unexpected identity: {identity!r}")
    firmware = identity.get("firmware_version")
    return f"{info.get('model')}, firmware {firmware:#010x} ({seconds:.2f} s)"


def step_screenshot(target: Target, _: str, commands: set[str]) -> str:
    _require(commands, "gui")
    out = target.scratch / "screenshot.png"
    out.unlink(missing_ok=True)
    completed, seconds = run_command(
        [target.binary, "gui", "--screenshot", out], env=offscreen_env(), cwd=target.scratch
    )
    _expect_ok(completed, "bridgelab gui --screenshot")
    if not out.is_file():
        raise StepFailed(f"exit 0 but no {out.name} written")
    width, height = png_size(out)
    if width < 200 or height < 150:
        raise StepFailed(f"screenshot is only {width}x{height}")
    return f"{width}x{height} PNG offscreen in {seconds:.2f} s (process start to exit)"


def _find_demo_image(bundle_root: Path) -> Path:
    found = sorted(bundle_root.rglob(DEMO_IMAGE))
    if not found:
        raise StepFailed(f"{DEMO_IMAGE} is not in the bundle (demo material not packaged)")
    return found[0]


def _start_emulator(binary: Path) -> tuple[subprocess.Popen[str], str]:
    emulator = subprocess.Popen(
        [str(binary), "emulate", "--pty"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert emulator.stdout is not None
    line = emulator.stdout.readline().strip()  # the contract: first line `listening on URL`
    if not line.startswith("listening on "):
        stop_process(emulator)
        raise StepFailed(f"`bridgelab emulate --pty` printed {line!r} first")
    return emulator, line.removeprefix("listening on ")


def stop_process(process: subprocess.Popen[Any], signal_number: int = signal.SIGINT) -> None:
    """Stop a helper process we started (emulator, X server): by signal, then by force."""
    if process.poll() is None:
        process.send_signal(signal_number)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout:
        process.stdout.close()


def step_update(target: Target, _: str, commands: set[str]) -> str:
    _require(commands, "update")
    image = _find_demo_image(target.bundle_root)
    emulator, url = _start_emulator(target.binary)
    try:
        completed, seconds = run_command(
            [target.binary, "update", image, "--port", url, "--json", "--db", target.scratch / "db"]
        )
        _expect_ok(completed, f"bridgelab update over {url}")
        result = _json(completed, "update")
        if result.get("result") != "success" or result.get("version_after") != DEMO_IMAGE_VERSION:
            raise StepFailed(f"update result {result!r}")
        completed, _ = run_command([target.binary, "info", "--port", url, "--json"])
        _expect_ok(completed, f"bridgelab info over {url}")
        identity = _json(completed, "info").get("identity")
        if not isinstance(identity, dict) or identity.get("firmware_version") != DEMO_IMAGE_VERSION:
            raise StepFailed(f"after the update the bridge reports {identity!r}")
    finally:
        stop_process(emulator)
    return f"1.2.0 -> 1.3.0 over {url} (emulate --pty), {seconds:.1f} s"


def _missing_qt_libraries() -> list[str]:
    """What this machine lacks for Qt on X11, by the project's own table (bridgelab.qtcheck)."""
    sys.path.insert(0, str(ROOT))
    try:
        from bridgelab.qtcheck import find_missing_qt_libraries
    finally:
        sys.path.remove(str(ROOT))
    env = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}
    return [lib.debian_package for lib in find_missing_qt_libraries(env)]


def step_first_run(target: Target, _: str, commands: set[str]) -> str:
    _require(commands, "gui")
    packages = _missing_qt_libraries()
    if not packages:
        raise StepSkipped("every Qt system library is present here: nothing to report")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":0", XDG_SESSION_TYPE="x11")
    completed, _ = run_command([target.binary, "gui"], env=env, timeout_s=60)
    output = completed.stdout + completed.stderr
    if completed.returncode == 0:
        raise StepFailed("`bridgelab gui` exited 0 although Qt system libraries are missing")
    if "qt-system-library-missing" not in output or packages[0] not in output:
        raise StepFailed(f"no pre-flight message naming {packages[0]}: {output.strip()[-300:]!r}")
    if "qt.qpa.plugin" in output or "Traceback" in output:
        raise StepFailed("Qt's plugin error or a traceback reached the user")
    return f"names {', '.join(packages)} and exits {completed.returncode}"


def step_user_install(target: Target, version: str, _: set[str]) -> str:
    script = target.bundle_root / "install" / "install-user.sh"
    home = target.scratch / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home)}
    env.pop("XDG_DATA_HOME", None)
    completed, _ = run_command(["sh", script], env=env)
    _expect_ok(completed, "install-user.sh")
    link = home / ".local" / "bin" / "bridgelab"
    desktop = home / ".local" / "share" / "applications" / "bridgelab.desktop"
    completed, _ = run_command([link, "--version"])
    _expect_ok(completed, str(link))
    if completed.stdout.strip() != f"bridgelab {version}" or not desktop.is_file():
        raise StepFailed("the installed command or menu entry is wrong")
    if f'Exec="{target.bundle_root}/bridgelab" gui' not in desktop.read_text():
        raise StepFailed("the menu entry does not run this bundle")
    completed, _ = run_command(["sh", script, "--uninstall"], env=env)
    _expect_ok(completed, "install-user.sh --uninstall")
    if link.exists() or desktop.exists():
        raise StepFailed("--uninstall left files behind")
    return "command, menu entry and icon in a scratch HOME; --uninstall removes them"


Step = Callable[[Target, str, set[str]], str]
COMMON_STEPS: dict[str, Step] = {
    "version": step_version,
    "info": step_info,
    "screenshot": step_screenshot,
    "update": step_update,
}
EXTRA_STEPS: dict[str, Step] = {"first-run": step_first_run, "user-install": step_user_install}


def run_target(target: Target, version: str) -> list[Outcome]:
    commands = listed_commands(target.binary)
    steps = {**COMMON_STEPS, **{name: EXTRA_STEPS[name] for name in target.extra_steps}}
    outcomes = []
    for name, step in steps.items():
        started = time.perf_counter()
        try:
            status, detail = PASS, step(target, version, commands)
        except StepSkipped as skipped:
            status, detail = SKIP, str(skipped)
        except (StepFailed, subprocess.TimeoutExpired, OSError) as error:
            status, detail = FAIL, str(error)
        outcome = Outcome(target.name, name, status, detail, time.perf_counter() - started)
        print(f"  {status:<8} {name:<13} {detail}", flush=True)
        outcomes.append(outcome)
    return outcomes


def extract_tarball(tarball: Path, into: Path) -> Path:
    with tarfile.open(tarball) as archive:
        archive.extractall(into, filter="tar")
    return into / tarball.name.removesuffix(".tar.gz")


def _deb_installed() -> bool:
    completed, _ = run_command(["dpkg-query", "-W", "-f=${Status}", "bridgelab"])
    return completed.returncode == 0 and "install ok installed" in completed.stdout


def install_deb(deb: Path) -> None:
    """Install `deb` with its dependencies (apt-get; dpkg alone where apt is absent)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not shutil.which("apt-get"):
        completed, _ = run_command(["dpkg", "-i", deb.resolve()], timeout_s=600, env=env)
        _expect_ok(completed, "dpkg -i")
        return
    # apt reads a bare relative name as a package or release: give it the full path.
    command: list[str | Path] = ["apt-get", "install", "-y", "--no-install-recommends"]
    command.append(deb.resolve())
    completed, _ = run_command(command, timeout_s=600, env=env)
    if completed.returncode != 0:
        # A fresh machine may have no package lists yet to resolve the dependencies from.
        run_command(["apt-get", "update", "-qq"], timeout_s=600, env=env)
        completed, _ = run_command(command, timeout_s=600, env=env)
    _expect_ok(completed, "apt-get install")


def check_deb_files() -> str:
    expected = [
        Path("/usr/bin/bridgelab"),
        Path("/opt/bridgelab/bridgelab"),
        Path("/usr/share/applications/bridgelab.desktop"),
        Path("/usr/share/icons/hicolor/scalable/apps/bridgelab.svg"),
        Path("/lib/udev/rules.d/60-bridgelab.rules"),
        Path("/usr/share/doc/bridgelab/copyright"),
    ]
    missing = [str(p) for p in expected if not p.exists()]
    if missing:
        raise StepFailed(f"installed package lacks {', '.join(missing)}")
    return f"{len(expected)} key files in place"


def smoke_deb(deb: Path, version: str, scratch: Path) -> list[Outcome]:
    if os.geteuid() != 0:
        return [Outcome("deb", "install", FAIL, "--deb needs root (dpkg)", 0.0)]
    was_installed = _deb_installed()
    outcomes: list[Outcome] = []
    started = time.perf_counter()
    try:
        install_deb(deb)
        detail = check_deb_files()
        outcomes.append(Outcome("deb", "install", PASS, detail, time.perf_counter() - started))
        print(f"  {PASS:<8} {'install':<13} {deb.name}: {detail}", flush=True)
    except (StepFailed, subprocess.TimeoutExpired, OSError) as error:
        print(f"  {FAIL:<8} {'install':<13} {error}", flush=True)
        return [Outcome("deb", "install", FAIL, str(error), time.perf_counter() - started)]
    try:
        target = Target("deb", Path("/usr/bin/bridgelab"), Path("/opt/bridgelab"), scratch)
        outcomes += run_target(target, version)
    finally:
        if not was_installed:
            completed, _ = run_command(["dpkg", "--purge", "bridgelab"], timeout_s=300)
            status = PASS if completed.returncode == 0 and not _deb_installed() else FAIL
            print(f"  {status:<8} {'remove':<13} dpkg --purge bridgelab", flush=True)
            outcomes.append(Outcome("deb", "remove", status, "dpkg --purge", 0.0))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dist", nargs="?", type=Path, default=ROOT / "dist")
    parser.add_argument("--deb", action="store_true", help="also install and test the .deb (root)")
    parser.add_argument("--bundle", type=Path, help="test this unpacked bundle, not the tarball")
    args = parser.parse_args(argv)
    try:
        found = find_artifacts(args.dist)
    except FileNotFoundError as error:
        print(f"smoke test: {error}; run `make package` first", file=sys.stderr)
        return 1
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="bridgelab-smoke-") as tmp:
        scratch = Path(tmp)
        if args.bundle:
            bundle = args.bundle.resolve()
            label = str(bundle)
        elif found.tarball:
            label = str(found.tarball)
            bundle = extract_tarball(found.tarball, scratch / "unpacked")
        else:
            print("smoke test: no tarball in dist (use --bundle DIR)", file=sys.stderr)
            return 1
        print(f"bridgelab {found.version} smoke test: {label}", flush=True)
        work = scratch / "tarball"
        work.mkdir()
        extra = ["first-run", "user-install"]
        target = Target("tarball", bundle / "bridgelab", bundle, work, extra)
        outcomes += run_target(target, found.version)
        if args.deb:
            if found.deb is None:
                outcomes.append(Outcome("deb", "install", FAIL, "no .deb in dist", 0.0))
            else:
                print(f"bridgelab {found.version} smoke test: {found.deb}", flush=True)
                work = scratch / "deb"
                work.mkdir()
                outcomes += smoke_deb(found.deb, found.version, work)
    counts = {status: sum(o.status == status for o in outcomes) for status in (PASS, FAIL, SKIP)}
    print(f"smoke: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped")
    return 1 if counts[FAIL] else 0


if __name__ == "__main__":
    sys.exit(main())
