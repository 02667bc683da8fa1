"""The verification report shows how a vendor file was read, in the same words as
`bridgelab image inspect` (real widgets offscreen, real vendor files read in place)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytestqt.qtbot import QtBot

from bridgelab.firmware.image import load_image
from bridgelab.firmware.verify import READING_LABELS, describe_image, reading_facts
from tests.gui.helpers import WAIT_MS, WindowFactory, connected

SDEVICES = "SDevices__152F_SBDV-00205_thermostat_r_7_7bd95d88_07000000.ota.zigbee"
IKEA = "IKEA__zingo_cws-0x2805-1.0.44-prod.ota.ota.signed"


def test_report_shows_container_trailing_bytes_firmware_and_gbl(
    qtbot: QtBot,
    make_window: WindowFactory,
    demo_url: Callable[..., str],
    ota_real_dir: Path,
) -> None:
    window = connected(qtbot, make_window, demo_url())
    window.show_view("update")
    report = window.update_view.report
    for name in (SDEVICES, IKEA):
        path = ota_real_dir / name
        with qtbot.waitSignal(window.updates.assessed, timeout=WAIT_MS):
            window.updates.set_image(path)
        expected = dict(reading_facts(describe_image(load_image(path))))
        shown = {label: report.image.value(label) for label in READING_LABELS}
        assert shown == expected, name
        findings = [report.findings.item(i).text() for i in range(report.findings.count())]
        if name == SDEVICES:
            assert "CRC-32/JAMCRC" in shown["Trailing bytes"]
            assert any("not sent to a device" in line for line in findings), findings
            assert shown["Inner image"].startswith("GBL, 5 tags")
        else:
            assert shown["Container"].startswith("IKEA signed container (NGIS)")
            assert "application version 0x01000044; signed" in shown["Inner image"]
        # Not for the Demo bridge: refused, with the maker's code named.
        assert "Refused" in report.verdict.text()
