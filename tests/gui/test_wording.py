"""The GUI's words and small rules, without widgets: versions, verdicts, the start-up port,
emu:// URLs that stay the same bridge, and the chart's geometry."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from bridgelab.drivers.ports import DEMO_URL, PortInfo
from bridgelab.drivers.versions import display_version
from bridgelab.gui.bridge_session import persistent_url
from bridgelab.gui.formatting import format_eta
from bridgelab.gui.port_list import choose_start_port
from bridgelab.gui.widgets.throughput_chart import (
    ThroughputChart,
    nice_ceiling,
    plot_points,
    thin,
    time_axis,
)
from bridgelab.updates.durations import format_duration
from bridgelab.updates.events import UpdateResult
from bridgelab.updates.verdict import update_verdict


def result(**changes: object) -> UpdateResult:
    base: dict[str, object] = dict(
        result="success", session_id="s", mode="local", version_before=0x01020000,
        version_after=0x01030000, image_version=0x01030000, bytes=49278, duration_s=1.5,
        throughput_bps=None, line_efficiency=0.93, retries=0, resumed_from=None, rejoined=True,
    )  # fmt: skip
    base.update(changes)
    return UpdateResult(**base)  # type: ignore[arg-type]


def test_versions_as_engineers_say_them() -> None:
    assert display_version(0x01020000) == "1.2.0"
    assert display_version(0x01020007) == "1.2.0.7"
    assert display_version(0xFFFFFFFF) == "none"
    assert display_version(None) == "none"


def test_durations() -> None:
    assert format_duration(0.84) == "0.8 s"
    assert format_duration(437) == "7 min 17 s"
    assert format_duration(3900) == "1 h 05 min"
    assert format_eta(75) == "1:15" and format_eta(3725) == "1:02:05" and format_eta(None) == "-"


def test_verdicts() -> None:
    good = update_verdict(result(), arrow="\u2192")
    assert good.tone == "good"
    assert good.headline == "Updated 1.2.0 \u2192 1.3.0, rejoined HAN, healthy"
    assert "93 % of the line rate" in good.details

    resumed = update_verdict(result(rejoined=None, resumed_from=20440, retries=1))
    assert resumed.headline.endswith(", healthy") and "rejoined" not in resumed.headline
    assert "resumed from byte 20,440" in resumed.details and "1 retry" in resumed.details

    failed = update_verdict(
        result(
            result="link-lost",
            failure_stage="transfer",
            error={
                "code": "link-lost",
                "message": "emu://demo: the link broke. Restore the "
                "link and retry: the transfer resumes from the last good block.",
            },
        )
    )
    assert failed.tone == "bad"
    assert failed.headline == "Update failed at transfer: Link lost"
    assert failed.next_step.startswith("Restore the link and retry")
    assert failed.details[-1] == "emu://demo: the link broke.", "the action is said once"

    cancelled = update_verdict(result(result="cancelled", failure_stage="transfer", bytes=12000))
    assert cancelled.tone == "neutral"
    assert cancelled.headline == "Cancelled during transfer after 12,000 bytes"
    assert "resume" in cancelled.next_step


def port(url: str, vid: int | None = None, pid: int | None = None) -> PortInfo:
    return PortInfo(url, url, vid, pid)


def test_start_port_prefers_what_was_asked_then_hardware_then_the_demo() -> None:
    ftdi, other = port("/dev/ttyUSB1", 0x0403, 0x6001), port("/dev/ttyUSB0", 0x1234, 0x0001)
    builtin = port("/dev/ttyS0")
    demo = PortInfo(DEMO_URL, "Demo bridge (emulated)", emulated=True)
    claimed = {(0x0403, 0x6001)}
    assert choose_start_port([builtin, demo], "") == DEMO_URL
    assert choose_start_port([builtin, demo], "", requested="socket://rig:7000") == (
        "socket://rig:7000"
    )
    assert choose_start_port([other, ftdi, demo], "", claimed=claimed) == "/dev/ttyUSB1"
    assert choose_start_port([other, ftdi, demo], "/dev/ttyUSB0", claimed=claimed) == (
        "/dev/ttyUSB0"
    )
    # A remembered URL waits behind plugged-in hardware, and is used without it.
    assert choose_start_port([other, demo], "socket://rig:7000") == "/dev/ttyUSB0"
    assert choose_start_port([builtin, demo], "socket://rig:7000") == "socket://rig:7000"
    # A remembered port that is no longer plugged in is not chosen.
    assert choose_start_port([builtin, demo], "/dev/ttyUSB3") == DEMO_URL


def test_emulated_urls_stay_the_same_bridge() -> None:
    assert persistent_url("emu://demo") == "emu://demo?id=gui-demo"
    assert persistent_url("emu://legacy?baud=115200&faults=drop-rate=0.01,reboot-at=8") == (
        "emu://legacy?baud=115200&faults=drop-rate=0.01,reboot-at=8&id=gui-legacy"
    )
    assert persistent_url("emu://demo?id=rack-1") == "emu://demo?id=rack-1"
    assert persistent_url("/dev/ttyUSB0") == "/dev/ttyUSB0"


def test_chart_geometry() -> None:
    assert nice_ceiling(0.0) == 1.0
    assert nice_ceiling(7.3) == 10.0 and nice_ceiling(11_520) == 20_000.0
    assert nice_ceiling(4_000) == 5_000.0
    assert time_axis(0.0) == (1.0, "1 s") and time_axis(7.2) == (10.0, "10 s")
    assert time_axis(437.0) == (600.0, "10 min")
    area = QRectF(10, 0, 100, 50)
    points = plot_points([(0.0, 0.0), (5.0, 50.0), (10.0, 100.0)], area, 10.0, 100.0)
    assert [(p.x(), p.y()) for p in points] == [(10, 50), (60, 25), (110, 0)]
    samples = [(float(t), 1.0) for t in range(7)]
    assert [t for t, _ in thin(samples)] == [0, 2, 4, 6]


@pytest.mark.parametrize("samples", [0, 50])
def test_chart_draws_its_line(qtbot: QtBot, samples: int) -> None:
    chart = ThroughputChart()
    qtbot.addWidget(chart)
    chart.resize(400, 160)
    chart.set_line_rate(11_520)
    for n in range(samples):
        chart.add_sample(n * 0.1, 10_000 + 100 * (n % 5))
    image: QImage = chart.grab().toImage()
    line = chart.line_color()
    drawn = sum(
        1
        for x in range(0, image.width(), 2)
        for y in range(0, image.height(), 2)
        if _close(image.pixelColor(x, y), line)
    )
    assert (drawn > 20) == bool(samples)


def _close(a: QColor, b: QColor) -> bool:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) < 40
