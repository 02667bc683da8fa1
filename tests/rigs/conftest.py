"""Fixtures for remote rigs: an emulated bridge on a pty, served by a real ser2net."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bridges import emulator_url
from tests.rig_processes import Ser2Net, free_port, ser2net_config

# The documented ser2net.yaml's two accepters: RFC 2217 and raw TCP.
DOC_RFC2217_PORT, DOC_RAW_PORT = 7001, 7101


@pytest.fixture(scope="session")
def fast_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bridge with a 50 ms boot and rejoin."""
    path = tmp_path_factory.mktemp("profiles") / "fast-demo.toml"
    path.write_text('base = "demo"\nboot_s = 0.05\nrejoin_s = 0.05\n', encoding="utf-8")
    return path


@dataclass
class Rig:
    """One emulated bridge on a pty behind ser2net (both accepters of the doc's config)."""

    pty: str
    ser2net: Ser2Net
    config: str
    folder: Path

    @property
    def rfc2217_url(self) -> str:
        return f"rfc2217://127.0.0.1:{self.ser2net.ports[0]}?ign_set_control"

    @property
    def socket_url(self) -> str:
        return f"socket://127.0.0.1:{self.ser2net.ports[1]}"

    def restart_ser2net(self) -> None:
        """ser2net killed (SIGKILL) and started again on the same ports."""
        self.ser2net.kill()
        self.ser2net = Ser2Net(self.config, self.ser2net.ports, self.folder).start()


@pytest.fixture
def rig(tmp_path: Path, fast_profile: Path) -> Iterator[Callable[..., Rig]]:
    """`rig(baud=115200)`: a fresh emulated bridge on a pty, exported by ser2net."""
    stack: list[tuple[Rig, object]] = []

    def make(baud: int = 115200, latency_ms: float = 1.0, profile: str = "") -> Rig:
        context = emulator_url(
            "pty", str(profile or fast_profile), baud=baud, latency_ms=latency_ms
        )
        pty = context.__enter__()
        ports = [free_port(), free_port()]
        config = ser2net_config(pty, {DOC_RFC2217_PORT: ports[0], DOC_RAW_PORT: ports[1]})
        folder = tmp_path / f"ser2net-{len(stack)}"
        try:
            served = Ser2Net(config, ports, folder).start()
        except BaseException:
            context.__exit__(None, None, None)
            raise
        made = Rig(pty, served, config, folder)
        stack.append((made, context))
        return made

    yield make
    for made, context in reversed(stack):
        made.ser2net.stop()
        context.__exit__(None, None, None)  # type: ignore[attr-defined]
