"""XMODEM-128 upload to the emulated Gecko Bootloader: payload rate vs the line and the bound.

    python -m benchmarks xmodem

Against `bridgelab emulate --profile dead-app` processes on real ptys (the emulator paces
the line at its baud, adds the USB adapter's latency each way and the flash write time of
each block), a `.gbl` is uploaded by Bridge Lab's XMODEM-CRC sender and, for comparison,
by the `xmodem` package (PyPI, MIT; dev extra), at 115200 and 921600 baud with 1 ms and
16 ms adapter latency.

XMODEM is stop-and-wait: no sender can beat one block per
    133 bytes on the line + 1 ACK byte + 2 adapter latencies + the bootloader's write time,
and the end of transfer (EOT, its ACK, 2 latencies), which is the bound each rate is
compared with. Both senders are timed from the first block's write to the EOT's ACK (the
wait for the bootloader's first `C` is its start-up, not the line's). Goals: within 5 % of
the bound on every setting, and at least 75 % of the line rate at 115200 baud / 1 ms.
Each setting is three uploads by each sender to the same emulated radio, printed as
min / median / max; the goal is judged on the median (a busy machine only slows a run,
so the max is what an idle one approaches).
"""

from __future__ import annotations

import io
import logging
import statistics
import tempfile
import time

import serial

from benchmarks.emulators import emulator_processes, table
from bridgelab.drivers import xmodem as xm
from bridgelab.drivers.gecko_bootloader import GeckoBootloader
from bridgelab.emulator.profiles import load_profile
from tests.gbl_files import application_bytes, build_gbl

CASES = ((115200, 1.0, 32), (115200, 16.0, 8), (921600, 1.0, 64), (921600, 16.0, 8))
RUNS = 3  # per sender and setting: min / median / max
BITS_PER_BYTE = 10


def bound_bps(baud: int, latency_s: float, write_s: float, size: int) -> float:
    """The payload rate stop-and-wait allows for a file of `size` bytes: every block and
    its ACK, then EOT and its ACK, each exchange with the adapter's latency both ways."""
    byte_s = BITS_PER_BYTE / baud
    block_s = (xm.BLOCK_BYTES + 1) * byte_s + 2 * latency_s + write_s
    eot_s = 2 * byte_s + 2 * latency_s
    return size / (xm.block_count(size) * block_s + eot_s)


def _ours(url: str, gbl: bytes, baud: int) -> float:
    bootloader = GeckoBootloader.connect(url, baudrate=baud)
    try:
        result = bootloader.upload(gbl)
    finally:
        bootloader.close()
    return result.payload_bytes / result.transfer_seconds


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
        first_block_at: list[float] = []

        def getc(size: int, timeout: float = 1) -> bytes | None:
            port.timeout = timeout
            return port.read(size) or None

        def putc(data: bytes, timeout: float = 1) -> int:
            if not first_block_at and len(data) >= xm.BLOCK_SIZE:
                first_block_at.append(time.monotonic())
            return port.write(data) or 0

        modem = xmodem.XMODEM(getc, putc, mode="xmodem", pad=b"\xff")
        # The package logs every byte of the bootloader's "begin upload" line, which it
        # skips on its way to the first C, as a send error: noise in the table.
        logging.getLogger("xmodem.XMODEM").setLevel(logging.CRITICAL)
        # Timed as ours is: from the first block's write to the EOT's ACK (it reads the
        # bootloader's first C itself, before that).
        ok = modem.send(io.BytesIO(gbl), retry=16, timeout=2, quiet=True)
        done = time.monotonic()
        return len(gbl) / (done - first_block_at[0]) if ok and first_block_at else None


def _spread(rates: list[float], per: float) -> str:
    """min / median / max of `rates` as percentages of `per`."""
    if not rates:
        return "-"
    low, mid, high = min(rates), statistics.median(rates), max(rates)
    return f"{100 * low / per:.1f} / {100 * mid / per:.1f} / {100 * high / per:.1f} %"


def main(argv: list[str]) -> int:
    del argv
    write_s = load_profile("dead-app").write_ms_per_kib / 8000.0  # per 128-byte block
    rows: list[tuple[str, ...]] = []
    failures = 0
    with tempfile.TemporaryDirectory(prefix="bench-xmodem-"):
        for baud, latency_ms, kib in CASES:
            gbl = build_gbl(application_bytes(kib * 1024))
            line = baud / BITS_PER_BYTE
            bound = bound_bps(baud, latency_ms / 1000, write_s, len(gbl))
            args = ["--profile", "dead-app", "--baud", str(baud)]
            args += ["--adapter-latency-ms", str(latency_ms)]
            with emulator_processes([args, args]) as (ours_url, peer_url):
                ours: list[float] = []
                peers: list[float | None] = []
                for _ in range(RUNS):  # in turn, so that a load that comes and goes hits both
                    ours.append(_ours(ours_url, gbl, baud))
                    peers.append(_xmodem_package(peer_url, gbl, baud))
            peer_rates = [r for r in peers if r is not None]
            median = statistics.median(ours)
            goal_ok = median / bound >= 0.95 and (
                (baud, latency_ms) != (115200, 1.0) or median / line >= 0.75
            )
            failures += 0 if goal_ok else 1
            rows.append(
                (
                    f"{baud} / {latency_ms:g} ms",
                    f"{median / 1024:.2f} KiB/s",
                    _spread(ours, line),
                    f"{100 * bound / line:.1f} %",
                    _spread(ours, bound),
                    _spread(peer_rates, line),
                    "ok" if goal_ok else "MISSED",
                )
            )
    header = (
        "baud / latency",
        "Bridge Lab (median)",
        "payload / line (min / median / max)",
        "bound / line",
        "payload / bound (min / median / max)",
        "xmodem pkg / line (min / median / max)",
        "goal (median)",
    )
    print(table(rows, header))
    return 1 if failures else 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
