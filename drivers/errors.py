"""The driver layer's exception tree: links, framing, the protocol and the device.

Errors raised by pyserial or the OS are translated at this boundary (`raise ... from`), so
callers above only ever see these classes, each with a stable code and a next step.
"""

from __future__ import annotations

from bridgelab.errors import BridgeLabError


class DriverError(BridgeLabError):
    code = "driver-error"


class LinkError(DriverError):
    """The port could not be opened or the link broke."""

    code = "link-error"


class PortNotFound(LinkError):
    code = "port-not-found"
    default_action = (
        "Check the cable and that the bridge is powered; run `bridgelab ports` to list "
        "the ports this computer sees."
    )


class PortPermissionDenied(LinkError):
    code = "port-permission-denied"
    default_action = (
        "On Linux add yourself to the serial group (`sudo usermod -aG dialout $USER`, then "
        "log out and in) or install Bridge Lab's udev rule; on Windows close other programs "
        "and check the driver in Device Manager."
    )


class PortBusy(LinkError):
    code = "port-busy"
    default_action = (
        "Another program holds the port: close serial terminals and other tools; on Linux "
        "ModemManager often grabs new USB serial ports (`sudo systemctl stop ModemManager` "
        "or install Bridge Lab's udev rule)."
    )


class UnknownUrlScheme(LinkError):
    code = "unknown-url-scheme"
    default_action = (
        "Use a device path (/dev/ttyUSB0, COM3) or a URL: socket://HOST:PORT, "
        "rfc2217://HOST:PORT, loop://, spy://PORT, emu://demo."
    )


class LinkLost(LinkError):
    code = "link-lost"
    default_action = "Check the cable and the bridge's power, then reconnect; an update resumes."


class NoAnswer(DriverError):
    """Nothing (or nothing valid) came back within the timeout."""

    code = "no-answer"
    default_action = (
        "Check the baud rate and the cable (a null-modem or the vendor's service cable); a "
        "bridge in its bootloader does not answer the service protocol: power-cycle it."
    )


class ProtocolError(DriverError):
    """The peer sent something the protocol does not allow."""

    code = "protocol-error"
    default_action = "Record the session (it is logged) and report it with the trace."


class FrameError(ProtocolError):
    code = "frame-error"


class LineRateFixed(LinkError):
    """The host cannot change this link's line rate (nothing was sent)."""

    code = "line-rate-fixed"
    default_action = (
        "Set the rate at the far end (ser2net's port settings), or reach the port through "
        "RFC 2217 (rfc2217://HOST:PORT), which carries rate changes."
    )


class DeviceRefused(DriverError):
    """The device answered with an error status."""

    code = "device-refused"
