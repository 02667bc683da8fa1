"""The benchmarks' independent line (`benchmarks/line.py`) carries bytes as a line would:
every byte arrives, in order, and exactly the bytes it reports corrupted differ; lrzsz's
ZMODEM gets a file across it intact even with errors (its own CRCs recover them)."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT


@contextmanager
def _line(*args: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.line", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert process.stdout is not None
    stats: dict[str, str] = {}
    try:
        host = process.stdout.readline().strip().removeprefix("host ")
        far = process.stdout.readline().strip().removeprefix("far ")
        yield host, far, stats
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
        stats["out"] = out
    assert process.returncode == 0


def _read(fd: int, count: int, timeout_s: float) -> bytes:
    got = bytearray()
    deadline = time.monotonic() + timeout_s
    while len(got) < count and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            got += os.read(fd, 4096)
    return bytes(got)


@pytest.mark.parametrize("error_rate", [0.0, 0.01])
def test_every_byte_arrives_and_only_the_counted_ones_differ(error_rate: float) -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes: about 0.1 s at 921600 baud
    args = ["--baud", "921600", "--latency-ms", "2", "--error-rate", str(error_rate)]
    with _line(*args, "--seed", "5") as (host_path, far_path, stats):
        host = os.open(host_path, os.O_RDWR | os.O_NOCTTY)
        far = os.open(far_path, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(host, data)
            arrived = _read(far, len(data), 20.0)
            os.write(far, data[:500])
            back = _read(host, 500, 20.0)
        finally:
            os.close(host)
            os.close(far)
    assert len(arrived) == len(data) and len(back) == 500
    differ = sum(a != b for a, b in zip(arrived, data, strict=True))
    differ_back = sum(a != b for a, b in zip(back, data[:500], strict=True))
    counted = stats["out"]
    assert f'"to_far_corrupted": {differ},' in counted
    assert f'"to_host_corrupted": {differ_back},' in counted
    if error_rate:
        assert 40 <= differ <= 180  # about 102 expected at 1 %
    else:
        assert differ == 0


@pytest.mark.skipif(shutil.which("sz") is None, reason="lrzsz (sz/rz) is not installed")
def test_zmodem_from_lrzsz_gets_a_file_across_a_noisy_line(tmp_path: Path) -> None:
    source = tmp_path / "payload.bin"
    source.write_bytes(os.urandom(48 * 1024))
    received = tmp_path / "rx"
    received.mkdir()
    args = ["--baud", "921600", "--latency-ms", "1", "--error-rate", "1e-4"]
    with _line(*args, "--seed", "9") as (host_path, far_path, stats):
        host = os.open(host_path, os.O_RDWR | os.O_NOCTTY)
        far = os.open(far_path, os.O_RDWR | os.O_NOCTTY)
        quiet = subprocess.DEVNULL
        try:
            rz = subprocess.Popen(["rz", "-y"], stdin=far, stdout=far, stderr=quiet, cwd=received)
            sz = subprocess.Popen(
                ["sz", "-w", "4096", source.name],
                stdin=host,
                stdout=host,
                stderr=quiet,
                cwd=tmp_path,
            )
            try:
                assert sz.wait(timeout=120) == 0
                # rz may still wait for sz's last "OO", which a pty can lose: not the file.
                rz.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        finally:
            for running in (rz, sz):
                if running.poll() is None:
                    running.kill()
                    running.wait()
            os.close(host)
            os.close(far)
    assert (received / source.name).read_bytes() == source.read_bytes()
    assert '"to_far_corrupted": 0,' not in stats["out"]  # errors happened and were repaired
