"""Independent peers against the emulated Gecko Bootloader, over a real pty.

- the `xmodem` package (MIT, PyPI) as the XMODEM-CRC sender;
- universal-silabs-flasher (GPL-3.0), run only as a subprocess CLI, probing the port as a
  Gecko Bootloader and flashing a `.gbl` through it.

Either way the emulated radio's flash must end byte-identical to the image's program data.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from tests.recovery.conftest import APP_ADDRESS, bridge_on_pty

xmodem = pytest.importorskip("xmodem", reason="the xmodem package (dev extra) is not installed")


def _read_for(port: serial.Serial, seconds: float) -> bytes:
    deadline = time.monotonic() + seconds
    seen = b""
    while time.monotonic() < deadline and not seen.endswith(b"BL > "):
        seen += port.read(256)
    return seen


@pytest.mark.parametrize("faults", ["", "drop-rate=0.03", "corrupt-rate=0.0003"])
def test_xmodem_package_uploads_to_the_emulated_bootloader(faults: str) -> None:
    from tests.gbl_files import application_bytes, build_gbl

    # Smaller with faults: every lost block costs the peer its one-second timeout.
    app_image = application_bytes(40_000 if not faults else 8_000)
    gbl = build_gbl(app_image, address=APP_ADDRESS)
    with (
        bridge_on_pty(faults=faults, seed=3) as bridge,
        serial.Serial(bridge.path, 115200, timeout=0.05) as port,
    ):
        port.write(b"3")  # "ebl info": the menu
        assert _read_for(port, 2).endswith(b"BL > ")
        port.write(b"1")

        def getc(size: int, timeout: float = 1) -> bytes | None:
            port.timeout = timeout
            data = port.read(size)
            return data or None

        def putc(data: bytes, timeout: float = 1) -> int:
            return port.write(data) or 0

        # The XMODEM peer: its default is 128-byte blocks, CRC when the receiver asks.
        modem = xmodem.XMODEM(getc, putc, mode="xmodem", pad=b"\xff")
        assert modem.send(io.BytesIO(gbl), retry=30, timeout=1, quiet=True) is True
        port.timeout = 0.05
        assert b"Serial upload complete" in _read_for(port, 3)
    bootloader = bridge.device.bootloader
    assert bytes(bootloader.received_stream[: len(gbl)]) == gbl
    assert bytes(bootloader.flash[APP_ADDRESS : APP_ADDRESS + len(app_image)]) == app_image
    if faults:  # the faults did happen, and the peer got past them
        assert bootloader.duplicates + bootloader.naks + bootloader.dropped > 0


def _flasher() -> str:
    found = shutil.which("universal-silabs-flasher", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("universal-silabs-flasher (dev extra) is not installed")
    return found


def test_universal_silabs_flasher_flashes_through_its_bootloader_probe(
    gbl_file: Path, app_image: bytes
) -> None:
    with bridge_on_pty(baud=115200, latency_ms=1) as bridge:
        # Only its bootloader probe: its other probes (EZSP, CPC, Spinel) would wait for
        # protocols this port does not speak.
        done = subprocess.run(
            [
                _flasher(),
                "--device",
                bridge.path,
                "--probe-methods",
                "bootloader:115200",
                "flash",
                "--firmware",
                str(gbl_file),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "Detected bootloader version '3.0.1'" in done.stderr
        bootloader = bridge.device.bootloader
        assert bytes(bootloader.flash[APP_ADDRESS : APP_ADDRESS + len(app_image)]) == app_image
        # It ran the new application: the bridge answers the service protocol again.
        deadline = time.monotonic() + 5
        while bridge.device.in_bootloader and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not bridge.device.in_bootloader
        assert bridge.device.firmware_version == 0x01030000


def test_universal_silabs_flasher_is_told_a_refused_image_was_refused(tmp_path: Path) -> None:
    from tests.gbl_files import application_bytes, build_gbl

    # A well-formed GBL (the flasher's own reader accepts it) whose program data lies
    # beyond this radio's flash: the bootloader cancels with CAN as the block arrives.
    path = tmp_path / "too-far.gbl"
    path.write_bytes(build_gbl(application_bytes(3000), address=0x7FFF0000))
    with bridge_on_pty() as bridge:
        done = subprocess.run(
            [
                _flasher(),
                "--device",
                bridge.path,
                "--probe-methods",
                "bootloader:115200",
                "flash",
                "--firmware",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode != 0
        assert "rejected by the device" in done.stderr
        assert not bridge.device.bootloader.app_valid
        assert set(bridge.device.bootloader.flash) == {0xFF}
