"""Entering the radio's bootloader by its reset lines: named DTR/RTS sequences.

Public facts. USB dongles whose radio is a Silicon Labs EFR32 with a Gecko Bootloader that
has GPIO activation (the Sonoff ZBDongle-E is the best known) wire the USB-UART's DTR and
RTS outputs through two transistors to the radio's reset pin and to the bootloader's
activation pin: the "auto-download" circuit of ESP32 devkits. With pyserial's `dtr`/`rts`
(True = asserted):

    dtr    rts    | radio reset     activation pin
    False  True   | held in reset   released
    True   False  | running         held (active)
    equal         | running         released      (what opening or closing a port leaves)

universal-silabs-flasher documents this as `--bootloader-reset rts_dtr` (its older name,
`sonoff`, is deprecated): RTS alone for 0.1 s (reset held), DTR alone for 0.5 s (out of
reset with the activation pin held, so the bootloader stays), then both released; it then
allows the bootloader 3 s before it probes. The pin is read when the radio leaves reset,
so every other order or timing restarts the application instead (or does nothing).

Only a link that carries the modem lines can play a sequence: a USB serial adapter (and
only if the board wires them), or RFC 2217 to a server that drives them. A pty and a raw
TCP socket carry none; `modem_line_problem()` says why before anything is played.
"""

from __future__ import annotations

import errno
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from serial.serialutil import SerialException

from bridgelab.drivers.capabilities import Capability
from bridgelab.drivers.errors import DriverError
from bridgelab.drivers.link import SerialPort


@dataclass(frozen=True)
class LineStep:
    dtr: bool  # True: asserted
    rts: bool
    hold_s: float  # how long this state is held before the next step


@dataclass(frozen=True)
class ResetSequence:
    name: str
    summary: str  # which boards it fits, and where it is documented
    steps: tuple[LineStep, ...]
    boot_wait_s: float  # from the last step until the bootloader's menu may be looked for


RTS_DTR = ResetSequence(
    name="rts-dtr",
    summary="RTS resets, DTR holds the bootloader pin (Sonoff ZBDongle-E and boards with "
    "the ESP-style two-transistor circuit; universal-silabs-flasher's `rts_dtr`)",
    steps=(
        LineStep(dtr=False, rts=True, hold_s=0.1),
        LineStep(dtr=True, rts=False, hold_s=0.5),
        LineStep(dtr=False, rts=False, hold_s=0.0),
    ),
    boot_wait_s=3.0,
)

SEQUENCES: dict[str, ResetSequence] = {RTS_DTR.name: RTS_DTR}
# universal-silabs-flasher's spellings, so a lab note written for it works here too.
ALIASES = {"rts_dtr": RTS_DTR.name, "sonoff": RTS_DTR.name}


class UnknownResetSequence(DriverError):
    code = "unknown-reset-sequence"

    def __init__(self, name: str) -> None:
        known = ", ".join(f"{s.name} ({s.summary})" for s in SEQUENCES.values())
        super().__init__(
            f"There is no reset sequence called {name!r}.",
            action=f"Use one of: {known}; or leave --reset-sequence out to ask the "
            "application to restart into its bootloader.",
        )


class ModemLinesUnavailable(DriverError):
    """The link cannot drive DTR/RTS, so no reset sequence can reach the radio."""

    code = "no-modem-lines"
    default_action = (
        "Leave --reset-sequence out: a running application is then asked to restart into "
        "its bootloader by its own command. Or connect through a USB serial adapter whose "
        "DTR and RTS are wired to the radio's reset and bootloader pins (directly, or as "
        "rfc2217:// to a server on that adapter)."
    )


def get_sequence(name: str) -> ResetSequence:
    sequence = SEQUENCES.get(ALIASES.get(name, name))
    if sequence is None:
        raise UnknownResetSequence(name)
    return sequence


def _query_options(url: str) -> set[str]:
    _, _, query = url.partition("?")
    return {part.split("=", 1)[0].lower() for part in query.split("&") if part}


def modem_line_problem(url: str, port: SerialPort | None = None) -> str | None:
    """Why the link at `url` cannot drive DTR/RTS, or None when it can (as far as can be
    told here: whether the board wires the lines to the radio only the radio shows).

    A local device is asked with TIOCMGET, which a pseudo-terminal refuses."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "socket":
        return f"{url} is a raw TCP link, which carries no modem lines"
    if scheme == "emu":
        return (
            f"{url} is the in-process emulated bridge, which has no reset lines (serve it "
            "with `bridgelab emulate --tcp HOST:PORT --rfc2217` and use its rfc2217:// URL)"
        )
    if scheme == "rfc2217":
        if "ign_set_control" in _query_options(url):
            return (
                f"{url} has ?ign_set_control, so pyserial does not wait for the server to "
                "confirm a DTR/RTS change and a reset sequence could be lost unseen (leave "
                "the option out)"
            )
        return None
    if scheme:
        return f"{url}: a {scheme}:// link has no modem lines to drive"
    if port is None:
        return None
    return _tiocmget_problem(url, port)


def link_capabilities(url: str, port: SerialPort) -> frozenset[Capability]:
    """The link's part of an open device's capabilities."""
    if modem_line_problem(url, port) is None:
        return frozenset({Capability.RESET_LINES})
    return frozenset()


def _tiocmget_problem(url: str, port: SerialPort) -> str | None:
    try:
        import fcntl
        import termios
    except ImportError:  # Windows: every COM port has the lines (wired or not)
        return None
    fileno = getattr(port, "fileno", None)
    if fileno is None:
        return None
    try:
        fcntl.ioctl(fileno(), termios.TIOCMGET, struct.pack("I", 0))
    except OSError as error:
        if error.errno in (errno.ENOTTY, errno.EINVAL):
            return f"{url} is a pseudo-terminal or a port without modem lines"
        return f"{url}: its modem lines cannot be read ({error.strerror})"
    return None


def play(
    port: SerialPort,
    url: str,
    sequence: ResetSequence,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Drive DTR/RTS through `sequence` on an open port. Raises ModemLinesUnavailable when
    the link has no lines or the server does not confirm a change."""
    problem = modem_line_problem(url, port)
    if problem is not None:
        raise ModemLinesUnavailable(f"Cannot play the {sequence.name} reset sequence: {problem}.")
    for step in sequence.steps:
        try:
            # pyserial's ports have both as properties; the SerialPort protocol lists only
            # what every driver needs, so they are set by name.
            setattr(port, "dtr", step.dtr)  # noqa: B010
            setattr(port, "rts", step.rts)  # noqa: B010
        except (SerialException, OSError) as error:
            raise ModemLinesUnavailable(
                f"{url} did not take the {sequence.name} reset sequence's line change "
                f"(dtr={step.dtr}, rts={step.rts}): {error}."
            ) from error
        if step.hold_s:
            sleep(step.hold_s)
