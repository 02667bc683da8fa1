"""The connected bridge: connect, read identity and HAN state, follow its events, let go.

`BridgeSession` owns at most one `BridgeClient`. Every call to the bridge runs on the
task runner's workers; the reader thread's device events arrive through a queued signal,
so the views only ever see `snapshotChanged`, `problem` and `stateChanged` on the GUI
thread. A light poll (join status and P2P link every few seconds) keeps LQI/RSSI live and
notices a pulled cable.

Before an update the session `release()`s the port (a serial port opens exclusively, and
the update engine opens its own link); afterwards `connect_to()` reads the bridge again.
An `emu://` URL without an `id` gets one (`persistent_url`), so the Demo bridge stays the
same bridge across those reconnects, as a real one does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient
from bridgelab.drivers.diagnosis import Finding, diagnose
from bridgelab.drivers.errors import LinkLost
from bridgelab.drivers.factory import connect_bridge
from bridgelab.drivers.link import DEFAULT_BAUD
from bridgelab.drivers.trial import confirmed_version, read_update_status
from bridgelab.errors import BridgeLabError
from bridgelab.firmware.compat import DeviceIdentity
from bridgelab.firmware.trust_source import identity_of
from bridgelab.gui.tasks import TaskRunner

POLL_INTERVAL_MS = 3000
POLL_FAILURES_BEFORE_LOST = 2


def persistent_url(url: str) -> str:
    """`emu://PROFILE?...` with an `id` (`gui-PROFILE` unless given); other URLs as they are."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "emu":
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key.lower() == "id" for key, _ in query):
        return url
    profile = (parts.netloc + parts.path).strip("/") or "demo"
    query.append(("id", f"gui-{profile}"))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, safe=",=:/"), ""))


def is_emulated(url: str) -> bool:
    return url.lower().startswith("emu://")


@dataclass(frozen=True)
class BridgeSnapshot:
    """Everything the device view shows, read in one go from the bridge."""

    url: str
    identity: p.IdentityResponse
    join: p.JoinStatusResponse
    p2p: p.P2PLinkResponse | None
    findings: tuple[Finding, ...]
    update: p.UpdateStatusResponse | None = None  # None: not read, or the bridge cannot say

    @property
    def emulated(self) -> bool:
        return is_emulated(self.url)

    @property
    def device_identity(self) -> DeviceIdentity:
        """The identity the firmware layer checks an image against: on a trial bridge its
        confirmed version (so the same image again is the confirming re-run it should be)."""
        return identity_of(
            self.identity, file_version=confirmed_version(self.identity, self.update)
        )

    def with_join(self, join: p.JoinStatusResponse) -> BridgeSnapshot:
        findings = diagnose(self.identity, join, self.p2p, self.update)
        return replace(self, join=join, findings=tuple(findings))

    def with_link(self, join: p.JoinStatusResponse, p2p: p.P2PLinkResponse) -> BridgeSnapshot:
        findings = diagnose(self.identity, join, p2p, self.update)
        return replace(self, join=join, p2p=p2p, findings=tuple(findings))


def read_snapshot(client: BridgeClient, url: str) -> BridgeSnapshot:
    """Identity, join status, P2P link and diagnosis (blocking: call on a worker)."""
    identity = client.identity()
    join = client.join_status()
    p2p = client.p2p_link()
    update = read_update_status(client)
    findings = tuple(diagnose(identity, join, p2p, update))
    return BridgeSnapshot(url, identity, join, p2p, findings, update)


class ConnectionState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"  # the pre-flight or the link failed: `problem` says why and what to do
    RELEASED = "released"  # the port is lent to an update


class BridgeSession(QObject):
    stateChanged = Signal(str)
    snapshotChanged = Signal(object)  # BridgeSnapshot
    problem = Signal(object)  # BridgeLabError with message and action
    logEntry = Signal(object)  # p.LogEntry, as the bridge reports them
    eventLog = Signal(object)  # list[p.LogEntry]: the bridge's whole log, read on connect
    _deviceEvent = Signal(int, object)  # (connection number, p.Event) from the reader thread

    def __init__(
        self,
        runner: TaskRunner,
        *,
        baud: int = DEFAULT_BAUD,
        poll_interval_ms: int = POLL_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.baud = baud
        self.url = ""
        self.state = ConnectionState.DISCONNECTED
        self.snapshot: BridgeSnapshot | None = None
        self.last_problem: BridgeLabError | None = None
        self._client: BridgeClient | None = None
        self._connection = 0  # bumps on every connect/disconnect: late results are dropped
        self._reading = False
        self._read_again = False
        self._poll_failures = 0
        self._poll = QTimer(self)
        self._poll.setInterval(poll_interval_ms)
        self._poll.timeout.connect(self._on_poll)
        self._deviceEvent.connect(self._on_device_event)

    # -- public ----------------------------------------------------------------------------

    def connect_to(self, url: str) -> None:
        """Close any current link, then open `url` and read the bridge (asynchronously)."""
        url = persistent_url(url.strip())
        self._drop_client()
        self.url = url
        self.snapshot = None
        self.last_problem = None
        self._set_state(ConnectionState.CONNECTING)
        number = self._connection
        listener = self._listener_for(number)

        def work() -> tuple[BridgeClient, BridgeSnapshot]:
            client = connect_bridge(url, baudrate=self.baud)
            try:
                client.add_event_listener(listener)
                return client, read_snapshot(client, url)
            except BaseException:
                client.close()
                raise

        self.runner.submit(
            work,
            lambda outcome: self._connected(number, *outcome),
            lambda error: self._failed(number, error),
            on_dropped=lambda outcome: outcome[0].close(),  # the window closed meanwhile
        )

    def disconnect_bridge(self) -> None:
        self._drop_client()
        self.snapshot = None
        self._set_state(ConnectionState.DISCONNECTED)

    def release(self, then: Callable[[], None]) -> None:
        """Close the link so that an update can open the port; `then()` runs once closed."""
        client = self._take_client()
        self._set_state(ConnectionState.RELEASED)
        if client is None:
            then()
            return
        self.runner.submit(client.close, lambda _: then(), lambda _: then())

    def refresh(self) -> None:
        """Read identity, join status and P2P link again (coalesced while a read runs)."""
        client = self._client
        if client is None:
            if self.url and self.state in (ConnectionState.FAILED, ConnectionState.DISCONNECTED):
                self.connect_to(self.url)
            return
        if self._reading:
            self._read_again = True
            return
        self._reading = True
        number, url = self._connection, self.url
        self.runner.submit(
            lambda: read_snapshot(client, url),
            lambda snap: self._refreshed(number, snap),
            lambda error: self._read_failed(number, error),
        )

    def close(self) -> None:
        """Blocking close for shutdown (joins the client's reader thread)."""
        self._poll.stop()
        client = self._take_client()
        if client is not None:
            client.close()

    # -- plumbing --------------------------------------------------------------------------

    def _listener_for(self, number: int) -> Callable[[p.Event], None]:
        def relay(event: p.Event) -> None:  # on the client's reader thread
            self._deviceEvent.emit(number, event)

        return relay

    def _set_state(self, state: ConnectionState) -> None:
        self.state = state
        if state == ConnectionState.CONNECTED:
            self._poll.start()
        else:
            self._poll.stop()
        self.stateChanged.emit(state.value)

    def _take_client(self) -> BridgeClient | None:
        self._connection += 1
        self._reading = self._read_again = False
        client, self._client = self._client, None
        return client

    def _drop_client(self) -> None:
        client = self._take_client()
        if client is not None:
            self.runner.submit(client.close, None, lambda _: None)

    def _connected(self, number: int, client: BridgeClient, snapshot: BridgeSnapshot) -> None:
        if number != self._connection:  # superseded meanwhile
            self.runner.submit(client.close, None, lambda _: None)
            return
        self._client = client
        self._poll_failures = 0
        self._publish(snapshot)
        self._set_state(ConnectionState.CONNECTED)
        self.runner.submit(
            client.event_log,
            lambda entries: self._log_read(number, entries),
            lambda _error: None,  # the log is a nicety: the facts are already shown
        )

    def _log_read(self, number: int, entries: list[p.LogEntry]) -> None:
        if number == self._connection:
            self.eventLog.emit(entries)

    def _failed(self, number: int, error: BridgeLabError) -> None:
        if number != self._connection:
            return
        self.last_problem = error
        self._set_state(ConnectionState.FAILED)
        self.problem.emit(error)

    def _publish(self, snapshot: BridgeSnapshot) -> None:
        self.snapshot = snapshot
        self.snapshotChanged.emit(snapshot)

    def _read_ended(self, number: int) -> bool:
        """A read of connection `number` ended; False when that connection is gone."""
        if number != self._connection:
            return False
        self._reading = False
        return True

    def _read_succeeded(self) -> None:
        self._poll_failures = 0
        if self._read_again:  # asked for while this read ran
            self._read_again = False
            self.refresh()

    def _refreshed(self, number: int, snapshot: BridgeSnapshot) -> None:
        if self._read_ended(number):
            self._publish(snapshot)
            self._read_succeeded()

    def _read_failed(self, number: int, error: BridgeLabError) -> None:
        if self._read_ended(number):
            self._lost(error)

    def _lost(self, error: BridgeLabError) -> None:
        """The link stopped answering: say so, keep the URL for a retry."""
        self._drop_client()
        self.last_problem = error
        self._set_state(ConnectionState.FAILED)
        self.problem.emit(error)

    @Slot()
    def _on_poll(self) -> None:
        client = self._client
        if client is None or self._reading or self.snapshot is None:
            return
        if not client.is_open:
            self._lost(LinkLost(f"{self.url}: the link broke."))
            return
        self._reading = True
        number = self._connection

        def work() -> tuple[p.JoinStatusResponse, p.P2PLinkResponse]:
            return client.join_status(), client.p2p_link()

        self.runner.submit(
            work,
            lambda pair: self._polled(number, *pair),
            lambda error: self._poll_failed(number, error),
        )

    def _polled(self, number: int, join: p.JoinStatusResponse, p2p: p.P2PLinkResponse) -> None:
        if not self._read_ended(number) or self.snapshot is None:
            return
        if (join, p2p) != (self.snapshot.join, self.snapshot.p2p):
            self._publish(self.snapshot.with_link(join, p2p))
        self._read_succeeded()

    def _poll_failed(self, number: int, error: BridgeLabError) -> None:
        if not self._read_ended(number):
            return
        self._poll_failures += 1
        if isinstance(error, LinkLost) or self._poll_failures >= POLL_FAILURES_BEFORE_LOST:
            self._lost(error)

    @Slot(int, object)
    def _on_device_event(self, number: int, event: object) -> None:
        if number != self._connection:
            return
        if isinstance(event, p.JoinChanged) and self.snapshot is not None:
            self._publish(self.snapshot.with_join(event.status))
        elif isinstance(event, p.Rebooted):
            self.refresh()  # the running version (and more) may have changed
        elif isinstance(event, p.LogEntryEvent):
            self.logEntry.emit(event.entry)
