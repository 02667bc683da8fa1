"""labgrid places as rigs: list, acquire (lock), resolve to an RFC 2217 URL, watch, release.

A lab shares its racks through labgrid (https://labgrid.org): a coordinator knows the
*places* and who holds each; exporters on the rack machines publish their serial ports
and serve each one through ser2net while its place is acquired. Bridge Lab is a labgrid
client here, not a scheduler of its own.

labgrid is LGPL-2.1 and an optional extra (`pip install bridgelab[labgrid]`): it is
imported in this module only, and only when a coordinator is used. Its client is asyncio
and gRPC; `Coordinator` runs labgrid's own `ClientSession` on a private event loop thread
and offers blocking calls with bounded waits.

The coordinator address is `host:port` (labgrid's default port 20408), from the caller,
else `LG_COORDINATOR` (as labgrid's own tools read it), else `127.0.0.1:20408`. Who holds
a place is labgrid's `host/user` (`LG_HOSTNAME`, `LG_USERNAME` override it).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import os
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from bridgelab.drivers.ports import PortInfo
from bridgelab.errors import BridgeLabError

DEFAULT_COORDINATOR = "127.0.0.1:20408"
CONNECT_TIMEOUT_S = 10.0
SERVE_TIMEOUT_S = 15.0  # acquire -> the exporter has started ser2net and published its port
POLL_S = 0.05
RESERVATION_POLL_S = 0.25

T = TypeVar("T")

# labgrid's own client channel options (keepalive), see labgrid.remote.client.
_CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 7500),
    ("grpc.keepalive_timeout_ms", 10000),
    ("grpc.http2.ping_timeout_ms", 10000),
    ("grpc.http2.max_pings_without_data", 0),
]


class RigError(BridgeLabError):
    code = "rig-error"


class LabgridMissing(RigError):
    code = "labgrid-not-installed"
    default_action = "Install the extra: pip install 'bridgelab[labgrid]'."


class CoordinatorUnreachable(RigError):
    code = "labgrid-unreachable"
    default_action = (
        "Check the coordinator runs (labgrid-coordinator) and the address: the plan's "
        "`coordinator`, or LG_COORDINATOR=host:port. Nothing was run."
    )


class PlaceUnknown(RigError):
    code = "place-unknown"
    default_action = "`bridgelab ports --labgrid` lists the places the coordinator knows."


class PlaceBusy(RigError):
    code = "place-busy"
    default_action = (
        "Ask its holder to release it (labgrid-client -p PLACE release), or set `wait_s` "
        "in the plan to wait a bounded time for it."
    )


class PlaceNotServed(RigError):
    code = "place-not-served"
    default_action = (
        "Check the place's exporter runs and exports a serial port for it "
        "(labgrid-client -p PLACE show)."
    )


def coordinator_address(address: str | None = None) -> str:
    return address or os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR


@dataclass(frozen=True)
class PlaceInfo:
    name: str
    acquired_by: str | None  # labgrid's "host/user", None when free
    exporters: tuple[str, ...]  # exporters whose resources the place matches
    comment: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "place": self.name,
            "acquired_by": self.acquired_by,
            "exporters": list(self.exporters),
            "comment": self.comment,
        }


@dataclass(frozen=True)
class SerialEndpoint:
    """Where an acquired place's bridge is served."""

    place: str
    url: str  # rfc2217://host:port?ign_set_control
    exporter: str  # the exporter's name
    host: str  # the host it publishes for its resources


def rfc2217_url(host: str, port: int) -> str:
    """The URL for a port ser2net serves as RFC 2217.

    `ign_set_control`: ser2net does not acknowledge modem-line changes (DTR/RTS) on a
    port that has none (a pty, some USB adapters), and pyserial would then fail the open
    after 3 s; Bridge Lab does not use the modem lines, so it does not wait for the ack.
    """
    return f"rfc2217://{host}:{port}?ign_set_control"


def _import_labgrid() -> Any:
    try:
        from labgrid.remote import client  # type: ignore[import-untyped]
    except ImportError as error:
        raise LabgridMissing(f"labgrid is not installed ({error}).") from None
    return client


class Coordinator:
    """A session with a labgrid coordinator. Blocking calls; `close()` ends it.

    Every wait is bounded: connecting (`CONNECT_TIMEOUT_S`), a place being served after
    its acquisition (`SERVE_TIMEOUT_S`), and waiting for a busy place (`wait_s`).
    """

    def __init__(self, address: str | None = None, *, timeout_s: float = CONNECT_TIMEOUT_S):
        self.address = coordinator_address(address)
        self._lg = _import_labgrid()
        import grpc  # type: ignore[import-untyped]  # installed with labgrid
        from labgrid.remote.generated import (  # type: ignore[import-untyped]
            labgrid_coordinator_pb2 as pb2,
        )
        from labgrid.remote.generated.labgrid_coordinator_pb2_grpc import (  # type: ignore[import-untyped]
            CoordinatorStub,
        )

        self._grpc: Any = grpc
        self._pb2: Any = pb2
        self._stub_class: Any = CoordinatorStub
        self._tokens: dict[str, str] = {}  # place -> reservation token
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="labgrid-client", daemon=True
        )
        self._thread.start()
        self._session: Any = None
        try:
            self._session = self._run(self._start(), timeout_s)
        except BaseException as error:
            self._stop_loop()
            if isinstance(error, RigError):
                raise
            if isinstance(error, Exception):
                raise CoordinatorUnreachable(
                    f"The labgrid coordinator at {self.address} cannot be reached ({error})."
                ) from None
            raise

    # ------------------------------------------------------------- plumbing

    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()
            raise CoordinatorUnreachable(
                f"The labgrid coordinator at {self.address} did not answer in {timeout_s:g} s."
            ) from None

    async def _start(self) -> Any:
        address = self._lg.proxymanager.get_grpc_address(self.address, default_port=20408)
        session = self._lg.ClientSession(address, self._loop)
        # gRPC shares one TCP connection between the channels of a process that have the
        # same target, and the coordinator tells clients apart by their connection: two
        # sessions of one process (a campaign and the port list) would collide. A channel
        # of its own (labgrid's options plus a private subchannel pool) keeps them apart.
        await session.channel.close()
        session.channel = self._grpc.aio.insecure_channel(
            target=address, options=[*_CHANNEL_OPTIONS, ("grpc.use_local_subchannel_pool", 1)]
        )
        session.stub = self._stub_class(session.channel)
        try:
            await session.start()
        except Exception:
            await self._quiet_stop(session)
            raise
        return session

    @staticmethod
    async def _quiet_stop(session: Any) -> None:
        try:
            await session.stop()
            await session.close()
        except Exception:  # already broken: nothing left to close cleanly
            pass

    def _stop_loop(self) -> None:
        # Stopped, not closed: gRPC's poller may still post a last callback to the loop,
        # and a closed loop would turn that into an error on the way out.
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def close(self) -> None:
        """End the session (places still acquired stay acquired: release them first)."""
        if self._session is not None:
            session, self._session = self._session, None
            with contextlib.suppress(RigError):
                self._run(self._quiet_stop(session), 5.0)
        if self._thread.is_alive():
            self._stop_loop()

    def __enter__(self) -> Coordinator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def identity(self) -> str:
        """Who this session acquires places as: labgrid's `host/user`."""
        return f"{self._session.gethostname()}/{self._session.getuser()}"

    @property
    def connected(self) -> bool:
        return self._session is not None and not self._session.stopping.is_set()

    # ------------------------------------------------------------- reading

    async def _sync(self) -> None:
        await self._session.sync_with_coordinator()

    def _snapshot(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Copies of the session's places and resources, taken on the loop thread."""

        async def take() -> tuple[dict[str, Any], dict[str, Any]]:
            places = dict(self._session.places)
            resources = {
                exporter: {group: dict(entries) for group, entries in groups.items()}
                for exporter, groups in self._session.resources.items()
            }
            return places, resources

        return self._run(take(), 5.0)

    def places(self) -> list[PlaceInfo]:
        """Every place, sorted by name, with its holder and the exporters it matches."""
        places, resources = self._snapshot()
        out = []
        for name in sorted(places):
            place = places[name]
            exporters = sorted(
                {
                    exporter
                    for exporter, groups in resources.items()
                    for group, entries in groups.items()
                    for resource_name, entry in entries.items()
                    if "cls" in entry.data
                    and place.hasmatch((exporter, group, entry.cls, resource_name))
                }
            )
            out.append(PlaceInfo(name, place.acquired, tuple(exporters), place.comment or ""))
        return out

    def match(self, pattern: str) -> list[str]:
        """Place names matching a shell-style pattern (`rack3-*`), sorted; an exact name
        matches itself. Raises PlaceUnknown when nothing matches."""
        names = [info.name for info in self.places()]
        found = sorted(fnmatch.filter(names, pattern))
        if not found:
            known = ", ".join(names) or "none"
            raise PlaceUnknown(
                f"No labgrid place matches {pattern!r} at {self.address} (places: {known})."
            )
        return found

    def holder(self, place: str) -> str | None:
        places, _ = self._snapshot()
        if place not in places:
            raise PlaceUnknown(f"The labgrid coordinator at {self.address} has no place {place!r}.")
        held: str | None = places[place].acquired
        return held

    # ------------------------------------------------------------- locking

    def acquire(self, place: str, *, wait_s: float = 0.0) -> None:
        """Lock `place` for this session.

        A place held by someone else raises PlaceBusy naming the holder, at once when
        `wait_s` is 0; otherwise a labgrid reservation queues this session for it and the
        call waits at most `wait_s` seconds (then cancels the reservation and raises).
        """
        holder = self.holder(place)
        if holder is not None and wait_s > 0:
            self._wait_for(place, wait_s)
            holder = None
        if holder is not None:
            raise self._busy(place, holder)
        request = self._pb2.AcquirePlaceRequest(placename=place)

        async def acquire() -> str | None:
            try:
                await self._session.stub.AcquirePlace(request)
            except self._grpc.aio.AioRpcError as error:
                return str(error.details())
            await self._sync()
            return None

        problem = self._run(acquire(), CONNECT_TIMEOUT_S)
        if problem is not None:
            self._cancel_reservation(place)
            holder = self.holder(place)
            if holder is not None:  # taken meanwhile (perhaps by another session of ours)
                raise self._busy(place, holder)
            raise PlaceNotServed(f"labgrid could not acquire {place}: {problem}.")

    def _busy(self, place: str, holder: str, waited_s: float = 0.0) -> PlaceBusy:
        waited = f" after waiting {round(waited_s, 1):g} s" if waited_s else ""
        mine = " (this user on this host: another Bridge Lab or labgrid-client)"
        return PlaceBusy(
            f"The labgrid place {place} is held by {holder}{waited}"
            f"{mine if holder == self.identity else ''}.",
            details={"place": place, "holder": holder},
        )

    def _wait_for(self, place: str, wait_s: float) -> None:
        """Queue for `place` with a reservation; bounded by `wait_s`."""
        pb2 = self._pb2
        filters = {"main": pb2.Reservation.Filter(filter={"name": place})}

        async def reserve() -> str:
            response = await self._session.stub.CreateReservation(
                pb2.CreateReservationRequest(filters=filters, prio=0.0)
            )
            return str(response.reservation.token)

        async def poll(token: str) -> int:
            response = await self._session.stub.PollReservation(
                pb2.PollReservationRequest(token=token)
            )
            return int(response.reservation.state)

        token = self._run(reserve(), CONNECT_TIMEOUT_S)
        self._tokens[place] = token
        deadline = time.monotonic() + wait_s
        waiting = self._lg.ReservationState.waiting.value
        while self._run(poll(token), CONNECT_TIMEOUT_S) == waiting:
            if time.monotonic() >= deadline:
                holder = self.holder(place) or "a reservation"
                self._cancel_reservation(place)
                raise self._busy(place, holder, wait_s)
            time.sleep(RESERVATION_POLL_S)

    def _cancel_reservation(self, place: str) -> None:
        token = self._tokens.pop(place, None)
        if token is None or self._session is None:
            return

        async def cancel() -> None:
            # An expired or already removed reservation: nothing left to cancel.
            with contextlib.suppress(self._grpc.aio.AioRpcError):
                await self._session.stub.CancelReservation(
                    self._pb2.CancelReservationRequest(token=token)
                )

        self._run(cancel(), CONNECT_TIMEOUT_S)

    def release(self, place: str) -> None:
        """Unlock a place this session holds (and drop its reservation). Idempotent."""

        async def release() -> None:
            current = self._session.places.get(place)
            if current is None or current.acquired is None:
                return
            try:
                await self._session.stub.ReleasePlace(
                    self._pb2.ReleasePlaceRequest(placename=place)
                )
            except self._grpc.aio.AioRpcError as error:
                raise RigError(
                    f"labgrid could not release {place}: {error.details()}.",
                    code="place-release-failed",
                    action=f"Release it by hand: labgrid-client -p {place} release.",
                ) from None
            await self._sync()

        try:
            self._run(release(), CONNECT_TIMEOUT_S)
        finally:
            self._cancel_reservation(place)

    # ------------------------------------------------------------- endpoints

    def _serial_resource(self, place: str) -> tuple[tuple[str, str, str, str], Any] | None:
        places, resources = self._snapshot()
        current = places.get(place)
        if current is None:
            return None
        for path in current.acquired_resources:
            exporter, group, cls, name = path
            if cls != "NetworkSerialPort":
                continue
            entry = resources.get(exporter, {}).get(group, {}).get(name)
            return (exporter, group, cls, name), entry
        return None

    def endpoint(self, place: str, *, timeout_s: float = SERVE_TIMEOUT_S) -> SerialEndpoint:
        """The RFC 2217 URL an acquired place's bridge is served on.

        The exporter starts ser2net when the place is acquired and then publishes its TCP
        port; this waits at most `timeout_s` for that. Raises PlaceNotServed.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            found = self._serial_resource(place)
            if found is not None:
                (exporter, _group, _cls, _name), entry = found
                if entry is not None and "cls" in entry.data and entry.avail:
                    host, port = entry.params.get("host"), entry.params.get("port")
                    if host and port:
                        return SerialEndpoint(place, rfc2217_url(host, int(port)), exporter, host)
            if time.monotonic() >= deadline:
                what = "matches no serial port" if found is None else "is not served"
                raise PlaceNotServed(
                    f"The labgrid place {place} {what} ({timeout_s:g} s after acquiring it)."
                )
            time.sleep(POLL_S)

    def lost(self, place: str) -> str | None:
        """Why an acquired place's rig is gone (its exporter vanished or the port went
        unavailable), or None while it is there. A lost coordinator connection is not a
        lost rig: the exporter may still serve the port."""
        if not self.connected:
            return None
        found = self._serial_resource(place)
        if found is None:
            return None
        (exporter, _group, _cls, _name), entry = found
        if entry is None or "cls" not in entry.data:
            return f"the exporter {exporter} serving {place} left the coordinator"
        if not entry.avail:
            return f"the exporter {exporter} reports the serial port of {place} unavailable"
        return None


PLACE_MAKER = "labgrid place"  # PortInfo.manufacturer of a place in the port list
PLACE_SCHEME = "labgrid:"  # the picker's entry for a place this user does not hold


def is_place_entry(port: PortInfo) -> bool:
    return port.manufacturer == PLACE_MAKER


class PlaceScanner:
    """The labgrid places as port-list entries (the GUI's picker calls it on a worker).

    Enabled when a coordinator is configured (`address`, else LG_COORDINATOR). A place
    this user holds and its exporter serves is an `rfc2217://` entry to connect to; any
    other place is listed with its holder (or as free) under `labgrid:NAME`, saying how to
    acquire it. A coordinator that cannot be reached lists no places and keeps the error
    in `problem`; the next scan tries again. The session is kept between scans.
    """

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self.problem: RigError | None = None
        self._coordinator: Coordinator | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.address or os.environ.get("LG_COORDINATOR"))

    def __call__(self) -> list[PortInfo]:
        if not self.enabled:
            return []
        try:
            if self._coordinator is None or not self._coordinator.connected:
                self.close()
                self._coordinator = Coordinator(self.address, timeout_s=3.0)
            entries = self._entries(self._coordinator)
        except RigError as error:
            self.problem = error
            self.close()
            return []
        self.problem = None
        return entries

    @staticmethod
    def _entries(coordinator: Coordinator) -> list[PortInfo]:
        out = []
        for info in coordinator.places():
            name = info.name
            if info.acquired_by == coordinator.identity:
                try:
                    served = coordinator.endpoint(name, timeout_s=0.0)
                except PlaceNotServed:
                    pass
                else:
                    words = f"labgrid place {name}, yours (exporter {served.exporter})"
                    out.append(PortInfo(served.url, words, manufacturer=PLACE_MAKER))
                    continue
            holder = f"held by {info.acquired_by}" if info.acquired_by else "free"
            words = (
                f"labgrid place {name}, {holder}: acquire it to connect "
                f"(labgrid-client -p {name} acquire)"
            )
            out.append(PortInfo(f"{PLACE_SCHEME}{name}", words, manufacturer=PLACE_MAKER))
        return out

    def close(self) -> None:
        if self._coordinator is not None:
            coordinator, self._coordinator = self._coordinator, None
            coordinator.close()


__all__ = [
    "DEFAULT_COORDINATOR",
    "Coordinator",
    "CoordinatorUnreachable",
    "LabgridMissing",
    "PlaceBusy",
    "PlaceInfo",
    "PlaceNotServed",
    "PlaceScanner",
    "PlaceUnknown",
    "RigError",
    "SerialEndpoint",
    "coordinator_address",
    "is_place_entry",
    "rfc2217_url",
]
