"""Builds emulated bridges from options: shared by `emu://` URLs and `bridgelab emulate`."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from bridgelab.clock import shared_skipping_clock
from bridgelab.emulator.channel import SocketChannel
from bridgelab.emulator.device import EmulatedBridge
from bridgelab.emulator.endpoint import Endpoint, LinkModel
from bridgelab.emulator.faults import VALID_FAULTS, Faults, apply_fault, parse_faults
from bridgelab.emulator.image_check import make_image_checker
from bridgelab.emulator.profiles import load_profile
from bridgelab.errors import UsageError


@dataclass
class EmulatorOptions:
    profile: str = "demo"
    baud: int | None = None
    latency_ms: float = 0.0
    flash_timing: bool = False  # flash times even when unpaced (an external line paces)
    faults: Faults = field(default_factory=Faults)
    seed: int = 0
    state: Path | None = None
    trust: Path | None = None
    instance_id: str = ""
    port_index: int = 0  # which emulated USB port (with `id`: a replugged bridge moves on)
    clock: str = ""  # a shared skipping clock's name (bridgelab.clock); "": real time


_URL_OPTIONS = ("baud", "latency_ms", "faults", "seed", "state", "trust", "id", "port", "clock")


class EmuUrlError(UsageError):
    code = "bad-emu-url"
    default_action = (
        "Write it as emu://PROFILE?option=value&...; options: "
        + ", ".join(_URL_OPTIONS)
        + ", and any fault ("
        + ", ".join(VALID_FAULTS)
        + ")."
    )


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise EmuUrlError(f"emu:// option {name}={text!r} is not a number.") from None
    if value < 0:
        raise EmuUrlError(f"emu:// option {name} must not be negative.")
    return value


def parse_emu_url(url: str) -> EmulatorOptions:
    parts = urlsplit(url)
    if parts.scheme.lower() != "emu":
        raise EmuUrlError(f"{url!r} is not an emu:// URL.")
    # emu://demo names a shipped profile; emu:///path/to/profile.toml a profile file.
    name = parts.netloc + parts.path if parts.netloc else parts.path
    options = EmulatorOptions(profile=name.rstrip("/") or "demo")
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        name = key.strip().lower()
        if name == "baud":
            options.baud = int(_number(name, value)) or None
        elif name in ("latency_ms", "latency-ms"):
            options.latency_ms = _number(name, value)
        elif name == "faults":
            parse_faults(value, options.faults)
        elif name == "seed":
            options.seed = int(_number(name, value))
        elif name == "state":
            options.state = Path(value)
        elif name == "trust":
            options.trust = Path(value)
        elif name == "id":
            options.instance_id = value
        elif name == "port":
            options.port_index = int(_number(name, value))
        elif name == "clock":
            options.clock = value
        elif name in VALID_FAULTS:
            apply_fault(options.faults, name, value)
        else:
            raise EmuUrlError(f"Unknown emu:// option {key!r}.")
    return options


def build_device(options: EmulatorOptions) -> EmulatedBridge:
    profile = load_profile(options.profile)
    return EmulatedBridge(
        profile,
        options.faults,
        image_checker=make_image_checker(options.trust),
        state_path=options.state,
        seed=options.seed,
        clock=shared_skipping_clock(options.clock).monotonic if options.clock else time.monotonic,
    )


def build_endpoint(
    options: EmulatorOptions, sock: socket.socket, device: EmulatedBridge | None = None
) -> Endpoint:
    """An endpoint serving `device` (or a new one from `options`) on a connected socket."""
    link = LinkModel(options.baud, options.latency_ms / 1000.0, options.flash_timing)
    return Endpoint(
        device if device is not None else build_device(options),
        SocketChannel(sock),
        link,
        seed=options.seed,
    )
