"""`bridgelab emulate`: one emulated bridge as a separate process, on a pty or a TCP port.

The first line printed is `listening on URL` (a pty path, `socket://host:port`, or
`rfc2217://host:port` with `--rfc2217`), so a lab script can start several and read where
each one is. Only RFC 2217 carries the modem lines: there a client's DTR/RTS reach the
board's reset circuit (`emulator/reset_circuit.py`). The bridge lives as long as the
process: a host may disconnect and reconnect (a cable pulled and plugged back in), and
with `--state FILE` its flash survives a restart of the process too (a power cycle).
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TextIO

from bridgelab.emulator.channel import Channel, PtyChannel, SocketChannel
from bridgelab.emulator.device import EmulatedBridge
from bridgelab.emulator.endpoint import Endpoint, LinkModel
from bridgelab.emulator.factory import EmulatorOptions, build_device
from bridgelab.emulator.rfc2217_channel import Rfc2217Channel
from bridgelab.errors import UsageError


def _install_stop_handlers(stop: threading.Event) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _announce(
    out: TextIO, url: str, options: EmulatorOptions, on_listening: Callable[[str], None] | None
) -> None:
    print(f"listening on {url}", file=out, flush=True)
    if on_listening is not None:
        on_listening(url)
    baud = f"{options.baud} baud" if options.baud else "unpaced"
    print(
        f"profile {options.profile}, {baud}, adapter latency {options.latency_ms:g} ms, "
        f"faults {options.faults.describe()}; Ctrl+C to stop",
        file=out,
        flush=True,
    )


def serve_pty(
    options: EmulatorOptions,
    stop: threading.Event,
    out: TextIO = sys.stdout,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    if not hasattr(os, "openpty"):
        raise UsageError(
            "This system has no pseudo-terminals.",
            code="no-pty",
            action="Use --tcp HOST:PORT and connect to socket://HOST:PORT instead.",
        )
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)  # no echo, no line editing: the line carries binary frames
    device = build_device(options)
    link = LinkModel(options.baud, options.latency_ms / 1000.0, options.flash_timing)
    endpoint = Endpoint(device, PtyChannel(master, slave), link, seed=options.seed).start()
    _announce(out, os.ttyname(slave), options, on_listening)
    try:
        stop.wait()
    finally:
        endpoint.stop()
        endpoint.channel.close()


def serve_tcp(
    options: EmulatorOptions,
    host: str,
    port: int,
    stop: threading.Event,
    out: TextIO = sys.stdout,
    on_listening: Callable[[str], None] | None = None,
    *,
    rfc2217: bool = False,
    device: EmulatedBridge | None = None,
) -> None:
    """Serve one host connection at a time; the bridge persists across connections.
    With `rfc2217` each connection speaks RFC 2217 and its DTR/RTS drive the board.
    `device`: a bridge built by the caller (tests that look inside it), else one of
    `options`."""
    device = device or build_device(options)
    scheme = "rfc2217" if rfc2217 else "socket"
    with socket.create_server((host, port), reuse_port=False) as server:
        actual_port = server.getsockname()[1]
        _announce(out, f"{scheme}://{host}:{actual_port}", options, on_listening)
        while not stop.is_set():
            readable, _, _ = select.select([server], [], [], 0.1)
            if not readable:
                continue
            connection, _ = server.accept()
            if not device.is_plugged(device.port_index):
                connection.close()  # the cable is still out
                continue
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = LinkModel(options.baud, options.latency_ms / 1000.0, options.flash_timing)
            channel: Channel = SocketChannel(connection)
            if rfc2217:
                channel = Rfc2217Channel(SocketChannel(connection), device.set_reset_lines)
            endpoint = Endpoint(device, channel, link, seed=options.seed)
            endpoint.start()
            while not stop.is_set() and not endpoint.peer_gone.wait(0.1):
                pass
            endpoint.stop()
            endpoint.channel.close()
            if rfc2217:
                # The client is gone and its lines with it: both fall back at once, as an
                # adapter's do when its port is closed (no reset on the way).
                device.set_reset_lines(False, False)


def parse_host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(
            f"{text!r} is not HOST:PORT.", code="bad-address", action="For example 127.0.0.1:7000."
        )
    return host or "127.0.0.1", int(port)


def run(options: EmulatorOptions, tcp: str | None, *, rfc2217: bool = False) -> int:
    stop = threading.Event()
    _install_stop_handlers(stop)
    if rfc2217 and not tcp:
        raise UsageError(
            "--rfc2217 serves on a TCP port.",
            code="rfc2217-needs-tcp",
            action="Add --tcp HOST:PORT (a pty carries no modem lines).",
        )
    if tcp:
        host, port = parse_host_port(tcp)
        serve_tcp(options, host, port, stop, rfc2217=rfc2217)
    else:
        serve_pty(options, stop)
    return 0
