"""The crash model: one update, interrupted at message boundary N, then re-run to the end.

Kinds of interruption, each tried at every boundary of a clean run:

- `kill`: the tool dies right after sending its N-th frame (a tool-side hook raises
  `ToolKilled`, which nothing in the engine catches, and every later write fails), as a
  SIGKILL would leave it: no goodbye, no cleanup on the wire;
- `power`: the bridge loses power right after answering its N-th request (emulator fault
  `power-cycle-after=N`: RAM lost, flash kept);
- `lost` / `dup`: the bridge's answer to its N-th request is lost / arrives twice.

After the interruption a fresh engine re-runs the same update (at most `RERUNS` times)
until it succeeds or says the bridge already runs that version. Every success must leave
the bridge confirmed; then the bridge is power-cycled once more and must still run what
was reported. The outcome of each case is one of `OUTCOMES`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bridgelab.drivers import protocol as p
from bridgelab.drivers.versions import NO_VERSION
from bridgelab.emulator.device import EmulatedBridge
from bridgelab.emulator.urlhandler import protocol_emu
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.events import UpdateResult
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.request import UpdateRequest

RERUNS = 3
OUTCOMES = ("completed", "completed-without-rerun", "silent-rollback", "bricked", "stuck")


class ToolKilled(BaseException):
    """The tool process is gone (BaseException: no `except Exception` may outlive it)."""


class KilledEngine(UpdateEngine):
    """An engine whose process dies right after its `kill_after`-th frame goes out."""

    def __init__(self, request: UpdateRequest, kill_after: int | None) -> None:
        super().__init__(request, trace=kill_after is not None)
        self.kill_after = kill_after
        self.sent = 0
        self.dead = False
        self._lock = threading.Lock()

    def _on_frame(self, direction: str, raw: bytes, t: float) -> None:
        if direction != "tx" or self.kill_after is None:
            return
        with self._lock:
            self.sent += 1
            if self.sent >= self.kill_after:
                self.dead = True
        if self.dead:
            client = self.link.client
            if client is not None:
                client.port.close()  # a dead process's port: every later write fails
            raise ToolKilled()


def device(bridge_id: str) -> EmulatedBridge:
    return protocol_emu._instances[bridge_id].device


def wait_up(bridge: EmulatedBridge, limit_s: float = 10.0) -> None:
    """Let a rebooting bridge come back (its boot is 50 ms in the fast profile)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        bridge.poll()
        if not bridge.is_down:
            return
        time.sleep(0.01)


@dataclass
class Case:
    mode: str
    kind: str
    boundary: int
    outcome: str = ""
    runs: list[str] = field(default_factory=list)  # each run's result
    note: str = ""


def run_once(
    url: str, image: Path, mode: str, policy: UpdatePolicy, kill_after: int | None = None
) -> tuple[UpdateResult | None, KilledEngine]:
    request = UpdateRequest(port_url=url, image_path=image, mode=mode, policy=policy)
    engine = KilledEngine(request, kill_after)
    try:
        return engine.run(), engine
    except ToolKilled:
        engine.link.close()
        return None, engine


def play(
    case: Case,
    url: str,
    bridge_id: str,
    image: Path,
    old_version: int,
    new_version: int,
    policy: UpdatePolicy,
) -> Case:
    """Interrupt one update as `case` says, re-run it, and classify what the bridge did."""
    kill_after = case.boundary if case.kind == "kill" else None
    result, _ = run_once(url, image, case.mode, policy, kill_after)
    case.runs.append("killed" if result is None else result.result)
    bridge = device(bridge_id)
    reported: int | None = new_version if result is not None and result.ok else None
    if result is not None and result.ok and bridge.flash.state.trial:
        case.outcome, case.note = "silent-rollback", "success reported on a trial image"
        return case
    completed_first = result is not None and result.ok
    for _ in range(RERUNS):
        if reported is not None:
            break
        wait_up(bridge)
        again, _ = run_once(url, image, case.mode, policy)
        assert again is not None
        case.runs.append(again.result)
        if again.ok:
            reported = new_version
            if bridge.flash.state.trial:
                case.outcome, case.note = "silent-rollback", "re-run reported success on trial"
                return case
        elif again.error and again.error.get("code") == "same-version":
            reported = again.version_before  # the bridge already runs it, confirmed
    wait_up(bridge)
    if reported is None:
        running = bridge.firmware_version
        case.outcome = "bricked" if running == NO_VERSION else "stuck"
        case.note = f"running {running:#x} trial={bridge.flash.state.trial}"
        return case
    # Never a rollback later: power-cycle once more; it must still run what was reported.
    bridge.power_cycle()
    wait_up(bridge)
    if bridge.firmware_version != reported or reported != new_version:
        case.outcome = "silent-rollback"
        case.note = f"reported {reported:#x}, runs {bridge.firmware_version:#x} after a reboot"
    elif bridge.firmware_version == NO_VERSION:
        case.outcome = "bricked"
    else:
        case.outcome = "completed-without-rerun" if completed_first else "completed"
    assert old_version != new_version
    return case


def count_boundaries(
    url: str, bridge_id: str, image: Path, mode: str, policy: UpdatePolicy
) -> tuple[int, int]:
    """(frames the tool sends, requests the bridge handles) in one clean update."""
    result, engine = run_once(url, image, mode, policy, kill_after=10**9)
    assert result is not None and result.ok, result
    return engine.sent, device(bridge_id).requests_handled


def status_of(bridge: EmulatedBridge) -> p.UpdateState:
    return p.UpdateState.TRIAL if bridge.flash.state.trial else p.UpdateState.IDLE
