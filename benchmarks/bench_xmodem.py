"""XMODEM-128 upload to the emulated Gecko Bootloader: payload rate vs the line and the bound.

    python -m benchmarks xmodem

Against `bridgelab emulate --profile dead-app` processes on real ptys (the emulator paces
the line at its baud, adds the USB adapter's latency each way and the flash write time of
each block), a `.gbl` is uploaded by Bridge Lab's XMODEM-CRC sender and, for comparison,
by the `xmodem` package (PyPI, MIT; dev extra), at 115200 and 921600 baud with 1 ms and
16 ms adapter latency.

XMODEM is stop-and-wait: no sender can beat one block per
    133 bytes on the line + 1 ACK byte + 2 adapter latencies + the bootloader's write time,
which is the bound each rate is compared with. Goals: within 5 % of the bound on every
setting, and at least 75 % of the line rate at 115200 baud / 1 ms. Each figure is the
best of three uploads to the same emulated radio (a busy machine only slows a run).
"""

from __future__ import annotations

import io
import tempfile
import time

import serial

from benchmarks.emulators import emulator_processes, table
from bridgelab.drivers import xmodem as xm
from bridgelab.drivers.gecko_bootloader import GeckoBootloader
from bridgelab.emulator.profiles import load_profile
from tests.gbl_files import application_bytes, build_gbl

CASES = ((115200, 1.0, 32), (115200, 16.0, 8), (921600, 1.0, 64), (921600, 16.0, 8))
RUNS = 3  # best of: other processes only ever slow a run down
BITS_PER_BYTE = 10


def bound_bps(baud: int, latency_s: float, write_s: float) -> float:
    block_s = (xm.BLOCK_BYTES + 1) * BITS_PER_BYTE / baud + 2 * latency_s + write_s
    return xm.BLOCK_SIZE / block_s


def _ours(url: str, gbl: bytes, baud: int) -> float:
    bootloader = GeckoBootloader.connect(url, baudrate=baud)
    try:
        result = bootloader.upload(gbl)
    finally:
        bootloader.close()
    return result.payload_bytes / result.seconds


def _xmodem_package(url: str, gbl: bytes, baud: int) -> float | None:
    try:
        import xmodem  # dev extra: the independent peer
    except ImportError:
        return None
    with serial.Serial(url, baud, timeout=0.05) as port:
        port.write(b"3")  # "ebl info": the menu
        time.sleep(0.2)  # the menu, printed at the line's pace
        port.reset_input_buffer()
        port.write(b"1")

        def getc(size: int, timeout: float = 1) -> bytes | None:
            port.timeout = timeout
            return port.read(size) or None

        def putc(data: bytes, timeout: float = 1) -> int:
            return port.write(data) or 0

        modem = xmodem.XMODEM(getc, putc, mode="xmodem", pad=b"\xff")
        # From option 1 to the last ACK (it reads the bootloader's first C itself, a few
        # byte times after the option): a few milliseconds more than ours is timed over.
        started = time.monotonic()
        ok = modem.send(io.BytesIO(gbl), retry=16, timeout=2, quiet=True)
        seconds = time.monotonic() - started
        return len(gbl) / seconds if ok else None


def main(argv: list[str]) -> int:
    del argv
    write_s = load_profile("dead-app").write_ms_per_kib / 8000.0  # per 128-byte block
    rows: list[tuple[str, ...]] = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="bench-xmodem-"):
        for baud, latency_ms, kib in CASES:
            gbl = build_gbl(application_bytes(kib * 1024))
            line = baud / BITS_PER_BYTE
            bound = bound_bps(baud, latency_ms / 1000, write_s)
            args = ["--profile", "dead-app", "--baud", str(baud)]
            args += ["--adapter-latency-ms", str(latency_ms)]
            with emulator_processes([args, args]) as (ours_url, peer_url):
                ours = max(_ours(ours_url, gbl, baud) for _ in range(RUNS))
                peers = [_xmodem_package(peer_url, gbl, baud) for _ in range(RUNS)]
                peer = max((r for r in peers if r is not None), default=None)
            to_bound = ours / bound
            goal_ok = to_bound >= 0.95 and (
                (baud, latency_ms) != (115200, 1.0) or ours / line >= 0.75
            )
            failures += 0 if goal_ok else 1
            rows.append(
                (
                    f"{baud} / {latency_ms:g} ms",
                    f"{ours / 1024:.2f} KiB/s",
                    f"{100 * ours / line:.1f} %",
                    f"{100 * bound / line:.1f} %",
                    f"{100 * to_bound:.1f} %",
                    "-" if peer is None else f"{100 * peer / line:.1f} %",
                    "ok" if goal_ok else "MISSED",
                )
            )
    header = (
        "baud / latency",
        "Bridge Lab",
        "of line",
        "bound / line",
        "of bound",
        "xmodem pkg / line",
        "goal",
    )
    print(table(rows, header))
    return 1 if failures else 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
