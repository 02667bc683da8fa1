"""Runs over the independent line (`benchmarks/line.py`): Bridge Lab and lrzsz alike.

Each run starts its own line process (and, for Bridge Lab, its own unpaced emulator with
flash timing, so every run updates a bridge that still runs 1.2.0). lrzsz runs `rz` on the
far pty and `sz` on the host pty, both ends through the same line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.emulators import emulator_processes

RZ_READY_S = 0.5  # rz announces itself by sending ZRINIT / 'C'; not part of the time


@dataclass(frozen=True)
class Line:
    baud: int
    latency_ms: float
    error_rate: float = 0.0

    def args(self, seed: int) -> list[str]:
        return [
            "--baud",
            str(self.baud),
            "--latency-ms",
            f"{self.latency_ms:g}",
            "--error-rate",
            f"{self.error_rate:g}",
            "--seed",
            str(seed),
        ]

    @property
    def bytes_per_s(self) -> float:
        return self.baud / 10.0

    def label(self) -> str:
        noise = f"{self.error_rate:.0e}" if self.error_rate else "clean"
        return f"{self.baud} / {self.latency_ms:g} ms, {noise}"


@dataclass
class LineEnds:
    host: str
    far: str
    stats: dict[str, int]


@contextmanager
def line_process(line: Line, seed: int, far: str | None = None) -> Iterator[LineEnds]:
    """A running `benchmarks.line` process; its byte counts land in `stats` on exit."""
    args = [sys.executable, "-m", "benchmarks.line", *line.args(seed)]
    if far:
        args += ["--far", far]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        host = process.stdout.readline().strip().removeprefix("host ")
        far_path = process.stdout.readline().strip().removeprefix("far ")
        ends = LineEnds(host, far_path, {})
        yield ends
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
        for text in out.splitlines():
            if text.startswith("stats "):
                ends.stats = json.loads(text.removeprefix("stats "))


def have_lrzsz() -> bool:
    return shutil.which("sz") is not None and shutil.which("rz") is not None


@dataclass
class LrzszRun:
    seconds: float
    finished: bool  # ended, with the file received whole
    ended: bool  # one of sz and rz exited before the time limit

    def efficiency(self, size: int, line: Line) -> float:
        return size / self.seconds / line.bytes_per_s


def lrzsz(
    line: Line,
    seed: int,
    source: Path,
    folder: Path,
    *,
    sz_args: Sequence[str],
    rz_args: Sequence[str],
    timeout_s: float,
) -> LrzszRun:
    """Send `source` with `sz` to `rz` over the line; time from sz's start to the end.

    The end is the first of the two to exit: sz after rz's ZFIN (ZMODEM), rz after it
    acknowledged the EOT (XMODEM). Whichever is left is waiting for a last byte that a
    pty can lose (an exiting lrzsz flushes its tty, and a pty has handed the byte to
    nobody yet), which is not part of the transfer; it is stopped. `finished` is false if
    neither ended within `timeout_s` or the received file differs.
    """
    target = folder / "rx"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    with line_process(line, seed) as ends:
        far = os.open(ends.far, os.O_RDWR | os.O_NOCTTY)
        host = os.open(ends.host, os.O_RDWR | os.O_NOCTTY)
        quiet = subprocess.DEVNULL
        try:
            receiver = subprocess.Popen(
                ["rz", *rz_args], stdin=far, stdout=far, stderr=quiet, cwd=target
            )
            time.sleep(RZ_READY_S)
            started = time.monotonic()
            sender = subprocess.Popen(
                ["sz", *sz_args, source.name],
                stdin=host,
                stdout=host,
                stderr=quiet,
                cwd=source.parent,
            )
            ended = False
            while time.monotonic() - started < timeout_s:
                if sender.poll() is not None or receiver.poll() is not None:
                    ended = True
                    break
                time.sleep(0.002)
            seconds = time.monotonic() - started
            for process in (sender, receiver):
                try:
                    process.wait(timeout=2 if ended else 0.01)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        finally:
            os.close(far)
            os.close(host)
    received = target / source.name
    intact = received.exists() and received.read_bytes() == source.read_bytes()
    return LrzszRun(seconds, ended and intact, ended)


LRZSZ_VARIANTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # name: (sz arguments, rz arguments)
    "ZMODEM (lrzsz sz/rz, streaming)": ((), ("-y",)),
    "ZMODEM, 4 KiB window (sz -w 4096)": (("-w", "4096"), ("-y",)),
    "XMODEM (lrzsz sz -X / rz -X, 128 B, CRC)": (("-X",), ("-X", "-c", "-y")),
}


def lrzsz_variant(
    name: str, line: Line, seed: int, source: Path, folder: Path, timeout_s: float
) -> LrzszRun:
    sz_args, rz_args = LRZSZ_VARIANTS[name]
    if "-X" in rz_args:
        rz_args = (*rz_args, source.name)  # XMODEM carries no file name
    return lrzsz(line, seed, source, folder, sz_args=sz_args, rz_args=rz_args, timeout_s=timeout_s)


@contextmanager
def bridge_on_line(line: Line, seed: int) -> Iterator[LineEnds]:
    """A fresh unpaced emulator (flash timing kept) behind the line; yields its ends."""
    with (
        emulator_processes([["--baud", "0", "--flash-timing"]]) as (emulator,),
        line_process(line, seed, far=emulator) as ends,
    ):
        yield ends
