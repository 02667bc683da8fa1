"""Crash consistency at every message boundary of an update, local and simulated OTA:
the tool killed, the bridge power-cycled, one answer lost or duplicated. Whatever happens,
after re-runs the bridge runs the new image confirmed, no success is ever reported for an
image that a reboot would roll back, and nothing is bricked (docs/updates.md, "Resume")."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from tests.updates.conftest import FAST_POLICY, signed_demo_image
from tests.updates.crash_model import Case, count_boundaries, device, play

OLD, NEW = 0x01020000, 0x01030000
POLICY = replace(FAST_POLICY, healthy_s=0.05)
_ids = itertools.count()
SUMMARY: Counter[tuple[str, str, str]] = Counter()
KINDS = ("kill", "power", "lost", "dup")


@pytest.fixture(scope="module")
def small_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "bridge-1.3.0-small.ota"
    path.write_bytes(signed_demo_image(2 * 1024, NEW))
    return path


def _url(fast_profile: Path, state: Path, bridge_id: str, faults: str = "") -> str:
    query = f"id={bridge_id}&state={state}"
    return f"emu://{fast_profile}?{query}" + (f"&faults={faults}" if faults else "")


def _boundaries(fast_profile: Path, tmp: Path, image: Path, mode: str) -> tuple[int, int]:
    bridge_id = f"crash-count-{mode}-{next(_ids)}"
    url = _url(fast_profile, tmp / f"{bridge_id}.json", bridge_id)
    return count_boundaries(url, bridge_id, image, mode, POLICY)


@pytest.mark.parametrize("mode", ["local", "ota"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_boundary_ends_confirmed_and_never_rolls_back(
    tmp_path: Path, fast_profile: Path, small_image: Path, mode: str, kind: str
) -> None:
    sent, handled = _boundaries(fast_profile, tmp_path, small_image, mode)
    boundaries = sent if kind == "kill" else handled
    assert boundaries > 5  # the clean run was a real update
    cases = []
    for boundary in range(1, boundaries + 1):
        bridge_id = f"crash-{mode}-{kind}-{boundary}-{next(_ids)}"
        faults = {"power": "power-cycle-after", "lost": "lose-reply", "dup": "dup-reply"}
        spec = f"{faults[kind]}={boundary}" if kind in faults else ""
        url = _url(fast_profile, tmp_path / f"{bridge_id}.json", bridge_id, spec)
        case = play(Case(mode, kind, boundary), url, bridge_id, small_image, OLD, NEW, POLICY)
        assert device(bridge_id).firmware_version == NEW
        cases.append(case)
        SUMMARY[(mode, kind, case.outcome)] += 1
    bad = [c for c in cases if c.outcome not in ("completed", "completed-without-rerun")]
    assert bad == [], bad
    record = tmp_path.parent / f"crash-summary-{mode}-{kind}.json"
    record.write_text(
        json.dumps({"boundaries": boundaries, "outcomes": Counter(c.outcome for c in cases)})
    )
