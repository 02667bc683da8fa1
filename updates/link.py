"""The engine's hold on one bridge: connect, watch its events, and find it again.

A bridge reboots during every update and may drop off the link (a pulled cable, a USB
adapter that re-enumerates as another port). `BridgeLink` reconnects by the bridge's
EUI-64: the same URL first, then every port the OS lists, and refuses to continue with a
different bridge.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import TYPE_CHECKING

from bridgelab.clock import SYSTEM_CLOCK, Clock
from bridgelab.drivers import protocol as p
from bridgelab.drivers.client import BridgeClient, TraceListener
from bridgelab.drivers.errors import DriverError, LinkError, NoAnswer
from bridgelab.drivers.factory import connect_bridge
from bridgelab.drivers.ports import reconnect_candidates
from bridgelab.updates.retry import retry

if TYPE_CHECKING:
    from bridgelab.drivers.gecko_bootloader import GeckoBootloader
    from bridgelab.drivers.link import SerialPort

RECONNECT_PAUSE_S = 0.2


class BridgeLink:
    """Owns the current BridgeClient; events from every connection land in one queue."""

    def __init__(
        self,
        url: str,
        *,
        baudrate: int,
        connect: Callable[..., BridgeClient] = connect_bridge,
        trace: TraceListener | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.url = url
        self.clock = clock
        self.baudrate = baudrate
        self._connect = connect
        self._trace = trace
        self.events: queue.Queue[p.Event] = queue.Queue()
        self.client: BridgeClient | None = None
        # The same bridge while its radio is in its bootloader (a recovery), instead of
        # `client`: the link holds one or the other, and closes whichever it holds.
        self.bootloader: GeckoBootloader | None = None
        self.eui64: int | None = None
        self.reconnects = 0

    def open(self) -> BridgeClient:
        client = self._connect(self.url, baudrate=self.baudrate)
        self._attach(client)
        return client

    def adopt(self, device: BridgeClient | GeckoBootloader) -> None:
        """Hold a device opened elsewhere (by probing, or on a port handed on)."""
        if isinstance(device, BridgeClient):
            self._attach(device)
        else:
            self.bootloader = device

    def release(self) -> SerialPort:
        """Let go of the device held and hand its open port on (into the bootloader, or
        from the bootloader to the application's service protocol)."""
        if self.client is not None:
            port = self.client.release()
            self.client = None
        else:
            assert self.bootloader is not None, "nothing held"
            port = self.bootloader.release()
        self.bootloader = None
        return port

    def _attach(self, client: BridgeClient) -> None:
        client.add_event_listener(self.events.put)
        if self._trace is not None:
            client.add_trace_listener(self._trace)
        self.client = client

    @property
    def current(self) -> BridgeClient:
        assert self.client is not None, "BridgeLink.open() first"
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.bootloader is not None:
            self.bootloader.close()
            self.bootloader = None

    def drain_events(self) -> list[p.Event]:
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

    def wait_event(
        self, kind: type[p.Event], timeout_s: float, *, keep_others: bool = False
    ) -> p.Event | None:
        """The next event of `kind` within `timeout_s`; others are dropped, or with
        `keep_others` queued again for whoever drains the events next."""
        deadline = self.clock.monotonic() + timeout_s
        others: list[p.Event] = []
        try:
            while True:
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0:
                    return None
                try:
                    event = self.events.get(timeout=remaining)
                except queue.Empty:
                    return None
                if isinstance(event, kind):
                    return event
                others.append(event)
        finally:
            if keep_others:
                for event in others:
                    self.events.put(event)

    def healthy(self) -> bool:
        return self.client is not None and self.client.is_open

    def reconnect(self, deadline: float, should_stop: Callable[[], bool]) -> BridgeClient:
        """Find the same bridge again before `deadline`; raises the last DriverError.

        Tries the original URL, then every serial port the OS lists (a USB bridge may come
        back as another port). A bridge that answers with another EUI-64 is not used.
        """
        self.close()
        if should_stop():
            raise NoAnswer(f"{self.url}: the bridge did not come back.")
        return retry(
            lambda _: self._find_again(),
            total_s=max(deadline - self.clock.monotonic(), 0.0),
            clock=self.clock,
            retry_on=(DriverError,),
            pause_s=RECONNECT_PAUSE_S,
            give_up=should_stop,
        )

    def _find_again(self) -> BridgeClient:
        """One pass over the candidate ports; raises the last port's DriverError."""
        last: DriverError = NoAnswer(f"{self.url}: the bridge did not come back.")
        for url in self._candidates():
            try:
                client = self._connect(url, baudrate=self.baudrate)
            except DriverError as error:
                last = error
                continue
            try:
                eui64 = client.identity().eui64
            except DriverError as error:
                client.close()
                last = error
                continue
            if self.eui64 is not None and eui64 != self.eui64:
                client.close()
                last = LinkError(
                    f"{url} answers as another bridge.",
                    code="wrong-device",
                    action="Connect the bridge this update started with.",
                )
                continue
            self.url = url
            self.reconnects += 1
            self._attach(client)
            return client
        raise last

    def _candidates(self) -> list[str]:
        return reconnect_candidates(self.url)
