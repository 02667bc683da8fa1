"""The emulated bridge: a device model that speaks the bridge service protocol.

It is part of the product: the app's default when no hardware is plugged in (`emu://demo`),
the back end of most tests, and a lab tool of its own (`bridgelab emulate` on a pty or a
TCP port, with fault injection), reached through the same driver code as real hardware.
"""
