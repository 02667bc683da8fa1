"""The Device view leads with the trial state and its next step, read from the bridge."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from tests.gui.helpers import WindowFactory, connected
from tests.updates.test_trial_state import trial_bridge


def test_a_trial_bridge_says_so_with_the_next_step(
    qtbot: QtBot, make_window: WindowFactory
) -> None:
    window = connected(qtbot, make_window, trial_bridge())
    view = window.device_view
    headline = view.diagnosis.headline.text()
    assert "Running 1.3.0 on trial" in headline
    assert headline.endswith("run the same update again to confirm it")
    assert "rolls back to 1.2.0 at the next reboot" in view.diagnosis.text()
