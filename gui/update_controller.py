"""The update view's controller: check an image, run the update engine, report its events.

The controller holds no widgets. `set_image()` checks the image against the connected
bridge on a worker (`assessed`); `start()` borrows the port from the `BridgeSession`,
runs `UpdateEngine.run()` on a long-job worker and re-emits the engine's events on the
GUI thread (`engineEvent`), then `finished` with the result, and reconnects the session
so the device view shows the new state. `cancel()` may be pressed at any time; starting
the same image again resumes (the bridge reports the offset it has).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from bridgelab.data.records import Mode
from bridgelab.errors import BridgeLabError
from bridgelab.firmware.compat import DowngradeOverride
from bridgelab.gui.bridge_session import BridgeSession, BridgeSnapshot, ConnectionState
from bridgelab.gui.settings import Settings
from bridgelab.gui.store_holder import StoreHolder
from bridgelab.gui.tasks import TaskRunner
from bridgelab.updates.engine import UpdateEngine
from bridgelab.updates.events import UpdateResult
from bridgelab.updates.policy import UpdatePolicy
from bridgelab.updates.preflight import BridgeFacts, Preflight, assess
from bridgelab.updates.request import UpdateRequest


def bridge_facts(snapshot: BridgeSnapshot | None) -> BridgeFacts | None:
    """What the pre-flight checks an image against, from the device view's last reading."""
    if snapshot is None:
        return None
    return BridgeFacts.read(snapshot.identity, snapshot.join.state)


class UpdateController(QObject):
    assessing = Signal(object)  # Path
    assessed = Signal(object)  # Preflight
    assessFailed = Signal(object)  # BridgeLabError: not an image we can read
    runningChanged = Signal()  # read `.running`
    engineEvent = Signal(object)  # updates.events.UpdateEvent, on the GUI thread
    finished = Signal(object)  # UpdateResult
    crashed = Signal(object)  # BridgeLabError: the engine itself failed (a bug)
    resultCleared = Signal()  # the last result was about another bridge or image: forget it
    _fromEngine = Signal(object)  # emitted on the engine's thread

    def __init__(
        self,
        runner: TaskRunner,
        session: BridgeSession,
        store: StoreHolder,
        settings: Settings,
        *,
        policy: UpdatePolicy | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.session = session
        self.store = store
        self.settings = settings
        self.policy = policy or UpdatePolicy()
        self.image_path: Path | None = None
        self.override: DowngradeOverride | None = None
        self.assessment: Preflight | None = None
        self.engine: UpdateEngine | None = None
        self.last_result: UpdateResult | None = None
        self._assessment_number = 0
        self._assessed_bridge: BridgeFacts | None = None
        self._result_eui64: int | None = None  # the bridge the last result is about
        self._fromEngine.connect(self._on_engine_event)
        session.snapshotChanged.connect(self._on_snapshot)
        session.stateChanged.connect(self._on_session_state)

    @property
    def running(self) -> bool:
        return self.engine is not None

    def can_start(self, mode: str) -> bool:
        """The pre-flight allows `mode` for this image and bridge, which is connected and idle."""
        return self.start_refusal(mode) is None

    def start_refusal(self, mode: str) -> str | None:
        """Why `mode` cannot start now (None: it can): the pre-flight's reason, or the
        session's. The update view shows it beside the disabled Start button."""
        assessment = self.assessment
        if self.running:
            return "An update is running."
        if self.session.state != ConnectionState.CONNECTED:
            return "Connect to a bridge first."
        if assessment is None:
            return "Open an image: it is checked against the bridge before anything is sent."
        refusal = assessment.verdict(mode).refusal
        if refusal is not None:
            return refusal.message + (f" {refusal.action}" if refusal.action else "")
        if not self.store.settled:
            return "Waiting for the triage log."
        return None

    # -- the image --------------------------------------------------------------------------

    def set_image(self, path: Path) -> None:
        """Check a newly chosen image (any earlier downgrade permission is dropped)."""
        if path != self.image_path:
            self.assessment = None
            self._clear_result()
        self.image_path = path
        self.override = None
        self.reassess()

    def _clear_result(self) -> None:
        if self.last_result is not None and not self.running:
            self.last_result = None
            self.resultCleared.emit()

    def allow_downgrade(self, reason: str) -> None:
        """Permit this image although it is older; `reason` is recorded with the attempt."""
        if not reason.strip():
            raise BridgeLabError(
                "A downgrade needs a reason.",
                code="downgrade-needs-reason",
                action="Say why the older image must go on; it is kept in the triage log.",
            )
        self.override = DowngradeOverride(reason.strip())
        self.reassess()

    def reassess(self) -> None:
        path = self.image_path
        if path is None:
            return
        snapshot = self.session.snapshot
        bridge = bridge_facts(snapshot)
        self._assessed_bridge = bridge
        trust_dir = Path(self.settings.trust_dir) if self.settings.trust_dir else None
        override, policy = self.override, self.policy
        self._assessment_number += 1
        number = self._assessment_number
        self.assessing.emit(path)
        self.runner.submit(
            lambda: assess(path, bridge, trust_dir=trust_dir, override=override, policy=policy),
            lambda result: self._assessed(number, result),
            lambda error: self._assess_failed(number, error),
        )

    def _assessed(self, number: int, assessment: Preflight) -> None:
        if number == self._assessment_number:
            self.assessment = assessment
            self.assessed.emit(assessment)

    def _assess_failed(self, number: int, error: BridgeLabError) -> None:
        if number == self._assessment_number:
            self.assessment = None
            self.assessFailed.emit(error)

    def _on_snapshot(self, snapshot: BridgeSnapshot) -> None:
        if self._result_eui64 is not None and snapshot.identity.eui64 != self._result_eui64:
            self._clear_result()  # another bridge: the last verdict is not about it
        # The verdict is about *this* bridge: check again when another one, a new firmware
        # version or a new join state is seen, not on every LQI change.
        if (
            self.image_path is not None
            and not self.running
            and bridge_facts(snapshot) != self._assessed_bridge
        ):
            self.reassess()

    def _on_session_state(self, state: str) -> None:
        # A lost or closed link: the report must not go on naming the bridge that was.
        gone = state in (ConnectionState.DISCONNECTED.value, ConnectionState.FAILED.value)
        if gone and self.image_path is not None and not self.running and self._assessed_bridge:
            self.reassess()

    # -- the update -------------------------------------------------------------------------

    def start(self, mode: str) -> None:
        """Run the update in `mode` ("local" or "ota"); raises BridgeLabError if it cannot."""
        assessment = self.assessment
        if self.running:
            raise BridgeLabError("An update is already running.", code="update-running")
        if self.session.state != ConnectionState.CONNECTED:
            raise BridgeLabError(
                "No bridge is connected.",
                code="not-connected",
                action="Connect to the bridge first (the port picker at the top).",
            )
        refusal = assessment.verdict(mode).refusal if assessment is not None else None
        if assessment is None or refusal is not None:
            raise BridgeLabError(
                refusal.message if refusal is not None else "No image has been checked.",
                code=refusal.code if refusal is not None else "image-not-checked",
                action=refusal.action
                if refusal is not None
                else "Open an image and read the verification report first.",
            )
        request = UpdateRequest(
            port_url=self.session.url,
            image_path=assessment.path,
            mode=Mode(mode),
            trust_dir=Path(self.settings.trust_dir) if self.settings.trust_dir else None,
            allow_downgrade=self.override is not None,
            downgrade_reason=self.override.reason if self.override else None,
            baudrate=self.session.baud,
            operator=self.settings.operator or None,
            policy=self.policy,
        )
        engine = UpdateEngine(
            request,
            store=self.store.store,
            subscribers=[self._fromEngine.emit],
            trace=self.settings.record_trace,
        )
        self.engine = engine
        self.runningChanged.emit()

        def run() -> None:
            self.runner.submit(engine.run, self._engine_done, self._engine_failed, long=True)

        self.session.release(run)

    def cancel(self) -> None:
        if self.engine is not None:
            self.engine.cancel()

    @Slot(object)
    def _on_engine_event(self, event: object) -> None:
        self.engineEvent.emit(event)

    def _engine_done(self, result: UpdateResult) -> None:
        engine, self.engine = self.engine, None
        self.last_result = result
        self._result_eui64 = engine.link.eui64 if engine is not None else None
        self.runningChanged.emit()
        self.finished.emit(result)
        self.store.changed.emit()
        # The bridge may have come back on another port (found by its EUI-64).
        self.session.connect_to(engine.link.url if engine is not None else self.session.url)

    def _engine_failed(self, error: BridgeLabError) -> None:
        """The engine itself crashed (it never raises for an update that fails)."""
        self.engine = None
        self.runningChanged.emit()
        self.crashed.emit(error)
        self.session.connect_to(self.session.url)
