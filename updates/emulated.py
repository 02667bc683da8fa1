"""The emulated bridge as the app offers it, so that the GUI needs nothing from inside
`bridgelab.emulator`: the Demo bridge's material (signed images, their folder), the
shipped profiles and fault names, serving a bridge on a pty or a TCP port, and power-
cycling an in-process one.
"""

from __future__ import annotations

from bridgelab.emulator.demo_material import DEMO_DIR, DEMO_IMAGES
from bridgelab.emulator.factory import EmulatorOptions, parse_emu_url
from bridgelab.emulator.faults import VALID_FAULTS
from bridgelab.emulator.profiles import SHIPPED
from bridgelab.emulator.serve import serve_pty, serve_tcp
from bridgelab.emulator.urlhandler.protocol_emu import power_cycle

__all__ = [
    "DEMO_DIR",
    "DEMO_IMAGES",
    "SHIPPED",
    "VALID_FAULTS",
    "EmulatorOptions",
    "parse_emu_url",
    "power_cycle",
    "serve_pty",
    "serve_tcp",
]
