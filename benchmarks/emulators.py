"""Shared benchmark plumbing: signed images of any size, emulator processes on ptys."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bridgelab.emulator.demo_material import DEMO_PRIVATE_KEY
from bridgelab.emulator.profiles import (
    DEMO_HARDWARE_VERSION,
    DEMO_IMAGE_TYPE,
    DEMO_MANUFACTURER_CODE,
)
from bridgelab.firmware.image import build_image
from bridgelab.firmware.keys import load_private_key
from bridgelab.firmware.signing import sign_image


def signed_image(path: Path, size: int, file_version: int = 0x01030000) -> Path:
    """A demo-signed image of about `size` bytes at `path` (reused when present)."""
    if path.exists():
        return path
    payload = bytes((i * 131 + 7) % 256 for i in range(size - 126))
    unsigned = build_image(
        manufacturer_code=DEMO_MANUFACTURER_CODE,
        image_type=DEMO_IMAGE_TYPE,
        file_version=file_version,
        manufacturer_image=payload,
        header_string="benchmark image",
        min_hw_version=DEMO_HARDWARE_VERSION & 0xFF00,
        max_hw_version=DEMO_HARDWARE_VERSION | 0x00FF,
    )
    path.write_bytes(sign_image(unsigned, load_private_key(DEMO_PRIVATE_KEY)))
    return path


@contextmanager
def emulator_processes(args_list: Sequence[Sequence[str]]) -> Iterator[list[str]]:
    """Start `bridgelab emulate --pty ...` processes; yields their pty paths."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bridgelab", "emulate", "--pty", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in args_list
    ]
    try:
        urls = []
        for process in processes:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if not line.startswith("listening on "):
                raise RuntimeError(f"emulator did not start: {line}")
            urls.append(line.removeprefix("listening on "))
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)
