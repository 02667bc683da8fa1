"""Byte channels the emulated bridge serves on: a socket (TCP or in-process) or a pty."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
from typing import Protocol


class Channel(Protocol):
    def fileno(self) -> int: ...

    def receive(self) -> bytes | None:
        """Bytes available now; b"" when nothing is waiting; None when the peer is gone."""

    def send(self, data: bytes) -> None:
        """Send, or drop when nobody is listening (as a UART with no receiver does)."""

    def close(self) -> None: ...


class SocketChannel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self) -> bytes | None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return b""
        except OSError:
            return None
        return data or None

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                select.select([], [self.sock], [], 1.0)
                continue
            except OSError:
                return
            view = view[sent:]

    def close(self) -> None:
        self.sock.close()


class PtyChannel:
    """The master side of a pty. The emulator keeps the slave open too, so that a host
    closing and re-opening the port does not hang up the pty."""

    def __init__(self, master_fd: int, slave_fd: int) -> None:
        self.master_fd = master_fd
        self.slave_fd = slave_fd
        os.set_blocking(master_fd, False)

    def fileno(self) -> int:
        return self.master_fd

    def receive(self) -> bytes | None:
        try:
            return os.read(self.master_fd, 65536)
        except BlockingIOError:
            return b""
        except OSError as error:
            if error.errno == errno.EIO:
                return b""
            return None

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.master_fd, view)
            except BlockingIOError:
                return  # nobody reads the port: the bytes are lost, as on a real line
            except OSError:
                return
            view = view[written:]

    def close(self) -> None:
        for fd in (self.master_fd, self.slave_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
